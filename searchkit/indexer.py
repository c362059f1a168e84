"""Writing the index: one writer at a time, batches committed whole, re-runs converge.

Reads ``Article`` values (every field) and writes them under their stable id:
an article already indexed with the same content is left alone (``unchanged``),
one whose content changed replaces the old version (``updated``), never doubles.
Each batch is one Whoosh commit, which is all or nothing: a run killed at any
moment leaves the last committed batch, and running the same command again
finishes the job. The metadata file is written only after a successful commit.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import index as whoosh_index
from whoosh.index import EmptyIndexError, FileIndex

from . import schema as sc
from .aliases import aliases_version
from .analysis import ANALYSIS_VERSION
from .dates import day_number
from .errors import (
    CorpusError,
    IndexLockedError,
    IndexMissingError,
    IndexVersionError,
    SearchkitError,
)
from .model import Article, Origin
from .segments import FastSegmentWriter, merge_segments
from .storage import IndexStorage

if TYPE_CHECKING:
    from spacy.language import Language

META_FILE = "searchkit.json"
LOCK_FILE = "searchkit.lock"
SKIPPABLE_FIELDS = (sc.TITLE, sc.LEAD, sc.BODY)


@dataclass
class IndexReport:
    """What one indexing run did; ``rejected`` records were skipped with an error."""

    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    notices: int = 0
    articles: int = 0  # in the index after the run
    seconds: float = 0.0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    in_batch: int = 0  # of the batch being written, so far (progress, not in as_dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("errors", "in_batch")}


def default_index_dir() -> Path:
    return Path(os.environ.get("SEARCHKIT_INDEX") or "index")


def read_meta(index_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((index_dir / META_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def _write_meta(index_dir: Path, meta: dict[str, Any]) -> None:
    tmp = index_dir / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    os.replace(tmp, index_dir / META_FILE)


def open_index(index_dir: str | os.PathLike[str]) -> FileIndex:
    """Open an existing index for reading, refusing one written by other versions."""
    path = Path(index_dir)
    if not path.is_dir() or not _exists(path):
        raise IndexMissingError(f'{path}/: no index here; run "searchkit index corpus/" first')
    meta = read_meta(path)
    if (
        meta.get("schema_version") != sc.SCHEMA_VERSION
        or meta.get("analysis_version") != ANALYSIS_VERSION
        or meta.get("aliases_version", aliases_version()) != aliases_version()
    ):
        raise IndexVersionError(
            f"{path}/: written by another version of searchkit (schema "
            f"{meta.get('schema_version')}, analysis {meta.get('analysis_version')}; this one "
            f"reads {sc.SCHEMA_VERSION}/{ANALYSIS_VERSION}); re-index with "
            f'"searchkit index CORPUS --rebuild --index {path}"'
        )
    # A commit replaces the table of contents while we list the folder: retry briefly.
    for attempt in range(5):
        try:
            return IndexStorage(path).open_index()
        except FileNotFoundError:
            time.sleep(0.05 * (attempt + 1))
        except (EmptyIndexError, OSError, ValueError) as exc:
            raise IndexMissingError(f"{path}/: cannot open the index ({exc}); re-index it") from exc
    raise IndexMissingError(f"{path}/: the index kept changing while opening it; try again")


def _exists(path: Path) -> bool:
    for _ in range(5):
        try:
            return whoosh_index.exists_in(str(path))
        except FileNotFoundError:  # a commit swapped the TOC during the listing
            time.sleep(0.05)
    return whoosh_index.exists_in(str(path))


@contextmanager
def _exclusive(index_dir: Path) -> Iterator[None]:
    """Hold the index's lock file for the whole run, so two runs never interleave batches."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK_FILE, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"{index_dir}/: another searchkit index run is writing to this index; "
                "wait for it to finish, then run this command again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def article_document(
    article: Article, skip_fields: Iterable[str] = (), fingerprint: str | None = None
) -> dict[str, Any]:
    """The Whoosh document for an article; ``skip_fields`` leaves text fields out.

    ``fingerprint`` is the one :func:`article_fingerprint` gave the article
    before its entities were extracted; by default, the article's own.
    """
    doc = _text_document(article, skip_fields)
    by_type: dict[str, list[list[Any]]] = {}
    for ent in article.entities:
        by_type.setdefault(ent.type, []).append([ent.key, ent.name, ent.count])
    for etype, items in by_type.items():
        if etype in sc.ENTITY_FIELDS:
            doc[etype] = ",".join(key for key, _, _ in items)
    doc[sc.ENTITIES] = json.dumps(by_type, ensure_ascii=False) if by_type else ""
    doc[sc.FINGERPRINT] = fingerprint or article_fingerprint(article, skip_fields)
    return {k: v for k, v in doc.items() if v != "" or k in (sc.ID, sc.BODY)}


def article_fingerprint(
    article: Article, skip_fields: Iterable[str] = (), extractor: str = ""
) -> str:
    """What decides whether an indexed article is unchanged: its content and how it is read.

    ``extractor`` names the entity model that is to run on the article: the
    fingerprint then covers the model instead of the entities, which are not
    known yet, so an unchanged article is recognised before the model runs on
    it (re-indexing an archive costs no extraction for what did not change).
    Without it, the entities the article carries are part of the content.
    """
    entities = extractor or [dataclasses.astuple(ent) for ent in article.entities]
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"{sc.SCHEMA_VERSION}/{ANALYSIS_VERSION}/{aliases_version()}".encode())
    doc = _text_document(article, skip_fields)
    # Each part length-prefixed, so no two documents hash the same bytes; no JSON:
    # encoding every article's text as JSON cost the indexer's parent a second per
    # 10,000 articles, while the helpers waited for their next batch.
    for key in sorted(doc):
        if key != sc.EXACT:  # title, lead and body joined: already hashed
            _hash_part(digest, f"{key}:{type(doc[key]).__name__}:{doc[key]}")
    _hash_part(digest, repr(entities))
    return digest.hexdigest()


def _hash_part(digest: Any, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


def _text_document(article: Article, skip_fields: Iterable[str]) -> dict[str, Any]:
    """Every field of the article's document but its entities and fingerprint."""
    skip = set(skip_fields)
    title = article.title if sc.TITLE not in skip else ""
    lead = article.lead if sc.LEAD not in skip else ""
    body = article.body if sc.BODY not in skip else ""
    doc: dict[str, Any] = {
        sc.ID: article.id,
        sc.TITLE: title,
        sc.LEAD: lead,
        sc.BODY: body,
        sc.EXACT: "\n\n".join(t for t in (title, lead, body) if t),
        sc.SOURCE: article.source,
        sc.URL: article.url,
        sc.ORIGIN: _stored_origin(article.origin.path, article.origin.line),
        sc.TITLE_DERIVED: article.title_derived,
        sc.DATE_SORT: 0,
    }
    if article.date is not None:
        span = article.date
        doc[sc.DATE] = str(span)
        doc[sc.DATE_START] = day_number(span.start)
        doc[sc.DATE_END] = day_number(span.end)
        doc[sc.DATE_SORT] = day_number(span.start)
        doc[sc.YEAR] = f"{span.start.year:04d}"
        if span.precision != "year":
            doc[sc.MONTH] = str(span)[:7]
    return doc


def _stored_origin(path: str, line: int | None) -> str:
    """The origin as stored (and so fingerprinted): the file's real, absolute path.

    Indexing the same files again through another spelling of their path
    (``corpus/`` then ``/home/me/corpus/``, or a link) finds them unchanged: with
    the path as typed, every article was reported updated and its entities
    extracted again. Ids already came from the real path. Error messages keep
    the path as the user typed it.
    """
    if not path:
        return str(Origin(path, line))
    return str(Origin(_real_path(path), line))


@lru_cache(maxsize=4096)
def _real_path(path: str) -> str:
    """``os.path.realpath``, once per file: a file of many articles asked it for each."""
    return os.path.realpath(path)


def _existing_fingerprints(ix: FileIndex) -> dict[str, str]:
    with ix.reader() as reader:
        if reader.doc_count() == 0:
            return {}
        ids = reader.column_reader(sc.ID)
        fps = reader.column_reader(sc.FINGERPRINT)
        return {ids[n]: fps[n] for n in reader.all_doc_ids()}


def _prepare_dir(index_dir: Path, rebuild: bool) -> tuple[Path, bool]:
    """Where to write: the index itself, or a fresh sibling folder swapped in at the end."""
    if rebuild and whoosh_index.exists_in(str(index_dir)):
        target = index_dir.with_name(index_dir.name + ".rebuild")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        return target, True
    index_dir.mkdir(parents=True, exist_ok=True)
    return index_dir, False


def _open_or_create(path: Path) -> FileIndex:
    if whoosh_index.exists_in(str(path)):
        return open_index(path)
    # The metadata goes first: a run killed before its first commit must leave an index
    # that the next run reopens, not one refused as "written by another version".
    meta = read_meta(path)
    meta.update({"schema_version": sc.SCHEMA_VERSION, "analysis_version": ANALYSIS_VERSION})
    meta.setdefault("articles", 0)
    _write_meta(path, meta)
    return IndexStorage(path).create_index(sc.build_schema())


def index_articles(
    articles: Iterable[Article],
    index_dir: str | os.PathLike[str],
    *,
    report: IndexReport | None = None,
    rebuild: bool = False,
    skip_fields: Iterable[str] = (),
    batch_size: int = 10_000,
    procs: int = 1,
    sources: Iterable[str] = (),
    on_article: Callable[[IndexReport], None] | None = None,
    entity_model: Language | None = None,
) -> IndexReport:
    """Write articles to the index in committed batches and return the report.

    ``report`` may carry counts from earlier stages (read, rejected, notices);
    ``on_article`` is called after each article read and as a batch is written,
    for progress displays. With ``entity_model`` (a spaCy pipeline from
    ``entities.load_model``), the entities of each new or changed article are
    extracted as its batch is written; unchanged articles are recognised first
    and cost no extraction. ``procs`` > 1 splits each batch between forked
    helpers, each extracting and writing a segment of its own, a share of about
    the same length of text each. A batch is held in memory (its articles here;
    in a helper, each word of its share as a term number until the segment's
    postings are written), so ``batch_size`` bounds memory, whatever the corpus
    size (the process tree peaks near 0.9 GB at 33,688 articles with the
    default and two helpers); the document count is still checked
    after every commit. With helpers, a batch is committed once the next one is
    read (this process reads while they write): two batches are in memory, and
    Ctrl-C loses both, the index keeping its last commit.
    """
    report = report or IndexReport()
    skip = tuple(skip_fields)
    unknown = set(skip) - set(SKIPPABLE_FIELDS)
    if unknown:
        raise SearchkitError(
            f"--skip-field: unknown field(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(SKIPPABLE_FIELDS)}"
        )
    final_dir = Path(index_dir)
    start = time.perf_counter()
    _real_path.cache_clear()  # links may have changed since the last run in this process
    with _exclusive(final_dir):
        target, swap = _prepare_dir(final_dir, rebuild)
        ix = _open_or_create(target)
        existing = _existing_fingerprints(ix)
        batch = _Batch(skip, entity_model, procs, report, on_article)
        # The batch being written by helper processes while this one reads the next.
        pending: _Pending | None = None

        def finish_pending() -> None:
            nonlocal pending
            if pending is not None:
                done, pending = pending, None
                _finish_commit(done, existing, report, target, sources)

        try:
            for n, article in enumerate(articles, 1):
                fingerprint = article_fingerprint(article, skip, batch.extractor)
                if (
                    existing.get(article.id) == fingerprint
                    and article.id not in batch.articles
                    and (pending is None or article.id not in pending.articles)
                ):  # (a version in the batch being written: decided when it is committed)
                    report.unchanged += 1
                else:  # a later duplicate in the batch wins
                    batch.articles[article.id] = (article, fingerprint)
                if on_article:
                    on_article(report)
                if pending is not None and n % _POLL_EVERY == 0:
                    pending.writer.poll_adding()
                if len(batch.articles) >= batch_size:
                    finish_pending()
                    pending = _start_commit(ix, batch, existing, report)
                    if pending is not None and not pending.writer.adding:
                        finish_pending()  # written in this process: commit it now
            finish_pending()
            pending = _start_commit(ix, batch, existing, report)
            finish_pending()
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        except Exception:
            finish_pending()  # the batch with the helpers is kept, as it would have been
            raise
        finally:
            if pending is not None:  # Ctrl-C: the index keeps its last commit
                pending.writer.cancel()
            report.seconds = time.perf_counter() - start
            with ix.reader() as reader:
                report.articles = reader.doc_count()
        if swap:
            _swap_in(target, final_dir)
    return report


# Articles read between two looks at the helpers writing the previous batch.
_POLL_EVERY = 200
# With entities, a share this small is still worth a helper process: the model
# spends about 30 ms on each article, forking a few.
_MIN_SHARE_WITH_ENTITIES = 20


@dataclass
class _Batch:
    """The articles of the next commit, and how to turn them into documents."""

    skip: tuple[str, ...]
    entity_model: Language | None
    procs: int
    report: IndexReport
    on_article: Callable[[IndexReport], None] | None
    articles: dict[str, tuple[Article, str]] = field(default_factory=dict)

    @property
    def extractor(self) -> str:
        """The entity model's name and version and ``ENTITIES_VERSION`` ("" without a model)."""
        if self.entity_model is None:
            return ""
        from .entities import ENTITIES_VERSION

        meta = self.entity_model.meta
        model = f"{self.entity_model.lang}_{meta.get('name')}-{meta.get('version')}"
        return f"{model}/entities-{ENTITIES_VERSION}"

    def documents(self, share: Sequence[tuple[Article, str]]) -> Iterator[dict[str, Any]]:
        """The documents of a share of the batch, entities extracted first if asked.

        Runs in the helper process that writes the share (or in this one). An
        article the model failed on is indexed without entities under a
        fingerprint that no run computes, so the next run extracts it again.
        """
        articles: Iterable[Article] = (article for article, _ in share)
        failed: set[str] = set()
        if self.entity_model is not None:
            from .entities import extract_entities

            articles = extract_entities(articles, model=self.entity_model, failed=failed)
        try:
            for article, (_, fingerprint) in zip(articles, share, strict=True):
                if article.id in failed:
                    fingerprint = "retry-" + fingerprint
                yield article_document(article, self.skip, fingerprint)
        except SearchkitError:
            raise
        except Exception as exc:  # the model failed again and again: a broken install
            if self.entity_model is None:
                raise
            raise SearchkitError(
                f"entity extraction failed ({type(exc).__name__}: {exc}); "
                "check the spaCy model, or index with --no-entities"
            ) from exc

    def written(self, count: int) -> None:
        """Progress within the batch being written, for ``on_article``."""
        self.report.in_batch += count
        if self.on_article:
            self.on_article(self.report)


@dataclass
class _Pending:
    """A batch whose helpers are writing it: what its commit needs to finish."""

    ix: FileIndex
    writer: FastSegmentWriter
    articles: dict[str, tuple[Article, str]]
    before: int
    added: int
    updated: int


def _start_commit(
    ix: FileIndex, batch: _Batch, existing: dict[str, str], report: IndexReport
) -> _Pending | None:
    """Start writing one batch as one commit; with helpers, return while they work.

    The batch's articles move to the returned record, so the batch object can
    collect the next ones meanwhile. An article the previous commit wrote with
    the same fingerprint (a duplicate read before that commit ended) is unchanged.
    """
    for article_id, (_, fingerprint) in list(batch.articles.items()):
        if existing.get(article_id) == fingerprint:
            del batch.articles[article_id]
            report.unchanged += 1
    if not batch.articles:
        return None
    articles, batch.articles = batch.articles, {}
    with ix.reader() as reader:
        before = reader.doc_count()
    writer = FastSegmentWriter(ix)
    added = updated = 0
    try:
        for article_id in articles:
            if article_id in existing:
                writer.delete_by_term(sc.ID, article_id)
                updated += 1
            else:
                added += 1
        writer.add_documents(
            list(articles.values()),
            procs=batch.procs,
            prepare=batch.documents,
            min_share=None if batch.entity_model is None else _MIN_SHARE_WITH_ENTITIES,
            progress=batch.written,
            merge=True,  # a merge due now runs beside the helpers
            wait=False,  # the next batch is read while the helpers write this one
            size=_text_size,
        )
    except BaseException:
        writer.cancel()  # the index keeps its last commit; files of this batch are dropped
        report.in_batch = 0
        raise
    return _Pending(ix, writer, articles, before, added, updated)


def _text_size(item: tuple[Article, str]) -> int:
    """What writing an article costs, about: its text's length (for helpers' shares)."""
    article = item[0]
    return len(article.body) + len(article.title) + len(article.lead)


def _finish_commit(
    pending: _Pending,
    existing: dict[str, str],
    report: IndexReport,
    index_dir: Path,
    sources: Iterable[str],
) -> None:
    """Wait for a batch's helpers and commit it; counts and metadata change only then."""
    writer = pending.writer
    try:
        writer.commit(mergetype=merge_segments)
    except BaseException:
        writer.cancel()
        raise
    finally:
        report.in_batch = 0
    with pending.ix.reader() as reader:
        after = reader.doc_count()
    if after != pending.before + pending.added:
        raise SearchkitError(
            f"{index_dir}/: the index holds {after} articles after a commit, expected "
            f"{pending.before + pending.added}; a writer process may have died; "
            "run the command again"
        )
    for article_id, (_, fingerprint) in pending.articles.items():
        existing[article_id] = fingerprint
    report.added += pending.added
    report.updated += pending.updated
    _record_meta(pending.ix, index_dir, sources)


def _record_meta(ix: FileIndex, index_dir: Path, sources: Iterable[str]) -> None:
    meta = read_meta(index_dir)
    with ix.reader() as reader:
        count = reader.doc_count()
    known = list(meta.get("sources", []))
    for src in sources:
        if src not in known:
            known.append(src)
    meta.update(
        {
            "schema_version": sc.SCHEMA_VERSION,
            "analysis_version": ANALYSIS_VERSION,
            "aliases_version": aliases_version(),
            "articles": count,
            "sources": known,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    _write_meta(index_dir, meta)


def _swap_in(built: Path, final_dir: Path) -> None:
    """Make the rebuilt index the live one in one atomic step.

    The rebuilt segment files are linked into the live folder (their names are
    unique), then one new TOC generation listing only them is written there: its
    rename is the switch, so a searcher or a crash sees the old index or the new
    one, never a mix. Whoosh's clean-up then deletes the old segments.
    """
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import _DEF_INDEX_NAME as name
    from whoosh.index import TOC, clean_files

    new = TOC.read(FileStorage(str(built)), name)
    live = FileStorage(str(final_dir))
    segment_file = TOC._segment_pattern(name)
    for entry in built.iterdir():
        if segment_file.match(entry.name):
            target = final_dir / entry.name
            try:
                os.link(entry, target)
            except FileExistsError:
                pass
            except OSError:  # no hard links on this file system: copy
                shutil.copy2(entry, target)
    generation = TOC._latest_generation(live, name) + 1
    TOC(new.schema, new.segments, generation).write(live, name)  # the switch
    os.replace(built / META_FILE, final_dir / META_FILE)
    clean_files(live, name, generation, new.segments)
    shutil.rmtree(built, ignore_errors=True)


def index_corpus(
    paths: Iterable[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str] | None = None,
    *,
    entities: bool = True,
    jobs: int = 1,
    rebuild: bool = False,
    skip_fields: Iterable[str] = (),
    on_problem: Callable[[object], None] | None = None,
    on_article: Callable[[IndexReport], None] | None = None,
    batch_size: int = 10_000,
) -> IndexReport:
    """Read, extract entities and index: the whole pipeline of ``searchkit index``.

    Bad records and notices are counted in the report and handed to
    ``on_problem`` (the CLI prints them to stderr); the library never prints.
    """
    from .readers import read_corpus  # upstream stages, imported where the pipeline is wired

    index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
    paths = [os.fspath(p) for p in paths]
    report = IndexReport()

    def articles() -> Iterator[Article]:
        for record in read_corpus(paths):
            if isinstance(record, Article):
                report.read += 1
                yield record
                continue
            if isinstance(record, CorpusError):
                report.rejected += 1
                if len(report.errors) < 1000:
                    report.errors.append(str(record))
            else:
                report.notices += 1
            if on_problem:
                on_problem(record)

    model = None
    if entities:
        from .entities import load_model

        model = load_model()  # fails now, with install advice, rather than mid-run
    sources = [os.path.realpath(p) for p in paths]  # resolve() raises on a link loop
    return index_articles(
        articles(),
        index_dir,
        report=report,
        rebuild=rebuild,
        skip_fields=skip_fields,
        sources=sources,
        on_article=on_article,
        batch_size=batch_size,
        procs=jobs,
        entity_model=model,
    )
