"""Readers: every corpus format becomes one stream of :class:`Article` values.

``read_corpus(paths)`` walks files and folders and yields an ``Article`` for each
good record and a :class:`CorpusError` *value* for each bad one, so that the
caller reports it, counts it and goes on: one broken record never stops a run.
This module never imports Whoosh.

Formats: the plain-text form of ``corpus/`` (``date YYYY[-MM[-DD]]`` then the
text), JSON Lines, a JSON array (or object), CSV with a header row, and ``.gz``
of any of them. Ids are the record's own, or derived from the file's absolute
path and the record's position, so re-reading the same file gives the same ids.

Messy input is expected: text that is not UTF-8 is decoded (cp1252, then
Latin-1) with a notice; binary files, empty files, files that cannot be opened,
FIFOs and devices, corrupt gzip data and symbolic-link loops each give one
``CorpusError`` naming the file; a bad line of a JSON Lines or CSV file gives one
naming the line, and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import csv
import errno
import gzip
import hashlib
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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
_GZIP_MAGIC = b"\x1f\x8b"
_BINARY_MAGIC = (
    b"%PDF",  # PDF
    b"\x89PNG",  # PNG
    b"GIF8",  # GIF
    b"\xff\xd8\xff",  # JPEG
    b"PK\x03\x04",  # zip, docx, odt, epub
    b"\x7fELF",  # executables
    b"\xd0\xcf\x11\xe0",  # old Office documents
)
# Bytes that never occur in text: C0 controls other than tab, newlines, form feed, escape.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27)) + b"\x7f"
_ASCII = bytes(range(128))
# Well-formed multi-byte UTF-8 sequences (RFC 3629), to tell UTF-8 with a few bad
# bytes from a legacy 8-bit encoding.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# str.splitlines' line boundaries, so that a title is cut where splitlines would cut it
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CSV_FIELD_LIMIT = 2**31 - 1  # a 20 MB article is one CSV field; the default limit is 128 KiB
Record = Article | CorpusError | Notice


def read_corpus(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Record]:
    """Yield every article (or error) of the given files and folders, in a stable order.

    Folders are walked recursively (hidden entries skipped, symbolic links to
    folders not followed but reported, so a link loop cannot trap the walk);
    inside folders only known extensions are read, a file named explicitly is
    always read. Files are read one at a time, so any number of them streams.
    """
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            is_dir = False  # read_file says what is wrong with it
        if is_dir:
            yield from _read_folder(path)
        elif os.path.lexists(path):
            yield from read_file(path)
        else:
            yield CorpusError(str(raw), None, "no such file or folder")


def _read_folder(root: Path) -> Iterator[Record]:
    """Depth first, files of a folder before its subfolders, both in name order."""
    stack = [(root, _real_path(root))]
    while stack:
        folder, real = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield CorpusError(str(folder), None, f"cannot list this folder: {_reason(exc)}")
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()  # follows a link
            except OSError:
                is_link, is_dir = True, False
            if is_dir:
                path = folder / entry.name
                if is_link:
                    yield Notice(str(path), None, _folder_link_notice(path))
                else:
                    subfolders.append((path, os.path.join(real, entry.name)))
            elif _format_of(entry.name) is not None:
                real_path = None if is_link else os.path.join(real, entry.name)
                yield from read_file(folder / entry.name, real_path=real_path)
        stack.extend(reversed(subfolders))


def _folder_link_notice(link: Path) -> str:
    target = _real_path(link)
    parent = _real_path(link.parent)
    if parent == target or parent.startswith(target.rstrip(os.sep) + os.sep):
        return f"symbolic link loop (to {target}); not followed"
    return f"symbolic link to the folder {target}; not followed (name that folder to index it)"


def _real_path(path: Path) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, RuntimeError, ValueError):
        return os.path.abspath(path)


_FORMATS = {
    **dict.fromkeys(TEXT_SUFFIXES, "text"),
    **dict.fromkeys(JSONL_SUFFIXES, "jsonl"),
    **dict.fromkeys(JSON_SUFFIXES, "json"),
    **dict.fromkeys(CSV_SUFFIXES, "csv"),
}


def _format_of(path: Path | str) -> str | None:
    """The format a file's name announces (``.gz`` looked through), or ``None``."""
    name = os.path.basename(path).lower().removesuffix(".gz")
    dot = name.rfind(".")
    return _FORMATS.get(name[dot:]) if dot > 0 else None


def read_file(path: Path, *, real_path: str | None = None) -> Iterator[Record]:
    """Read one file of any supported format; bad content becomes ``CorpusError`` values.

    ``real_path`` is the file's resolved path when the caller already knows it
    (a folder walk), to spare resolving it again; derived ids are made from it.
    """
    if not isinstance(path, Path):
        path = Path(path)
    where = str(path)
    problem = _not_readable(path)
    if problem:
        yield CorpusError(where, None, problem)
        return
    real = real_path or _real_path(path)
    fmt = _format_of(path)
    if fmt == "jsonl":
        yield from _stream_jsonl(path, real)
        return
    try:
        with _open_binary(path) as fh:
            data = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        yield CorpusError(where, None, _read_problem(exc))
        return
    if not data.strip():
        yield CorpusError(where, None, "empty file")
        return
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, notice = data.decode("utf-16", errors="replace"), "UTF-16 text; decoded"
    elif _looks_binary(data):
        yield CorpusError(where, None, "binary file, not text (PDF, image or other?); skipped")
        return
    else:
        text, notice = _decode(data)
    if notice:
        yield Notice(where, None, notice)
    fmt = fmt or _sniff(text)
    readers = {"text": _read_text, "jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}
    yield from readers[fmt](text, path, real)


def _not_readable(path: Path) -> str | None:
    """Why the file cannot be read as a corpus file, without opening it (a FIFO would block)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop; skipped"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"broken symbolic link (to {os.readlink(path)}); skipped"
        if exc.errno == errno.ENOENT:
            return "no such file or folder"
        return f"unreadable: {_reason(exc)}"
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (FIFO, socket or device); skipped"
    if st.st_size == 0:
        return "empty file"
    return None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _read_problem(exc: BaseException) -> str:
    if isinstance(exc, (gzip.BadGzipFile, EOFError, zlib.error)):
        return f"corrupt or truncated gzip file: {_reason(exc)}"
    return f"unreadable: {_reason(exc)}"


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed when it is gzip data (told by its first bytes)."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
                yield fh
        elif path.suffix.lower() == ".gz":
            raise gzip.BadGzipFile("named .gz but not gzip-compressed")
        else:
            yield raw


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head or head.startswith(_BINARY_MAGIC):
        return True
    size = len(head)
    controls = size - len(head.translate(None, _CONTROL_BYTES))
    if controls * 50 > size:  # more than 2 % of bytes that text never holds
        return True
    high = len(head.translate(None, _ASCII))  # bytes >= 0x80
    return high * 10 > size * 3 and not _mostly_utf8(head, high)


def _mostly_utf8(data: bytes, high: int | None = None) -> bool:
    """Whether most non-ASCII bytes form well-formed UTF-8 sequences."""
    if high is None:
        high = len(data.translate(None, _ASCII))
    valid = sum(len(m) for m in _UTF8_SEQUENCE.findall(data))
    return valid * 2 >= high


def _decode(data: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM) first; cp1252 then Latin-1 as a fallback, with a notice.

    Text that is UTF-8 but for a few bad bytes stays UTF-8, the bad bytes
    replaced by U+FFFD, rather than being read as cp1252 (which would garble
    every accented letter).
    """
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        first_error = exc
    if _mostly_utf8(data):
        text = data.decode("utf-8-sig", errors="replace")
        return text, (
            f"invalid UTF-8 byte sequence at byte {first_error.start}; "
            "undecodable bytes replaced with U+FFFD"
        )
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("cp1252"), "not UTF-8; decoded as Windows-1252 (cp1252)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "not UTF-8; decoded as Latin-1 (ISO-8859-1)"


def _sniff(text: str) -> str:
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head == "{":
        first = text.lstrip().split("\n", 1)[0].strip()
        return "jsonl" if first.endswith("}") else "json"
    return "text"


def _read_text(text: str, path: Path, real: str) -> Iterator[Record]:
    where = str(path)
    notices: list[str] = []
    span: DateSpan | None = None
    m = _HEADER.match(text)
    if m:
        span = parse_date(m.group(1))
        if span is None:
            notices.append(f"unusable date {m.group(1)[:40]!r}; indexed without a date")
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
        id=_derived_id(path, None, real),
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
    start = len(body) - len(body.lstrip())  # the first line that is not blank starts here
    brk = _LINE_BREAK.search(body, start)
    first = body[start : brk.start() if brk else len(body)].strip()
    if not first:  # only when the body is blank
        return ""
    m = _SENTENCE_END.search(first, 0, 4 * _TITLE_MAX)
    if m and m.end() >= 20:
        first = first[: m.end()]
    if len(first) > _TITLE_MAX:
        first = first[:_TITLE_MAX].rsplit(" ", 1)[0] + "…"
    return first


def _derived_id(path: Path, position: int | None, real: str | None = None) -> str:
    """Stable id for records without one: file stem, position, hash of the absolute path."""
    digest = hashlib.blake2b(
        (real or _real_path(path)).encode("utf-8", "surrogateescape"), digest_size=4
    ).hexdigest()
    stem = path.name.split(".")[0] or "article"
    return f"{stem}-{digest}" if position is None else f"{stem}-{position}-{digest}"


class _BadJSON(ValueError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _parse_json(text: str) -> object:
    """``json.loads``; every way it fails becomes :class:`_BadJSON` with a readable message."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadJSON(f"malformed JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except RecursionError:
        raise _BadJSON("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise _BadJSON(f"malformed JSON: {str(exc)[:80]}") from None


def _read_jsonl(text: str, path: Path, real: str) -> Iterator[Record]:
    """JSON Lines already decoded (UTF-16 files); see :func:`_stream_jsonl` for the usual way."""
    seen: set[str] = set()
    for lineno, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            value = _parse_json(line)
        except _BadJSON as exc:
            yield CorpusError(str(path), lineno, str(exc))
            continue
        yield from _from_record(value, path, real, lineno, lineno, seen)


def _stream_jsonl(path: Path, real: str) -> Iterator[Record]:
    """JSON Lines read line by line, so a multi-gigabyte export never sits in memory."""
    where = str(path)
    seen: set[str] = set()
    lineno = 0
    any_content = False
    decoding_noted: set[str] = set()
    try:
        with _open_binary(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                if lineno == 1:
                    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                        break  # read whole below
                    if _looks_binary(raw[:8192]):
                        yield CorpusError(where, None, "binary file, not text; skipped")
                        return
                if not raw.strip():
                    continue
                any_content = True
                if b"\x00" in raw:
                    yield CorpusError(where, lineno, "binary data (NUL bytes), not text")
                    continue
                line, notice = _decode(raw)
                if notice:
                    kind = notice.split(";")[0]
                    if kind not in decoding_noted:
                        decoding_noted.add(kind)
                        yield Notice(where, lineno, notice + " (noted once per file)")
                try:
                    value = _parse_json(line)
                except _BadJSON as exc:
                    yield CorpusError(where, lineno, str(exc))
                    continue
                yield from _from_record(value, path, real, lineno, lineno, seen)
            else:
                if not any_content:
                    yield CorpusError(where, None, "empty file")
                return
    except (OSError, EOFError, zlib.error) as exc:
        after = f" after line {lineno}" if lineno else ""
        problem = _read_problem(exc)
        kind, _, reason = problem.partition(": ")
        yield CorpusError(where, None, f"{kind}{after}: {reason}")
        return
    # UTF-16 JSON Lines: rare and small, read as a whole.
    with _open_binary(path) as fh:
        text = fh.read().decode("utf-16", errors="replace")
    yield Notice(where, None, "UTF-16 text; decoded")
    yield from _read_jsonl(text, path, real)


def _read_json(text: str, path: Path, real: str) -> Iterator[Record]:
    try:
        value = _parse_json(text)
    except _BadJSON as exc:
        yield CorpusError(str(path), exc.line, str(exc))
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
        kind = type(value).__name__
        yield CorpusError(
            str(path), 1, f"JSON file holds neither an object nor an array of objects ({kind})"
        )
        return
    seen: set[str] = set()
    for n, record in enumerate(value, start=1):
        yield from _from_record(record, path, real, None, n, seen)


def _csv_delimiter(path: Path, text: str) -> str:
    if path.name.lower().removesuffix(".gz").endswith(".tsv"):
        return "\t"
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    # French spreadsheets export with semicolons
    return ";" if header.count(";") > header.count(",") else ","


def _read_csv(text: str, path: Path, real: str) -> Iterator[Record]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    delimiter = _csv_delimiter(path, text)
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
        record = dict(zip(header, row, strict=True))
        yield from _from_record(record, path, real, line_before, n, seen)


def _as_text(value: object) -> str | None:
    """A field's text: strings, numbers and lists of strings; ``None`` for anything else."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(v.strip() for v in value if v.strip())
    return None


class _Fields:
    """The text fields of one record, with what was wrong with them (for notices)."""

    def __init__(self, record: Mapping[str, object]) -> None:
        self.record = record
        self.problems: list[str] = []
        self.not_text: list[str] = []

    def first(self, names: tuple[str, ...]) -> str:
        for name in names:
            if name not in self.record:
                continue
            value = self.record[name]
            text = _as_text(value)
            if text is None:
                self.not_text.append(f"{name!r} holds a {type(value).__name__}, not text")
                continue
            text = text.strip()
            if text:
                if _SURROGATE.search(text):
                    text = _SURROGATE.sub("\ufffd", text)
                    self.problems.append(
                        f"invalid characters (unpaired surrogates) in {name!r} replaced with U+FFFD"
                    )
                return text
        return ""


def _from_record(
    value: object, path: Path, real: str, line: int | None, position: int, seen: set[str]
) -> Iterator[Record]:
    where = str(path)
    label = None if line is not None else f"record {position}: "
    prefix = label or ""
    if not isinstance(value, dict):
        kind = type(value).__name__
        yield CorpusError(where, line, f"{prefix}expected a JSON object, got {kind}")
        return
    fields = _Fields({str(k).strip().lower(): v for k, v in value.items()})
    body = fields.first(BODY_FIELDS)
    if not body:
        why = f"; {', '.join(fields.not_text)}" if fields.not_text else ""
        yield CorpusError(
            where, line, f"{prefix}no body text (expected one of: {', '.join(BODY_FIELDS)}){why}"
        )
        return
    title = fields.first(TITLE_FIELDS)
    lead = fields.first(LEAD_FIELDS)
    source = fields.first(SOURCE_FIELDS)
    url = fields.first(URL_FIELDS)
    notices = []
    raw_date = fields.first(DATE_FIELDS)
    span = parse_date(raw_date)
    if not raw_date:
        notices.append("no date; indexed without a date")
    elif span is None:
        notices.append(f"unusable date {raw_date[:40]!r}; indexed without a date")
    article_id = fields.first(ID_FIELDS) or _derived_id(path, position, real)
    if article_id in seen:
        notices.append(f"duplicate id {article_id[:80]!r} in this file; the last one wins")
    seen.add(article_id)
    notices += fields.problems
    notices += [f"{p}; ignored" for p in fields.not_text]
    for n in notices:
        yield Notice(where, line, prefix + n)
    yield Article(
        id=article_id,
        title=title or derive_title(body),
        title_derived=not title,
        lead=lead,
        body=body,
        date=span,
        source=source,
        url=url,
        origin=Origin(where, line if line is not None else position),
    )
