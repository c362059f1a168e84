"""Entities extracted as batches are written: once per new or changed article, in helpers.

A blank French pipeline with an entity ruler stands in for the model here: the
indexer's side (what is extracted, where, how often) is under test, not spaCy's
NER, and these tests stay fast.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from searchkit import index_articles, indexer, open_index, search, segments
from searchkit.model import Article, Origin

spacy = pytest.importorskip("spacy")

_SEEN: list[str] = []  # texts the counting component saw, in this process


def _count(doc: Any) -> Any:
    _SEEN.append(doc.text)
    return doc


@pytest.fixture(scope="module")
def ruler() -> Any:
    """Finds Paris and Lyon as places; counts the texts it reads."""
    from spacy.language import Language

    if not Language.has_factory("searchkit_test_count"):
        Language.component("searchkit_test_count", func=_count)
    nlp = spacy.blank("fr")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "LOC", "pattern": "Paris"}, {"label": "LOC", "pattern": "Lyon"}]
    )
    nlp.add_pipe("searchkit_test_count")
    return nlp


def dispatches(n: int, *, city: str = "Paris", start: int = 0) -> list[Article]:
    return [
        Article(
            id=f"d{i}",
            title=f"Dépêche {i}",
            body=f"Une nouvelle de {city}, numéro {i}.",
            origin=Origin("t", i),
        )
        for i in range(start, start + n)
    ]


def test_unchanged_articles_are_not_read_by_the_model_again(tmp_path, ruler):
    _SEEN.clear()
    first = index_articles(dispatches(10), tmp_path, entity_model=ruler)
    assert first.added == 10 and len(_SEEN) == 10
    again = index_articles(dispatches(10), tmp_path, entity_model=ruler)
    assert again.unchanged == 10 and len(_SEEN) == 10
    changed = dispatches(9) + dispatches(1, city="Lyon", start=9)
    report = index_articles(changed, tmp_path, entity_model=ruler)
    assert (report.unchanged, report.updated) == (9, 1) and len(_SEEN) == 11
    assert [h.id for h in search(tmp_path, "", places=["Lyon"]).hits] == ["d9"]
    assert search(tmp_path, "", places=["Paris"], limit=20).total == 9


def test_turning_extraction_on_updates_every_article(tmp_path, ruler):
    index_articles(dispatches(6), tmp_path)
    assert search(tmp_path, "", places=["Paris"]).total == 0
    report = index_articles(dispatches(6), tmp_path, entity_model=ruler)
    assert report.updated == 6
    assert search(tmp_path, "", places=["Paris"]).total == 6


def test_helper_processes_extract_and_write_their_share(tmp_path, ruler, monkeypatch):
    monkeypatch.setattr(indexer, "_MIN_SHARE_WITH_ENTITIES", 5)
    monkeypatch.setattr(segments, "SMALL_SEGMENT", 5)  # two segments of 12: kept apart
    _SEEN.clear()
    articles = dispatches(12) + dispatches(12, city="Lyon", start=12)
    report = index_articles(articles, tmp_path, entity_model=ruler, procs=2)
    assert report.added == 24 and report.articles == 24
    assert _SEEN == []  # the model ran in the helpers, not here
    assert multiprocessing.active_children() == []
    assert len(open_index(tmp_path)._segments()) == 2
    assert {h.id for h in search(tmp_path, "", places=["Lyon"], limit=50).hits} == {
        f"d{i}" for i in range(12, 24)
    }
    assert search(tmp_path, "", places=["Paris"], limit=50).total == 12


def test_progress_counts_the_batch_being_written(tmp_path, ruler):
    seen: list[int] = []
    report = index_articles(
        dispatches(120),
        tmp_path,
        entity_model=ruler,
        on_article=lambda r: seen.append(r.added + r.in_batch),
    )
    assert report.added == 120 and report.in_batch == 0
    during = seen[120:]  # after the 120 articles read: the batch as it is written
    assert during == sorted(during) and during[0] > 0 and during[-1] == 120


_BROKEN = {"on": True}


def _fails_on_panne(doc: Any) -> Any:
    if _BROKEN["on"] and "PANNE" in doc.text:
        raise ValueError("panne")
    return doc


def test_an_article_the_model_failed_on_is_extracted_again_next_run(tmp_path):
    from spacy.language import Language

    if not Language.has_factory("searchkit_test_panne"):
        Language.component("searchkit_test_panne", func=_fails_on_panne)
    nlp = spacy.blank("fr")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Paris"}])
    nlp.add_pipe("searchkit_test_panne")
    articles = dispatches(5) + [Article(id="p", body="PANNE à Paris", origin=Origin("t", 9))]
    _BROKEN["on"] = True
    index_articles(articles, tmp_path, entity_model=nlp)
    assert "p" not in {h.id for h in search(tmp_path, "", places=["Paris"], limit=20).hits}
    _BROKEN["on"] = False
    report = index_articles(articles, tmp_path, entity_model=nlp)
    assert report.updated >= 1 and report.unchanged <= 5
    assert "p" in {h.id for h in search(tmp_path, "", places=["Paris"], limit=20).hits}
    assert index_articles(articles, tmp_path, entity_model=nlp).unchanged == 6


def test_a_new_entities_version_extracts_again(tmp_path, ruler, monkeypatch):
    from searchkit import entities

    index_articles(dispatches(4), tmp_path, entity_model=ruler)
    assert index_articles(dispatches(4), tmp_path, entity_model=ruler).unchanged == 4
    monkeypatch.setattr(entities, "ENTITIES_VERSION", "test")
    assert index_articles(dispatches(4), tmp_path, entity_model=ruler).updated == 4
