"""Errors a user can cause and fix; anything else raised by searchkit is a bug."""

from __future__ import annotations


class SearchkitError(Exception):
    """Base of every error searchkit reports to a user as one line."""


class CorpusError(SearchkitError):
    """A record of the corpus that cannot be indexed (reported, counted, skipped)."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class IndexMissingError(SearchkitError):
    """No index at the given location."""


class IndexLockedError(SearchkitError):
    """Another process is writing to the index."""


class IndexVersionError(SearchkitError):
    """The index was written with another schema or analysis version."""


class QueryError(SearchkitError):
    """The query or a filter cannot be understood."""


class ModelMissingError(SearchkitError):
    """The spaCy French model is not installed."""
