"""The fast segment writer: Whoosh's index, written another way, in one or several processes."""

from __future__ import annotations

import multiprocessing
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import formats
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from searchkit import SearchkitError, index_articles, indexer, open_index, search, segments
from searchkit import schema as sc
from searchkit.analysis import exact_analyzer, text_analyzer
from searchkit.indexer import article_document
from searchkit.model import Article, Origin
from searchkit.readers import read_corpus

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def corpus_docs() -> list[dict]:
    articles = [a for a in read_corpus([str(CORPUS)]) if isinstance(a, Article)]
    assert len(articles) > 50
    return [article_document(a) for a in articles]


def build(path: Path, docs: list[dict], fast: bool) -> whoosh_index.FileIndex:
    schema = sc.build_schema()
    if not fast:  # Whoosh's own format and writer, as searchkit wrote indexes before
        for name in (*sc.TEXT_FIELDS, sc.EXACT):
            schema[name].format = formats.Positions(field_boost=1.0)
    path.mkdir()
    ix = whoosh_index.create_in(str(path), schema)
    writer = segments.FastSegmentWriter(ix) if fast else SegmentWriter(ix)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return whoosh_index.open_dir(str(path))


def postings(reader, fieldname: str, term: bytes) -> list:
    matcher = reader.postings(fieldname, term)
    out = []
    positions = matcher.supports("positions")  # decoded: each format has its own bytes
    while matcher.is_active():
        value = matcher.value_as("positions") if positions else matcher.value()
        out.append((matcher.id(), matcher.weight(), value))
        matcher.next()
    return out


def term_stats(reader, fieldname: str, term: bytes) -> tuple:
    info = reader.term_info(fieldname, term)
    return (
        info.weight(),
        info.doc_frequency(),
        info.min_length(),
        info.max_length(),
        info.max_weight(),
        info.min_id(),
        info.max_id(),
    )


def test_fast_writer_writes_what_whoosh_writes(tmp_path):
    docs = corpus_docs()
    stock = build(tmp_path / "stock", docs, fast=False).reader()
    fast = build(tmp_path / "fast", docs, fast=True).reader()
    terms = list(stock.all_terms())
    assert terms == list(fast.all_terms()) and len(terms) > 5000
    for fieldname, term in terms:
        assert term_stats(stock, fieldname, term) == term_stats(fast, fieldname, term), term
        assert postings(stock, fieldname, term) == postings(fast, fieldname, term), term
    for name in (*sc.TEXT_FIELDS, sc.EXACT):
        assert stock.field_length(name) == fast.field_length(name)
        for docnum in range(stock.doc_count_all()):
            assert stock.doc_field_length(docnum, name) == fast.doc_field_length(docnum, name)
    assert list(stock.all_stored_fields()) == list(fast.all_stored_fields())


def test_long_posting_lists_span_several_blocks(tmp_path):
    # 300 documents share "commun": three blocks of at most 128 postings.
    docs = [{sc.ID: f"d{i}", sc.BODY: f"commun mot{i} " + "autre " * (i % 7)} for i in range(300)]
    stock = build(tmp_path / "stock", docs, fast=False).reader()
    fast = build(tmp_path / "fast", docs, fast=True).reader()
    for fieldname in (sc.BODY, sc.ID):
        for term, _ in stock.iter_field(fieldname):
            assert postings(stock, fieldname, term) == postings(fast, fieldname, term)
            assert term_stats(stock, fieldname, term) == term_stats(fast, fieldname, term)
    assert len(postings(fast, sc.BODY, b"commun")) == 300


def test_documents_through_whoosh_route_mix_with_the_pool(tmp_path):
    # A custom stored value sends a document through Whoosh's own add_document: its
    # postings go to the other side of the pool, merged back in document order.
    docs = [
        {sc.ID: f"d{i}", sc.BODY: f"commun mot{i % 5} " + "autre " * (i % 4)} for i in range(300)
    ]
    for doc in docs[::3]:
        doc["_stored_body"] = "stockée à part"
    stock = build(tmp_path / "stock", docs, fast=False).reader()
    fast = build(tmp_path / "fast", docs, fast=True).reader()
    terms = list(stock.iter_field(sc.BODY))
    assert len(terms) == 7
    for term, _ in terms:
        assert postings(stock, sc.BODY, term) == postings(fast, sc.BODY, term), term
        assert term_stats(stock, sc.BODY, term) == term_stats(fast, sc.BODY, term), term
    assert fast.stored_fields(3)[sc.BODY] == "stockée à part"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=6), max_size=5))
def test_positions_values_round_trip(poslists: list[list[int]]):
    fmt = segments.FrenchPositions()
    values = [fmt.encode(p) for p in poslists]
    for poslist, value in zip(poslists, values, strict=True):
        assert fmt.decode_positions(value) == poslist
        assert fmt.decode_frequency(value) == len(poslist)
        assert len(value) == 4 * len(poslist)
    combined = sorted({p for poslist in poslists for p in poslist})
    assert fmt.decode_positions(fmt.combine(values)) == combined


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["b", "a", "é", "ab", "z", "œ", None]), max_size=12),
            # Around the end of the one-position table: values looked up, then sliced.
            st.sampled_from([0, 3, 65534, 65535, 65536]),
        ),
        max_size=8,
    ),
    st.sampled_from([1.0, 2.5]),
)
def test_field_words_give_each_terms_postings_in_order(
    docs: list[tuple[list[str | None], int]], boost: float
):
    # Reference: the postings written out the obvious way, a dict of positions per document.
    expected: dict[bytes, tuple[list[int], list[float], list[list[int]]]] = {}
    words = segments.TermPool()
    for docnum, (terms, start) in enumerate(docs):
        words.add_words("body", boost, docnum * 2, terms, start)  # gaps between docnums too
        per_term: dict[str, list[int]] = {}
        for pos, term in enumerate(terms, start):
            if term is not None:
                per_term.setdefault(term, []).append(pos)
        for term, poslist in per_term.items():
            ids, weights, values = expected.setdefault(term.encode(), ([], [], []))
            ids.append(docnum * 2)
            weights.append(len(poslist) * boost)
            values.append(poslist)
    fmt = segments.FrenchPositions()
    got = [
        (term, (ids, weights, [fmt.decode_positions(v) for v in values]))
        for term, (ids, weights, values) in words.items("body")
    ]
    assert got == sorted(expected.items())


words = st.sampled_from(
    ["le", "la", "l’État", "d’Orléans", "Corée", "du", "Nord", "ŒUVRE", "a", "à", "où",
     "gouvernement", "gouvernements", "qu'il", "ALLOCATIONS", "5", "x-y", ",", ".", "…"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(words, max_size=40))
def test_positions_match_the_token_path(text_words):
    text = " ".join(text_words)
    for analyzer in (text_analyzer(), exact_analyzer()):
        expected: dict[str, list[int]] = {}
        for token in analyzer(text, positions=True):
            expected.setdefault(token.text, []).append(token.pos)
        assert analyzer.positions(text) == expected


def many_articles(n: int, word: str = "archive", start: int = 0) -> list[Article]:
    return [
        Article(
            id=f"a{i}",
            title=f"Titre {i}",
            body=f"{word} numéro {i} de la série",
            origin=Origin("t", i),
        )
        for i in range(start, start + n)
    ]


def test_two_processes_write_one_segment_each(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "MIN_SHARE", 10)
    monkeypatch.setattr(segments, "SMALL_SEGMENT", 10)  # two segments of 30: kept apart
    report = index_articles(many_articles(60), tmp_path, procs=2)
    assert report.articles == 60
    ix = open_index(tmp_path)
    assert len(ix._segments()) == 2
    result = search(tmp_path, "archive numéro", limit=100)
    assert sorted(h.id for h in result.hits) == sorted(f"a{i}" for i in range(60))
    with ix.searcher() as s:
        assert s.document(id="a59")["title"] == "Titre 59"


def test_updates_in_parallel_replace_old_versions(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "MIN_SHARE", 10)
    index_articles(many_articles(40), tmp_path, procs=2)
    report = index_articles(many_articles(40, word="nouveau"), tmp_path, procs=2)
    assert (report.updated, report.articles) == (40, 40)
    assert search(tmp_path, "archive").total == 0
    assert search(tmp_path, "nouveau", limit=50).total == 40


def _die(ix, items, prepare, send):
    os._exit(3)


def test_a_dead_helper_fails_the_batch_and_keeps_the_index(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "MIN_SHARE", 10)
    index_articles(many_articles(5), tmp_path)
    monkeypatch.setattr(segments, "_write_part", _die)
    with pytest.raises(SearchkitError, match="helper process failed: exit code 3"):
        index_articles(many_articles(60, word="perdu"), tmp_path, procs=2)
    assert open_index(tmp_path).doc_count() == 5
    monkeypatch.undo()
    monkeypatch.setattr(segments, "MIN_SHARE", 10)
    report = index_articles(many_articles(60, word="perdu"), tmp_path, procs=2)
    assert report.articles == 60 and search(tmp_path, "perdu").total == 60


def test_a_helper_error_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "MIN_SHARE", 10)
    ix = open_index_for_write(tmp_path)
    writer = segments.FastSegmentWriter(ix)
    docs = [{sc.ID: f"d{i}", "no_such_field": "x"} for i in range(30)]
    with pytest.raises(SearchkitError, match="UnknownFieldError"):
        writer.add_documents(docs, procs=2)
    writer.cancel()
    assert whoosh_index.open_dir(str(tmp_path)).doc_count() == 0


def open_index_for_write(path: Path) -> whoosh_index.FileIndex:
    return whoosh_index.create_in(str(path), sc.build_schema())


def by_article(reader) -> tuple[dict, dict, dict]:
    """Postings, term statistics, lengths and stored fields keyed by article id, not docnum."""
    ids = {n: reader.stored_fields(n)[sc.ID] for n in reader.all_doc_ids()}
    terms = {}
    for fieldname, term in reader.all_terms():
        rows = sorted((ids[d], w, v) for d, w, v in postings(reader, fieldname, term))
        assert rows, (fieldname, term)  # no term is left with only deleted postings
        terms[(fieldname, term)] = (rows, term_stats(reader, fieldname, term)[:5])
    lengths = {
        (ids[n], name): reader.doc_field_length(n, name)
        for n in ids
        for name in (*sc.TEXT_FIELDS, sc.EXACT)
    }
    stored = {ids[n]: reader.stored_fields(n) for n in ids}
    return terms, lengths, stored


def test_a_merge_writes_what_one_writer_writes(tmp_path, monkeypatch):
    docs = corpus_docs()
    expected = build(tmp_path / "one", docs, fast=True).reader()
    path = tmp_path / "merged"
    path.mkdir()
    ix = whoosh_index.create_in(str(path), sc.build_schema())
    stale = [dict(doc, **{sc.BODY: "zorglub version périmée"}) for doc in docs[:10]]
    replaced = {doc[sc.ID] for doc in stale}
    for part in [stale] + [docs[k::4] for k in range(4)]:
        writer = segments.FastSegmentWriter(ix)
        for doc in part:
            if part is not stale and doc[sc.ID] in replaced:
                writer.delete_by_term(sc.ID, doc[sc.ID])
            writer.add_document(**doc)
        writer.commit(mergetype=lambda w, segs: list(segs))
    assert len(ix._segments()) == 5 and ix.doc_count() == len(docs)
    monkeypatch.setattr(segments, "SMALL_SEGMENT", 10**6)
    segments.FastSegmentWriter(ix).commit(mergetype=segments.merge_segments)
    merged = ix.reader()
    assert len(ix._segments()) == 1 and not merged.has_deletions()
    assert not list(merged.expand_prefix(sc.BODY, "zorglub"))  # only in deleted versions
    assert by_article(merged) == by_article(expected)
    for name in (*sc.TEXT_FIELDS, sc.EXACT):
        # Whoosh's add_reader re-adds each document's length as stored (one byte, rounded).
        total = sum(merged.doc_field_length(n, name) or 0 for n in merged.all_doc_ids())
        assert merged.field_length(name) == total


def test_segments_of_one_size_are_merged_by_tiers(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "SMALL_SEGMENT", 2)
    monkeypatch.setattr(segments, "MERGE_FACTOR", 3)
    counts = []
    for run in range(4):  # runs of five articles: one-digit segments
        index_articles(many_articles(5, word=f"lot{run}", start=5 * run), tmp_path)
        counts.append(len(open_index(tmp_path)._segments()))
    assert counts == [1, 2, 3, 1]  # the fourth commit merges the three with its own
    assert search(tmp_path, "numéro", limit=50).total == 20
    assert search(tmp_path, "lot2").total == 5


def test_a_helper_merges_beside_the_writers_and_drops_deleted_versions(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "MIN_SHARE", 10)
    monkeypatch.setattr(segments, "SMALL_SEGMENT", 5)
    monkeypatch.setattr(segments, "MERGE_FACTOR", 3)
    # Shares by count (not by text: a1 is shorter than a10), so a0–a19 make one segment.
    monkeypatch.setattr(indexer, "_text_size", lambda item: 1)
    index_articles(many_articles(40), tmp_path, procs=2)
    index_articles(many_articles(40, start=40), tmp_path, procs=2)
    ix = open_index(tmp_path)
    assert sorted(s.doc_count() for s in ix._segments()) == [20, 20, 20, 20]
    # a0–a19 replaced (their segment becomes all deleted), a80–a99 added: the four
    # segments are merged by a third helper while two others write the batch.
    batch = many_articles(20, word="nouveau") + many_articles(20, start=80)
    report = index_articles(batch, tmp_path, procs=2)
    assert (report.updated, report.added, report.articles) == (20, 20, 100)
    assert multiprocessing.active_children() == []
    ix = open_index(tmp_path)
    assert sorted(s.doc_count() for s in ix._segments()) == [20, 20, 60]
    assert not any(s.has_deletions() for s in ix._segments())
    assert search(tmp_path, "nouveau", limit=50).total == 20
    assert search(tmp_path, "archive", limit=100).total == 80
    assert search(tmp_path, "numéro", limit=200).total == 100


def test_small_segments_do_not_pile_up(tmp_path):
    for run in range(6):  # six small runs: one article each
        index_articles([many_articles(6)[run]], tmp_path)
    ix = open_index(tmp_path)
    assert ix.doc_count() == 6 and len(ix._segments()) == 1


def test_mostly_deleted_segments_are_merged_away(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "SMALL_SEGMENT", 5)
    index_articles(many_articles(20), tmp_path)
    index_articles(many_articles(8, word="modifié"), tmp_path)  # 8 of 20 replaced
    ix = open_index(tmp_path)
    assert ix.doc_count() == 20
    assert sum(s.deleted_count() for s in ix._segments()) == 0
    assert search(tmp_path, "modifié", limit=50).total == 8


def test_ctrl_c_stops_the_helpers_and_keeps_the_index(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "MIN_SHARE", 10)
    index_articles(many_articles(5), tmp_path)

    def interrupted(caches):
        raise KeyboardInterrupt

    monkeypatch.setattr(segments, "merge_term_caches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        index_articles(many_articles(90, word="coupé"), tmp_path, procs=3)
    assert multiprocessing.active_children() == []
    assert open_index(tmp_path).doc_count() == 5
    monkeypatch.undo()
    report = index_articles(many_articles(90, word="coupé"), tmp_path)
    assert report.articles == 90 and search(tmp_path, "coupé", limit=100).total == 90


def test_opening_a_reader_does_not_copy_the_index_into_memory(tmp_path):
    # Whoosh's memory-mapped compound files are opened as in-memory copies: at
    # 300,000 articles a reader cost 2.8 GB and seconds before searching anything.
    index_articles(many_articles(2000, word="mémoire " * 20), tmp_path)
    size = sum(f.stat().st_size for f in tmp_path.glob("*.seg"))
    assert size > 1_000_000
    tracemalloc.start()
    try:
        with open_index(tmp_path).reader() as reader:
            assert reader.doc_count() == 2000
            assert reader.doc_frequency(sc.BODY, "memoir") == 2000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size / 4, (peak, size)


class _Seg:
    """What the merge policy reads of a segment."""

    def __init__(self, docs: int, deleted: int = 0) -> None:
        self.docs, self.deleted = docs, deleted

    def doc_count_all(self) -> int:
        return self.docs

    def doc_count(self) -> int:
        return self.docs - self.deleted

    def deleted_count(self) -> int:
        return self.deleted

    def has_deletions(self) -> bool:
        return self.deleted > 0


def test_a_large_clean_segment_is_never_merged_alone(monkeypatch):
    monkeypatch.setattr(segments, "MAX_MERGE_DOCS", 1_000_000)
    big = [_Seg(600_000) for _ in range(10)]  # a full tier, but only one fits the cap
    assert segments._merge_plan(big, added=True) == []
    small = _Seg(10)
    assert segments._merge_plan([small, *big[:3]], added=True) == [small]  # folded in
    assert segments._merge_plan([small], added=False) == []  # alone: nothing gained
    deleted = _Seg(5000, deleted=2000)
    assert segments._merge_plan([deleted], added=False) == [deleted]


def test_the_collector_is_frozen_while_writing_and_released_after(tmp_path, monkeypatch):
    import gc

    monkeypatch.setattr(segments, "_FREEZE_EVERY", 10)
    docs = [{sc.ID: f"d{i}", sc.BODY: f"mot{i} commun"} for i in range(30)]
    assert gc.get_freeze_count() == 0
    ix = whoosh_index.create_in(str(tmp_path), sc.build_schema())
    writer = segments.FastSegmentWriter(ix)
    for doc in docs:
        writer.add_document(**doc)
    assert gc.get_freeze_count() > 0  # the pool's lists are out of the collector's walks
    writer.commit()
    assert gc.get_freeze_count() == 0
    # Objects someone else froze stay frozen: this writer does not freeze at all then.
    gc.freeze()
    try:
        writer = segments.FastSegmentWriter(whoosh_index.open_dir(str(tmp_path)))
        for doc in docs:
            writer.add_document(**{**doc, sc.ID: doc[sc.ID] + "b"})
        writer.commit()
        assert gc.get_freeze_count() > 0  # not unfrozen by the writer
    finally:
        gc.unfreeze()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=2, max_size=60), st.integers(2, 4))
def test_shares_are_balanced_by_size_and_never_empty(sizes: list[int], procs: int):
    procs = min(procs, len(sizes))
    cuts = segments._cuts(sizes, procs, size=lambda x: x)
    assert cuts[0] == 0 and cuts[-1] == len(sizes) and len(cuts) == procs + 1
    assert all(a < b for a, b in zip(cuts, cuts[1:], strict=False))  # no empty share
    weights = [max(1, x) for x in sizes]
    total, biggest = sum(weights), max(weights)
    for a, b in zip(cuts, cuts[1:], strict=False):
        # A share is over its fair part by less than one item (unless it is one item).
        assert b - a == 1 or sum(weights[a:b]) <= total / procs + biggest
    assert segments._cuts(sizes, procs, None) == [len(sizes) * k // procs for k in range(procs + 1)]


def test_shares_by_size_follow_the_text_not_the_count():
    sizes = [100] * 10 + [1] * 90  # the long articles first, as a batch may have them
    assert segments._cuts(sizes, 2, size=lambda x: x) == [0, 6, 100]
    assert segments._cuts(sizes, 2, None) == [0, 50, 100]
