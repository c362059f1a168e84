"""Writing Whoosh segments without Whoosh's per-posting bookkeeping.

Profiling an indexing run showed Whoosh's own writer, not French analysis, taking
most of the time: every posting became a tuple in a sorting pool (spilled to disk
and merge-sorted past ``limitmb``), then was fed one call at a time to the codec,
which looked the document's field length up again for each. The segment files
are fine; the route to them is slow. Here the same files are written another way:

- :class:`FrenchPositions` turns a field's text into per-term positions with the
  analyzer's :meth:`~searchkit.analysis.FrenchAnalyzer.positions`, not a token
  object per word, and stores them as plain 32-bit integers, not pickled gaps.
- :class:`FastSegmentWriter` keeps a segment's words in memory as arrays of term
  numbers (:class:`TermPool`), sorted into postings in a few array calls at the
  flush, and :class:`_TermWriter` writes each term's blocks and row as Whoosh's
  codec would, without its per-posting calls.

What is on disk is Whoosh's codec: the same terms, postings, weights, lengths and
term statistics, in its files and blocks (``tests/test_segments.py`` compares the two
writers through Whoosh's readers). The bytes differ where Whoosh reads them
either way: blocks pickled with protocol 4 (bytes stored as bytes), small blocks
not compressed, and position values in :class:`FrenchPositions`'s encoding, which
Whoosh decodes through the format pickled in the schema. The index stays a plain
Whoosh index, read by Whoosh's readers and searchers.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import signal
import struct
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, partial
from hashlib import md5
from itertools import accumulate
from multiprocessing.connection import wait
from operator import sub
from pickle import dumps
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.filedb.filetables import OrderedHashWriter, md5_hash
from whoosh.formats import Positions
from whoosh.reading import SegmentReader
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from .analysis import mark_term_caches, merge_term_caches, term_caches
from .errors import SearchkitError

# A segment under this many documents is merged at the next commit (small runs add
# small segments; they must not pile up). Segments a quarter dead are merged too.
SMALL_SEGMENT = 1000
# This many segments of one size tier (1,000s, 10,000s… of documents) are merged
# (Lucene's default factor): each article is rewritten about once per tier.
MERGE_FACTOR = 10
# Fewer documents than this per helper process: forking costs more than it saves.
MIN_SHARE = 500
# Documents between two progress reports (a helper's report is one pipe message).
_PROGRESS_EVERY = 50
# Live documents merged in one commit at most (a merge costs time, not memory).
MAX_MERGE_DOCS = 1_000_000
# Documents between two freezes of the garbage collector's objects (see ``_freezes``).
_FREEZE_EVERY = 500

# (docnums, weights, encoded values) of one term, in document order.
_Postings = tuple[list[int], list[float], list[bytes]]


class FrenchPositions(Positions):
    """Whoosh's ``Positions`` format with cheaper bytes, fed by the analyzer's per-term positions.

    A posting's value is its positions as little-endian 32-bit integers, nothing
    else: the count is the length. Whoosh's own encoding (a count, then pickled
    gaps) cost a pickle per posting when writing and an unpickling per posting
    when checking a phrase; these bytes are slices of one array of a segment's
    positions (:class:`TermPool`), and read back with ``array`` in C. Every Whoosh reader
    decodes values through the field's format, so this class is all it takes:
    Whoosh's phrase queries, matchers and merges work unchanged.

    Pickled into the schema, so it lives at this stable import path and holds no
    state beyond what ``Positions`` holds. Analyzers without a ``positions``
    method take Whoosh's token-by-token route, with the same result.
    """

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Iterator[Any]:
        positions = getattr(analyzer, "positions", None)
        if positions is None or not isinstance(value, str) or kwargs.get("mode") == "query":
            yield from super().word_values(value, analyzer, **kwargs)
            return
        boost = self.field_boost
        for term, poslist in positions(value).items():
            yield term, len(poslist), len(poslist) * boost, encode_positions(poslist)

    def encode(self, poslist: Iterable[int]) -> bytes:
        return encode_positions(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return decode_positions(valuestring)

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // _POSITION_SIZE

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost

    def combine(self, vs: Iterable[bytes]) -> bytes:
        return encode_positions(sorted({p for v in vs for p in decode_positions(v)}))


_POSITION_SIZE = 4
_LITTLE_ENDIAN = sys.byteorder == "little"
_as_uint32 = partial(array, "I")
assert _as_uint32().itemsize == _POSITION_SIZE, "array('I') must hold 32-bit integers here"


def encode_positions(poslist: Iterable[int]) -> bytes:
    """A posting's value in :class:`FrenchPositions`: its positions, little-endian uint32."""
    values = _as_uint32(poslist)
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return values.tobytes()


_SINGLE_POSITIONS = 65536


@cache
def _single_position_bytes() -> list[bytes]:
    """The value of a posting with one position, for each of the first ``_SINGLE_POSITIONS``."""
    return [encode_positions([p]) for p in range(_SINGLE_POSITIONS)]


def decode_positions(value: bytes) -> list[int]:
    """The positions of one :class:`FrenchPositions` value."""
    values = _as_uint32()
    values.frombytes(value)
    if not _LITTLE_ENDIAN:
        values.byteswap()
    return values.tolist()


class _Vocabulary(dict):  # type: ignore[type-arg]
    """Term -> number, numbering a new term on first lookup (``None``, a gap, is -1).

    A ``dict`` subclass so that ``map(vocabulary.__getitem__, words)`` runs in C
    and only a new term calls back into Python.
    """

    def __init__(self) -> None:
        super().__init__({None: -1})
        self.names: list[str] = []

    def __missing__(self, term: str) -> int:
        number = self[term] = len(self.names)
        self.names.append(term)
        return number


class _FieldWords:
    """One field's words in one segment: per document, its term numbers in order."""

    __slots__ = ("boost", "vocabulary", "numbers", "docnums", "starts")

    def __init__(self, boost: float) -> None:
        self.boost = boost
        self.vocabulary = _Vocabulary()
        self.numbers: list[np.ndarray] = []  # per document: the term number of each word
        self.docnums: list[int] = []
        self.starts: list[int] = []  # the position of each document's first word

    def add(self, docnum: int, terms: list[str | None], start: int) -> None:
        self.numbers.append(
            np.fromiter(map(self.vocabulary.__getitem__, terms), np.int32, len(terms))
        )
        self.docnums.append(docnum)
        self.starts.append(start)

    def postings(self) -> Iterator[tuple[bytes, _Postings]]:
        """Each term in order with its postings: the words sorted by term, in a few array calls.

        A stable sort by term keeps each term's words in document and position
        order; a posting starts where the term or the document changes.
        """
        names = self.vocabulary.names
        if not names:
            return
        lengths = np.fromiter(map(len, self.numbers), np.int64, len(self.numbers))
        numbers = np.concatenate(self.numbers)
        self.numbers.clear()  # the per-document arrays are in ``numbers`` now: freed
        docs = np.repeat(np.asarray(self.docnums, dtype=np.int64), lengths)
        firsts = np.cumsum(lengths) - lengths
        positions = np.arange(len(numbers), dtype=np.int64) + np.repeat(
            np.asarray(self.starts, dtype=np.int64) - firsts, lengths
        )
        kept = numbers >= 0
        if not kept.all():
            numbers, docs, positions = numbers[kept], docs[kept], positions[kept]
        order = sorted(range(len(names)), key=names.__getitem__)  # str order: UTF-8 order
        rank = np.empty(len(names), dtype=np.int32)  # int32: a third faster to sort than int64
        rank[order] = np.arange(len(names), dtype=np.int32)
        ranks = rank[numbers]
        by_term = np.argsort(ranks, kind="stable")
        ranks, docs, positions = ranks[by_term], docs[by_term], positions[by_term]
        new = np.ones(len(ranks), dtype=bool)
        new[1:] = (ranks[1:] != ranks[:-1]) | (docs[1:] != docs[:-1])
        firsts = np.flatnonzero(new)  # of each posting, in the word arrays
        ends = np.append(firsts[1:], len(ranks))
        counts = ends - firsts
        frequencies = counts.tolist()
        # A posting's value: its positions' bytes. Most postings are one word once, and
        # theirs come from a table (twice as fast as slicing, and the same bytes
        # object each time, which the block's pickle then writes once); the others
        # are slices of all the positions' bytes.
        first_positions = positions[firsts]
        simple = (counts == 1) & (first_positions < _SINGLE_POSITIONS)
        values = list(
            map(_single_position_bytes().__getitem__, (first_positions * simple).tolist())
        )
        raw = positions.astype("<u4").tobytes()
        others = np.flatnonzero(~simple)
        for i, lo, hi in zip(
            others.tolist(), (firsts[others] * 4).tolist(), (ends[others] * 4).tolist(), strict=True
        ):
            values[i] = raw[lo:hi]
        doclist = docs[firsts].tolist()
        posting_ranks = ranks[firsts]
        # The word arrays are not needed to write the terms: freed before, not after.
        del numbers, ranks, by_term, docs, positions, kept, new, raw, others, simple
        weights: list[Any] = frequencies
        if self.boost != 1.0:
            weights = [w * self.boost for w in weights]
        starts = np.flatnonzero(np.diff(posting_ranks, prepend=-1))  # of each term, in postings
        term_ranks = posting_ranks[starts].tolist()
        bounds = [*starts.tolist(), len(doclist)]
        for r, lo, hi in zip(term_ranks, bounds, bounds[1:], strict=False):
            yield names[order[r]].encode("utf-8"), (doclist[lo:hi], weights[lo:hi], values[lo:hi])


class TermPool:
    """One segment's postings in memory, by field: words as term numbers, or Whoosh's postings.

    Stands in for Whoosh's ``PostingPool``. Fields in :class:`FrenchPositions`
    (the text fields) are kept the cheapest way to add to and to hold: per
    document, an array of its words' term numbers (:class:`_FieldWords`), turned
    into postings at the flush by sorting all the field's words at once. Other
    postings come through :meth:`add` as Whoosh's ``(fieldname, termbytes,
    docnum, weight, valuebytes)`` items. Documents arrive in increasing number, so
    each term's postings come out in order. Memory grows with the segment (a few
    bytes per word): the indexer bounds it with its batch size.
    """

    def __init__(self) -> None:
        self.fields: dict[str, dict[bytes, _Postings]] = {}
        self.words: dict[str, _FieldWords] = {}

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
        postings = terms.get(tbytes)
        if postings is None:
            terms[tbytes] = ([docnum], [weight], [vbytes] if vbytes else [])
            return
        postings[0].append(docnum)
        postings[1].append(weight)
        if vbytes:
            postings[2].append(vbytes)

    def add_words(
        self, fieldname: str, boost: float, docnum: int, terms: list[str | None], start: int
    ) -> None:
        """One document's words in one field: ``terms[i]`` at position ``start + i``, None a gap."""
        words = self.words.get(fieldname)
        if words is None:
            words = self.words[fieldname] = _FieldWords(boost)
        words.add(docnum, terms, start)

    def fieldnames(self) -> set[str]:
        return set(self.fields) | set(self.words)

    def items(self, fieldname: str) -> Iterator[tuple[bytes, _Postings]]:
        """The field's terms in order, each with its postings."""
        plain = self.fields.get(fieldname, {})
        words = self.words.get(fieldname)
        by_words = words.postings() if words is not None else iter(())
        if not plain:
            yield from by_words
            return
        # Some documents took Whoosh's route (boosts): both kinds, merged by document.
        converted = dict(by_words)
        for tbytes in sorted(plain.keys() | converted.keys()):
            lists = [x for x in (plain.get(tbytes), converted.get(tbytes)) if x]
            if len(lists) == 1:
                yield tbytes, lists[0]
                continue
            merged = sorted(
                (p for ids, ws, vs in lists for p in zip(ids, ws, vs, strict=True)),
                key=lambda p: p[0],
            )
            ids, ws, vs = (list(column) for column in zip(*merged, strict=True))
            yield tbytes, (ids, ws, vs)

    def cleanup(self) -> None:
        self.fields.clear()
        self.words.clear()


class FastSegmentWriter(SegmentWriter):
    """Whoosh's ``SegmentWriter`` with a :class:`TermPool` and a term-at-a-time flush.

    Locking, documents, stored fields, columns, deletions and the commit itself
    stay Whoosh's. Postings of older segments merged in (``add_reader``) do not go
    through the pool: the readers stay open until the flush, which walks each
    field's terms in order across the pool and those segments (a k-way merge) and
    copies one term's postings at a time, so a merge holds one term's postings in
    memory (and a few numbers per document), not the merged segments'.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.pool = TermPool()
        self._ix = ix
        self._extra_segments: list[Any] = []  # written by helper processes
        # Segments merged into this one: (reader, first new docnum, docmap or None).
        self._merged: list[tuple[Any, int, dict[int, int] | None]] = []
        self._merged_away: list[Any] = []  # merged by a helper: left out of the commit
        # The collector's objects are frozen every _FREEZE_EVERY documents: a writer's
        # process holds hundreds of thousands of long-lived objects (the batch's
        # articles, the analysis caches), and each full collection walked all of them,
        # again and again as they grew (a tenth of indexing's time, when the pool was
        # still lists per term; not measured again since it became arrays, which the
        # collector does not track). Frozen objects are left out of collections, not
        # freed; the flush (or cancel) unfreezes them. Garbage made between two freezes
        # is collected as usual. Not done if something else in this process froze
        # objects: unfreezing would undo its freeze.
        self._freezes = gc.get_freeze_count() == 0
        # Helper processes at work: receiving end of each one's pipe -> (task, process).
        self._helpers: dict[Any, tuple[int, Any]] = {}
        self._pending: tuple[list[Any], Callable[[int], None] | None] | None = None
        self._waiting: dict[Any, tuple[int, Any]] = {}  # helpers yet to send their result
        self._results: dict[int, Any] = {}  # task number -> the segment it wrote
        self._failure: Any = None  # a helper's error, raised by finish_adding
        self._tiers_in_helpers = False  # see merge_segments
        fields = self.schema.items()
        # Term vectors and spelling words are written by Whoosh's own add_document.
        self._plain_schema = not any(f.vector or f.separate_spelling() for _, f in fields)

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``add_document``, text fields' postings put straight in the pool.

        Per posting, Whoosh's route builds three tuples across two generators; this
        one turns each text field's words into one array of term numbers
        (:class:`TermPool`). Documents with boosts or custom stored
        values (``_``-prefixed keys), or schemas with vectors, take Whoosh's route.
        """
        if not self._plain_schema or any(name[0] == "_" for name in fields):
            super().add_document(**fields)
            return
        self._check_state()
        schema = self.schema
        self._check_fields(schema, fields)
        docnum = self.docnum
        perdoc = self.perdocwriter
        perdoc.start_doc(docnum)
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                fmt = field.format
                position_terms = getattr(field.analyzer, "position_terms", None)
                if isinstance(fmt, FrenchPositions) and position_terms and isinstance(value, str):
                    length = self._add_terms(fieldname, fmt.field_boost, *position_terms(value))
                else:
                    add = self.pool.add
                    for tbytes, freq, weight, vbytes in field.index(value):
                        length += freq
                        add((fieldname, tbytes, docnum, weight, vbytes))
                if not field.scorable:
                    length = 0
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1
        if self.docnum % _FREEZE_EVERY == 0 and self._freezes:
            gc.freeze()  # see self._freezes

    def _add_terms(self, fieldname: str, boost: float, terms: list[str | None], start: int) -> int:
        """File one field's words in the pool, the word at ``start + i`` being ``terms[i]``.

        ``None`` is a gap (a dropped word). Returns the field's length.
        """
        self.pool.add_words(fieldname, boost, self.docnum, terms, start)
        return len(terms) - terms.count(None)

    def add_documents(
        self,
        items: Sequence[Any],
        procs: int = 1,
        *,
        prepare: Callable[[Sequence[Any]], Iterable[dict[str, Any]]] | None = None,
        min_share: int | None = None,
        progress: Callable[[int], None] | None = None,
        merge: bool = False,
        wait: bool = True,
        size: Callable[[Any], int] | None = None,
    ) -> None:
        """Add documents; with ``procs`` > 1, forked helpers write parts as segments of their own.

        ``items`` are documents (field dicts), or anything ``prepare`` turns into
        documents, a share at a time: the indexer passes articles and lets each
        helper run entity extraction on its own share, so the costly stage is
        spread over the cores with nothing sent between processes but counts.
        Each helper builds a complete segment from its share (no item is pickled:
        a forked process already holds them) and hands back only the segment's
        description; the commit lists them with this writer's own (its merge
        policy may fold them into it). A helper
        that fails or dies makes this call raise, so the commit never happens and
        the index keeps its last state. ``progress`` is called with the number of
        documents added since its last call, about every ``_PROGRESS_EVERY``.
        ``min_share`` is the smallest share worth a process (default ``MIN_SHARE``).
        With ``merge``, the segments :func:`merge_segments` would merge now are
        merged by one more helper at the same time, rather than by this process
        at the commit while the cores wait (call it after the deletions, and
        commit with that policy). With ``wait`` false, a call that started helpers
        returns at once; :meth:`finish_adding`, or the commit, waits for them.
        ``size`` (an item's cost, such as its length in characters) balances the
        shares by it rather than by count: the commit waits for the slowest helper.
        """
        self.finish_adding()  # helpers of an earlier call first: one set at a time
        procs = max(1, min(procs, len(items) // max(1, min_share or MIN_SHARE)))
        if procs == 1:
            for n, doc in enumerate(_prepared(items, prepare), 1):
                self.add_document(**doc)
                if progress and n % _PROGRESS_EVERY == 0:
                    progress(_PROGRESS_EVERY)
            if progress and len(items) % _PROGRESS_EVERY:
                progress(len(items) % _PROGRESS_EVERY)
            return
        # Every share goes to a helper and this process writes none: its own segment
        # would only be written at commit time, after waiting for the helpers.
        ctx = multiprocessing.get_context("fork")
        _single_position_bytes()  # built once here, not by every helper at every flush
        cut = _cuts(items, procs, size)
        plan = _merge_plan(self.segments, added=False) if merge else []
        self._tiers_in_helpers = merge
        tasks: list[tuple[Callable[..., None], tuple[Any, ...]]] = [
            (_write_part, (self._ix, items[cut[k] : cut[k + 1]], prepare)) for k in range(procs)
        ]
        if plan:
            tasks.append((_merge_part, (self._ix, plan)))
        try:
            for k, (target, args) in enumerate(tasks):
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=target, args=(*args, send))
                proc.start()
                send.close()
                self._helpers[receive] = (k, proc)
        except BaseException:
            self._stop_helpers()
            raise
        self._pending = (plan, progress)
        self._waiting = dict(self._helpers)
        if wait:
            self.finish_adding()

    @property
    def adding(self) -> bool:
        """Helpers started by ``add_documents(..., wait=False)`` are still to be waited for."""
        return self._pending is not None

    def finish_adding(self) -> None:
        """Wait for the helpers of ``add_documents(..., wait=False)`` and take their segments.

        Until then this process is free: the indexer reads and fingerprints the
        next batch while the helpers write this one. ``commit`` calls it first.
        """
        if self._pending is None:
            return
        plan, _progress = self._pending
        try:
            while self._waiting:
                self._receive(timeout=None)
            if self._failure is not None:
                raise SearchkitError(f"an indexing helper process failed: {self._failure}")
            self._extra_segments.extend(self._results[k] for k in range(len(self._helpers)))
            self._merged_away.extend(plan)
        except BaseException:  # Ctrl-C or a failed helper: stop the others now
            self._stop_helpers()
            raise
        finally:
            self._stop_helpers(terminate=False)

    def poll_adding(self) -> None:
        """Take the helpers' messages already sent, without waiting (progress, results).

        The indexer calls it while it reads the next batch: progress stays current,
        and a helper that is done hands over its segment and exits instead of
        waiting, blocked on a full pipe, for the next batch to be read.
        """
        if self._pending is not None and self._waiting and self._failure is None:
            self._receive(timeout=0)

    def _receive(self, timeout: float | None) -> None:
        """Handle the messages of the helpers that have one (waiting up to ``timeout``)."""
        _plan, progress = self._pending  # type: ignore[misc]
        for receive in wait(list(self._waiting), timeout):
            k, proc = self._waiting[receive]
            try:
                status, result, caches = receive.recv()
            except EOFError:
                proc.join()
                status, result, caches = "error", f"exit code {proc.exitcode}", {}
            if status == "progress":
                if progress:
                    progress(result)
                continue
            del self._waiting[receive]
            if status != "ok":
                self._failure = result  # raised by finish_adding, which stops the others
                self._waiting.clear()
                return
            self._results[k] = result
            merge_term_caches(caches)  # the next batch's helpers start warm

    def _stop_helpers(self, terminate: bool = True) -> None:
        for receive, (_, proc) in self._helpers.items():
            if terminate:
                proc.terminate()
            receive.close()
            proc.join()
        self._helpers = {}
        self._pending = None
        self._waiting = {}
        self._results = {}
        self._failure = None

    def commit(self, *args: Any, **kwargs: Any) -> None:
        self.finish_adding()
        super().commit(*args, **kwargs)

    def _merge_segments(self, mergetype: Any, optimize: Any, merge: Any) -> list[Any]:
        """The policy sees the helpers' new segments too: they may be merged at once."""
        away = {id(s) for s in self._merged_away}
        segments = self.segments
        self.segments = [s for s in segments if id(s) not in away] + self._extra_segments
        try:
            return super()._merge_segments(mergetype, optimize, merge)
        finally:
            self.segments = segments

    def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: Any) -> None:
        """Called by Whoosh's ``add_reader``: remember the segment, read it at the flush."""
        self._merged.append((reader, startdoc, docmap))

    def cancel(self) -> None:
        self._stop_helpers()
        self._close_merged()
        if self._freezes:
            gc.unfreeze()
        super().cancel()

    def _close_merged(self) -> None:
        for reader, _, _ in self._merged:
            reader.close()
        self._merged = []

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        if self._freezes:
            gc.freeze()
        try:
            self._write_terms(lengths)
        finally:
            lengths.close()
            self._close_merged()
            if self._freezes:
                gc.unfreeze()  # what the pool held is garbage now: back to the collector
        self.fieldwriter.close()

    def _write_terms(self, lengths: Any) -> None:
        schema = self.schema
        writer = self.fieldwriter
        ndocs = self.docnum
        merged = self._merged
        fieldnames = self.pool.fieldnames()
        for reader, _, _ in merged:
            fieldnames.update(f for f in reader.indexed_field_names() if f in schema)
        for fieldname in sorted(fieldnames):
            fieldobj = schema[fieldname]
            if fieldobj.scorable:
                length_of = [lengths.doc_field_length(d, fieldname, 0) or 0 for d in range(ndocs)]
            else:
                length_of = None
            writer.start_field(fieldname, fieldobj)
            terms = self.pool.items(fieldname)
            if merged:
                terms = _merged_terms(fieldname, fieldobj, terms, merged)
            write = _TermWriter(writer, fieldobj.format, length_of)
            for tbytes, postings in terms:
                write(tbytes, *postings)
            writer.finish_field()


def _merged_terms(
    fieldname: str,
    fieldobj: Any,
    terms: Iterator[tuple[bytes, _Postings]],
    merged: list[tuple[Any, int, dict[int, int] | None]],
) -> Iterator[tuple[bytes, _Postings]]:
    """One field's terms in order with their postings: the pool's, then each merged segment's.

    ``terms`` are the pool's, in order. Each merged segment's term table is read in
    order (no lookup per term). Documents of this writer come first and each
    merged segment's after the one before (``add_reader`` numbers them so), so
    appending keeps every list in document order. Deleted documents are left out
    (they are not in ``docmap``); a term left with no posting is not written.
    """
    sources: list[Iterator[tuple[bytes, int, Any]]] = [((t, -1, p) for t, p in terms)]
    for k, (reader, _, _) in enumerate(merged):
        sources.append(_term_infos(reader, fieldname, k))
    current: bytes | None = None
    own: _Postings | None = None
    found: list[tuple[int, Any]] = []
    for tbytes, k, info in heapq.merge(*sources, key=lambda item: item[0]):
        if tbytes != current:
            if current is not None:
                postings = _gather(fieldobj, own, merged, found)
                if postings[0]:
                    yield current, postings
            current, own, found = tbytes, None, []
        if k >= 0:
            found.append((k, info))
        else:
            own = info
    if current is not None:
        postings = _gather(fieldobj, own, merged, found)
        if postings[0]:
            yield current, postings


def _term_infos(reader: Any, fieldname: str, k: int) -> Iterator[tuple[bytes, int, Any]]:
    """``(term, k, term info)`` of one field of a segment, in term order."""
    for (name, tbytes), info in reader._terms.items_from(fieldname, b""):
        if name != fieldname:
            return
        yield tbytes, k, info


def _gather(
    fieldobj: Any,
    own: _Postings | None,
    merged: list[tuple[Any, int, dict[int, int] | None]],
    found: list[tuple[int, Any]],
) -> _Postings:
    """The postings of one term: this writer's, then those of the merged segments holding it."""
    ids, weights, values = own or ([], [], [])
    for k, info in found:
        reader, startdoc, docmap = merged[k]
        for block_ids, block_weights, block_values in _blocks(reader, info, fieldobj.format):
            if docmap is None:
                ids.extend([startdoc + d for d in block_ids])
            else:
                keep = [i for i, d in enumerate(block_ids) if d in docmap]
                if len(keep) < len(block_ids):
                    block_weights = [block_weights[i] for i in keep]
                    block_values = [block_values[i] for i in keep]
                ids.extend([docmap[block_ids[i]] for i in keep])
            weights.extend(block_weights)
            if block_values and block_values[0]:  # formats with values have them on every posting
                values.extend(block_values)
    return ids, weights, values


def _blocks(reader: Any, info: Any, format_: Any) -> Iterator[tuple[Any, Any, Any]]:
    """``(ids, weights, values)`` of each block of one term's postings in a segment."""
    if info.is_inlined():  # a codec set to inline short posting lists (W3's default does not)
        yield info.inlined_postings()
        return
    terms = reader._terms
    m = terms._codec.postings_reader(terms._postfile, info, format_)
    while True:
        m._read_ids()
        m._read_weights()
        m._read_values()
        yield m._ids, m._weights, m._values
        if m._lastblock:
            return
        m._goto(m._nextoffset)


def _prepared(
    items: Sequence[Any], prepare: Callable[[Sequence[Any]], Iterable[dict[str, Any]]] | None
) -> Iterable[dict[str, Any]]:
    return items if prepare is None else prepare(items)


def _write_part(
    ix: Any,
    items: Sequence[Any],
    prepare: Callable[[Sequence[Any]], Iterable[dict[str, Any]]] | None,
    send: Any,
) -> None:
    """A helper process: write a share as one finished segment, send back its description.

    Counts go back as ``("progress", n, {})`` on the way.
    """

    def work() -> tuple[str, Any, Any]:
        mark = mark_term_caches()  # the parent has every entry up to here
        writer = FastSegmentWriter(ix, _lk=False)  # the parent holds the lock
        for n, doc in enumerate(_prepared(items, prepare), 1):
            writer.add_document(**doc)
            if n % _PROGRESS_EVERY == 0:
                send.send(("progress", _PROGRESS_EVERY, {}))
        if len(items) % _PROGRESS_EVERY:
            send.send(("progress", len(items) % _PROGRESS_EVERY, {}))
        return ("ok", writer._finalize_segment(), term_caches(since=mark))

    _helper(work, send)


def _merge_part(ix: Any, segments: list[Any], send: Any) -> None:
    """A helper process: merge ``segments`` into one, send back its description.

    The segments are the parent's, deletions of the batch included (a fork
    holds them), so deleted versions are left out of the merged segment.
    """

    def work() -> tuple[str, Any, Any]:
        writer = FastSegmentWriter(ix, _lk=False)  # the parent holds the lock
        for seg in segments:
            _add_segment(writer, seg)
        return ("ok", writer._finalize_segment(), {})

    _helper(work, send)


def _helper(work: Callable[[], tuple[str, Any, Any]], send: Any) -> None:
    """Run a helper's ``work`` and send its result, or its error, to the parent.

    Ctrl-C is the parent's to handle (it stops its helpers); a helper whose
    parent is gone finds a closed pipe and exits quietly, its files left for the
    next commit's clean-up.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        message = work()
    except Exception as exc:  # reported to the parent, which raises it
        message = ("error", f"{type(exc).__name__}: {exc}", {})
    try:
        send.send(message)
    except OSError:
        pass
    finally:
        send.close()


def _cuts(items: Sequence[Any], procs: int, size: Callable[[Any], int] | None) -> list[int]:
    """Where ``items`` are cut into ``procs`` shares: equal counts, or equal sums of ``size``.

    By count, the two halves of a batch of 10,000 OrangeSum articles held up to
    16 % more text one than the other, and the faster helper waited.
    """
    n = len(items)
    if size is None:
        return [n * k // procs for k in range(procs + 1)]
    ends = list(accumulate(max(1, size(item)) for item in items))
    total = ends[-1] if ends else 0
    inner = [bisect_left(ends, total * k / procs) + 1 for k in range(1, procs)]
    # Every share keeps at least one item (add_documents made sure there are enough).
    cuts = [0]
    for k, cut in enumerate(inner, 1):
        cuts.append(min(max(cut, cuts[-1] + 1), n - (procs - k)))
    return [*cuts, n]


def merge_segments(writer: SegmentWriter, segments: list[Any]) -> list[Any]:
    """Merge policy: fold small, mostly deleted and same-sized segments together.

    Every query looks each of its words up in every segment, so their number
    sets a floor under query time (60 segments at 300,000 articles cost more than
    decoding the postings). Merged into the new segment at a commit: segments
    under ``SMALL_SEGMENT`` documents, segments a quarter deleted, and the
    segments of any size tier (an order of magnitude of live documents: 1,000s,
    10,000s…) holding ``MERGE_FACTOR`` of them — so each article is rewritten
    about once per tier, and the count stays near ``MERGE_FACTOR`` per tier, as
    in Lucene's tiered policy. At most ``MAX_MERGE_DOCS`` live documents per
    commit, smallest segments first. A merge streams term by term
    (:class:`FastSegmentWriter`): it holds one term's postings at a time (the
    commonest word's: about 100 bytes per document that has it) and a few
    numbers per document, not the merged segments.
    """
    # A writer whose helpers were offered this batch's merges leaves tiers to the next
    # batch's helpers: here the parent would merge alone while the cores wait.
    tiers = not getattr(writer, "_tiers_in_helpers", False)
    picked = _merge_plan(segments, writer._added, tiers=tiers)
    for seg in picked:  # the writer closes the readers once their postings are copied
        _add_segment(writer, seg)
    return [s for s in segments if s not in picked]


def _add_segment(writer: SegmentWriter, seg: Any) -> None:
    """``writer.add_reader`` on a segment, its reader closed if that fails half-way."""
    reader = SegmentReader(writer.storage, writer.schema, seg)
    try:
        writer.add_reader(reader)
    except BaseException:
        reader.close()
        raise


def _merge_plan(segments: list[Any], added: bool, tiers: bool = True) -> list[Any]:
    """The segments :func:`merge_segments` merges now (none: an empty list)."""
    chosen = {
        id(s): s
        for s in segments
        if s.doc_count_all() < SMALL_SEGMENT or s.deleted_count() * 4 > s.doc_count_all()
    }
    by_tier: dict[int, list[Any]] = {}
    for seg in segments:
        if id(seg) not in chosen:
            by_tier.setdefault(len(str(max(1, seg.doc_count()))), []).append(seg)
    for group in by_tier.values():
        if tiers and len(group) >= MERGE_FACTOR:
            chosen.update((id(s), s) for s in group)
    picked, total = [], 0
    for seg in sorted(chosen.values(), key=lambda s: s.doc_count()):
        if total + seg.doc_count() > MAX_MERGE_DOCS:
            break
        picked.append(seg)
        total += seg.doc_count()
    if len(picked) == 1 and not picked[0].has_deletions():
        # A small segment is worth folding into the new one; a large clean one alone
        # (its tier cut by MAX_MERGE_DOCS) would only be rewritten, commit after commit.
        if not added or picked[0].doc_count_all() >= SMALL_SEGMENT:
            return []
    return picked


# A block whose pickle is shorter than this is written uncompressed: most terms have
# one to a few postings, and zlib spent more time on their blocks than it saved bytes.
# Each block's header says whether it is compressed, and Whoosh's reader reads both.
COMPRESS_MIN_BYTES = 256
# zlib's level for the others (Whoosh's codec uses 3). On 10,000 articles, level 1
# wrote the index in 10-15 % less CPU for 0.7 % more bytes; any level reads the same.
COMPRESS_LEVEL = 1


# Whoosh pickles blocks with protocol 2, where every bytes value (a posting's positions)
# becomes a call to ``_codecs.encode`` on a latin-1 string: 2.4 times the bytes, 9 times
# the time to pickle, 3 to unpickle. Protocol 4 stores bytes as they are; ``pickle.loads``
# reads every protocol, so Whoosh's readers read these blocks unchanged.
_PROTOCOL = 4
_ROW_LENGTHS = struct.Struct("!ii")  # filetables' key and value lengths
_TERM_INFO = struct.Struct("!BfIBBfII")  # W3TermInfo: flags, weight, df, lengths, max weight, ids


class _TermWriter:
    """Writes one field's terms as ``W3FieldWriter`` and ``W3PostingsWriter`` would.

    The same bytes, or bytes Whoosh reads the same (term frequencies pickled as
    integers, not floats), computed a term and a block at a time: most terms
    have one block of a few postings, and Whoosh's per-term objects, per-posting
    statistics and method calls cost more than writing them (half of indexing's
    time went there). Per block: its length (negative for the last), a pickled
    header (postings, last id, maximum weight, compression, length bytes) and
    the pickled (delta-encoded ids, weights, values), zlib-compressed from
    ``COMPRESS_MIN_BYTES``; the list starts with Whoosh's magic number. Per term,
    a row in the terms table: its statistics and where its postings are.
    """

    def __init__(self, fieldwriter: Any, format_: Any, length_of: list[int] | None) -> None:
        postwriter = fieldwriter._postwriter  # set by start_field: the codec's settings
        # Nothing else writes to these files while a field's terms are written, so
        # offsets are counted here rather than asked of the files at every write.
        self.postfile = fieldwriter._postfile
        self.offset = self.postfile.tell()
        self.table = fieldwriter._tindex
        self.inline_rows = (
            type(self.table) is OrderedHashWriter and self.table.hashfn is md5_hash
        )  # else rows go through the table's own add
        self.table_offset = self.table.dbfile.tell() if self.inline_rows else 0
        self.prefix = pack_ushort(fieldwriter._fieldid)
        self.limit = postwriter._blocklimit
        self.compression = COMPRESS_LEVEL if postwriter._compression else 0
        self.fixedsize = format_.fixed_value_size()
        self.length_of = length_of

    def __call__(
        self, tbytes: bytes, docs: list[int], weights: list[Any], values: list[bytes]
    ) -> None:
        limit, length_of = self.limit, self.length_of
        chunks = [WHOOSH3_HEADER_MAGIC]
        n = len(docs)
        minlength: int | None = None
        maxlength = maxweight = 0
        for lo in range(0, n, limit):
            hi = min(lo + limit, n)
            ids = docs[lo:hi] if n > limit else docs
            ws = weights[lo:hi] if n > limit else weights
            top = max(0, max(ws))
            maxweight = max(maxweight, top)
            if length_of is not None:
                lens = [x for x in map(length_of.__getitem__, ids) if x]
                low, high = (min(lens), max(lens)) if lens else (None, 0)
                if low is not None and (minlength is None or low < minlength):
                    minlength = low
                maxlength = max(maxlength, high)
            else:
                low, high = None, 0
            if ws.count(ws[0]) == len(ws):  # W3's _mini_weights: None if all 1, one if equal
                mini: Any = None if ws[0] == 1 else float(ws[0])
            else:
                mini = tuple(ws)
            deltas = [ids[0], *map(sub, ids[1:], ids)] if len(ids) > 1 else [ids[0]]
            data = dumps((tuple(deltas), mini, self._mini_values(values, lo, hi, n)), _PROTOCOL)
            comp = self.compression if len(data) >= COMPRESS_MIN_BYTES else 0
            if comp:
                data = zlib.compress(data, comp)
            info = dumps((hi - lo, ids[-1], top, comp, _length_byte(low), _length_byte(high)), 2)
            size = len(info) + len(data)
            chunks += (pack_int(-size if hi == n else size), info, data)
        block = b"".join(chunks)
        self.postfile.write(block)
        start = self.offset
        self.offset += len(block)
        row = _TERM_INFO.pack(
            0, sum(weights), n, _length_byte(minlength), _length_byte(maxlength), maxweight,
            docs[0], docs[-1],
        )  # fmt: skip
        self._add_row(self.prefix + tbytes, row + pack_long(start) + pack_int(len(block)))

    def _add_row(self, key: bytes, value: bytes) -> None:
        """``OrderedHashWriter.add``: the row, its offset for the ordered index, its hash."""
        table = self.table
        if not self.inline_rows:
            table.add(key, value)
            return
        if key <= table.lastkey:
            raise ValueError(f"terms must increase: {table.lastkey!r}..{key!r}")
        pos = self.table_offset
        table.index.append(pos)
        row = _ROW_LENGTHS.pack(len(key), len(value)) + key + value
        table.dbfile.write(row)
        self.table_offset += len(row)
        h = int.from_bytes(md5(key).digest()[-4:], "big")  # md5_hash, without the hex string
        table.buckets[h & 255].append((h, pos))
        table.lastkey = key

    def _mini_values(self, values: list[bytes], lo: int, hi: int, n: int) -> Any:
        """W3's ``_mini_values``: each value, none, or one string of fixed-size values."""
        fixedsize = self.fixedsize
        part = values[lo:hi] if hi - lo < n else values
        if fixedsize is None or fixedsize < 0:
            return tuple(part)
        if fixedsize == 0:
            return None
        return b"".join(part)


_LENGTH_BYTES: dict[int | None, int] = {}


def _length_byte(length: int | None) -> int:
    """Whoosh's ``length_to_byte`` (a bisection), remembered."""
    byte = _LENGTH_BYTES.get(length)
    if byte is None:
        byte = _LENGTH_BYTES[length] = length_to_byte(length)
    return byte
