"""The ``searchkit`` command: thin click commands over the Python API.

Each command converts its options, calls one API function and renders the
result. Library errors (:class:`SearchkitError`) become one ``Error:`` line
and exit status 1, usage errors exit 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from .dates import parse_date_span
from .errors import SearchkitError
from .model import DateSpan


class SearchkitGroup(click.Group):
    """Translate library errors into one-line click errors, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SearchkitError as exc:
            raise click.ClickException(str(exc)) from exc


class DateSpanType(click.ParamType):
    name = "DATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> DateSpan:
        if isinstance(value, DateSpan):
            return value
        try:
            return parse_date_span(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DATE_SPAN = DateSpanType()


def index_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("SEARCHKIT_INDEX") or "index",
        show_default="index/",
        help="Index folder (or set SEARCHKIT_INDEX).",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
    )(func)


@click.group(cls=SearchkitGroup)
@click.version_option(package_name="searchkit")
def cli() -> None:
    """Full-text search for French news archives.

    Index a corpus once, then search it by keywords, people, organisations,
    places and dates.  Example:

        searchkit index corpus/ && searchkit search "réforme des retraites"
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@index_option
@click.option("--rebuild", is_flag=True, help="Start a new index instead of updating this one.")
@click.option("--no-entities", is_flag=True, help="Skip named-entity extraction (much faster).")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes extracting entities and writing the index (each its own segment).",
)
@click.option(
    "--skip-field",
    "skip_fields",
    multiple=True,
    type=click.Choice(["title", "lead", "body"]),
    help="Leave this text field out of the index (repeatable).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and the summary.")
def index(
    paths: tuple[Path, ...],
    index_dir: Path,
    rebuild: bool,
    no_entities: bool,
    jobs: int,
    skip_fields: tuple[str, ...],
    quiet: bool,
) -> None:
    """Index articles from files and folders (text, JSONL, JSON, CSV, .gz).

    Re-indexing the same articles updates them, never duplicates them.
    Exit status: 0 all indexed, 1 some records rejected, 2 usage error.

    Example: searchkit index corpus/ ../archives/2023.jsonl.gz
    """
    from .indexer import index_corpus
    from .output import render_report

    progress = _Progress(enabled=not quiet and sys.stderr.isatty())

    def on_problem(problem: object) -> None:
        if quiet and not isinstance(problem, SearchkitError):
            return
        progress.clear()
        click.echo(
            ("error: " if isinstance(problem, SearchkitError) else "notice: ") + str(problem),
            err=True,
        )

    try:
        report = index_corpus(
            paths,
            index_dir,
            entities=not no_entities,
            jobs=jobs,
            rebuild=rebuild,
            skip_fields=skip_fields,
            on_problem=on_problem,
            on_article=progress.update,
        )
    except KeyboardInterrupt:
        progress.clear()
        click.echo(
            "Interrupted: the batches committed so far are kept; run the same command "
            "again to finish.",
            err=True,
        )
        sys.exit(130)
    progress.clear()
    click.echo(render_report(report), err=True)
    if report.rejected:
        sys.exit(1)


class _Progress:
    """A one-line counter on stderr, redrawn at most five times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.perf_counter()
        self.last = 0.0
        self.shown = False

    def update(self, report: Any) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        done = report.added + report.updated + report.unchanged + report.in_batch
        rate = done / (now - self.start) if now > self.start else 0.0
        click.echo(
            f"\rindexing: {report.read} read, {done} done … {rate:.0f} articles/s",
            err=True,
            nl=False,
        )
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\033[K", err=True, nl=False)
            self.shown = False


@cli.command()
@click.argument("query", required=False, default="")
@click.option("--person", "persons", multiple=True, help="Only articles mentioning this person.")
@click.option("--org", "orgs", multiple=True, help="Only articles mentioning this organisation.")
@click.option("--place", "places", multiple=True, help="Only articles mentioning this place.")
@click.option("--entity", "entities", multiple=True, help="Any entity type with this name.")
@click.option("--from", "date_from", type=DATE_SPAN, help="From YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option("--to", "date_to", type=DATE_SPAN, help="Up to YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option(
    "--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--facets", is_flag=True, help="Also show top entities and articles per month.")
@click.option("--no-color", is_flag=True, help="Mark highlights with [brackets].")
@click.option(
    "--batch",
    type=click.File("r", encoding="utf-8"),
    help="Read 'qid<TAB>query' lines from FILE ('-' for stdin); print a TREC run.",
)
@index_option
@json_option
def search(
    query: str,
    persons: tuple[str, ...],
    orgs: tuple[str, ...],
    places: tuple[str, ...],
    entities: tuple[str, ...],
    date_from: DateSpan | None,
    date_to: DateSpan | None,
    sort: str,
    limit: int,
    page: int,
    facets: bool,
    no_color: bool,
    batch: Any,
    index_dir: Path,
    as_json: bool,
) -> None:
    """Search the index: words, "phrases", AND/OR/NOT, field:value, prefix*.

    Up to four bare words must all appear (else articles with some, with a
    notice); longer queries rank every article with any of the words. The query
    may be empty when filters are given (newest first).

    Example: searchkit search "coree du nord" --person "Vladimir Poutine" --from 2023
    """
    from .output import render_json, render_text, render_trec
    from .search import SearchIndex

    filters = dict(
        persons=persons,
        orgs=orgs,
        places=places,
        entities=entities,
        date_from=date_from,
        date_to=date_to,
    )
    options = dict(sort=sort, limit=limit, page=page, **filters)
    if batch is not None:
        if query:
            raise click.UsageError("give either a QUERY or --batch FILE, not both")
        with SearchIndex(index_dir) as index:
            for qid, results in index.search_batch(_read_batch(batch), snippets=False, **options):
                click.echo(render_trec(qid, results), nl=False)
        return
    if not query.strip() and not any(filters.values()):
        raise click.UsageError("give a query, a filter (--person, --from …), or both")
    with SearchIndex(index_dir) as index:
        results = index.search(query, facets=facets, **options)
    color = not no_color and sys.stdout.isatty()
    click.echo(render_json(results) if as_json else render_text(results, color=color))


def _read_batch(lines: Any) -> Iterator[tuple[str, str]]:
    """``qid<TAB>query`` lines; a line without a tab is a usage error naming the line."""
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        qid, tab, text = line.rstrip("\n").partition("\t")
        if not tab:
            raise click.UsageError(f"--batch line {lineno}: expected 'qid<TAB>query'")
        yield qid.strip(), text


@cli.command()
@click.argument("article_id")
@index_option
@json_option
def show(article_id: str, index_dir: Path, as_json: bool) -> None:
    """Show one article in full, with its entities.  Example: searchkit show ID"""
    from .output import render_article, to_json
    from .search import get_article

    article = get_article(index_dir, article_id)
    click.echo(to_json(article) if as_json else render_article(article))


@cli.command()
@click.option(
    "--type",
    "entity_type",
    type=click.Choice(["person", "org", "place", "misc"]),
    help="Only this type.",
)
@click.option("--top", type=click.IntRange(1), default=20, show_default=True)
@index_option
@json_option
def entities(entity_type: str | None, top: int, index_dir: Path, as_json: bool) -> None:
    """The most mentioned entities, with article counts.  Example: searchkit entities --top 5"""
    from .output import entities_dict, render_entities, to_json
    from .search import list_entities

    values = list_entities(index_dir, entity_type=entity_type, top=top)
    click.echo(to_json(entities_dict(values)) if as_json else render_entities(values))


@cli.command()
@index_option
@json_option
def stats(index_dir: Path, as_json: bool) -> None:
    """Articles, date range, index size and versions.  Example: searchkit stats --json"""
    from .output import render_stats, to_json
    from .search import index_stats

    values = index_stats(index_dir)
    click.echo(to_json(values) if as_json else render_stats(values))


@cli.command()
@click.argument("text")
@click.option(
    "--chain",
    type=click.Choice(["text", "exact", "entity"]),
    default=None,
    help="Only this chain (default: all three).",
)
@json_option
def analyze(text: str, chain: str | None, as_json: bool) -> None:
    """The terms each analysis chain makes of TEXT (a debugging aid).

    Example: searchkit analyze "L’ÉLYSÉE et les Nord-Coréens"
    """
    from .analysis import analyze as run_analyze
    from .output import to_json

    chains = [chain] if chain else ["text", "exact", "entity"]
    values = {c: run_analyze(text, c) for c in chains}
    if as_json:
        click.echo(to_json(values))
    else:
        for c, terms in values.items():
            click.echo(f"{c:>6}: {' '.join(terms) if terms else '(no terms)'}")
