"""French analysis chains: text (stemmed), exact (unstemmed twin) and entity keys.

Each chain is written once, below, in the order docs/FRENCH.md gives. The same
chain runs at index and query time. Whoosh pickles the analyzer objects into the
index's schema, so they hold only plain, picklable configuration and live at this
stable import path; caches are module-level. Changing what any chain produces
means bumping ``ANALYSIS_VERSION``: the index records it and refuses a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from itertools import accumulate, islice
from typing import Any

from whoosh.analysis import Analyzer, CompositeAnalyzer, RegexTokenizer, StopFilter, Token

from .filters import (
    AccentFoldFilter,
    ApostropheFilter,
    ElisionFilter,
    EntityKeyFilter,
    FrenchStopFilter,
    LigatureFilter,
    LightStemFilter,
    LowercaseFilter,
)
from .keys import entity_key
from .tokenizers import TOKEN_PATTERN, FrenchTokenizer, clean_token, split_words

__all__ = [
    "ANALYSIS_VERSION",
    "CHAINS",
    "FrenchAnalyzer",
    "analyze",
    "entity_analyzer",
    "entity_key",
    "exact_analyzer",
    "mark_term_caches",
    "merge_term_caches",
    "term_caches",
    "text_analyzer",
]

# Recorded in the index metadata; bump it whenever any chain's terms change.
ANALYSIS_VERSION = "2"

# One entry per surface word: (final text, stopped), or None when a filter dropped it.
_Entry = tuple[str, bool] | None
# Cleared, not evicted, past this size: keeps the hot path to one dict lookup.
_CACHE_LIMIT = 300_000


class _TermCache(dict):  # type: ignore[type-arg]
    """One chain's cache: surface word -> entry, a missing word analysed by ``miss``.

    A ``dict`` subclass so that ``map(cache.__getitem__, words)`` looks a whole
    text up in C and only a new word calls back into Python (``__missing__``).
    """

    __slots__ = ("miss",)

    def __missing__(self, surface: str) -> _Entry:
        return self.miss(surface)  # type: ignore[no-any-return]


_TERM_CACHES: dict[str, _TermCache] = {}


def _cache_of(name: str) -> _TermCache:
    cache = _TERM_CACHES.get(name)
    if cache is None:
        cache = _TERM_CACHES[name] = _TermCache()
    return cache


# Per chain name: its filters as one-word functions (``_word_steps``), built once.
_WORD_STEPS: dict[str, list[tuple[Callable[[str], Any], bool]] | None] = {}


class FrenchAnalyzer(Analyzer):
    """A composed chain with a fused, cached fast path that gives the same tokens.

    ``chain`` is the readable composition of small filters, a tokenizer first. Every
    filter after the tokenizer is a pure function of one token's text, so the whole
    chain can be computed once per distinct surface word and cached: after the
    regular expression, a token costs one dict lookup in the common case. The cache
    is module-level, keyed by ``name``, so the pickled object holds only ``chain``
    and ``name``. Calls the fast path cannot serve exactly (``tokenize=False``,
    ``no_morph=True``, ``keeporiginal=True``) run ``chain`` itself.
    """

    def __init__(self, chain: CompositeAnalyzer, name: str) -> None:
        self.chain = chain
        self.name = name
        # Whoosh's StopFilter renumbers positions over removed words; mirror it.
        self.renumber = any(isinstance(f, StopFilter) and f.renumber for f in chain.items)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.name!r})"

    def has_morph(self) -> bool:
        return self.chain.has_morph()

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        no_morph: bool = False,
        **kwargs: Any,
    ) -> Iterator[Token]:
        """Yield the tokens of ``value``, taking Whoosh's analyzer keyword arguments."""
        if not tokenize or no_morph or keeporiginal:
            return self.chain(
                value, positions=positions, chars=chars, keeporiginal=keeporiginal,
                removestops=removestops, start_pos=start_pos, start_char=start_char,
                tokenize=tokenize, mode=mode, no_morph=no_morph, **kwargs,
            )  # fmt: skip
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        return self._fused(value, token, start_pos, start_char)

    def terms(self, value: str) -> list[str]:
        """The terms of ``value``, stop words removed: the fast path without tokens.

        Same terms as ``[t.text for t in self(value)]`` (a test says so), at a
        fraction of the cost: search re-reads stored articles to find query words
        side by side, and that must not cost more than the search.
        """
        return [e[0] for e in self._entries(TOKEN_PATTERN.findall(value)) if e and not e[1]]

    def positions(self, value: str) -> dict[str, list[int]]:
        """Each term of ``value`` with its positions, as ``self(value, positions=True)``.

        What an index writer needs per field, without a token object per word:
        indexing spent more time walking tokens than analysing words. Positions
        are numbered as the fused path numbers them (a test compares the two).
        """
        terms, start = self.position_terms(value)
        out: dict[str, list[int]] = {}
        for pos, term in enumerate(terms, start):
            if term in out:
                out[term].append(pos)
            elif term is not None:
                out[term] = [pos]
        return out

    def position_terms(self, value: str) -> tuple[list[str | None], int]:
        """``(terms, start)``: the term at each position from ``start`` on, ``None`` at a gap.

        What :meth:`positions` is made of, for a writer that files each word
        straight into its postings (one loop over the words, not two). A chain
        that renumbers (stop words removed) has no gaps: its kept words are
        numbered on from the first one's own position, as Whoosh's StopFilter does.
        """
        entries = self._entries(_words(value))
        if self.renumber:
            terms: list[str | None] = [e[0] for e in entries if e and not e[1]]
            start = next(i for i, e in enumerate(entries) if e and not e[1]) if terms else 0
            return terms, start
        return [e[0] if e and not e[1] else None for e in entries], 0

    def term_spans(self, value: str, wanted: frozenset[str]) -> Iterator[tuple[int, int, str]]:
        """``(start, end, term)`` of every word of ``value`` whose term is in ``wanted``.

        What a highlighter needs, without a token per word: snippets scan each
        hit's whole text, and Whoosh's token-by-token highlighter cost more than
        the search itself.
        """
        parts = split_words(value)
        entries = self._entries(parts[1::2])
        found = [i for i, e in enumerate(entries) if e and not e[1] and e[0] in wanted]
        if not found:
            return
        ends = list(accumulate(map(len, parts)))  # word i spans ends[2i]:ends[2i + 1]
        for i in found:
            yield ends[2 * i], ends[2 * i + 1], entries[i][0]  # type: ignore[index]

    def _entries(self, surfaces: list[str]) -> list[_Entry]:
        """The cached entry of each surface word, computing the missing ones.

        The lookups run in C (``map`` over the cache's ``__getitem__``): a Python
        loop per word cost as much as the tokenizer, and so did walking a text's
        entries again to find its new words (most texts have one, early in a run).
        """
        cache = _cache_of(self.name)
        cache.miss = self._entry
        return list(map(cache.__getitem__, surfaces))

    def _fused(self, value: str, t: Token, start_pos: int, start_char: int) -> Iterator[Token]:
        """The fast path: regex matches, one cache lookup each, StopFilter's renumbering."""
        terms = _cache_of(self.name)
        terms.miss = self._entry
        lookup = terms.__getitem__  # a new word is analysed by the cache (see _entries)
        renumber = self.renumber and t.positions
        positions, chars, removestops = t.positions, t.chars, t.removestops
        kept = None  # position given to the last kept token, as StopFilter counts it
        t.boost = 1.0
        # findall is faster than finditer; match objects are only needed for offsets.
        source = TOKEN_PATTERN.finditer(value) if chars else TOKEN_PATTERN.findall(value)
        for pos, match in enumerate(source, start_pos):
            surface = match.group() if chars else match
            entry = lookup(surface)
            if entry is None:
                continue
            t.text, t.stopped = entry
            if t.stopped:
                if removestops:
                    continue
                if positions:
                    t.pos = pos
            elif renumber:
                kept = pos if kept is None else kept + 1
                t.pos = kept
            elif positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            yield t

    def _entry(self, surface: str) -> _Entry:
        """Run the composed filters on one surface word and cache the result."""
        if self.name not in _WORD_STEPS:  # not an attribute: the schema pickles this object
            _WORD_STEPS[self.name] = _word_steps(self.chain)
        steps = _WORD_STEPS[self.name]
        if steps is not None:
            text, stopped = clean_token(surface), False
            for step, is_stop in steps:
                if is_stop:
                    if step(text):
                        stopped = True
                        break
                else:
                    text = step(text)
            return self._remember(surface, (text, stopped))
        t = Token(removestops=False)
        t.text, t.stopped, t.boost = clean_token(surface), False, 1.0
        stream: Iterator[Token] = iter([t])
        for item in self.chain.items[1:]:
            stream = item(stream)
        out = [(tok.text, tok.stopped) for tok in stream]
        if len(out) > 1:
            raise ValueError(f"{self!r}: a filter split {surface!r}; it cannot be fused")
        return self._remember(surface, out[0] if out else None)

    def _remember(self, surface: str, entry: _Entry) -> _Entry:
        terms = _cache_of(self.name)
        if len(terms) > _CACHE_LIMIT:
            _clear(self.name)
        terms[surface] = entry
        return entry


def _word_steps(chain: CompositeAnalyzer) -> list[tuple[Callable[[str], Any], bool]] | None:
    """The chain's filters as functions of one word, or None if one is not (see filters.py).

    ``(function, is_stop_test)`` pairs. A stop word ends the walk (marked stopped,
    as Whoosh's ``StopFilter`` marks it), so a filter after a stop filter must be
    one that leaves stop words alone (``skips_stopped``).
    """
    steps: list[tuple[Callable[[str], Any], bool]] = []
    after_stop = False
    for item in chain.items[1:]:
        if isinstance(item, StopFilter):
            if not hasattr(item, "is_stop"):
                return None
            steps.append((item.is_stop, True))
            after_stop = True
        elif hasattr(item, "word") and (not after_stop or getattr(item, "skips_stopped", False)):
            steps.append((item.word, False))
        else:
            return None
    return steps


# Paragraph -> its words, for the last texts analysed (see ``_words``).
_PARAGRAPH_WORDS: dict[str, list[str]] = {}
_PARAGRAPHS_KEPT = 256


def _words(value: str) -> list[str]:
    """``TOKEN_PATTERN.findall(value)``, a paragraph at a time, each remembered a little while.

    The indexer analyses an article's title, lead and body in the stemmed fields,
    then the three joined by blank lines in their exact twin: the twin's paragraphs
    were just tokenized, and are not tokenized again. A word never spans a blank
    line (a test says so), so a text's words are its paragraphs' words in order.
    The remembered strings also keep their hashes, which the cache lookups of
    ``_entries`` would otherwise compute again. Callers must not change the list.
    """
    memo = _PARAGRAPH_WORDS
    if len(memo) > _PARAGRAPHS_KEPT:
        memo.clear()
    if "\n\n" not in value:
        words = memo.get(value)
        if words is None:
            words = memo[value] = TOKEN_PATTERN.findall(value)
        return words
    out: list[str] = []
    for paragraph in value.split("\n\n"):
        words = memo.get(paragraph)
        if words is None:
            words = memo[paragraph] = TOKEN_PATTERN.findall(paragraph)
        out += words
    return out


# Times each chain's cache was cleared: a mark taken before a clear is void.
_CLEARS: dict[str, int] = {}
# A point in the caches' history: per chain, (clears so far, entries so far).
CacheMark = dict[str, tuple[int, int]]


def _clear(name: str) -> None:
    _cache_of(name).clear()
    _CLEARS[name] = _CLEARS.get(name, 0) + 1


def mark_term_caches() -> CacheMark:
    """Where the caches stand now, for :func:`term_caches` to send only what follows."""
    return {name: (_CLEARS.get(name, 0), len(c)) for name, c in _TERM_CACHES.items()}


def term_caches(since: CacheMark | None = None) -> dict[str, dict[str, _Entry]]:
    """The fast path's per-chain caches, for a helper process to hand back to its parent.

    An indexing helper is forked with its parent's caches and fills them further;
    without this, each batch's helpers would re-analyse the same vocabulary. With
    ``since`` (the helper's mark at its start), only the entries added after it:
    the parent has the others, and unpickling the whole caches again and again
    cost the parent seconds while the cores waited. Dicts keep insertion order,
    so the new entries are the last ones, unless the cache was cleared meanwhile.
    """
    if since is None:
        return {name: dict(entries) for name, entries in _TERM_CACHES.items()}
    out: dict[str, dict[str, _Entry]] = {}
    for name, entries in _TERM_CACHES.items():
        clears, size = since.get(name, (-1, 0))
        if clears == _CLEARS.get(name, 0):
            out[name] = dict(islice(entries.items(), size, None))
        else:
            out[name] = dict(entries)
    return out


def merge_term_caches(caches: dict[str, dict[str, _Entry]]) -> None:
    """Add entries computed elsewhere (same chains, same code) to this process's caches."""
    for name, entries in caches.items():
        mine = _cache_of(name)
        if len(mine) + len(entries) > _CACHE_LIMIT:
            _clear(name)
        mine.update(entries)


def text_analyzer() -> FrenchAnalyzer:
    """Index and query chain for titles and bodies (stemmed, stop words removed).

    Order, and why (docs/FRENCH.md, chain 1):
    tokenizer with offsets → apostrophes unified (elision compares one ``'``) →
    elision (before lowercasing: ``L’`` is recognised in any case) → lowercase →
    ligatures and NFKC (``œ`` and ``ﬁ`` are not accents, unidecode must see the
    expanded form) → accent folding (``coree`` typed finds ``Corée``) → stop words
    (compared folded, so ``où``/``ou`` and ``à``/``a`` need one entry) → light
    stemming last (it works on folded ASCII, and never sees a stop word).
    """
    chain = (
        FrenchTokenizer()
        | ApostropheFilter()
        | ElisionFilter()
        | LowercaseFilter()
        | LigatureFilter()
        | AccentFoldFilter()
        | FrenchStopFilter()
        | LightStemFilter()
    )
    return FrenchAnalyzer(chain, "text")


def exact_analyzer() -> FrenchAnalyzer:
    """Chain of the unstemmed twin fields: the text chain without stop words and stems.

    Prefix and wildcard terms (``gouvernem*``) and exact phrases go to these fields:
    a stemmed index would not hold the prefix, and an exact phrase keeps its
    function words. Folding and elision stay, so ``"Corée du Nord"`` still matches
    ``CORÉE DU NORD`` and ``l’Ukraine``.
    """
    chain = (
        FrenchTokenizer()
        | ApostropheFilter()
        | ElisionFilter()
        | LowercaseFilter()
        | LigatureFilter()
        | AccentFoldFilter()
    )
    return FrenchAnalyzer(chain, "exact")


def entity_analyzer() -> CompositeAnalyzer:
    """Chain of entity fields (person, org, place): one key per comma-separated name.

    Splits on commas like Whoosh's ``KEYWORD(commas=True)``, then each name becomes
    ``entity_key(name)`` (``Kim Jong-un`` -> ``kim jong un``): a whole name is one
    term, never stemmed, and a key typed as a query gives the same key.
    """
    return RegexTokenizer(r"[^,]+") | EntityKeyFilter()


# The chains by name, for ``analyze`` and ``searchkit analyze --chain``.
CHAINS: dict[str, Callable[[], Analyzer]] = {
    "text": text_analyzer,
    "exact": exact_analyzer,
    "entity": entity_analyzer,
}


@cache
def _analyzer(chain: str) -> Analyzer:
    return CHAINS[chain]()


def analyze(text: str, chain: str = "text") -> list[str]:
    """Return the terms ``chain`` gives for ``text``, in order.

    >>> analyze("L’ÉTÉ, les Nord-Coréens ont tiré 5 missiles à l’Est")
    ['ete', 'nord', 'coreen', 'ont', 'tire', '5', 'missil', 'est']
    >>> analyze("Kim Jong-un, l’Élysée", chain="entity")
    ['kim jong un', 'elysee']
    """
    if chain not in CHAINS:
        raise ValueError(f"unknown analysis chain {chain!r}; choose one of {', '.join(CHAINS)}")
    analyzer = _analyzer(chain)
    if isinstance(analyzer, FrenchAnalyzer):
        return analyzer.terms(text)
    return [t.text for t in analyzer(text)]
