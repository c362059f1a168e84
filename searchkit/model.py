"""The values that flow through searchkit: plain frozen dataclasses, no I/O.

Data flows one way: readers make :class:`Article` values, the entity stage adds
:class:`Entity` values to them, the indexer stores them, and search returns
:class:`SearchResults` made of :class:`Hit` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Precision = Literal["day", "month", "year"]
ENTITY_TYPES: tuple[str, ...] = ("person", "org", "place", "misc")


@dataclass(frozen=True)
class DateSpan:
    """A date as precise as the source gave it: a day, a month or a year.

    ``start`` and ``end`` are both inclusive, so ``2023-09`` is 1–30 September.
    """

    start: date
    end: date
    precision: Precision

    def __str__(self) -> str:
        if self.precision == "year":
            return f"{self.start.year:04d}"
        if self.precision == "month":
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return self.start.isoformat()

    def overlaps(self, other: DateSpan) -> bool:
        return self.start <= other.end and other.start <= self.end


@dataclass(frozen=True)
class Origin:
    """Where a record came from, for error messages: a path and a 1-based line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True)
class Entity:
    """A named entity of one article.

    ``key`` is the normalised name used by filters and facets (``kim jong un``);
    ``name`` is the surface form shown to users (the most frequent one);
    ``count`` is how many times the article mentions it.
    """

    type: str
    key: str
    name: str
    count: int = 1


@dataclass(frozen=True)
class Article:
    """One article, whatever format it was read from."""

    id: str
    body: str
    title: str = ""
    title_derived: bool = False
    lead: str = ""
    date: DateSpan | None = None
    source: str = ""
    url: str = ""
    origin: Origin = field(default_factory=lambda: Origin(""))
    entities: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class Notice:
    """A warning about a record that is still indexed (``path:line: message``)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Hit:
    """One search result, detached from Whoosh so it outlives the searcher."""

    id: str
    title: str
    date: str | None
    score: float
    snippet: str
    highlights: list[tuple[int, int]]
    source: str = ""
    url: str = ""
    entities: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FacetCount:
    key: str
    name: str
    count: int
    variants: tuple[str, ...] = ()  # other spellings, for searchkit entities


@dataclass(frozen=True)
class SearchResults:
    query: str
    total: int
    hits: list[Hit]
    page: int = 1
    limit: int = 10
    facets: dict[str, list[FacetCount]] | None = None
    notices: list[str] = field(default_factory=list)
