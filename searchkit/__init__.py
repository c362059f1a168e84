"""searchkit: full-text search for French news archives, built on Whoosh.

The public API, in data-flow order::

    from searchkit import read_corpus, index_corpus, search

    report = index_corpus(["corpus/"], "index")
    results = search("index", "coree du nord", persons=["Vladimir Poutine"])
    for hit in results.hits:
        print(hit.title, hit.snippet)

Importing searchkit never imports spaCy; only entity extraction does.
"""

from __future__ import annotations

from .dates import parse_date_span
from .errors import (
    CorpusError,
    IndexLockedError,
    IndexMissingError,
    IndexVersionError,
    ModelMissingError,
    QueryError,
    SearchkitError,
)
from .indexer import IndexReport, index_articles, index_corpus, open_index
from .model import Article, DateSpan, Entity, FacetCount, Hit, Notice, Origin, SearchResults
from .readers import read_corpus
from .search import SearchIndex, get_article, index_stats, list_entities, search

__version__ = "0.1.0"

__all__ = [
    "Article",
    "CorpusError",
    "DateSpan",
    "Entity",
    "FacetCount",
    "Hit",
    "IndexLockedError",
    "IndexMissingError",
    "IndexReport",
    "IndexVersionError",
    "ModelMissingError",
    "Notice",
    "Origin",
    "QueryError",
    "SearchIndex",
    "SearchResults",
    "SearchkitError",
    "get_article",
    "index_articles",
    "index_corpus",
    "index_stats",
    "list_entities",
    "open_index",
    "parse_date_span",
    "read_corpus",
    "search",
]
