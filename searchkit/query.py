"""Turning what a user typed into Whoosh queries: the query text and the filters.

The parser is Whoosh's (words, ``"phrases"``, ``AND``/``OR``/``NOT``, ``field:value``,
``prefix*``), over title, lead and body, with two French changes:

* the single-quote plugin is removed, because ``l'Ukraine`` is a word, not a quote;
* prefix and wildcard terms are sent to the unstemmed ``exact`` field, since
  ``gouvernem*`` can never match the stem ``gouvern`` (FRENCH.md, row 29).

Filters are ``Query`` objects built here, never strings pasted into the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.qparser import (
    AndGroup,
    FieldAliasPlugin,
    MultifieldParser,
    OrGroup,
    QueryParser,
    SingleQuotePlugin,
)

from . import schema as sc
from .aliases import canonical_key, entity_terms
from .analysis import analyze
from .dates import day_number
from .errors import QueryError
from .model import DateSpan

# Measured on OrangeSum known-item queries (bench/relevance.py): weighting the
# title above the body loses the article whose body matches best; BM25's length
# normalisation already favours a short field that holds the words.
FIELD_BOOSTS = {sc.TITLE: 0.7, sc.LEAD: 1.0, sc.BODY: 1.0}


@dataclass(frozen=True)
class Ranking:
    """The ranking knobs, in one value so that benchmarks can try variants side by side.

    ``boosts`` weights title, lead and body; ``k1`` and ``b`` are BM25's; ``idf`` is
    ``"lucene"`` or ``"whoosh"`` (plain-words queries; see :mod:`searchkit.ranking`).
    ``conjunctive`` joins bare words with AND, for queries of at most
    ``and_max_words`` distinct words: longer ones (a pasted sentence, an abstract)
    rank every article with any of the words, since few articles have them all.
    ``proximity`` is the bonus per pair of adjacent query words found adjacent in
    one of the ``rerank`` best articles. ``prune_df`` drops, from queries longer
    than ``and_max_words``, the words found in more than that share of the articles
    (1.0 keeps them all). With ``repeats``, a word the query has twice counts twice
    (BM25's query term frequency). Off: on all 1,500 OrangeSum abstracts it changed
    MRR@10 by -0.001 (+0.003 on samples of 300 and 400; bench/RESULTS.md).
    ``weekday`` is the share of the best score (proximity bonus included) added,
    among the ``rerank`` best articles of a query of more than ``and_max_words``
    words that names a day of the week, to those published that day (half to
    those of the day after; :mod:`searchkit.weekdays`). 0.1 to 0.3 all helped on
    400 OrangeSum abstracts; 0.2 gave +0.009 MRR@10 on the 1,100 held out.
    """

    boosts: tuple[tuple[str, float], ...] = tuple(FIELD_BOOSTS.items())
    k1: float = 1.2
    b: float = 0.75
    conjunctive: bool = True
    idf: str = "whoosh"
    and_max_words: int = 4
    proximity: float = 3.0
    rerank: int = 20
    prune_df: float = 1.0
    repeats: bool = False
    weekday: float = 0.2


DEFAULT_RANKING = Ranking()
FIELD_ALIASES = {
    sc.TITLE: ["titre"],
    sc.BODY: ["texte", "corps"],
    sc.LEAD: ["chapo", "chapeau"],
    sc.PERSON: ["personne", "per"],
    sc.PLACE: ["lieu", "loc"],
    sc.ORG: ["organisation"],
}
ENTITY_OPTION_TYPES = (sc.PERSON, sc.ORG, sc.PLACE, sc.MISC)
SEARCHABLE_FIELDS = (sc.TITLE, sc.LEAD, sc.BODY, sc.EXACT, *ENTITY_OPTION_TYPES)
FIELD_ALIAS_OF = {alias: field for field, aliases in FIELD_ALIASES.items() for alias in aliases}
MAX_QUERY_CHARS = 1000
_QUESTION_MARK = re.compile(r"\?+(?![\w*?])")  # not followed by a letter, digit, * or ?
_FIELD_PREFIX = re.compile(r"(?:^|[\s(])([A-Za-z_]+):")


_PARSERS: dict[tuple[int, bool, tuple[tuple[str, float], ...]], tuple[Schema, QueryParser]] = {}


def _parser(
    schema: Schema, conjunctive: bool, boosts: tuple[tuple[str, float], ...]
) -> QueryParser:
    """One parser per schema, grouping and boosts, built once (a Schema is not hashable)."""
    cache_key = (id(schema), conjunctive, boosts)
    cached = _PARSERS.get(cache_key)
    if cached is not None and cached[0] is schema:
        return cached[1]
    group = AndGroup if conjunctive else OrGroup.factory(0.9)
    weights = {name: weight for name, weight in boosts if weight > 0}
    parser = MultifieldParser(list(weights), schema, fieldboosts=weights, group=group)
    parser.remove_plugin_class(SingleQuotePlugin)
    parser.add_plugin(FieldAliasPlugin(FIELD_ALIASES))
    _PARSERS[cache_key] = (schema, parser)
    return parser


def parse_query(
    text: str,
    schema: Schema,
    *,
    conjunctive: bool = True,
    boosts: tuple[tuple[str, float], ...] = DEFAULT_RANKING.boosts,
) -> wq.Query:
    """Parse a user query; ``conjunctive`` chooses AND (default) or OR between bare words.

    An empty query matches every article (useful with filters). Raises
    :class:`QueryError` for a query Whoosh cannot parse.
    """
    text = _clean(text)
    if not text:
        return wq.Every()
    if len(text) > MAX_QUERY_CHARS:
        # Whoosh's tagger works in time quadratic in a word's length: bound the input.
        raise QueryError(
            f"the query is {len(text)} characters long; at most {MAX_QUERY_CHARS} are "
            "searched: keep its most telling words"
        )
    _check_fields(text, schema)
    try:
        q = _parser(schema, conjunctive, boosts).parse(text)
    except Exception as exc:  # Whoosh's parser raises IndexError and bare Exceptions too
        raise QueryError(
            f"cannot parse the query {text[:60]!r} ({type(exc).__name__}: {exc}); "
            'put words in "double quotes" to search them literally'
        ) from exc
    return _route_to_exact(q).normalize()


def _check_fields(text: str, schema: Schema) -> None:
    """Refuse ``field:`` prefixes naming stored-only or internal fields, with the list."""
    for name in _FIELD_PREFIX.findall(text):
        field = FIELD_ALIAS_OF.get(name.lower(), name.lower())
        if field in schema and field not in SEARCHABLE_FIELDS:
            raise QueryError(
                f"the field {name!r} cannot be searched; searchable fields: "
                f"{', '.join(SEARCHABLE_FIELDS)} (dates: use --from/--to)"
            )


def restricts_field(text: str) -> bool:
    """Whether ``text`` names a searchable field (``titre:macron``, ``body:"..."``)."""
    return any(
        FIELD_ALIAS_OF.get(name.lower(), name.lower()) in SEARCHABLE_FIELDS
        for name in _FIELD_PREFIX.findall(text)
    )


def _clean(text: str) -> str:
    """Drop control characters (a pasted query may carry them) and question marks; trim.

    A ``?`` that ends a word or stands alone is punctuation (``Que faire ?``,
    ``pourquoi?``), not Whoosh's one-character wildcard; inside a word
    (``r?sum*``) it stays a wildcard.
    """
    text = "".join(ch if ch.isprintable() or ch in " \t" else " " for ch in text)
    return _QUESTION_MARK.sub(" ", text).strip()


def _route_to_exact(q: wq.Query) -> wq.Query:
    if isinstance(q, wq.Every):
        return wq.Every()  # `*` or `title:*`: every article, not every posting of a field
    if isinstance(q, (wq.Prefix, wq.Wildcard)) and q.fieldname in (*FIELD_BOOSTS, sc.EXACT):
        pattern = _normalise_pattern(q.text)
        if len(pattern.replace("*", "").replace("?", "")) < 2:
            # `*`, `?*`, `a*`: a walk over the whole vocabulary, for no useful answer
            raise QueryError(
                f"the pattern {q.text!r} is too short: give at least two letters before * or ?"
            )
        if isinstance(q, wq.Prefix) or pattern.rstrip("*").count("*") + pattern.count("?") == 0:
            return wq.Prefix(sc.EXACT, pattern.rstrip("*"))
        return wq.Wildcard(sc.EXACT, pattern)
    if q.is_leaf():
        return q
    return q.apply(_route_to_exact)


def _normalise_pattern(pattern: str) -> str:
    """Normalise each literal piece of a wildcard pattern with the exact chain."""
    pieces = []
    literal = ""
    for ch in pattern + "\0":
        if ch in "*?\0":
            if literal:
                pieces.append("".join(analyze(literal, "exact")))
                literal = ""
            if ch != "\0":
                pieces.append(ch)
        else:
            literal += ch
    return "".join(pieces)


def query_words(text: str) -> int:
    """How many terms the text chain makes of a query (decides AND/OR fallback)."""
    return len(analyze(text, "text"))


def entity_filter(entity_type: str | None, name: str, reader: Any = None) -> wq.Query:
    """Articles mentioning the entity; ``entity_type`` None matches any type.

    The name gets the index's own key (``aliases.canonical_key``: ``Vladimir
    Putin`` and ``Poutine`` both give ``vladimir poutine``). Given the index's
    ``reader``, the filter is decided on the archive (``aliases.entity_terms``):
    a surname also finds the full names that end with it, and a name most
    articles give the requested type is matched whatever type one article gave it.
    """
    if entity_type is not None and entity_type not in ENTITY_OPTION_TYPES:
        raise QueryError(
            f"unknown entity type {entity_type!r}; choose from {', '.join(ENTITY_OPTION_TYPES)}"
        )
    key = canonical_key(name)
    if not key:
        raise QueryError(f"empty entity name {name!r}")
    if reader is not None:
        terms = entity_terms(reader, entity_type, name) or [
            (t, key) for t in ((entity_type,) if entity_type else ENTITY_OPTION_TYPES)
        ]
        return wq.Or([wq.Term(f, k) for f, k in terms]) if len(terms) > 1 else wq.Term(*terms[0])
    if entity_type is None:
        return wq.Or([wq.Term(t, key) for t in ENTITY_OPTION_TYPES])
    return wq.Term(entity_type, key)


def date_filter(start: DateSpan | None, end: DateSpan | None) -> wq.Query | None:
    """Articles whose date span overlaps [start, end]; undated articles never match."""
    if start is None and end is None:
        return None
    if start is not None and end is not None and start.start > end.end:
        return wq.NullQuery  # an empty range: nothing matches (the caller says why)
    parts: list[wq.Query] = []
    if end is not None:
        parts.append(wq.NumericRange(sc.DATE_START, None, day_number(end.end)))
    if start is not None:
        parts.append(wq.NumericRange(sc.DATE_END, day_number(start.start), None))
    return parts[0] if len(parts) == 1 else wq.And(parts)
