"""Facets: which entities and which months dominate a result set, or the whole index.

Entity fields are multi-valued, so every entity facet passes
``allow_overlap=True`` (without it Whoosh counts each article under one
arbitrary value). Keys are what the index holds; the display name of a key is
read from the stored entities of one article that mentions it.
"""

from __future__ import annotations

import json
from typing import Any

from whoosh import query as wq
from whoosh import sorting
from whoosh.searching import Results, Searcher

from . import schema as sc
from .model import FacetCount

ENTITY_FACETS = (sc.PERSON, sc.ORG, sc.PLACE)
MONTH_FACET = "month"


def facet_spec() -> dict[str, sorting.FacetType]:
    spec: dict[str, sorting.FacetType] = {
        name: sorting.FieldFacet(name, allow_overlap=True, maptype=sorting.Count)
        for name in ENTITY_FACETS
    }
    spec[MONTH_FACET] = sorting.FieldFacet(sc.MONTH, maptype=sorting.Count)
    return spec


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def collect_facets(
    results: Results | None, searcher: Searcher, top: int = 10
) -> dict[str, list[FacetCount]]:
    """Top ``top`` entities per type and the article count of every month, newest first.

    ``results`` is None when nothing matched: every facet is then empty.
    """
    if results is None:
        return {name: [] for name in (*ENTITY_FACETS, MONTH_FACET)}
    out: dict[str, list[FacetCount]] = {}
    for name in ENTITY_FACETS:
        groups = results.groups(name)
        best = sorted(
            ((_text(k), n) for k, n in groups.items() if k), key=lambda kv: (-kv[1], kv[0])
        )[:top]
        out[name] = [FacetCount(k, display_name(searcher, name, k), n) for k, n in best]
    months = results.groups(MONTH_FACET)
    out[MONTH_FACET] = [
        FacetCount(_text(k), _text(k), n)
        for k, n in sorted(
            ((k, n) for k, n in months.items() if k), key=lambda kv: _text(kv[0]), reverse=True
        )
    ]
    return out


def display_name(searcher: Searcher, field: str, key: str) -> str:
    """The surface form stored with ``key`` in one article that mentions it."""
    docnums = list(searcher.docs_for_query(wq.Term(field, key)))[:1]
    for docnum in docnums:
        stored = searcher.stored_fields(docnum).get(sc.ENTITIES) or "{}"
        for ekey, name, _count in json.loads(stored).get(field, []):
            if ekey == key:
                return str(name)
    return key


def top_entities(searcher: Searcher, field: str, top: int = 20) -> list[FacetCount]:
    """The entities of one type mentioned by the most articles in the whole index.

    Each entity once, under its type by majority across the archive (or the alias
    table's), counted over every article that mentions it, with its other spellings.
    """
    from .aliases import archive_entities

    return [
        FacetCount(e.key, e.name, e.count, e.variants)
        for e in archive_entities(searcher, field, top)
    ]
