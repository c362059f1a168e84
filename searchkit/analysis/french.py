"""French word lists used by the analysis chains (data only, like ``spacy/lang/fr``).

Every list is written the way the chain compares it: lowercase, and for
``STOP_WORDS`` also accent-folded, because the stop filter runs after folding
(``où`` is listed as ``ou``, ``à`` as ``a``).
"""

from __future__ import annotations

# Elided articles, pronouns and conjunctions: ``l’Ukraine`` is indexed as ``ukraine``.
# Source: the article set of Lucene's FrenchAnalyzer and Elasticsearch's ``elision``
# token filter documentation, as quoted in docs/FRENCH.md.
ELIDED: frozenset[str] = frozenset(
    {"l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu"}
)

# Words whose apostrophe is not an elision: the part before the apostrophe is not a
# word of its own, so the word is kept whole and the apostrophe dropped
# (``aujourd’hui`` -> ``aujourdhui``, ``entr’ouvert`` -> ``entrouvert``), which also
# makes the form typed without an apostrophe match. Listed as the part before the
# apostrophe, lowercase, so ``quelqu’une`` and ``prud’homal`` are covered too.
# Source: docs/FRENCH.md (aujourd'hui, quelqu'un, presqu'île, prud'homme(s), entr'…),
# the same words as spaCy's ``spacy/lang/fr/tokenizer_exceptions.py``.
ELISION_EXCEPTIONS: frozenset[str] = frozenset({"aujourd", "quelqu", "presqu", "prud", "entr"})

# A short list of function words: articles and determiners, prepositions, personal,
# relative and demonstrative pronouns, conjunctions, the negation ``ne``, the euphonic
# ``t`` (``a-t-il``: the most frequent one-letter term of OrangeSum otherwise), and elided
# forms that are never words on their own (``jusqu`` after a stray space).
# Source: the function words of Savoy's French stop list (UniNE, 1999) and spaCy's
# ``spacy/lang/fr/stop_words.py``, keeping only these word classes: verbs, adverbs and
# anything that is also a content word after accent folding are left out (see
# NEVER_STOP). Whoosh's default ``minsize=2`` is not used, so ``5`` survives.
STOP_WORDS: frozenset[str] = frozenset(
    {
        # articles and determiners
        "le", "la", "les", "un", "une", "des", "du", "au", "aux",
        "ce", "cet", "cette", "ces",
        # prepositions (``a`` is the folded ``à``)
        "a", "de", "en", "dans", "par", "pour", "sur", "sous", "avec", "sans", "chez",
        "entre", "contre", "selon",
        # pronouns (``ca`` is the folded ``ça``, ``ou`` also the folded ``où``)
        "je", "tu", "il", "elle", "on", "nous", "vous", "ils", "elles",
        "me", "te", "se", "moi", "toi", "soi", "lui", "eux", "leur", "y",
        "qui", "que", "quoi", "dont", "ou",
        "celui", "celle", "ceux", "celles", "ceci", "cela", "ca",
        # conjunctions
        "et", "ni", "si", "comme", "quand", "lorsque", "puisque", "quoique",
        # negation, and the euphonic t of ``a-t-il``, ``explique-t-elle``
        "ne", "t",
        # elided forms left alone by a stray space or a quote (``jusqu’ à``)
        "qu", "jusqu", "lorsqu", "puisqu", "quoiqu",
    }
)  # fmt: skip

# Words that must stay searchable although some stop lists drop them: each is also a
# content word (``l’été`` the summer, ``l’Est`` the east, ``les avions`` the planes,
# ``le son`` the sound, ``l’or`` gold, ``un car`` a coach, ``hier`` yesterday,
# ``le maïs`` corn, which folds to ``mais``). Tests check STOP_WORDS never holds them.
NEVER_STOP: frozenset[str] = frozenset({"ete", "est", "avions", "son", "or", "car", "hier", "mais"})
