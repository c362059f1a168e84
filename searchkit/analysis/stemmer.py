"""A light French stemmer after Savoy's published rules (UniNE, 1999).

J. Savoy, "A stemming procedure and stopword list for general French corpora",
JASIS 50(10), 1999, proposes removing only inflectional endings: plurals and the
feminine. Light stemming is as good as aggressive stemming for French retrieval
and keeps terms readable (``president``, not ``presid``), which matters because
users see them in ``searchkit analyze``.

The rules below are written from the paper's description, adapted to the text this
chain gives them: it has already been lowercased and accent-folded, so ``é`` has
become ``e`` and the paper's two steps "remove final e" and "remove final é" are
the same letter removed twice. Two guards keep short words whole: words of four
letters or fewer are left as they are (``hier``, ``unis``, ``est``) and no rule
leaves fewer than four letters (``Corée`` gives ``core``, not ``cor``), except the
plural ``x`` (``jeux`` -> ``jeu``). Words with digits and Roman ordinals
(``xviiie``) are never stemmed: ``XVIIIe`` must not become ``XVIIe``.
"""

from __future__ import annotations

import re

# Words of this many letters or fewer are left alone; no rule goes below it.
_MIN_LEN = 4
# The cache is cleared, not evicted, past this size: a news vocabulary fits, and
# clearing keeps the hot path to one dict lookup with no bookkeeping.
_CACHE_LIMIT = 200_000
_CACHE: dict[str, str] = {}

# XIX, xixe, xviiie, ive, xxeme: Roman numerals, optionally with an ordinal ending.
_ROMAN_ORDINAL = re.compile(
    r"(?=[mdclxvi])m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
    r"(?:e|er|ere|eme|es|emes)?"
)


def stem(word: str) -> str:
    """Return the light stem of a lowercase, accent-folded word (cached).

    >>> [stem(w) for w in ["journaux", "chevaux", "jeux", "hiboux", "bureaux"]]
    ['journal', 'cheval', 'jeu', 'hibou', 'bureau']
    >>> [stem(w) for w in ["presidentes", "presidents", "president"]]
    ['president', 'president', 'president']
    >>> [stem(w) for w in ["coreennes", "coreens", "coreen", "coree"]]
    ['coreen', 'coreen', 'coreen', 'core']
    >>> [stem(w) for w in ["hier", "unis", "avions", "euros", "xviiie", "1ers"]]
    ['hier', 'unis', 'avion', 'euro', 'xviiie', '1ers']
    """
    result = _CACHE.get(word)
    if result is None:
        if len(_CACHE) > _CACHE_LIMIT:
            _CACHE.clear()
        result = _CACHE[word] = _stem(word)
    return result


def _stem(word: str) -> str:
    """Apply the rules in Savoy's order: plural, then feminine and ``-er``, then doubling."""
    if len(word) < _MIN_LEN or not word.isalpha() or _ROMAN_ORDINAL.fullmatch(word):
        return word
    if word.endswith("x"):
        return _remove_plural_x(word)
    if len(word) <= _MIN_LEN:
        return word
    if word.endswith("s"):  # euros -> euro, presidentes -> presidente
        word = word[:-1]
    word = _remove_feminine(word)
    if len(word) > _MIN_LEN and word[-1] == word[-2]:  # coreenn -> coreen
        word = word[:-1]
    return word


def _remove_plural_x(word: str) -> str:
    """``-aux`` -> ``-al`` (journaux, chevaux) unless ``-eaux``; otherwise drop the ``x``.

    ``taux`` and ``faux`` are too short for the ``-al`` rule and only lose their ``x``.
    """
    if len(word) > _MIN_LEN and word.endswith("aux") and not word.endswith("eaux"):
        return word[:-2] + "l"
    return word[:-1]  # jeux -> jeu, hiboux -> hibou, bureaux -> bureau


def _remove_feminine(word: str) -> str:
    """Remove a final ``e``, then ``r`` after ``e``, then a final ``e`` (the folded ``é``).

    All of ``aimee``, ``aime``, ``aimer`` and ``aimees`` end on the same stem; the ``r``
    only goes after an ``e`` so that ``oeuvre`` keeps ``oeuvr`` and ``acteur`` is kept.
    """
    if len(word) > _MIN_LEN and word.endswith("e"):
        word = word[:-1]
    if len(word) > _MIN_LEN and word.endswith("er"):
        word = word[:-1]
    if len(word) > _MIN_LEN and word.endswith("e"):
        word = word[:-1]
    return word
