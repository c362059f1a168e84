"""Query latency: searchkit against stock Whoosh and Lucene on the same articles and queries.

    .venv/bin/python bench/bench_search.py                  # orangesum, 300 queries per set
    .venv/bin/python bench/bench_search.py --queries 1500 --index-dir /tmp/large-ix

Query sets (OrangeSum known-item queries): ``short`` (2–3 words drawn from
titles), ``title`` (whole titles, ~10 words) and ``abstract`` (~40 words).
searchkit is timed as a user meets it: parse, filter-free search, top 10 with
snippets. Stock Whoosh: ``LanguageAnalyzer("fr")``, title ×2, OR of the words,
top 10 with Whoosh's own highlights. Lucene: the anchor's own timing (top 10,
no snippets). Indexes are built once in ``--work`` and reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ANCHOR_PY,
    ANCHORS,
    ORANGESUM,
    ROOT,
    load_queries,
    machine,
    percentile,
)

sys.path.insert(0, str(ROOT))


def build(engine: str, corpus: Path, index_dir: Path) -> None:
    if (index_dir / "done").exists():
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    if engine == "searchkit":
        cmd = [
            sys.executable,
            "-m",
            "searchkit",
            "index",
            str(corpus),
            "--index",
            str(index_dir),
            "--no-entities",
            "-q",
        ]
    elif engine == "whoosh":
        cmd = [
            sys.executable,
            str(Path(__file__).with_name("bench_index.py")),
            "--stock-whoosh",
            str(corpus),
            str(index_dir),
        ]
    else:
        cmd = [
            str(ANCHOR_PY),
            str(ANCHORS / "anchor_lucene.py"),
            "index",
            str(corpus),
            str(index_dir),
            "--threads",
            "2",
        ]
    print(f"building {engine} index in {index_dir} …", file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    (index_dir / "done").touch()


def time_searchkit(index_dir: Path, queries: list[tuple[str, str]]) -> list[float]:
    from searchkit import SearchIndex

    times = []
    with SearchIndex(index_dir) as index:
        index.search(queries[0][1])  # warm-up: caches, first-use imports
        for _qid, text in queries:
            start = time.perf_counter()
            index.search(text, limit=10)
            times.append((time.perf_counter() - start) * 1000)
    return times


def time_stock_whoosh(index_dir: Path, queries: list[tuple[str, str]]) -> list[float]:
    from whoosh import index
    from whoosh.qparser import MultifieldParser, OrGroup

    ix = index.open_dir(str(index_dir))
    parser = MultifieldParser(
        ["title", "body"], ix.schema, fieldboosts={"title": 2.0}, group=OrGroup
    )
    times = []
    with ix.searcher() as searcher:
        for _qid, text in queries:
            start = time.perf_counter()
            results = searcher.search(parser.parse(text), limit=10)
            for hit in results:
                hit.highlights("body")
            times.append((time.perf_counter() - start) * 1000)
    return times


def time_lucene(index_dir: Path, queries: list[tuple[str, str]], work: Path) -> dict:
    qfile = work / "queries.tsv"
    qfile.write_text("".join(f"{qid}\t{' '.join(t.split())}\n" for qid, t in queries), "utf-8")
    out = subprocess.run(
        [
            str(ANCHOR_PY),
            str(ANCHORS / "anchor_lucene.py"),
            "search",
            str(index_dir),
            str(qfile),
            "--k",
            "10",
            "--out",
            str(work / "run.tsv"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ORANGESUM)
    parser.add_argument("--work", type=Path, default=Path("/tmp/searchkit-bench-search"))
    parser.add_argument("--index-dir", type=Path, help="an existing searchkit index to time")
    parser.add_argument("--queries", type=int, default=300, help="queries per set")
    parser.add_argument("--sets", default="short,title,abstract")
    parser.add_argument("--engines", default="searchkit,whoosh,lucene")
    args = parser.parse_args()
    engines = args.engines.split(",")
    if "lucene" in engines and not ANCHOR_PY.exists():
        print("lucene: skipped (run bash ../shared/anchors/setup.sh)", file=sys.stderr)
        engines.remove("lucene")
    args.work.mkdir(parents=True, exist_ok=True)
    dirs = {e: args.work / f"ix-{e}" for e in engines}
    for engine in engines:
        if engine == "searchkit" and args.index_dir:
            dirs[engine] = args.index_dir
        else:
            build(engine, args.corpus, dirs[engine])
    print(
        f"# Search latency, {args.queries} queries per set, corpus {args.corpus.name}\n"
        f"# {machine()}\n"
    )
    print("| queries | engine | p50 ms | p95 ms | mean ms | vs Lucene p95 |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.sets.split(","):
        queries = load_queries(name, args.queries)
        rows = {}
        if "lucene" in engines:
            fig = time_lucene(dirs["lucene"], queries, args.work)
            rows["lucene"] = (fig["p50_ms"], fig["p95_ms"], fig["mean_ms"])
        for engine, timer in (("searchkit", time_searchkit), ("whoosh", time_stock_whoosh)):
            if engine in engines:
                t = timer(dirs[engine], queries)
                rows[engine] = (percentile(t, 50), percentile(t, 95), sum(t) / len(t))
        for engine, (p50, p95, mean) in rows.items():
            ratio = f"{p95 / rows['lucene'][1]:.0f}×" if "lucene" in rows else "-"
            print(f"| {name} | {engine} | {p50:.1f} | {p95:.1f} | {mean:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
