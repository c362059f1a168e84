"""Entity benchmark (issue 4): span scores, article-level filter quality, speed, memory.

Run from the project root::

    .venv/bin/python bench/entities.py            # WiNER-fr + hipe2020-fr + newseye-fr
    .venv/bin/python bench/entities.py --limit 200 --no-historical   # a quick look

What it measures, in one run:

1. **Spans** of the extractor as the indexer uses it (the text of
   ``entities._model_text``, spaCy's NER, ``entities._clean_span``): precision,
   recall and F1 per type, exact (same type, same offsets) and overlapping (same
   type, overlapping offsets, one-to-one), against the gold of WiNER-fr (modern
   Wikinews) and of hipe2020-fr and newseye-fr (historical OCR, where the model is
   weaker and where HIPE's guidelines put titles inside person spans, so read the
   overlap columns there).
2. **Article-level filters** on WiNER-fr: the extracted articles are indexed
   (``index_articles``), then for every person, organisation and place that the
   gold names with at least two words in at least two articles, the articles a
   filter on that name returns are compared with the articles whose gold has
   that name with that type. Three filters: ``typed`` is
   ``SearchIndex.search("", persons|orgs|places=[NAME])`` as searchkit runs it
   today; ``untyped`` is ``entities=[NAME]`` (``--entity``); ``reader`` is
   ``query.entity_filter(type, NAME, reader=...)``, the filter decided on the
   index (surnames, majority type), which search.py does not pass yet.
   Gold mentions are grouped by the same canonical key as the index
   (normalisation, then the alias table), so ``Etats-Unis`` and ``États-Unis``
   are one place in the gold too. ``--strict-gold`` groups them by
   normalisation only (``entity_key``) and makes an article whose gold writes
   the entity otherwise (``ONU`` for ``Nations unies``) neutral: it scores the
   extraction without the alias table's help or blame. Neutral (counted
   neither for nor against): an article whose gold has only part of the name
   (``Obama`` for ``Barack Obama``, ``Corée`` for ``Corée du Nord``), has the
   name with another type, or, for a person, a longer name ending with it
   (``Marine Le Pen`` for ``Le Pen``). Micro precision, recall and F1 per type.
3. **Speed and memory** of extraction on WiNER-fr, one process: words (whitespace
   words of the text read) per CPU-second, articles per wall-clock second, peak
   resident memory of the process (model included).

Gold data are read by path from ``../shared/data/ner-gold`` (never copied here).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from searchkit import SearchIndex, aliases, index_articles, read_corpus  # noqa: E402
from searchkit.aliases import canonical_key  # noqa: E402
from searchkit.analysis.keys import entity_key  # noqa: E402
from searchkit.entities import (  # noqa: E402
    _doc_entities,
    _model_text,
    doc_mentions,
    load_model,
)
from searchkit.indexer import open_index  # noqa: E402
from searchkit.model import Article  # noqa: E402
from searchkit.query import entity_filter  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ner-gold"
TYPES = ("PER", "ORG", "LOC", "MISC")
FILTER_TYPES = {"PER": "persons", "ORG": "orgs", "LOC": "places"}
FIELDS = {"PER": "person", "ORG": "org", "LOC": "place"}
VARIANTS = ("typed", "untyped", "reader")
OURS = {"person": "PER", "org": "ORG", "place": "LOC", "misc": "MISC"}
_FUNCTION = frozenset("de du des d la le les l et en a au aux".split())

Span = tuple[str, int, int]  # type, start, end (gold text offsets, end exclusive)


@dataclass
class Extracted:
    articles: list[Article]
    spans: dict[str, list[Span]]
    cpu: float = 0.0
    wall: float = 0.0
    words: int = 0
    peak_mb: float = 0.0


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn

    @property
    def p(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def r(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f(self) -> float:
        return 2 * self.p * self.r / (self.p + self.r) if self.p + self.r else 0.0

    def row(self) -> str:
        return f"{self.p:.3f} {self.r:.3f} {self.f:.3f}"


def read_gold(path: Path, limit: int | None) -> list[dict]:
    records = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                records.append(json.loads(line))
            if limit and len(records) >= limit:
                break
    return records


def gold_spans(record: dict) -> list[Span]:
    """Gold spans, stripped of surrounding spaces (one WiNER span has a trailing one)."""
    out = []
    text = record["text"]
    for e in record["entities"]:
        start, end = e["start"], e["end"]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start and e["type"] in TYPES:
            out.append((e["type"], start, end))
    return out


def _to_gold_offsets(article: Article, record_text: str) -> list[int] | None:
    """Map model-text offsets to offsets in the gold text, line by line.

    The model reads the body (the title is derived, so skipped) with shouted lines
    emptied; the reader stripped the record's text. Returns None when the model
    text is not made that way (then spans are not scored for the article).
    """
    if not article.title_derived or article.lead:
        return None
    shift = len(record_text) - len(record_text.lstrip())
    model_lines = _model_text(article).split("\n")
    body_lines = article.body.split("\n")
    mapping: list[int] = []
    pos = shift
    for i, line in enumerate(model_lines):
        if i >= len(body_lines):
            return None
        mapping.extend(range(pos, pos + len(line)))
        mapping.append(pos + len(body_lines[i]))  # the newline (or end)
        pos += len(body_lines[i]) + 1
    return mapping


def extract(nlp, records: list[dict], path: Path) -> Extracted:
    """Read the gold file as the indexer does, run the extractor once, keep spans too."""
    texts = {r["id"]: r["text"] for r in records}
    articles = [a for a in read_corpus([path]) if isinstance(a, Article) and a.id in texts]
    out = Extracted([], {})
    words = sum(len(a.body.split()) for a in articles)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    pairs = ((_model_text(a), a) for a in articles)
    for doc, article in nlp.pipe(pairs, as_tuples=True, batch_size=32):
        out.articles.append(replace(article, entities=_doc_entities(doc)))
        mapping = _to_gold_offsets(article, texts[article.id])
        if mapping is not None:
            out.spans[article.id] = [
                (OURS[t], mapping[s], mapping[e - 1] + 1) for t, _, s, e in doc_mentions(doc)
            ]
    out.cpu = time.process_time() - cpu0
    out.wall = time.perf_counter() - wall0
    out.words = words
    out.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def span_scores(records: list[dict], predicted: dict[str, list[Span]]) -> dict[str, Score]:
    """Exact and overlapping span scores per type (and ``ALL``), micro-averaged."""
    scores = {f"{kind}:{t}": Score() for kind in ("exact", "overlap") for t in (*TYPES, "ALL")}
    for record in records:
        if record["id"] not in predicted:
            continue
        gold, pred = gold_spans(record), predicted[record["id"]]
        for t in (*TYPES, "ALL"):
            g = [s for s in gold if t in ("ALL", s[0])]
            p = [s for s in pred if t in ("ALL", s[0])]
            exact = len(set(g) & set(p))
            scores[f"exact:{t}"].add(exact, len(p) - exact, len(g) - exact)
            used: set[int] = set()
            hit = 0
            for ps in p:
                for i, gs in enumerate(g):
                    if i not in used and gs[0] == ps[0] and gs[1] < ps[2] and ps[1] < gs[2]:
                        used.add(i)
                        hit += 1
                        break
            scores[f"overlap:{t}"].add(hit, len(p) - hit, len(g) - hit)
    return scores


def _parts(words: list[str]) -> set[str]:
    """Strict prefixes and suffixes of a name, without bare function words."""
    out = set()
    for i in range(1, len(words)):
        for part in (words[:i], words[i:]):
            if not set(part) <= _FUNCTION:
                out.add(" ".join(part))
    return out


def filter_scores(
    records: list[dict], index_dir: Path, key_of=canonical_key
) -> dict[str, dict[str, Score]]:
    """Article-level filter scores per variant and type (see the module docstring)."""
    by_article: dict[str, list[tuple[str, str, str]]] = {}
    merged: dict[str, set[str]] = {}  # article -> canonical keys of its gold mentions
    for record in records:
        text = record["text"]
        by_article[record["id"]] = [
            (t, key_of(text[s:e]), text[s:e]) for t, s, e in gold_spans(record) if key_of(text[s:e])
        ]
        merged[record["id"]] = {canonical_key(text[s:e]) for _, s, e in gold_spans(record)}
    articles_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    surfaces: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for aid, mentions in by_article.items():
        for t, key, surface in mentions:
            articles_of[(t, key)].add(aid)
            surfaces[(t, key)][surface] += 1
    variants = {v: {t: Score() for t in FILTER_TYPES} for v in VARIANTS}
    with SearchIndex(index_dir) as index, open_index(index_dir).searcher() as searcher:
        reader = searcher.reader()
        ids = {n: searcher.stored_fields(n)["id"] for n in reader.all_doc_ids()}
        for (t, key), positives in sorted(articles_of.items()):
            if t not in FILTER_TYPES or len(positives) < 2:
                continue
            # the most frequent spelling of two words or more ("Nations unies", not "ONU")
            names = [n for n, _ in surfaces[(t, key)].most_common() if " " in entity_key(n)]
            if not names:
                continue
            name = names[0]
            parts = _parts(key.split())
            tail = " " + key if t == "PER" else None  # "Le Pen" is part of "Marine Le Pen"
            same = canonical_key(name)  # with --strict-gold, another spelling is neutral
            neutral = {
                aid
                for aid, mentions in by_article.items()
                if aid not in positives
                and (
                    same in merged[aid]
                    or any(
                        k == key or k in parts or (tail and k.endswith(tail))
                        for _, k, _ in mentions
                    )
                )
            }
            field = FIELDS[t]
            for variant, scores in variants.items():
                if variant == "typed":  # what searchkit search --person NAME runs today
                    res = index.search("", limit=100_000, snippets=False, **{field + "s": [name]})
                    got = {h.id for h in res.hits}
                elif variant == "untyped":  # searchkit search --entity NAME
                    res = index.search("", limit=100_000, snippets=False, entities=[name])
                    got = {h.id for h in res.hits}
                else:  # entity_filter given the index's reader (the proposed wiring)
                    q = entity_filter(field, name, reader=reader)
                    got = {ids[n] for n in searcher.docs_for_query(q)}
                got -= neutral
                scores[t].add(len(got & positives), len(got - positives), len(positives - got))
                scores[t].extra["names"] = scores[t].extra.get("names", 0) + 1
    return variants


def print_filters(scores: dict[str, dict[str, Score]]) -> None:
    """One row per type: P/R/F1 of each variant (typed, untyped, typed with the reader)."""
    head = "".join(f"   {v + ' P/R/F1':>19}" for v in scores)
    print(f"  {'type':7} {'names':>5}{head}")
    for t, label in FILTER_TYPES.items():
        cells = "".join(f"   {scores[v][t].row():>19}" for v in scores)
        print(f"  {label:7} {scores['typed'][t].extra.get('names', 0):>5}{cells}")


def print_spans(title: str, scores: dict[str, Score], types: Iterable[str]) -> None:
    print(f"\n{title}")
    print(f"  {'type':5} {'exact P/R/F1':>19}   {'overlap P/R/F1':>19}  gold")
    for t in types:
        e, o = scores[f"exact:{t}"], scores[f"overlap:{t}"]
        print(f"  {t:5} {e.row():>19}   {o.row():>19}  {e.tp + e.fn}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="the ner-gold folder")
    ap.add_argument("--limit", type=int, default=None, help="first N WiNER articles only")
    ap.add_argument("--no-historical", action="store_true", help="skip hipe2020-fr, newseye-fr")
    ap.add_argument("--strict-gold", action="store_true", help="gold grouped by entity_key only")
    ap.add_argument(
        "--aliases", type=Path, help="use this alias table instead (an empty file: none)"
    )
    args = ap.parse_args(argv)
    if args.aliases:  # an ablation: what the shipped table brings
        with args.aliases.open(encoding="utf-8") as fh:
            table = aliases.parse_aliases(fh, str(args.aliases))
        aliases.alias_table = lambda: table
        aliases.canonical_key.cache_clear()
        print(f"alias table: {args.aliases} ({len(table.type_of)} entities)")
    winer = args.data / "winer-fr" / "winer-fr.jsonl"
    if not winer.is_file():
        print(f"{winer} is absent; nothing to measure", file=sys.stderr)
        return 1

    t0 = time.perf_counter()
    nlp = load_model()
    load_s = time.perf_counter() - t0
    records = read_gold(winer, args.limit)
    ex = extract(nlp, records, winer)
    print(f"WiNER-fr: {len(ex.articles)} articles, {ex.words:,} words (model load {load_s:.1f} s)")
    print(
        f"extraction: {ex.words / ex.cpu:,.0f} words/CPU-s, {len(ex.articles) / ex.wall:.1f} "
        f"articles/s ({ex.cpu:.1f} CPU-s, {ex.wall:.1f} s wall, 1 process); "
        f"peak RSS {ex.peak_mb:.0f} MB"
    )
    print_spans("WiNER-fr spans", span_scores(records, ex.spans), (*TYPES, "ALL"))

    with tempfile.TemporaryDirectory(prefix="bench-entities-") as tmp:
        t0 = time.perf_counter()
        index_articles(ex.articles, Path(tmp) / "ix")
        index_s = time.perf_counter() - t0
        key_of = entity_key if args.strict_gold else canonical_key
        t0 = time.perf_counter()
        scores = filter_scores(records, Path(tmp) / "ix", key_of)
        query_s = time.perf_counter() - t0
    gold_kind = "entity_key" if args.strict_gold else "canonical_key"
    print(
        f"\nWiNER-fr article-level filters (gold grouped by {gold_kind}; "
        f"index {index_s:.1f} s, queries {query_s:.1f} s)"
    )
    print_filters(scores)

    if not args.no_historical:
        for name in ("hipe2020-fr", "newseye-fr"):
            path = args.data / name / f"{name}.jsonl"
            if not path.is_file():
                print(f"\n{name}: absent, skipped")
                continue
            recs = read_gold(path, None)
            hx = extract(nlp, recs, path)
            print_spans(
                f"{name} spans ({len(hx.articles)} articles, {len(hx.spans)} scored)",
                span_scores(recs, hx.spans),
                (*TYPES, "ALL"),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
