"""Indexer: stable ids, updates never duplicate, commits all or nothing, versions checked."""

import json
import shutil
from pathlib import Path

import pytest
from whoosh.writing import SegmentWriter

from searchkit import IndexLockedError, IndexVersionError, index_articles, open_index, segments
from searchkit.dates import parse_date_span
from searchkit.indexer import LOCK_FILE, META_FILE, _exclusive, index_corpus
from searchkit.model import Article, DateSpan, Entity, Origin

ROOT = Path(__file__).resolve().parents[1]


def art(i: int, body: str = "texte", **kw) -> Article:
    return Article(id=f"a{i}", body=f"{body} {i}", title=f"Titre {i}", origin=Origin("t", i), **kw)


def ids_in(index_dir) -> list[str]:
    ix = open_index(index_dir)
    with ix.searcher() as s:
        return sorted(d["id"] for d in s.all_stored_fields())


def test_reindex_same_articles_changes_nothing(tmp_path):
    first = index_articles([art(i) for i in range(5)], tmp_path)
    again = index_articles([art(i) for i in range(5)], tmp_path)
    assert (first.added, first.updated, first.unchanged) == (5, 0, 0)
    assert (again.added, again.updated, again.unchanged, again.articles) == (0, 0, 5, 5)
    assert ids_in(tmp_path) == [f"a{i}" for i in range(5)]


def test_same_files_through_another_path_are_unchanged(tmp_path, monkeypatch):
    """corpus/ then /abs/.../corpus/ then a link to it: the same articles, not updates."""
    folder = tmp_path / "archive"
    shutil.copytree(ROOT / "corpus" / "2016", folder)
    (tmp_path / "link").symlink_to(folder)
    monkeypatch.chdir(tmp_path)
    index_dir = tmp_path / "ix"
    first = index_corpus(["archive"], index_dir, entities=False)
    assert first.added > 0
    for spelling in (str(folder), str(tmp_path / "link"), "./archive/"):
        again = index_corpus([spelling], index_dir, entities=False)
        assert (again.added, again.updated, again.unchanged) == (0, 0, first.added), spelling
    with open_index(index_dir).searcher() as s:
        origins = {d["origin"].rsplit(":", 1)[0] for d in s.all_stored_fields()}
    assert origins and all(o.startswith(str(folder.resolve())) for o in origins)


def test_changed_article_is_updated_not_doubled(tmp_path):
    index_articles([art(i) for i in range(3)], tmp_path)
    report = index_articles([art(1, body="nouveau")], tmp_path)
    assert (report.added, report.updated, report.articles) == (0, 1, 3)
    ix = open_index(tmp_path)
    with ix.searcher() as s:
        assert s.document(id="a1")["body"] == "nouveau 1"


def test_duplicate_ids_in_one_batch_last_wins(tmp_path):
    report = index_articles([art(1, body="v1"), art(1, body="v2"), art(2)], tmp_path)
    assert report.articles == 2
    ix = open_index(tmp_path)
    with ix.searcher() as s:
        assert s.document(id="a1")["body"] == "v2 1"


def test_duplicates_across_batches(tmp_path):
    articles = [art(i % 3, body=f"v{i}") for i in range(7)]
    report = index_articles(articles, tmp_path, batch_size=2)
    assert report.articles == 3 and ids_in(tmp_path) == ["a0", "a1", "a2"]


def test_failed_commit_keeps_previous_state_and_rerun_converges(tmp_path, monkeypatch):
    index_articles([art(i) for i in range(3)], tmp_path)
    original = SegmentWriter.commit

    def failing_commit(self, *args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(SegmentWriter, "commit", failing_commit)
    with pytest.raises(OSError):
        index_articles([art(i, body="changé") for i in range(6)], tmp_path)
    monkeypatch.setattr(SegmentWriter, "commit", original)
    assert ids_in(tmp_path) == ["a0", "a1", "a2"]
    report = index_articles([art(i, body="changé") for i in range(6)], tmp_path)
    assert report.articles == 6 and ids_in(tmp_path) == [f"a{i}" for i in range(6)]


def test_second_writer_is_refused(tmp_path):
    index_articles([art(1)], tmp_path)
    with _exclusive(tmp_path):
        with pytest.raises(IndexLockedError, match="another searchkit index run"):
            index_articles([art(2)], tmp_path)
    assert (tmp_path / LOCK_FILE).exists()


def test_other_analysis_version_is_refused(tmp_path):
    index_articles([art(1)], tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    meta["analysis_version"] = "0"
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(IndexVersionError, match="re-index"):
        open_index(tmp_path)


def test_rebuild_replaces_everything(tmp_path):
    index_articles([art(i) for i in range(4)], tmp_path)
    report = index_articles([art(9)], tmp_path, rebuild=True)
    assert report.articles == 1 and ids_in(tmp_path) == ["a9"]
    assert not (tmp_path.parent / (tmp_path.name + ".rebuild")).exists()


def test_skip_field_leaves_text_out(tmp_path):
    a = Article(id="x", title="Chevaux", lead="abstract secret", body="corps du texte")
    index_articles([a], tmp_path, skip_fields=["lead"])
    ix = open_index(tmp_path)
    with ix.searcher() as s:
        assert "lead" not in s.document(id="x")
        assert s.doc_frequency("exact", "secret") == 0
        assert s.doc_frequency("exact", "corps") == 1


def test_metadata_and_fields(tmp_path):
    a = Article(
        id="k",
        body="Kim a rencontré Poutine.",
        date=parse_date_span("2023-09"),
        entities=(Entity("person", "kim jong un", "Kim Jong Un", 3),),
    )
    index_articles([a], tmp_path, sources=["/data/x"])
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["articles"] == 1 and meta["sources"] == ["/data/x"]
    ix = open_index(tmp_path)
    with ix.searcher() as s:
        assert s.doc_frequency("person", "kim jong un") == 1
        assert s.doc_frequency("month", "2023-09") == 1
        assert json.loads(s.document(id="k")["entities"]) == {
            "person": [["kim jong un", "Kim Jong Un", 3]]
        }


def test_index_corpus_counts_errors(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text('{"id": "1", "body": "un"}\n{bad\n{"id": "2"}\n', "utf-8")
    problems = []
    report = index_corpus([corpus], tmp_path / "ix", entities=False, on_problem=problems.append)
    assert (report.read, report.added, report.rejected, report.notices) == (1, 1, 2, 1)
    assert len(problems) == 3 and report.articles == 1


def test_date_span_fields_round_trip(tmp_path):
    a = Article(
        id="d",
        body="x",
        date=DateSpan(parse_date_span("2019").start, parse_date_span("2019").end, "year"),
    )
    index_articles([a], tmp_path)
    ix = open_index(tmp_path)
    with ix.searcher() as s:
        doc = s.document(id="d")
        assert doc["date"] == "2019" and s.doc_frequency("year", "2019") == 1


@pytest.fixture
def small_shares(monkeypatch):
    """Shares of five articles are worth a helper: a batch of 20 goes to two processes."""
    monkeypatch.setattr(segments, "MIN_SHARE", 5)


def test_helpers_write_a_batch_while_the_next_is_read(tmp_path, monkeypatch, small_shares):
    """With helpers, batch k is committed once batch k+1 is read: the same index as in one go."""
    started: list[int] = []  # articles read when each batch's helpers started
    committed: list[int] = []  # articles read when each batch was committed
    read = 0

    def counted(articles):
        nonlocal read
        for article in articles:
            read += 1
            yield article

    real_add, real_commit = (
        segments.FastSegmentWriter.add_documents,
        segments.FastSegmentWriter.commit,
    )

    def add_documents(self, items, *args, **kwargs):
        started.append(read)
        return real_add(self, items, *args, **kwargs)

    def commit(self, *args, **kwargs):
        committed.append(read)
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(segments.FastSegmentWriter, "add_documents", add_documents)
    monkeypatch.setattr(segments.FastSegmentWriter, "commit", commit)
    articles = [art(i) for i in range(50)]
    # Read while the batch holding a20..a39 is being written: the same a25 is unchanged
    # once that batch is committed, the changed a26 an update.
    articles += [art(25), art(26, body="changé")]
    articles += [art(i) for i in range(50, 75)]
    report = index_articles(counted(articles), tmp_path, batch_size=20, procs=2)
    assert started == [20, 40, 60, 77]
    assert committed == [40, 60, 77, 77]  # each batch committed after the next was read
    assert (report.added, report.updated, report.unchanged, report.articles) == (75, 1, 1, 75)
    assert ids_in(tmp_path) == sorted(f"a{i}" for i in range(75))
    with open_index(tmp_path).searcher() as s:
        assert s.document(id="a26")["body"] == "changé 26"


def test_ctrl_c_while_helpers_write_stops_them_and_keeps_the_last_commit(tmp_path, small_shares):
    import multiprocessing

    def interrupted():
        for i in range(50):
            if i == 45:  # batch 2 (a20..a39) is with the helpers, batch 1 committed
                raise KeyboardInterrupt
            yield art(i)

    with pytest.raises(KeyboardInterrupt):
        index_articles(interrupted(), tmp_path, batch_size=20, procs=2)
    assert multiprocessing.active_children() == []
    assert ids_in(tmp_path) == sorted(f"a{i}" for i in range(20))
    report = index_articles([art(i) for i in range(50)], tmp_path, batch_size=20, procs=2)
    assert (report.added, report.unchanged, report.articles) == (30, 20, 50)


def test_a_later_copy_read_while_helpers_write_the_earlier_one_wins(tmp_path, small_shares):
    index_articles([art(i) for i in range(40)], tmp_path, batch_size=20, procs=2)
    # a5 changes in the first batch, then its old version comes again, read while the
    # helpers write that batch: the last version read is the one indexed.
    articles = [art(5, body="changé")] + [art(i) for i in range(100, 119)]  # a full batch
    articles += [art(5)] + [art(i) for i in range(200, 220)]
    report = index_articles(articles, tmp_path, batch_size=20, procs=2)
    assert (report.added, report.updated, report.articles) == (39, 2, 79)
    with open_index(tmp_path).searcher() as s:
        assert s.document(id="a5")["body"] == "texte 5"


def test_a_reader_error_keeps_the_batch_the_helpers_wrote(tmp_path, small_shares):

    def broken():
        for i in range(30):
            yield art(i)
        raise OSError("disque illisible")

    with pytest.raises(OSError, match="illisible"):
        index_articles(broken(), tmp_path, batch_size=20, procs=2)
    assert ids_in(tmp_path) == sorted(f"a{i}" for i in range(20))


def test_helpers_results_are_taken_while_the_next_batch_is_read(
    tmp_path, monkeypatch, small_shares
):
    import multiprocessing
    import time

    from searchkit import indexer

    monkeypatch.setattr(indexer, "_POLL_EVERY", 1)
    left_at_finish: list[int] = []
    real_finish = segments.FastSegmentWriter.finish_adding

    def finish_adding(self):
        if self._pending is not None:
            left_at_finish.append(len(self._waiting))
        return real_finish(self)

    monkeypatch.setattr(segments.FastSegmentWriter, "finish_adding", finish_adding)

    def slow_second_batch():
        for i in range(40):
            if i >= 25:  # batch 1 is with the helpers: let them finish first
                deadline = time.monotonic() + 60
                while multiprocessing.active_children() and time.monotonic() < deadline:
                    time.sleep(0.01)
            yield art(i)

    report = index_articles(slow_second_batch(), tmp_path, batch_size=20, procs=2)
    assert report.articles == 40
    assert left_at_finish[0] == 0  # both helpers' results were taken while reading
    assert report.in_batch == 0
