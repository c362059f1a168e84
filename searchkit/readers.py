"""Readers: every corpus format becomes one stream of :class:`Article` values.

``read_corpus(paths)`` walks files and folders and yields an ``Article`` for each
good record and a :class:`CorpusError` *value* for each bad one, so that the
caller reports it, counts it and goes on: one broken record never stops a run.
This module never imports Whoosh.

Formats: the plain-text form of ``corpus/`` (``date YYYY[-MM[-DD]]`` then the
text), JSON Lines, a JSON array (or object), CSV with a header row, and ``.gz``
of any of them. Ids are the record's own, or derived from the file's absolute
path and the record's position, so re-reading the same file gives the same ids.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from .dates import parse_date
from .errors import CorpusError
from .model import Article, DateSpan, Notice, Origin

BODY_FIELDS = ("body", "text", "content")
TITLE_FIELDS = ("title", "headline", "titre")
DATE_FIELDS = ("date", "published", "published_time", "published_at", "pubdate")
LEAD_FIELDS = ("lead", "abstract", "summary", "chapo", "chapeau")
ID_FIELDS = ("id", "doc_id", "docid", "guid", "uuid")
URL_FIELDS = ("url", "link")
SOURCE_FIELDS = ("source", "publication", "journal")

TEXT_SUFFIXES = {".txt", ".text"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
KNOWN_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | CSV_SUFFIXES

_HEADER = re.compile(r"^\s*date[ \t]+(\S+)[ \t]*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[^\s.!?])[.!?…](?=\s|$)")
_TITLE_MAX = 140
Record = Article | CorpusError | Notice


def read_corpus(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Record]:
    """Yield every article (or error) of the given files and folders, in a stable order.

    Folders are walked recursively (hidden entries skipped, symbolic links to
    folders not followed, so a link loop cannot trap the walk); inside folders
    only known extensions are read, a file named explicitly is always read.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _read_folder(path)
        elif path.exists():
            yield from read_file(path)
        else:
            yield CorpusError(str(raw), None, "no such file or folder")


def _read_folder(root: Path) -> Iterator[Record]:
    for folder, dirs, files in os.walk(root, onerror=None, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder, name)
            if _format_of(path) is not None:
                yield from read_file(path)


def _format_of(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    for fmt, known in (
        ("text", TEXT_SUFFIXES),
        ("jsonl", JSONL_SUFFIXES),
        ("json", JSON_SUFFIXES),
        ("csv", CSV_SUFFIXES),
    ):
        if last in known:
            return fmt
    return None


def read_file(path: Path) -> Iterator[Record]:
    """Read one file of any supported format; bad content becomes ``CorpusError`` values."""
    where = str(path)
    if _format_of(path) == "jsonl":
        yield from _stream_jsonl(path)
        return
    try:
        data = _read_bytes(path)
    except (OSError, EOFError, zlib.error) as exc:
        kind = "corrupt or truncated gzip file" if path.suffix.lower() == ".gz" else "unreadable"
        yield CorpusError(where, None, f"{kind}: {_reason(exc)}")
        return
    if not data.strip():
        yield CorpusError(where, None, "empty file")
        return
    if _looks_binary(data):
        yield CorpusError(where, None, "binary file, not text (PDF, image or other?); skipped")
        return
    text, notice = _decode(data)
    if notice:
        yield Notice(where, None, notice)
    fmt = _format_of(path) or _sniff(text)
    readers = {"text": _read_text, "jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}
    yield from readers[fmt](text, path)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _read_bytes(path: Path) -> bytes:
    if path.suffix.lower() == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head or head.startswith((b"%PDF", b"\x89PNG", b"PK\x03\x04", b"\xff\xd8\xff")):
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > len(head) // 10


def _decode(data: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM) first; cp1252 then latin-1 as a fallback, with a notice."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        first_error = exc
    try:
        return data.decode("cp1252"), "not UTF-8; decoded as Windows-1252 (cp1252)"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = f"invalid UTF-8 at byte {first_error.start}; undecodable bytes replaced with U+FFFD"
    return text, bad


def _sniff(text: str) -> str:
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head == "{":
        first = text.lstrip().split("\n", 1)[0].strip()
        return "jsonl" if first.endswith("}") else "json"
    return "text"


def _read_text(text: str, path: Path) -> Iterator[Record]:
    where = str(path)
    notices: list[str] = []
    span: DateSpan | None = None
    m = _HEADER.match(text)
    if m:
        span = parse_date(m.group(1))
        if span is None:
            notices.append(f"unusable date {m.group(1)!r}; indexed without a date")
        text = text[m.end() :]
    else:
        notices.append('no "date YYYY[-MM[-DD]]" header; indexed without a date')
    body = text.strip()
    if not body:
        yield CorpusError(where, 1, "no body text after the date header")
        return
    for n in notices:
        yield Notice(where, 1, n)
    title, lead_body = _split_headline(body)
    derived = title is None
    yield Article(
        id=_derived_id(path, None),
        title=title if title is not None else derive_title(body),
        title_derived=derived,
        body=lead_body if title is not None else body,
        date=span,
        origin=Origin(where, 1),
    )


def _split_headline(body: str) -> tuple[str | None, str]:
    """A short first line followed by a blank line is a headline, as in ``corpus/``."""
    first, sep, rest = body.partition("\n")
    first = first.strip()
    if (
        sep
        and rest.startswith(("\n", "\r\n"))
        and rest.strip()
        and len(first) <= _TITLE_MAX
        and not first.endswith((".", ":", ";", ","))
    ):
        return first, rest.strip()
    return None, body


def derive_title(body: str) -> str:
    """The first sentence of the body, cut to a readable length: a title for untitled records."""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    m = _SENTENCE_END.search(first)
    if m and m.end() >= 20:
        first = first[: m.end()]
    if len(first) > _TITLE_MAX:
        first = first[:_TITLE_MAX].rsplit(" ", 1)[0] + "…"
    return first


def _derived_id(path: Path, position: int | None) -> str:
    """Stable id for records without one: file stem, position, hash of the absolute path."""
    digest = hashlib.blake2b(
        str(path.resolve()).encode("utf-8", "surrogateescape"), digest_size=4
    ).hexdigest()
    stem = path.name.split(".")[0] or "article"
    return f"{stem}-{digest}" if position is None else f"{stem}-{position}-{digest}"


def _read_jsonl(text: str, path: Path) -> Iterator[Record]:
    seen: set[str] = set()
    for lineno, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield CorpusError(str(path), lineno, f"malformed JSON: {exc.msg} (column {exc.colno})")
            continue
        yield from _from_record(value, path, lineno, lineno, seen)


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _stream_jsonl(path: Path) -> Iterator[Record]:
    """JSON Lines read line by line, so a multi-gigabyte export never sits in memory."""
    where = str(path)
    seen: set[str] = set()
    lineno = 0
    any_content = False
    warned = False
    try:
        with _open_binary(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                if lineno == 1:
                    if _looks_binary(raw[:8192]):
                        yield CorpusError(where, None, "binary file, not text; skipped")
                        return
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if not raw.strip():
                    continue
                any_content = True
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    line = raw.decode("cp1252", errors="replace")
                    if not warned:
                        yield Notice(where, lineno, "not UTF-8; decoded as Windows-1252 (cp1252)")
                        warned = True
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield CorpusError(
                        where, lineno, f"malformed JSON: {exc.msg} (column {exc.colno})"
                    )
                    continue
                yield from _from_record(value, path, lineno, lineno, seen)
    except (OSError, EOFError, zlib.error) as exc:
        kind = "corrupt or truncated gzip file" if path.suffix.lower() == ".gz" else "unreadable"
        after = f" after line {lineno}" if lineno else ""
        yield CorpusError(where, None, f"{kind}{after}: {_reason(exc)}")
        return
    if not any_content:
        yield CorpusError(where, None, "empty file")


def _read_json(text: str, path: Path) -> Iterator[Record]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        yield CorpusError(str(path), exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})")
        return
    if isinstance(value, dict):
        inner = next(
            (
                value[k]
                for k in ("articles", "items", "documents", "data")
                if isinstance(value.get(k), list)
            ),
            None,
        )
        value = inner if inner is not None else [value]
    if not isinstance(value, list):
        yield CorpusError(str(path), 1, "JSON file holds neither an object nor an array of objects")
        return
    seen: set[str] = set()
    for n, record in enumerate(value, start=1):
        yield from _from_record(record, path, None, n, seen)


def _read_csv(text: str, path: Path) -> Iterator[Record]:
    delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        yield CorpusError(str(path), 1, f"CSV without a header row: {exc}")
        return
    seen: set[str] = set()
    n = 0
    while True:
        line_before = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield CorpusError(str(path), line_before, f"malformed CSV: {exc}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        n += 1
        if len(row) != len(header):
            yield CorpusError(
                str(path), line_before, f"{len(row)} columns where the header has {len(header)}"
            )
            continue
        yield from _from_record(dict(zip(header, row, strict=True)), path, line_before, n, seen)


def _first(record: Mapping[str, object], names: tuple[str, ...]) -> str:
    for name in names:
        value = record.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _from_record(
    value: object, path: Path, line: int | None, position: int, seen: set[str]
) -> Iterator[Record]:
    where = str(path)
    label = None if line is not None else f"record {position}: "
    prefix = label or ""
    if not isinstance(value, dict):
        kind = type(value).__name__
        yield CorpusError(where, line, f"{prefix}expected a JSON object, got {kind}")
        return
    record = {str(k).strip().lower(): v for k, v in value.items()}
    body = _first(record, BODY_FIELDS)
    if not body:
        yield CorpusError(
            where, line, f"{prefix}no body text (expected one of: {', '.join(BODY_FIELDS)})"
        )
        return
    notices = []
    raw_date = _first(record, DATE_FIELDS)
    span = parse_date(raw_date)
    if not raw_date:
        notices.append("no date; indexed without a date")
    elif span is None:
        notices.append(f"unusable date {raw_date[:40]!r}; indexed without a date")
    article_id = _first(record, ID_FIELDS) or _derived_id(path, position)
    if article_id in seen:
        notices.append(f"duplicate id {article_id!r} in this file; the last one wins")
    seen.add(article_id)
    for n in notices:
        yield Notice(where, line, prefix + n)
    title = _first(record, TITLE_FIELDS)
    yield Article(
        id=article_id,
        title=title or derive_title(body),
        title_derived=not title,
        lead=_first(record, LEAD_FIELDS),
        body=body,
        date=span,
        source=_first(record, SOURCE_FIELDS),
        url=_first(record, URL_FIELDS),
        origin=Origin(where, line if line is not None else position),
    )
