"""Snippets: the best passages of an article, with the matched words marked by offsets.

Built on Whoosh's highlighter pieces (``ContextFragmenter`` cuts passages
around matches). We rank the passages ourselves: Whoosh breaks ties between
equally scored passages by object id, so the same search could show different
snippets from one run to the next; ours breaks ties by position and ranks
shouted ALL-CAPS lines (headings pasted into the body) below prose. Our formatter returns plain
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
from .analysis.filters import APOSTROPHES
from .analysis.french import ELIDED

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
                word_start = t.startchar + _elision_length(frag.text[t.startchar : t.endchar])
                start = mapping[word_start - frag.startchar]
                end = mapping[t.endchar - frag.startchar - 1] + 1
                spans.append((offset + start, offset + end))
            parts.append(chunk)
            offset += len(chunk)
        return Snippet("".join(parts), spans)


def _elision_length(surface: str) -> int:
    """Characters of the elided articles in front of a word (``l’`` of ``l’Assemblée``).

    The token spans the whole written word; the highlight should mark the word
    that matched, not the article stuck to it.
    """
    cut = 0
    while True:
        rest = surface[cut:]
        idx = next((i for i, ch in enumerate(rest) if ch in APOSTROPHES), -1)
        if idx <= 0 or idx == len(rest) - 1 or rest[:idx].lower() not in ELIDED:
            return cut
        cut += idx + 1


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
        tokens = _ANALYZER(text, chars=True, removestops=False)
        fragments = fragmenter.fragment_tokens(text, highlight.set_matched_filter(tokens, termset))
        best = sorted(enumerate(fragments), key=lambda pf: (-_passage_score(text, pf[1]), pf[0]))
        snippet = SpanFormatter().format([f for _, f in best[:top] if f.matches])
        if snippet.text:
            return snippet
    opening = " ".join(text[: chars * 2].split())
    if len(opening) > chars:
        opening = opening[:chars].rsplit(" ", 1)[0] + " …"
    return Snippet(opening, [])


def _passage_score(text: str, fragment: highlight.Fragment) -> float:
    """Matches times distinct matched terms (Whoosh's rule), halved when the matches are shouted."""
    score = len(fragment.matches) * max(len(fragment.matched_terms), 1)
    words = [text[t.startchar : t.endchar] for t in fragment.matches if t.startchar is not None]
    if words and all(w.isupper() for w in words):
        score /= 2
    return score


def mark_terms(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Offsets of every word of ``text`` (a title) whose term is in ``terms``."""
    termset = frozenset(terms)
    if not termset:
        return []
    return [
        (t.startchar + _elision_length(text[t.startchar : t.endchar]), t.endchar)
        for t in _ANALYZER(text, chars=True, removestops=False)
        if t.text in termset
    ]
