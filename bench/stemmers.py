"""Stemmer comparison (issue 3): searchkit's light stemmer against Snowball and no stemming.

    .venv/bin/python bench/stemmers.py                 # title task, 1,500 queries
    .venv/bin/python bench/stemmers.py --sample 300 --variants light,snowball

Each variant indexes the OrangeSum bodies (the title task of ``relevance.py``:
title -> article, the title never indexed) with the text chain's last step
replaced, then runs the 1,500 title queries through ``SearchIndex`` as shipped.
``snowball`` is PyStemmer's French Snowball stemmer (``pip install PyStemmer``;
the variant is skipped without it), applied where the light stemmer runs: after
accent folding. ``none`` keeps the folded word. Each variant runs in its own
process (the stemmer is patched before any analyzer is built), two at a time.
Indexes go to ``--work`` and are reused when complete.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

VARIANTS = ("light", "snowball", "none")


def patch_stemmer(variant: str) -> None:
    """Replace the light stemmer of the text chain, before any analyzer exists."""
    from searchkit.analysis import filters

    if variant == "snowball":
        import Stemmer  # PyStemmer

        stemmer = Stemmer.Stemmer("french")
        filters.stem = stemmer.stemWord  # type: ignore[attr-defined]
    elif variant == "none":
        filters.stem = lambda word: word  # type: ignore[attr-defined]


def run_one(variant: str, work: Path, data: Path, sample: int) -> dict[str, object]:
    patch_stemmer(variant)
    import random

    import relevance as rel

    import searchkit

    task = rel.TASKS["title"]
    target = work / f"title-{variant}"
    expected = sum(1 for _ in rel.read_jsonl(data / task.corpus))
    build_s = 0.0
    if not rel.searchkit_ready(target, expected):
        build_s = rel.build_searchkit(data, task, target)
    queries = rel.read_queries(data, task)
    if sample and sample < len(queries):
        queries = sorted(random.Random(1).sample(queries, sample))
    qrels = rel.read_qrels(data, task)
    run: dict[str, list[str]] = {}
    lat: list[float] = []
    with searchkit.SearchIndex(target) as ix:
        for qid, text in queries:
            t0 = time.perf_counter()
            run[qid] = [h.id for h in ix.search(text, limit=rel.K, snippets=False).hits]
            lat.append((time.perf_counter() - t0) * 1000)
    metrics = rel.evaluate(run, {q: qrels[q] for q in run if q in qrels})
    return {
        "variant": variant,
        "queries": len(run),
        "build_s": round(build_s),
        "p50_ms": round(rel.percentile(lat, 50), 1),
        **{k: round(v, 4) for k, v in metrics.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/searchkit-stemmers"))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.work, args.data, args.sample)))
        return 0
    if not (args.data / "orangesum").exists():
        print(f"skipped: {args.data}/orangesum is absent", file=sys.stderr)
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    variants = [v for v in args.variants.split(",") if v]
    if "snowball" in variants:
        try:
            import Stemmer  # noqa: F401
        except ImportError:
            print("snowball: skipped (pip install PyStemmer)", file=sys.stderr)
            variants.remove("snowball")
    rows = []
    for i in range(0, len(variants), 2):  # two processes: one per core
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    v,
                    "--work",
                    str(args.work),
                    "--data",
                    str(args.data),
                    "--sample",
                    str(args.sample),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for v in variants[i : i + 2]
        ]
        for p in procs:
            out, _ = p.communicate()
            if p.returncode == 0:
                rows.append(json.loads(out.strip().splitlines()[-1]))
    print("| stemmer | queries | MRR@10 | S@1 | S@10 | nDCG@10 | p50 ms | index build s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['queries']} | {r['mrr@10']:.3f} | {r['s@1']:.3f} "
            f"| {r['s@10']:.3f} | {r['ndcg@10']:.3f} | {r['p50_ms']} | {r['build_s']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
