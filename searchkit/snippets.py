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
        for i, frag in enumerate(sorted(fragments, key=lambda f: f.startchar)):
            if i:
                parts.append(self.between)
                offset += len(self.between)
            text = frag.text
            base = frag.startchar
            chunk = text[frag.startchar:frag.endchar]
            lead = len(chunk) - len(chunk.lstrip())
            chunk = " ".join(chunk.split())
            # Re-map offsets after whitespace collapsing by walking the original chunk.
            mapping = _collapse_map(text[frag.startchar:frag.endchar])
            for t in frag.matches:
                if t.startchar is None or t.startchar < base or t.endchar > frag.endchar:
                    continue
                s = mapping[t.startchar - base]
                e = mapping[t.endchar - base - 1] + 1
                spans.append((offset + s, offset + e))
            del lead
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


def make_snippet(text: str, terms: Iterable[str], *, chars: int = SNIPPET_CHARS,
                 top: int = 2) -> Snippet:
    """The best passages of ``text`` for the given text-chain terms.

    With no match (a filter-only search, a match in the title), the snippet is
    the opening of the text, with no highlight.
    """
    termset = frozenset(terms)
    if termset and text:
        fragmenter = highlight.ContextFragmenter(maxchars=chars, surround=chars // 3,
                                                 charlimit=None)
        snippet = highlight.highlight(text, termset, _ANALYZER, fragmenter, SpanFormatter(),
                                      top=top)
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
    return [(t.startchar, t.endchar) for t in _ANALYZER(text, chars=True, removestops=False)
            if t.text in termset]
