"""Writing Whoosh segments without Whoosh's per-posting bookkeeping.

Profiling an indexing run showed Whoosh's own writer, not French analysis, taking
most of the time: every posting became a tuple in a sorting pool (spilled to disk
and merge-sorted past ``limitmb``), then was fed one call at a time to the codec,
which looked the document's field length up again for each. The segment files
are fine; the route to them is slow. Here the same files are written another way:

- :class:`FrenchPositions` turns a field's text into per-term positions with the
  analyzer's :meth:`~searchkit.analysis.FrenchAnalyzer.positions`, not a token
  object per word; the encoded bytes are Whoosh's ``Positions`` bytes.
- :class:`FastSegmentWriter` keeps a segment's postings grouped by term in memory
  (:class:`TermPool`) as documents arrive, so nothing is sorted but the terms,
  and hands each term's postings to Whoosh's codec a block at a time.

What is on disk is what Whoosh's writer writes: the same terms, postings, positions,
weights, lengths and term statistics, in Whoosh's codec (``tests/test_segments.py``
compares the two writers through Whoosh's readers). The bytes differ in one way:
a repeated one-position value is one shared object, which pickle stores once per
block. The index stays a plain Whoosh index, read by Whoosh's readers and searchers.
"""

from __future__ import annotations

import multiprocessing
import signal
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import wait
from pickle import dumps
from typing import Any

from whoosh.formats import Positions
from whoosh.reading import SegmentReader
from whoosh.system import pack_uint
from whoosh.writing import SegmentWriter

from .analysis import merge_term_caches, term_caches
from .errors import SearchkitError

# A segment under this many documents is merged at the next commit (small runs add
# small segments; they must not pile up). Segments a quarter dead are merged too.
SMALL_SEGMENT = 1000
# Fewer documents than this per helper process: forking costs more than it saves.
MIN_SHARE = 500
# Documents between two progress reports (a helper's report is one pipe message).
_PROGRESS_EVERY = 50
# Merges go through the in-memory pool: never more live documents than this at once.
MAX_MERGE_DOCS = 20_000

# (docnums, weights, encoded values) of one term, in document order.
_Postings = tuple[list[int], list[float], list[bytes]]


class FrenchPositions(Positions):
    """Whoosh's ``Positions`` format, fed by the analyzer's per-term positions.

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
            yield term, len(poslist), len(poslist) * boost, _encode(poslist)


# Most terms occur once in a field: their encodings repeat, keyed by the position.
_ONCE: dict[int, bytes] = {}


def _encode(poslist: list[int]) -> bytes:
    """``Positions.encode``: the count, then the pickled gaps between positions."""
    if len(poslist) == 1:
        pos = poslist[0]
        value = _ONCE.get(pos)
        if value is None:
            value = pack_uint(1) + dumps(poslist, 2)
            if len(_ONCE) < 100_000:
                _ONCE[pos] = value
        return value
    deltas = [poslist[0]]
    deltas.extend(b - a for a, b in zip(poslist, poslist[1:], strict=False))
    return pack_uint(len(deltas)) + dumps(deltas, 2)


class TermPool:
    """One segment's postings grouped by field and term, in memory.

    Stands in for Whoosh's ``PostingPool``: ``add`` takes the same
    ``(fieldname, termbytes, docnum, weight, valuebytes)`` items (merges from
    older segments come that way), and :meth:`FastSegmentWriter._write_terms` reads
    the groups. Documents arrive in increasing number, so each term's postings are
    already in order and only the terms are sorted at the end. Memory grows with
    the segment: the indexer bounds it with its batch size.
    """

    def __init__(self) -> None:
        self.fields: dict[str, dict[bytes, _Postings]] = {}

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

    def cleanup(self) -> None:
        self.fields.clear()


class FastSegmentWriter(SegmentWriter):
    """Whoosh's ``SegmentWriter`` with a :class:`TermPool` and a term-at-a-time flush.

    Locking, documents, stored fields, columns, deletions, merges and the commit
    itself stay Whoosh's. Postings merged in from older segments (``add_reader``)
    go through the same pool, so a merge holds those segments' postings in memory:
    callers choose a merge policy that only merges small segments.
    """

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.pool = TermPool()
        self._ix = ix
        self._extra_segments: list[Any] = []  # written by helper processes
        fields = self.schema.items()
        # Term vectors and spelling words are written by Whoosh's own add_document.
        self._plain_schema = not any(f.vector or f.separate_spelling() for _, f in fields)

    def add_document(self, **fields: Any) -> None:
        """Whoosh's ``add_document``, text fields' postings put straight in the pool.

        Per posting, Whoosh's route builds three tuples across two generators; this
        one appends to the term's lists. Documents with boosts or custom stored
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
                positions = getattr(field.analyzer, "positions", None)
                if isinstance(fmt, FrenchPositions) and positions and isinstance(value, str):
                    length = self._add_positions(fieldname, fmt.field_boost, positions(value))
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

    def _add_positions(self, fieldname: str, boost: float, positions: dict[str, list[int]]) -> int:
        """Add one field's terms and positions for the current document; return its length."""
        terms = self.pool.fields.get(fieldname)
        if terms is None:
            terms = self.pool.fields[fieldname] = {}
        docnum = self.docnum
        length = 0
        for term, poslist in positions.items():
            freq = len(poslist)
            length += freq
            tbytes = term.encode("utf-8")
            postings = terms.get(tbytes)
            if postings is None:
                terms[tbytes] = ([docnum], [freq * boost], [_encode(poslist)])
            else:
                postings[0].append(docnum)
                postings[1].append(freq * boost)
                postings[2].append(_encode(poslist))
        return length

    def add_documents(
        self,
        items: Sequence[Any],
        procs: int = 1,
        *,
        prepare: Callable[[Sequence[Any]], Iterable[dict[str, Any]]] | None = None,
        min_share: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Add documents; with ``procs`` > 1, forked helpers write parts as segments of their own.

        ``items`` are documents (field dicts), or anything ``prepare`` turns into
        documents, a share at a time: the indexer passes articles and lets each
        helper run entity extraction on its own share, so the costly stage is
        spread over the cores with nothing sent between processes but counts.
        Each helper builds a complete segment from its share (no item is pickled:
        a forked process already holds them) and hands back only the segment's
        description; the commit lists them beside this writer's own. A helper
        that fails or dies makes this call raise, so the commit never happens and
        the index keeps its last state. ``progress`` is called with the number of
        documents added since its last call, about every ``_PROGRESS_EVERY``.
        ``min_share`` is the smallest share worth a process (default ``MIN_SHARE``).
        """
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
        cut = [len(items) * k // procs for k in range(procs + 1)]
        helpers: dict[Any, tuple[int, Any]] = {}  # receiving end -> (share number, process)
        results: dict[int, Any] = {}
        try:
            for k in range(procs):
                receive, send = ctx.Pipe(duplex=False)
                part = items[cut[k] : cut[k + 1]]
                proc = ctx.Process(target=_write_part, args=(self._ix, part, prepare, send))
                proc.start()
                send.close()
                helpers[receive] = (k, proc)
            waiting = dict(helpers)
            while waiting:
                for receive in wait(list(waiting)):
                    k, proc = waiting[receive]
                    try:
                        status, result, caches = receive.recv()
                    except EOFError:
                        proc.join()
                        status, result, caches = "error", f"exit code {proc.exitcode}", {}
                    if status == "progress":
                        if progress:
                            progress(result)
                        continue
                    if status != "ok":
                        raise SearchkitError(f"an indexing helper process failed: {result}")
                    del waiting[receive]
                    results[k] = result
                    merge_term_caches(caches)  # the next batch's helpers start warm
            self._extra_segments.extend(results[k] for k in range(procs))
        except BaseException:  # Ctrl-C or a failed helper: stop the others now
            for _, proc in helpers.values():
                proc.terminate()
            raise
        finally:
            for receive, (_, proc) in helpers.items():
                receive.close()
                proc.join()

    def _merge_segments(self, mergetype: Any, optimize: Any, merge: Any) -> list[Any]:
        return super()._merge_segments(mergetype, optimize, merge) + self._extra_segments

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        try:
            self._write_terms(lengths)
        finally:
            lengths.close()
        self.fieldwriter.close()

    def _write_terms(self, lengths: Any) -> None:
        schema = self.schema
        writer = self.fieldwriter
        ndocs = self.docnum
        for fieldname in sorted(self.pool.fields):
            terms = self.pool.fields[fieldname]
            fieldobj = schema[fieldname]
            if fieldobj.scorable:
                length_of = [lengths.doc_field_length(d, fieldname, 0) or 0 for d in range(ndocs)]
            else:
                length_of = None
            writer.start_field(fieldname, fieldobj)
            for tbytes in sorted(terms):
                writer.start_term(tbytes)
                _fill_blocks(writer._postwriter, *terms[tbytes], length_of)
                writer.finish_term()
            writer.finish_field()


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

    Counts go back as ``("progress", n, {})`` on the way. Ctrl-C is the parent's
    to handle (it stops its helpers); a helper whose parent is gone finds a
    closed pipe and exits quietly, its files left for the next commit's clean-up.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        writer = FastSegmentWriter(ix, _lk=False)  # the parent holds the lock
        for n, doc in enumerate(_prepared(items, prepare), 1):
            writer.add_document(**doc)
            if n % _PROGRESS_EVERY == 0:
                send.send(("progress", _PROGRESS_EVERY, {}))
        if len(items) % _PROGRESS_EVERY:
            send.send(("progress", len(items) % _PROGRESS_EVERY, {}))
        message = ("ok", writer._finalize_segment(), term_caches())
    except Exception as exc:  # reported to the parent, which raises it
        message = ("error", f"{type(exc).__name__}: {exc}", {})
    try:
        send.send(message)
    except OSError:
        pass
    finally:
        send.close()


def merge_small_segments(writer: SegmentWriter, segments: list[Any]) -> list[Any]:
    """Merge policy: fold small or mostly deleted segments into the new one.

    Whoosh's default policy (``MERGE_SMALL``) eventually merges all segments at
    once, which the in-memory pool cannot hold at archive scale; this one merges
    only segments under ``SMALL_SEGMENT`` documents or a quarter deleted,
    smallest first, up to ``MAX_MERGE_DOCS`` live documents per commit.
    """
    candidates = sorted(
        (
            s
            for s in segments
            if s.doc_count_all() < SMALL_SEGMENT or s.deleted_count() * 4 > s.doc_count_all()
        ),
        key=lambda s: s.doc_count(),
    )
    chosen = []
    total = 0
    for seg in candidates:
        if total + seg.doc_count() > MAX_MERGE_DOCS:
            break
        chosen.append(seg)
        total += seg.doc_count()
    alone = len(chosen) == 1 and not chosen[0].has_deletions() and not writer._added
    if not chosen or alone:  # rewriting one clean segment on its own gains nothing
        return list(segments)
    for seg in chosen:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        writer.add_reader(reader)
        reader.close()
    return [s for s in segments if s not in chosen]


def _fill_blocks(
    pw: Any, docs: list[int], weights: list[float], values: list[bytes], length_of: list[int] | None
) -> None:
    """Put one term's postings in the codec's block buffer, writing full blocks.

    Sets what ``W3PostingsWriter.add_posting`` would have accumulated posting by
    posting; the last block stays buffered for ``finish_term`` to write, as there.
    """
    limit = pw._blocklimit
    n = len(docs)
    for start in range(0, n, limit):
        if start:
            pw._write_block()
        end = min(start + limit, n)
        block_weights = weights[start:end]
        pw._ids = array("I", docs[start:end])
        pw._weights = array("f", block_weights)
        pw._values = values[start:end]
        pw._maxweight = max(0, max(block_weights))
        if length_of is not None:
            lens = [length_of[d] for d in docs[start:end] if length_of[d]]
            pw._minlength = min(lens) if lens else None
            pw._maxlength = max(lens) if lens else 0
