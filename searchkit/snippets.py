"""Snippets: the best passages of an article, with the matched words marked by offsets.

Built on Whoosh's highlighter (``ContextFragmenter`` to cut passages around
matches, the basic fragment scorer to rank them). Our formatter returns plain
text and a list of ``(start, end)`` offsets into it rather than markup, so the
terminal, JSON and a web page each mark highlights their own way. The tokens'
offsets point into the stored text, so a snippet shows the word as the article
wrote it (``Corée``, not ``coree``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from whoosh import highlight

from .analysis import text_analyzer

SNIPPET_CHARS = 240
SNIPPET_SCAN_CHARS = 100_000  # passages come from the first 100k characters of an article
_ANALYZER = text_analyzer()


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]


class SpanFormatter(highlight.Formatter):
    """Join the top fragments with `` … ``; record matched words as offsets."""

    between = " … "

    def format(self, fragments, replace=False):  # type: ignore[no-untyped-def]
        parts: list[str] = []
        spans: list[tuple[int, int]] = []
        offset = 0
        for frag in sorted(fragments, key=lambda f: f.startchar):
            raw = frag.text[frag.startchar : frag.endchar]
            chunk = " ".join(raw.split())  # line breaks and runs of spaces read badly in a snippet
            if not chunk:
                continue
            if parts:
                parts.append(self.between)
                offset += len(self.between)
            mapping = _collapse_map(raw)
            for t in frag.matches:
                if t.startchar is None or t.startchar < frag.startchar or t.endchar > frag.endchar:
                    continue
                start = mapping[t.startchar - frag.startchar]
                end = mapping[t.endchar - frag.startchar - 1] + 1
                spans.append((offset + start, offset + end))
            parts.append(chunk)
            offset += len(chunk)
        return Snippet("".join(parts), spans)


def _collapse_map(raw: str) -> list[int]:
    """For each character of ``raw``, its index once whitespace runs are collapsed and trimmed."""
    out: list[int] = []
    pos = -1
    in_space = True  # leading whitespace is dropped
    for ch in raw:
        if ch.isspace():
            if not in_space:
                pos += 1
                in_space = True
            out.append(max(pos, 0))
        else:
            pos += 1
            in_space = False
            out.append(pos)
    return out


def make_snippet(
    text: str, terms: Iterable[str], *, chars: int = SNIPPET_CHARS, top: int = 2
) -> Snippet:
    """The best passages of ``text`` for the given text-chain terms.

    With no match (a filter-only search, a match in the title), the snippet is
    the opening of the text, with no highlight.
    """
    termset = frozenset(terms)
    if termset and text:
        # Two passages of about two thirds of ``chars`` each: enough context around
        # the matches without printing half the article.
        fragmenter = highlight.ContextFragmenter(
            maxchars=chars * 2 // 3, surround=chars // 5, charlimit=SNIPPET_SCAN_CHARS
        )
        snippet = highlight.highlight(
            text, termset, _ANALYZER, fragmenter, SpanFormatter(), top=top
        )
        if snippet.text:
            return snippet
    opening = " ".join(text[: chars * 2].split())
    if len(opening) > chars:
        opening = opening[:chars].rsplit(" ", 1)[0] + " …"
    return Snippet(opening, [])


def mark_terms(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Offsets of every word of ``text`` (a title) whose term is in ``terms``."""
    termset = frozenset(terms)
    if not termset:
        return []
    return [
        (t.startchar, t.endchar)
        for t in _ANALYZER(text, chars=True, removestops=False)
        if t.text in termset
    ]
