"""Snippets: the best passages of an article, with the matched words marked by offsets.

The matched words are found by the text chain (``FrenchAnalyzer.term_spans``),
so ``coree`` marks ``Corée`` and ``retraites`` marks ``retraite``. Passages are
cut around them the way Whoosh's ``ContextFragmenter`` does (matches close
together share a passage, with some context on each side) and ranked the way
its basic scorer does (matches times distinct words), with two changes: ties go
to the earlier passage (Whoosh breaks them by object id, so the same search
could show different snippets from run to run), and shouted ALL-CAPS lines
(headings pasted into the body) rank below prose. We do not run Whoosh's
highlighter itself: it builds a token object per word of every hit, which cost
more than the search (measured in bench/bench_search.py).

The result is plain text and a list of ``(start, end)`` offsets into it rather
than markup, so the terminal, JSON and a web page each mark highlights their
own way. Offsets point at the words as the article wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .analysis import text_analyzer
from .analysis.filters import APOSTROPHES
from .analysis.french import ELIDED

SNIPPET_CHARS = 240
SNIPPET_SCAN_CHARS = 100_000  # passages come from the first 100k characters of an article
BETWEEN = " … "
_ANALYZER = text_analyzer()

Match = tuple[int, int, str]  # start, end, term
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Snippet:
    text: str
    highlights: list[tuple[int, int]]


def make_snippet(
    text: str, terms: Iterable[str], *, chars: int = SNIPPET_CHARS, top: int = 2
) -> Snippet:
    """The best passages of ``text`` for the given text-chain terms.

    Up to ``top`` passages of about two thirds of ``chars`` each: enough context
    around the matches without printing half the article. With no match (a
    filter-only search, a match in the title only), the snippet is the opening
    of the text, with no highlight.
    """
    termset = frozenset(terms)
    if termset and text:
        scanned = text[:SNIPPET_SCAN_CHARS]
        matches = list(_ANALYZER.term_spans(scanned, termset))
        if matches:
            passages = _passages(scanned, matches, chars * 2 // 3, chars // 5)
            ranked = sorted(passages, key=lambda p: (-_passage_score(scanned, p[2]), p[0]))
            chosen: list[tuple[int, int, list[Match]]] = []
            for passage in ranked:
                if len(chosen) == top:
                    break
                if all(passage[1] <= c[0] or passage[0] >= c[1] for c in chosen):
                    chosen.append(passage)
            return _render(scanned, sorted(chosen))
    opening = " ".join(text[: chars * 2].split())
    if len(opening) > chars:
        opening = opening[:chars].rsplit(" ", 1)[0] + " …"
    return Snippet(opening, [])


def _passages(
    text: str, matches: list[Match], maxchars: int, surround: int
) -> list[tuple[int, int, list[Match]]]:
    """Passages ``(start, end, matches)``: runs of matches that fit in ``maxchars``.

    Each passage starts at a match and takes the following ones while the span
    stays within ``maxchars - 2 * surround``, then widens by ``surround`` on each
    side, cut at word boundaries.
    """
    out = []
    span = max(maxchars - 2 * surround, 1)
    i = 0
    while i < len(matches):
        j = i
        while j + 1 < len(matches) and matches[j + 1][1] - matches[i][0] <= span:
            j += 1
        group = matches[i : j + 1]
        first, last = group[0][0], group[-1][1]
        start = max(0, first - surround)
        if start > 0:  # do not start inside a word
            space = _SPACE.search(text, start, first)
            start = space.end() if space else first
        end = min(len(text), last + surround)
        if end < len(text):
            space = max(text.rfind(" ", last, end), text.rfind("\n", last, end))
            end = space if space != -1 else last
        out.append((start, end, group))
        i = j + 1
    return out


def _passage_score(text: str, matches: list[Match]) -> float:
    """Matches times distinct matched terms (Whoosh's rule), halved when the matches are shouted."""
    score = float(len(matches) * len({term for _s, _e, term in matches}))
    if all(text[s:e].isupper() for s, e, _t in matches):
        score /= 2
    return score


def _render(text: str, passages: list[tuple[int, int, list[Match]]]) -> Snippet:
    """Join passages with `` … ``, whitespace collapsed, matched words as offsets."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for start, end, matches in passages:
        raw = text[start:end]
        chunk = " ".join(raw.split())  # line breaks and runs of spaces read badly in a snippet
        if not chunk:
            continue
        if parts:
            parts.append(BETWEEN)
            offset += len(BETWEEN)
        mapping = _collapse_map(raw)
        for s, e, _term in matches:
            word_start = s + _elision_length(text[s:e])
            spans.append(
                (offset + mapping[word_start - start], offset + mapping[e - start - 1] + 1)
            )
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


def mark_terms(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Offsets of every word of ``text`` (a title) whose term is in ``terms``."""
    termset = frozenset(terms)
    if not termset:
        return []
    return [(s + _elision_length(text[s:e]), e) for s, e, _t in _ANALYZER.term_spans(text, termset)]
