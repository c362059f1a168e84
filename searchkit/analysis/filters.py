"""Token filters of the French chains: each does one thing to ``token.text``.

Whoosh's rule holds for all of them (see ``whoosh.analysis.acore.Token``): the
tokenizer yields one mutable token over and over, so a filter never keeps a token
between iterations; it keeps plain values, or calls ``copy()``. Filters change
``token.text`` only: ``startchar`` and ``endchar`` keep pointing at the word as the
article wrote it, which is what the highlighter shows.

Every filter here is a pure function of one token's text. The fused fast path in
``searchkit.analysis`` relies on that to cache a whole chain per surface word, and
calls each filter's ``word`` method (the same function on a plain string; the stop
filter's ``is_stop``) for a word not cached yet: running the token generators for
one word cost four times as much, which the first searches of a process paid on
most words of the articles they show.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator

from unidecode import unidecode
from whoosh.analysis import Filter, StopFilter, Token

from .french import ELIDED, ELISION_EXCEPTIONS, STOP_WORDS
from .stemmer import stem

# ' ’ ʼ ‘ ´ ` all mean an apostrophe inside a French word; the chain compares one.
APOSTROPHES = "'\u2019\u02bc\u2018\u00b4`"
_APOSTROPHE_TABLE = {ord(c): "'" for c in APOSTROPHES[1:]}
# Ligatures that NFKC leaves alone because Unicode treats them as letters.
_LIGATURE_TABLE = {ord("œ"): "oe", ord("Œ"): "OE", ord("æ"): "ae", ord("Æ"): "AE"}

__all__ = [
    "ApostropheFilter",
    "ElisionFilter",
    "LowercaseFilter",
    "LigatureFilter",
    "AccentFoldFilter",
    "FrenchStopFilter",
    "LightStemFilter",
    "EntityKeyFilter",
]


class ApostropheFilter(Filter):
    """Unify apostrophe variants to ``'`` so elision sees one character.

    >>> from searchkit.analysis.tokenizers import FrenchTokenizer
    >>> chain = FrenchTokenizer() | ApostropheFilter()
    >>> [t.text for t in chain("lʼUkraine l’Europe l`Asie")]
    ["l'Ukraine", "l'Europe", "l'Asie"]
    """

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        table = _APOSTROPHE_TABLE
        for t in tokens:
            t.text = t.text.translate(table)
            yield t

    def word(self, text: str) -> str:
        return text.translate(_APOSTROPHE_TABLE)


class ElisionFilter(Filter):
    """Remove elided articles (``l'``, ``qu'``, ``jusqu'``…), in any case.

    Runs before lowercasing so that ``L'UKRAINE`` loses its ``L'``; compares the
    part before the apostrophe lowercased. Several elisions are removed in turn
    (``qu'aujourd'hui``). Words listed in ``ELISION_EXCEPTIONS`` are kept whole
    without their apostrophe, so ``aujourdhui`` typed by a reader matches; any
    other apostrophe (``O'Neill``) is left in the word, as Lucene does.
    Expects ``'`` only: run ``ApostropheFilter`` first.

    >>> from searchkit.analysis.tokenizers import FrenchTokenizer
    >>> chain = FrenchTokenizer() | ElisionFilter()
    >>> [t.text for t in chain("L'UKRAINE jusqu'à qu'aujourd'hui prud'hommes O'Neill")]
    ['UKRAINE', 'à', 'aujourdhui', 'prudhommes', "O'Neill"]
    """

    def __init__(
        self,
        elided: frozenset[str] = ELIDED,
        exceptions: frozenset[str] = ELISION_EXCEPTIONS,
    ) -> None:
        self.elided = frozenset(elided)
        self.exceptions = frozenset(exceptions)

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if "'" in t.text:
                t.text = self.remove_elision(t.text)
            yield t

    def word(self, text: str) -> str:
        return self.remove_elision(text) if "'" in text else text

    def remove_elision(self, text: str) -> str:
        """Return ``text`` without its elided prefixes; see the class docstring."""
        while True:
            head, apostrophe, tail = text.partition("'")
            if not apostrophe or not tail:
                return text
            head = head.lower()
            if head in self.elided:
                text = tail
            elif head in self.exceptions:
                return text.replace("'", "")
            else:
                return text


class LowercaseFilter(Filter):
    """Lowercase the text (``str.lower``), after elision and before folding.

    >>> from searchkit.analysis.tokenizers import FrenchTokenizer
    >>> [t.text for t in (FrenchTokenizer() | LowercaseFilter())("ÉTATS Œuvre")]
    ['états', 'œuvre']
    """

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = t.text.lower()
            yield t

    def word(self, text: str) -> str:
        return text.lower()


class LigatureFilter(Filter):
    """Expand ``œ``/``æ`` and apply NFKC: ``ﬁ`` -> ``fi``, ``1ᵉʳ`` -> ``1er``.

    unidecode would also expand ``œ``, but NFKC first puts compatibility forms and
    decomposed accents (``e`` + U+0301) in the shape the folding step expects, and
    it only runs on the rare non-ASCII token.

    >>> from searchkit.analysis.tokenizers import FrenchTokenizer
    >>> [t.text for t in (FrenchTokenizer() | LigatureFilter())("œuvre ﬁnance 1ᵉʳ")]
    ['oeuvre', 'finance', '1er']
    """

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = self.word(t.text)
            yield t

    def word(self, text: str) -> str:
        if text.isascii():
            return text
        return unicodedata.normalize("NFKC", text.translate(_LIGATURE_TABLE))


class AccentFoldFilter(Filter):
    """Fold accents and other non-ASCII letters with unidecode: ``élysée`` -> ``elysee``.

    Readers type ``coree``, ``etats``, ``noel``; removing diacritics is the largest
    gain measured for French retrieval (docs/FRENCH.md). unidecode transliterates
    other scripts as spaced, capitalised syllables (``北京`` -> ``Bei Jing``), so the
    result is also joined and lowercased to stay one lowercase term.

    >>> from searchkit.analysis.tokenizers import FrenchTokenizer
    >>> [t.text for t in (FrenchTokenizer() | AccentFoldFilter())("élysée coût Noël")]
    ['elysee', 'cout', 'Noel']
    """

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if not t.text.isascii():
                t.text = fold(t.text)
            yield t

    def word(self, text: str) -> str:
        return text if text.isascii() else fold(text)


def fold(text: str) -> str:
    """Return ``text`` transliterated to ASCII; the original if nothing is left."""
    folded = unidecode(text)
    if " " in folded:
        folded = "".join(folded.split()).lower()
    return folded or text


class FrenchStopFilter(StopFilter):
    """Remove French function words (``STOP_WORDS``), compared after folding.

    ``minsize=1`` keeps single digits (``5 missiles``), which Whoosh's default
    drops. Positions are renumbered over the removed words, as Whoosh does, so the
    phrase ``"Corée du Nord"`` matches ``Corée du Nord`` at index and query time.

    >>> from searchkit.analysis.tokenizers import FrenchTokenizer
    >>> [t.text for t in (FrenchTokenizer() | FrenchStopFilter())("le 5 et est car or")]
    ['5', 'est', 'car', 'or']
    """

    def __init__(self, stoplist: frozenset[str] = STOP_WORDS, minsize: int = 1) -> None:
        super().__init__(stoplist=stoplist, minsize=minsize, renumber=True)

    def is_stop(self, text: str) -> bool:
        """Whether ``StopFilter`` marks ``text`` stopped (the fused path's one-word test)."""
        size = len(text)
        return size < self.min or (self.max is not None and size > self.max) or text in self.stops


class LightStemFilter(Filter):
    """Replace the text by its light stem (``searchkit.analysis.stemmer``).

    Marked ``is_morph`` so Whoosh can skip it (``no_morph=True``). Stop words that
    are kept (``removestops=False``, as the highlighter asks) are not stemmed.

    >>> from searchkit.analysis.tokenizers import FrenchTokenizer
    >>> [t.text for t in (FrenchTokenizer() | LightStemFilter())("journaux presidentes hier")]
    ['journal', 'president', 'hier']
    """

    is_morph = True

    skips_stopped = True  # the fused path may leave stop words out of it

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if not t.stopped:
                t.text = stem(t.text)
            yield t

    def word(self, text: str) -> str:
        return stem(text)


class EntityKeyFilter(Filter):
    """Replace each name by its entity key (``keys.entity_key``); drop empty names.

    Used after a comma tokenizer: ``"Kim Jong-un, L’Élysée"`` gives one term per
    name. A key is idempotent, so a query typed as a key finds the same term.

    >>> from whoosh.analysis import RegexTokenizer
    >>> chain = RegexTokenizer(r"[^,]+") | EntityKeyFilter()
    >>> [t.text for t in chain("Kim Jong-un, L’Élysée, ,kim jong un")]
    ['kim jong un', 'l elysee', 'kim jong un']
    """

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        from ..aliases import canonical_key  # the archive-wide key; imported late: no cycle

        for t in tokens:
            t.text = canonical_key(t.text)
            if t.text:
                yield t
