"""Fast BM25 for plain keyword queries: each word's postings added into numpy arrays.

Whoosh scores an OR query one document at a time through a binary tree of union
matchers, one Python call per posting and per level: a 40-word query (a pasted
paragraph, an abstract) over 33,688 articles takes seconds, a 10-word one
hundreds of milliseconds. Most queries people type are plain words (hyphenated
words and quoted phrases included), with no operator, field, boost or wildcard.
For those, this module reads each word's postings block by block, once per
field, and adds BM25 into one array of scores (term at a time), while boolean
arrays record which articles have which words. AND (every word or phrase) and
OR (any word) come from the same pass.

The formula is BM25 per field, summed with the field weights: the ``BM25F`` that
Whoosh ships (a test checks the scores are equal), with Whoosh's idf
``log(N / (df + 1)) + 1`` by default or Lucene's (``Ranking.idf``; they measured
equal). The best articles then get a bonus per pair of adjacent query words
found adjacent in their text (:meth:`PlainScorer.proximity`): the cheap
proximity signal that tells the article about "taxe carbone" from one that
mentions a tax and, elsewhere, carbon.

Everything else (``NOT``, ``field:value``, boosts, prefixes, wildcards,
explicit operators) goes through Whoosh's own matchers in :mod:`searchkit.search`.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3TermsReader
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from .analysis import analyze
from .query import restricts_field

# Explicit operators: the parser's And/Or nodes then mean what the user wrote.
_OPERATORS = re.compile(r"\b(?:AND|OR|NOT|ANDNOT|ANDMAYBE)\b")
_INT = struct.Struct(">i")  # Whoosh's StructFile ints: big-endian
_BYTE_LENGTHS = np.array([byte_to_length(i) for i in range(256)], dtype=np.float64)

CACHE_POSTINGS = 8_000_000  # decoded postings kept per searcher: about 64 MB
# Adjacent query words are looked for in the opening of each field: news puts the
# story first, and re-reading whole articles would cost more than the search.
PROXIMITY_CHARS = 2_000
Unit = tuple[str, ...]  # one query word (one term), or a phrase / hyphenated word (several)


def plain_units(text: str, q: wq.Query, boosts: Sequence[tuple[str, float]]) -> list[Unit] | None:
    """The words and phrases of a plain query, in order; None if the query is not plain.

    Plain means what the parser made of bare words: each word (or ``"phrase"``,
    or hyphenated word, which the parser reads as a phrase) searched in every
    weighted text field with that field's weight, joined by AND or OR groups.
    A ``field:`` restriction, a ``^`` boost, a wildcard, ``NOT`` or an explicit
    operator makes it a query for Whoosh's matchers.
    """
    if _OPERATORS.search(text) or "^" in text or restricts_field(text):
        return None
    weights = {f: w for f, w in boosts if w > 0}
    seen: dict[Unit, dict[str, float]] = {}
    stack = [q]
    while stack:
        node = stack.pop()
        if type(node) in (wq.And, wq.Or):
            stack.extend(node.subqueries)
            continue
        if isinstance(node, wq.Term) and node.fieldname in weights:
            unit: Unit = (node.text,)
            if node.boost not in (weights[node.fieldname], 1.0):  # 1.0: a phrase cut to one word
                return None
        elif type(node) is wq.Phrase and node.fieldname in weights and node.slop == 1:
            unit = tuple(node.words)
        else:
            return None
        seen.setdefault(unit, {})[node.fieldname] = 1.0
    if not seen or any(set(fields) != set(weights) for fields in seen.values()):
        return None
    order = {t: i for i, t in reversed(list(enumerate(analyze(text, "text"))))}
    return sorted(seen, key=lambda u: min(order.get(t, len(order)) for t in u))


class PlainScorer:
    """BM25 over the text fields of one searcher, term at a time.

    Built once per searcher (a new commit means a new scorer): it caches each
    field's length normalisation as an array over every document, and which
    documents are deleted.
    """

    def __init__(
        self,
        searcher: Searcher,
        boosts: Sequence[tuple[str, float]],
        k1: float = 1.2,
        b: float = 0.75,
        idf: str = "whoosh",
    ) -> None:
        self.searcher = searcher
        self.boosts = [(f, w) for f, w in boosts if w > 0]
        self.k1, self.b, self.idf = k1, b, idf
        self.proximity_chars = PROXIMITY_CHARS
        self.size = searcher.doc_count_all()
        self._segments = [(s.reader(), offset) for s, offset in searcher.leaf_searchers()]
        self._norms: dict[str, np.ndarray] = {}
        self._cache: dict[tuple[str, bytes], list[tuple[np.ndarray, np.ndarray]]] = {}
        self._cached = 0
        self.live = np.ones(self.size, dtype=bool)
        for reader, offset in self._segments:
            if reader.has_deletions():  # an updated article leaves its old version deleted
                self.live[offset : offset + reader.doc_count_all()] = False
                self.live[[offset + d for d in reader.all_doc_ids()]] = True

    def score(
        self,
        units: Sequence[Unit],
        all_units: bool,
        repeats: dict[str, int] | None = None,
        exact_phrases: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 score, matched) for every document.

        Every distinct word scores once, whether typed alone or in a phrase, times
        ``repeats[word]`` when given (a word the query repeats weighs more). A phrase
        (or hyphenated word) matches where Whoosh's phrase query would (read from the
        same positions by :meth:`_phrase_mask`); with
        ``exact_phrases=False`` (long OR queries, where matching phrases costs more
        than the rest of the search) where all its words are.
        ``matched`` is "has every unit" when ``all_units`` (a phrase counts where
        Whoosh's phrase matcher finds it), else "has any of the words".
        """
        scores = np.zeros(self.size, dtype=np.float64)
        present: dict[str, np.ndarray] = {}
        n = max(self.size, 1)  # as Whoosh counts: deleted documents too, like df does
        k1 = self.k1
        for term in dict.fromkeys(t for unit in units for t in unit):
            mask = present[term] = np.zeros(self.size, dtype=bool)
            btext = term.encode("utf-8")
            qtf = repeats.get(term, 1) if repeats else 1
            for field, weight in self.boosts:
                blocks = self._postings(field, btext)
                df = sum(int(np.count_nonzero(self.live[ids])) for ids, _tfs in blocks)
                if not df:
                    continue
                idf = self.idf_of(n, df)
                norm = self.norms(field)
                for ids, tfs in blocks:
                    scores[ids] += (qtf * weight * idf * (k1 + 1)) * tfs / (tfs + norm[ids])
                    mask[ids] = True

        def has_words(unit: Unit) -> np.ndarray:
            return np.logical_and.reduce([present[t] for t in unit]) & self.live

        if all_units:
            matched = self.live.copy()
            for unit in dict.fromkeys(units):  # words first: they narrow the phrases' candidates
                if len(unit) == 1:
                    matched &= present[unit[0]]
            for unit in dict.fromkeys(units):
                if len(unit) > 1:
                    matched &= self._phrase_mask(unit, matched & has_words(unit))
        else:
            matched = np.zeros(self.size, dtype=bool)
            for unit in dict.fromkeys(units):
                if len(unit) == 1:
                    matched |= present[unit[0]]
                elif exact_phrases:
                    matched |= self._phrase_mask(unit, has_words(unit))
                else:
                    matched |= has_words(unit)
            matched &= self.live
        return scores, matched

    def _phrase_mask(self, unit: Unit, candidates: np.ndarray) -> np.ndarray:
        """Which ``candidates`` have the words of ``unit`` at consecutive positions in one field.

        What Whoosh's ``Phrase`` query finds, read from the same positions, but
        only for the candidates (the documents with every word, and every other
        word of an AND query): Whoosh's matcher walked every document with the
        words, in every segment, and took up to a tenth of a second.
        """
        mask = np.zeros(self.size, dtype=bool)
        docs = np.flatnonzero(candidates)
        if not len(docs):
            return mask
        for field, _w in self.boosts:
            lists = [self._positions(field, term.encode("utf-8"), docs) for term in unit]
            if any(values is None for _ids, values in lists):
                # A field format without positions (not this schema's): the phrase cannot
                # be checked there, so its words must do (Whoosh would raise instead).
                return candidates.copy()
            field_docs = docs
            for ids, _values in lists:  # candidates with every word in this field
                at = np.minimum(np.searchsorted(ids, field_docs), max(len(ids) - 1, 0))
                field_docs = field_docs[ids[at] == field_docs] if len(ids) else field_docs[:0]
            if not len(field_docs):
                continue
            where = [np.searchsorted(ids, field_docs) for ids, _values in lists]
            decode = self.searcher.schema[field].format.decode_positions
            for k, d in enumerate(field_docs.tolist()):
                starts: set[int] | None = None
                for offset, ((_ids, values), at) in enumerate(zip(lists, where, strict=True)):
                    found = {p - offset for p in decode(values[at[k]])}  # type: ignore[index]
                    starts = found if starts is None else starts & found
                    if not starts:
                        break
                if starts:
                    mask[d] = True
        return mask

    def _positions(
        self, field: str, btext: bytes, docs: np.ndarray
    ) -> tuple[np.ndarray, list[bytes] | None]:
        """(global document numbers, encoded positions) of one term, near ``docs``.

        Only the blocks that may hold one of ``docs`` (sorted) are decoded, and
        segments without any are not looked at: a phrase of common words ("est",
        "pas") would otherwise decode every posting of every one. Not cached.
        """
        ids: list[np.ndarray] = []
        values: list[bytes] = []
        for reader, offset in self._segments:
            lo, hi = np.searchsorted(docs, [offset, offset + reader.doc_count_all()])
            if lo == hi:
                continue
            try:
                seg_ids, _tfs, seg_values = _segment_postings(
                    reader, field, btext, values=True, near=docs[lo:hi] - offset
                )
            except TermNotFound:
                continue
            if seg_values is None:
                return np.zeros(0, dtype=np.int64), None
            ids.append(seg_ids + offset)
            values.extend(seg_values)
        return (np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)), values

    def idf_of(self, n: int, df: int) -> float:
        """Lucene's BM25 idf, or Whoosh's ``log(N / (df + 1)) + 1`` (``idf="whoosh"``)."""
        if self.idf == "whoosh":
            return math.log(n / (df + 1)) + 1
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def doc_frequency(self, term: str) -> int:
        """Articles with ``term`` in any text field (at most: the largest field count)."""
        btext = term.encode("utf-8")
        return max(self.searcher.doc_frequency(f, btext) for f, _w in self.boosts)

    def norms(self, field: str) -> np.ndarray:
        """``k1 * (1 - b + b * length / average length)`` of every document for ``field``."""
        norm = self._norms.get(field)
        if norm is None:
            lengths = np.zeros(self.size, dtype=np.float64)
            for reader, offset in self._segments:
                lengths[offset : offset + reader.doc_count_all()] = _field_lengths(reader, field)
            avg = self.searcher.avg_field_length(field) or 1.0
            norm = self.k1 * (1 - self.b + self.b * lengths / avg)
            self._norms[field] = norm
        return norm

    def _postings(self, field: str, btext: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
        """(global document numbers, term frequencies) of one term, per segment.

        Decoded posting lists are kept (up to ``CACHE_POSTINGS`` entries in all):
        the common words of a language come back in query after query, and
        decoding Whoosh's pickled blocks is most of the cost of a long query.
        """
        key = (field, btext)
        cached = self._cache.get(key)
        if cached is None:
            cached = []
            for reader, offset in self._segments:
                try:  # one term-dictionary lookup per segment (asking first costs two)
                    ids, tfs, _values = _segment_postings(reader, field, btext)
                except TermNotFound:
                    continue
                cached.append(((ids + offset).astype(np.int32), tfs.astype(np.float32)))
            size = sum(len(ids) for ids, _tfs in cached)
            if self._cached + size > CACHE_POSTINGS:
                self._cache.clear()
                self._cached = 0
            self._cache[key] = cached
            self._cached += size
        return cached

    def proximity(
        self, terms: Sequence[str], docs: Mapping[int, Mapping[str, Any]], bonus: float
    ) -> dict[int, float]:
        """``bonus`` per pair of consecutive query terms also consecutive in the article.

        Read from the stored text of ``docs`` only (the best few articles, by
        document number, with their stored fields: the caller shows the same
        ones): an article that has "taxe carbone" ranks above one with "taxe"
        and "carbone" apart. Stop words are not terms, so "taxe sur le carbone"
        counts too.
        """
        pairs = set(zip(terms, terms[1:], strict=False))
        out: dict[int, float] = {}
        if not pairs or bonus <= 0:
            return out
        fields = [f for f, _w in self.boosts]
        for d, stored in docs.items():
            found: set[tuple[str, str]] = set()
            for field in fields:
                seq = analyze((stored.get(field) or "")[: self.proximity_chars], "text")
                found |= pairs.intersection(zip(seq, seq[1:], strict=False))
            if found:
                out[d] = bonus * len(found)
        return out


def _field_lengths(reader: Any, field: str) -> np.ndarray:
    """Every document's length in ``field`` (Whoosh's one-byte approximation)."""
    count = reader.doc_count_all()
    try:  # the length column in one read: 33,688 documents in a millisecond
        column = reader._perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
        codes = np.zeros(count, dtype=np.uint8)
        if column is not None:  # no column: no document of the segment has the field
            stored = min(column._count, count)  # trailing zeros are not written
            data = column._dbfile.get(column._basepos, stored)
            codes[:stored] = np.frombuffer(data, dtype=np.uint8)
        return _BYTE_LENGTHS[codes]
    except AttributeError:  # another codec: the public API, a call per document
        return np.array(
            [reader.doc_field_length(d, field) or 0 for d in range(count)], dtype=np.float64
        )


def _segment_postings(
    reader: Any, field: str, btext: bytes, values: bool = False, near: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, list[bytes] | None]:
    """All (ids, weights, values) of one term in one segment; raises ``TermNotFound``.

    Deleted documents are included when the codec is read directly (callers mask
    them with :attr:`PlainScorer.live`).

    ``values`` (the encoded positions, for phrases) only when asked for, and
    None when the field's format stores none. With ``near`` (sorted segment
    document numbers), W3 blocks holding none of them may be left out.

    Whoosh's codec (W3) is read block by block straight from the postings file:
    a matcher object per segment and term, then a Python generator to undo the
    ids' delta encoding, cost a third of a ten-word query over eight segments.
    Anything else (another codec, postings inlined in the term info) goes
    through Whoosh's matcher, one posting at a time.
    """
    terms = getattr(reader, "_terms", None)
    if isinstance(terms, W3TermsReader):
        info = terms.term_info(field, btext)
        if not info.is_inlined():
            offset, length = info.extent()
            if isinstance(length, tuple):  # Whoosh 2.7 reads it back as struct.unpack's tuple
                (length,) = length
            return _decode_blocks(terms._postfile.get(offset, length), values, near)
    m = reader.postings(field, btext)
    ids: list[Any] = []
    tfs: list[Any] = []
    vals: list[Any] = []
    while m.is_active():
        ids.append(m.id())
        tfs.append(m.weight())
        if values:
            vals.append(m.value())
        m.next()
    kept = vals if values and all(isinstance(v, bytes) for v in vals) else None
    return np.asarray(ids, dtype=np.int64), np.asarray(tfs, dtype=np.float64), kept


def _decode_blocks(
    raw: bytes, values: bool = False, near: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, list[bytes] | None]:
    """(ids, weights, values) of a W3 posting list: ``W3LeafMatcher``'s reading, a list at a time.

    After the list's magic number, each block is its byte length (negative for
    the last), a pickled header (count, last id, maximum weight, compression,
    length bytes) and the pickled (delta-encoded ids, weights, values), zlib
    compressed when the header says so. Weights are ``None`` when all are 1 and
    one float when all are equal. With ``near``, a block whose id range (after
    the previous block's last id, up to its own) holds none of those ids is
    skipped on its header alone.
    """
    stream = io.BytesIO(raw)
    stream.seek(len(WHOOSH3_HEADER_MAGIC))
    ids: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    vals: list[bytes] | None = [] if values else None
    previous_max = -1
    while True:
        (size,) = _INT.unpack(stream.read(_INT.size))
        start = stream.tell()
        count, maxid, _maxweight, compression, _mn, _mx = pickle.load(stream)
        data_size = abs(size) - (stream.tell() - start)
        if near is not None:
            first = np.searchsorted(near, previous_max, side="right")
            if first == len(near):  # every id asked for is behind: the rest is not needed
                break
            previous_max = maxid
            if near[first] > maxid:  # none of them in this block
                if size < 0:
                    break
                stream.seek(data_size, io.SEEK_CUR)
                continue
        data = stream.read(data_size)
        deltas, weights, block_values = pickle.loads(zlib.decompress(data) if compression else data)
        ids.append(np.fromiter(accumulate(deltas), np.int64, count))  # each block counts from 0
        if weights is None or isinstance(weights, float):
            tfs.append(np.full(count, 1.0 if weights is None else weights))
        else:
            tfs.append(np.fromiter(weights, np.float64, count))
        if vals is not None:
            if not isinstance(block_values, tuple):  # a format without positions
                vals = None
            else:
                vals.extend(block_values)
        if size < 0:
            break
    if len(ids) == 1:  # most lists: one block
        return ids[0], tfs[0], vals
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0), vals
    return np.concatenate(ids), np.concatenate(tfs), vals
