"""The one place where index fields are declared, and the versions recorded with them.

Whoosh pickles the schema, analyzers included, into the index: changing a field
or a chain means re-indexing, so both carry a version that the index metadata
records and that :func:`searchkit.indexer.open_index` checks.
"""

from __future__ import annotations

from whoosh import fields

from .analysis import entity_analyzer, exact_analyzer, text_analyzer
from .segments import FrenchPositions

SCHEMA_VERSION = 2  # 2: positions as uint32 (segments.FrenchPositions)

ID = "id"
TITLE = "title"
LEAD = "lead"
BODY = "body"
EXACT = "exact"  # title, lead and body through the exact chain: prefixes and exact phrases
DATE = "date"  # the date as the source gave it, for display: 2023, 2023-09 or 2023-09-16
DATE_START = "date_start"  # YYYYMMDD of the span's first day; absent when undated
DATE_END = "date_end"  # YYYYMMDD of the span's last day; absent when undated
DATE_SORT = "date_sort"  # like DATE_START, 0 when undated, so undated articles sort last
MONTH = "month"  # YYYY-MM for the per-month facet (absent at year precision)
YEAR = "year"
PERSON, ORG, PLACE, MISC = "person", "org", "place", "misc"
ENTITY_FIELDS: tuple[str, ...] = (PERSON, ORG, PLACE, MISC)
ENTITIES = "entities"  # stored JSON: display names and counts per type
SOURCE = "source"
URL = "url"
ORIGIN = "origin"  # path:line the article was read from
FINGERPRINT = "fingerprint"  # hash of what was indexed: unchanged articles are skipped
TITLE_DERIVED = "title_derived"

TEXT_FIELDS: tuple[str, ...] = (TITLE, LEAD, BODY)


def _entity_field() -> fields.FieldType:
    # A KEYWORD field whose analyzer turns each comma-separated name into its key,
    # so a filter or a `person:"Kim Jong-un"` query meets the same normalisation.
    field = fields.KEYWORD(commas=True, scorable=False, stored=False)
    field.analyzer = entity_analyzer()
    return field


def _text_field(analyzer: object, stored: bool) -> fields.FieldType:
    # Positions per term (not per token), stored as uint32 (segments.FrenchPositions).
    field = fields.TEXT(analyzer=analyzer, stored=stored, multitoken_query="phrase")
    field.format = FrenchPositions(field_boost=field.format.field_boost)
    return field


def build_schema() -> fields.Schema:
    """The searchkit schema: text fields, their exact twin, dates, entities, stored metadata."""
    text = text_analyzer()
    return fields.Schema(
        **{
            ID: fields.ID(unique=True, stored=True, sortable=True),
            TITLE: _text_field(text, stored=True),
            LEAD: _text_field(text, stored=True),
            BODY: _text_field(text, stored=True),
            EXACT: _text_field(exact_analyzer(), stored=False),
            DATE: fields.STORED(),
            DATE_START: fields.NUMERIC(int, bits=32),
            DATE_END: fields.NUMERIC(int, bits=32),
            DATE_SORT: fields.NUMERIC(int, bits=32, sortable=True),
            MONTH: fields.ID(sortable=True),
            YEAR: fields.ID(sortable=True),
            **{name: _entity_field() for name in ENTITY_FIELDS},
            ENTITIES: fields.STORED(),
            SOURCE: fields.STORED(),
            URL: fields.STORED(),
            ORIGIN: fields.STORED(),
            FINGERPRINT: fields.ID(stored=False, sortable=True),
            TITLE_DERIVED: fields.STORED(),
        }
    )
