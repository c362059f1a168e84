"""Searching: the only module that holds a Whoosh searcher.

Takes a query string and filters, returns :class:`SearchResults` made of plain
values, so nothing of Whoosh outlives the call. Ranking is BM25 over title,
lead and body (weights in ``query.FIELD_BOOSTS``). Up to four bare words are
joined with AND; when no article has them all, the search falls back to OR and
says so in ``notices``. Longer queries rank every article with any of the words
(BM25 rewards the articles with the most, and the rarest), and the days of the
week they name favour the articles published on them (:mod:`searchkit.weekdays`).
Plain-words queries are scored by :mod:`searchkit.ranking` (fast, with a
proximity bonus); queries with operators, phrases, fields or wildcards by
Whoosh's matchers.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh import scoring
from whoosh.searching import Searcher

from . import schema as sc
from .aliases import relaxed_types
from .analysis import analyze
from .errors import QueryError
from .facets import collect_facets, facet_spec, top_entities
from .indexer import default_index_dir, open_index, read_meta
from .model import DateSpan, FacetCount, Hit, SearchResults
from .query import (
    DEFAULT_RANKING,
    Ranking,
    date_filter,
    entity_filter,
    parse_query,
    query_words,
)
from .ranking import PlainScorer, Unit, plain_units
from .snippets import SNIPPET_CHARS, Snippet, make_snippet
from .weekdays import named_weekdays, weekday_match

SORTS = ("relevance", "date")
_NO_SNIPPET = Snippet("", [])
MAX_EXPANDED_TERMS = 200


class SearchIndex:
    """An open index with a reusable searcher: open once, run many queries.

    One per thread: the searcher reads the index files through shared file
    handles (seek, then read), so two threads must not search through one.
    Opening is cheap (a fraction of a second, even at 300,000 articles).
    """

    def __init__(
        self, index_dir: str | os.PathLike[str] | None = None, ranking: Ranking = DEFAULT_RANKING
    ) -> None:
        self.index_dir = index_dir if index_dir is not None else default_index_dir()
        self.ranking = ranking
        self._ix = open_index(self.index_dir)
        weighting = scoring.BM25F(B=ranking.b, K1=ranking.k1)
        self._searcher: Searcher = self._ix.searcher(weighting=weighting)
        self._plain: PlainScorer | None = None

    def close(self) -> None:
        self._searcher.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search(
        self,
        query: str = "",
        *,
        persons: Iterable[str] = (),
        orgs: Iterable[str] = (),
        places: Iterable[str] = (),
        entities: Iterable[str] = (),
        date_from: DateSpan | None = None,
        date_to: DateSpan | None = None,
        sort: str = "relevance",
        limit: int = 10,
        page: int = 1,
        facets: bool = False,
        snippet_chars: int = SNIPPET_CHARS,
        snippets: bool = True,
    ) -> SearchResults:
        """Run one search; see the module docstring for the semantics."""
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
        if limit < 1 or page < 1:
            raise QueryError("--limit and --page must be at least 1")
        self._searcher = self._searcher.refresh()
        schema = self._ix.schema
        reader = self._searcher.reader()
        typed = [(sc.PERSON, n) for n in persons] + [(sc.ORG, n) for n in orgs]
        typed += [(sc.PLACE, n) for n in places]
        filters = [entity_filter(t, n, reader) for t, n in typed]
        filters += [entity_filter(None, n, reader) for n in entities]
        dates = date_filter(date_from, date_to)
        if dates is not None:
            filters.append(dates)
        filter_q = wq.And(filters) if len(filters) > 1 else (filters[0] if filters else None)
        notices: list[str] = [
            f"no {t} named {n!r} in the index; matching it as {', '.join(other)}"
            for t, n in typed
            if (other := relaxed_types(reader, t, n))
        ]
        if date_from and date_to and date_from.start > date_to.end:
            notices.append(f"--from {date_from} is after --to {date_to}: no date can match")
        ranking = self.ranking
        q = parse_query(query, schema, conjunctive=ranking.conjunctive, boosts=ranking.boosts)
        by_date = sort == "date" or isinstance(q, wq.Every)
        units = plain_units(query, q, ranking.boosts)
        if units is not None:
            conjunctive = ranking.conjunctive and len(units) <= ranking.and_max_words
            terms = analyze(query, "text")
            long_query = len(units) > ranking.and_max_words
            days = named_weekdays(query) if long_query and ranking.weekday > 0 else frozenset()
            args = (units, terms, days, filter_q, by_date, limit, page, facets)
            results = self._run_plain(conjunctive, *args)
            if results.total == 0 and conjunctive and len(units) > 1:
                results = self._run_plain(False, *args)
                if results.total:
                    notices.append("no article has all the words; showing articles with some")
            highlight = frozenset(terms)
        else:
            results = self._run(q, filter_q, by_date, limit, page, facets)
            if (
                results.total == 0
                and ranking.conjunctive
                and query_words(query) > 1
                and not _has_not(q)  # OR would turn `NOT x` into "every article without x"
            ):
                q_or = parse_query(query, schema, conjunctive=False, boosts=ranking.boosts)
                if q_or != q:
                    results = self._run(q_or, filter_q, by_date, limit, page, facets)
                    if results.total:
                        notices.append("no article has all the words; showing articles with some")
                        q = q_or
            highlight = self._highlight_terms(q)
        terms = highlight if snippets else frozenset()
        chars = snippet_chars if snippets else 0
        hits = [self._hit(h, terms, chars, scored=not by_date) for h in results.page]
        facet_values = collect_facets(results.results, self._searcher) if facets else None
        return SearchResults(
            query=query,
            total=results.total,
            hits=hits,
            page=page,
            limit=limit,
            facets=facet_values,
            notices=notices,
        )

    def _run(
        self,
        q: wq.Query,
        filter_q: wq.Query | set[int] | None,
        by_date: bool,
        limit: int,
        page: int,
        facets: bool,
    ) -> Any:
        kwargs: dict[str, Any] = {"filter": filter_q}
        if by_date:
            kwargs.update(sortedby=sc.DATE_SORT, reverse=True)
        if facets:
            kwargs["groupedby"] = facet_spec()
        page_obj = self._searcher.search_page(q, page, pagelen=limit, **kwargs)
        return _Page(page_obj, page)

    def _run_plain(
        self,
        conjunctive: bool,
        units: list[Unit],
        terms: list[str],
        days: frozenset[int],
        filter_q: wq.Query | None,
        by_date: bool,
        limit: int,
        page: int,
        facets: bool,
    ) -> Any:
        """Plain words through :class:`PlainScorer`; date order and facets through Whoosh.

        The best few articles are then reranked: a bonus per pair of adjacent query
        words found adjacent in their opening, and, when the (long) query names
        days of the week (``days``), a share of the best score for those
        published on one of them (:mod:`searchkit.weekdays`).
        """
        scorer = self._scorer()
        ranking = self.ranking
        if not conjunctive and len(units) > ranking.and_max_words and ranking.prune_df < 1:
            # Words found nearly everywhere cost the most postings and tell the least.
            limit_df = ranking.prune_df * self._searcher.doc_count()
            kept = [u for u in units if len(u) > 1 or scorer.doc_frequency(u[0]) <= limit_df]
            units = kept or units
        repeats = Counter(terms) if ranking.repeats else None
        short = len(units) <= ranking.and_max_words
        scores, matched = scorer.score(
            units, all_units=conjunctive, repeats=repeats, exact_phrases=short
        )
        if filter_q is not None:
            allowed = np.zeros(len(matched), dtype=bool)
            allowed[list(self._searcher.docs_for_query(filter_q))] = True
            matched &= allowed
        docs = np.flatnonzero(matched)
        if not len(docs):  # Whoosh reads an empty filter as no filter at all
            return _PlainPage([], None, 0)
        facet_results = None
        if by_date or facets:
            # Whoosh sorts and counts facets over the matching set, given as a filter.
            whoosh_page = self._run(wq.Every(), set(docs.tolist()), by_date, limit, page, facets)
            if by_date:
                return whoosh_page
            facet_results = whoosh_page.results
        depth = page * limit
        pairs = ranking.proximity > 0 and len(terms) > 1
        rerank = ranking.rerank if pairs or days else 0
        best = docs
        keep = max(depth, rerank)
        if len(docs) > keep:
            # Every article tied with the cut-off stays a candidate: the order below
            # breaks ties by document number, so pages never repeat or skip one.
            cutoff = np.partition(scores[docs], len(docs) - keep)[len(docs) - keep]
            best = docs[scores[docs] >= cutoff]
        final = {int(d): float(scores[d]) for d in best}
        stored: dict[int, dict[str, Any]] = {}  # read once, for the bonus and the hits
        if rerank:
            top = sorted(final, key=lambda d: (-final[d], d))[:rerank]
            stored = {d: self._searcher.stored_fields(d) for d in top}
            for d, bonus in scorer.proximity(terms, stored, ranking.proximity).items():
                final[d] += bonus
            if days:
                share = ranking.weekday * max(final[d] for d in top)
                for d in top:
                    final[d] += share * weekday_match(stored[d].get(sc.DATE), days)
        ordered = sorted(final, key=lambda d: (-final[d], d))[(page - 1) * limit : depth]
        hits = [_ScoredDoc(self._searcher, d, final[d], stored.get(d)) for d in ordered]
        return _PlainPage(hits, facet_results, len(docs))

    def _scorer(self) -> PlainScorer:
        """The plain-words scorer of the current searcher (a commit makes a new one)."""
        if self._plain is None or self._plain.searcher is not self._searcher:
            r = self.ranking
            self._plain = PlainScorer(self._searcher, r.boosts, k1=r.k1, b=r.b, idf=r.idf)
        return self._plain

    def _highlight_terms(self, q: wq.Query) -> frozenset[str]:
        """Text-chain terms to mark in snippets, prefix expansions included (bounded)."""
        words: set[str] = set()
        exact: list[str] = []
        reader = self._searcher.reader()
        for field, text in q.existing_terms(reader, phrases=True, expand=True):
            value = text.decode("utf-8") if isinstance(text, bytes) else str(text)
            if field in (sc.TITLE, sc.LEAD, sc.BODY):
                words.add(value)
            elif field == sc.EXACT and len(exact) < MAX_EXPANDED_TERMS:
                exact.append(value)
        for value in exact:
            words.update(analyze(value, "text"))
        return frozenset(words)

    def _hit(self, hit: Any, terms: frozenset[str], snippet_chars: int, scored: bool) -> Hit:
        stored = hit.fields()
        text = stored.get(sc.BODY) or stored.get(sc.LEAD) or ""
        snippet = make_snippet(text, terms, chars=snippet_chars) if snippet_chars else _NO_SNIPPET
        return Hit(
            id=stored[sc.ID],
            title=stored.get(sc.TITLE, ""),
            date=stored.get(sc.DATE),
            score=round(float(hit.score or 0.0), 4) if scored else 0.0,  # by date: no score
            snippet=snippet.text,
            highlights=snippet.highlights,
            source=stored.get(sc.SOURCE, ""),
            url=stored.get(sc.URL, ""),
            entities=entity_names(stored.get(sc.ENTITIES)),
        )

    def search_batch(
        self, queries: Iterable[tuple[str, str]], **options: Any
    ) -> Iterator[tuple[str, SearchResults]]:
        """Run many ``(qid, query)`` pairs on one open searcher (evaluation, scripts)."""
        for qid, text in queries:
            yield qid, self.search(text, **options)

    def article(self, article_id: str) -> dict[str, Any]:
        """One stored article by id; raises QueryError when the id is unknown."""
        stored = self._searcher.document(**{sc.ID: article_id})
        if stored is None:
            raise QueryError(
                f"no article with id {article_id!r} in {self.index_dir}/; "
                "ids are shown by searchkit search"
            )
        return _stored_article(stored)

    def stats(self) -> dict[str, Any]:
        reader = self._searcher.reader()
        count = reader.doc_count()
        days = sorted(v for v in reader.column_reader(sc.DATE_SORT) if v) if count else []
        path = Path(self.index_dir)
        meta = read_meta(path)
        return {
            "index": str(path),
            "articles": count,
            "undated": count - len(days),
            "first_date": _format_day(days[0]) if days else None,
            "last_date": _format_day(days[-1]) if days else None,
            "size_bytes": _folder_size(path),
            "schema_version": meta.get("schema_version"),
            "analysis_version": meta.get("analysis_version"),
            "sources": meta.get("sources", []),
            "updated": meta.get("updated"),
        }

    def entities(
        self, entity_type: str | None = None, top: int = 20
    ) -> dict[str, list[FacetCount]]:
        if entity_type is not None and entity_type not in sc.ENTITY_FIELDS:
            raise QueryError(
                f"unknown entity type {entity_type!r}; choose from {', '.join(sc.ENTITY_FIELDS)}"
            )
        types = [entity_type] if entity_type else [sc.PERSON, sc.ORG, sc.PLACE]
        return {t: top_entities(self._searcher, t, top) for t in types}


class _Page:
    """The parts of a Whoosh ResultsPage we use, with the total counted once."""

    def __init__(self, page_obj: Any, page: int) -> None:
        # Whoosh clamps a page past the end to the last page; a script paging until
        # it gets no hits must get none.
        self.page = list(page_obj) if page_obj.pagenum == page else []
        self.results = page_obj.results
        self.total = len(page_obj.results)


def _has_not(q: wq.Query) -> bool:
    if isinstance(q, (wq.Not, wq.AndNot)):
        return True
    return any(_has_not(child) for child in q.children())


class _ScoredDoc:
    """What ``_hit`` reads of a Whoosh hit, for an article scored by PlainScorer."""

    __slots__ = ("_searcher", "_stored", "docnum", "score")

    def __init__(
        self, searcher: Searcher, docnum: int, score: float, stored: dict[str, Any] | None = None
    ) -> None:
        self._searcher, self.docnum, self.score = searcher, docnum, score
        self._stored = stored  # already read for the proximity bonus, or None

    def fields(self) -> dict[str, Any]:
        if self._stored is not None:
            return dict(self._stored)
        return dict(self._searcher.stored_fields(self.docnum))


class _PlainPage:
    def __init__(self, page: list[_ScoredDoc], results: Any, total: int) -> None:
        self.page, self.results, self.total = page, results, total


def entity_names(stored: str | None) -> dict[str, list[str]]:
    """Display names per entity type from the stored JSON, most mentioned first."""
    if not stored:
        return {}
    data: dict[str, list[list[Any]]] = json.loads(stored)
    return {etype: [str(name) for _key, name, _n in items] for etype, items in data.items()}


def search(
    index_dir: str | os.PathLike[str] | None = None, query: str = "", **options: Any
) -> SearchResults:
    """One search on the index at ``index_dir``; options as :meth:`SearchIndex.search`."""
    with SearchIndex(index_dir) as index:
        return index.search(query, **options)


def _stored_article(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": stored[sc.ID],
        "title": stored.get(sc.TITLE, ""),
        "date": stored.get(sc.DATE),
        "lead": stored.get(sc.LEAD, ""),
        "body": stored.get(sc.BODY, ""),
        "source": stored.get(sc.SOURCE, ""),
        "url": stored.get(sc.URL, ""),
        "origin": stored.get(sc.ORIGIN, ""),
        "entities": entity_names(stored.get(sc.ENTITIES)),
    }


def _folder_size(path: Path) -> int:
    """Bytes of the index files; a file a concurrent commit deleted meanwhile counts 0."""
    total = 0
    for entry in os.scandir(path):
        try:
            if entry.is_file():
                total += entry.stat().st_size
        except FileNotFoundError:
            continue
    return total


def _format_day(n: int) -> str:
    return f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}"


def get_article(index_dir: str | os.PathLike[str] | None, article_id: str) -> dict[str, Any]:
    """One stored article by id, with its entities."""
    with SearchIndex(index_dir) as index:
        return index.article(article_id)


def index_stats(index_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Articles, date range, size on disk and versions of the index."""
    with SearchIndex(index_dir) as index:
        return index.stats()


def list_entities(
    index_dir: str | os.PathLike[str] | None = None,
    *,
    entity_type: str | None = None,
    top: int = 20,
) -> dict[str, list[Any]]:
    """The most mentioned entities per type across the whole index, with article counts."""
    with SearchIndex(index_dir) as index:
        return index.entities(entity_type, top)
