"""Presentation only: search results, articles, stats and reports as text or JSON.

The JSON forms are the dataclasses of :mod:`searchkit.model` serialised, one
stable document per command (schema in the README). The text forms are for a
person at a terminal: highlights in bold (plain ``[…]`` markers with
``--no-color``), results numbered, the date and the main entities under the title.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from .model import FacetCount, SearchResults


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=_default)


def _default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"not serialisable: {type(value).__name__}")


def results_dict(results: SearchResults) -> dict[str, Any]:
    """The stable JSON shape of a search: query, total, hits, facets (see README)."""
    out: dict[str, Any] = {
        "query": results.query,
        "total": results.total,
        "page": results.page,
        "limit": results.limit,
        "hits": [
            {
                "id": h.id,
                "title": h.title,
                "date": h.date,
                "score": h.score,
                "snippet": h.snippet,
                "highlights": [list(span) for span in h.highlights],
                "source": h.source,
                "url": h.url,
                "entities": h.entities,
            }
            for h in results.hits
        ],
        "facets": None,
        "notices": results.notices,
    }
    if results.facets is not None:
        out["facets"] = {
            name: [{"key": f.key, "name": f.name, "count": f.count} for f in values]
            for name, values in results.facets.items()
        }
    return out


def render_json(results: SearchResults) -> str:
    return to_json(results_dict(results))


def mark(text: str, spans: list[tuple[int, int]], color: bool) -> str:
    """Mark highlighted spans: bold yellow on a terminal, ``[word]`` otherwise."""
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        word = text[start:end]
        out.append(click.style(word, bold=True, fg="yellow") if color else f"[{word}]")
        last = end
    out.append(text[last:])
    return "".join(out)


def render_text(results: SearchResults, color: bool = True) -> str:
    lines: list[str] = []
    for note in results.notices:
        lines.append(f"({note})")
    if not results.hits:
        lines.append(
            f"No article matches {results.query!r}."
            if results.query.strip()
            else "No article matches these filters."
        )
    first = (results.page - 1) * results.limit
    for n, hit in enumerate(results.hits, start=first + 1):
        title = click.style(hit.title, bold=True) if color else hit.title
        lines.append(f"{n:>3}. {title}")
        meta = [hit.date or "undated", hit.id]
        if hit.score:
            meta.append(f"score {hit.score:.2f}")
        lines.append("     " + " · ".join(meta))
        people = hit.entities.get("person", [])[:3] + hit.entities.get("place", [])[:2]
        if people:
            lines.append("     " + ", ".join(people))
        lines.append("     " + mark(hit.snippet, hit.highlights, color))
        lines.append("")
    shown = f"{first + 1}–{first + len(results.hits)}" if results.hits else "0"
    lines.append(f"{results.total} article(s) found; showing {shown}.")
    if results.facets:
        lines.append("")
        lines.extend(render_facets(results.facets))
    return "\n".join(lines)


def render_facets(facets: dict[str, list[FacetCount]]) -> list[str]:
    labels = {
        "person": "People",
        "org": "Organisations",
        "place": "Places",
        "month": "Articles per month",
    }
    lines = []
    for name, values in facets.items():
        if not values:
            continue
        items = ", ".join(f"{f.name} ({f.count})" for f in values)
        lines.append(f"{labels.get(name, name)}: {items}")
    return lines


def render_article(article: dict[str, Any]) -> str:
    lines = [
        click.style(article["title"], bold=True),
        f"{article['date'] or 'undated'} · {article['id']}",
    ]
    for key in ("source", "url", "origin"):
        if article.get(key):
            lines.append(f"{key}: {article[key]}")
    for etype, names in article["entities"].items():
        lines.append(f"{etype}: {', '.join(names)}")
    lines.append("")
    if article.get("lead"):
        lines += [article["lead"], ""]
    lines.append(article["body"])
    return "\n".join(lines)


def render_stats(stats: dict[str, Any]) -> str:
    size_mb = stats["size_bytes"] / 1e6
    return "\n".join(
        [
            f"index:     {stats['index']}",
            f"articles:  {stats['articles']} ({stats['undated']} undated)",
            f"dates:     {stats['first_date'] or '-'} … {stats['last_date'] or '-'}",
            f"size:      {size_mb:.1f} MB",
            f"versions:  schema {stats['schema_version']}, analysis {stats['analysis_version']}",
            f"updated:   {stats['updated'] or '-'}",
        ]
    )


def render_entities(entities: dict[str, list[FacetCount]]) -> str:
    lines = []
    for etype, values in entities.items():
        lines.append(click.style(etype, bold=True))
        for f in values:
            also = f"  (also {', '.join(f.variants)})" if f.variants else ""
            lines.append(f"  {f.count:>6}  {f.name}  [{f.key}]{also}")
        if not values:
            lines.append("  (none)")
    return "\n".join(lines)


def entities_dict(entities: dict[str, list[FacetCount]]) -> dict[str, Any]:
    return {
        etype: [
            {"key": f.key, "name": f.name, "articles": f.count, "variants": list(f.variants)}
            for f in values
        ]
        for etype, values in entities.items()
    }


def render_report(report: Any) -> str:
    r = report
    line = (
        f"read {r.read}, added {r.added}, updated {r.updated}, unchanged {r.unchanged}, "
        f"rejected {r.rejected}"
    )
    if r.notices:
        line += f", notices {r.notices}"
    rate = r.read / r.seconds if r.seconds else 0.0
    return f"{line}; {r.articles} articles in the index ({r.seconds:.1f} s, {rate:.0f}/s)"


def render_trec(qid: str, results: SearchResults, tag: str = "searchkit") -> str:
    """TREC run lines, ``qid Q0 docid rank score tag``, for evaluation tools."""
    first = (results.page - 1) * results.limit
    return "".join(
        f"{qid} Q0 {hit.id} {rank} {hit.score:.4f} {tag}\n"
        for rank, hit in enumerate(results.hits, start=first + 1)
    )
