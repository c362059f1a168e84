"""Relevance benchmark (issue 3): searchkit against two baselines on French news search tasks.

What it measures, per task and per system: MRR@10, success@1, success@10 and nDCG@10
(binary relevance, the definitions of ``/work/shared/anchors/eval_run.py``) and the
p50/p95 wall-clock time of one query. searchkit is timed with snippets, as a user gets
its results, and again without them.

Tasks (data in ``../shared/data``, read in place):

* ``abstract``: OrangeSum abstract -> article (``A*`` queries of
  ``orangesum/knownitem_queries.jsonl``, ~40 words each, one relevant article).
  Title and body are indexed, never the abstract. Main metric MRR@10.
* ``title``: OrangeSum title -> article (``T*`` queries). Body only. Main metric MRR@10.
* ``wikinews``: ``wikinews-fr-100`` keyphrase sets (831 queries, 100 articles; title,
  lead and body indexed, the lead joined to the body for the baselines). Main metric
  nDCG@10.

Systems:

* ``searchkit``: ``SearchIndex(dir, ranking=...)`` and ``.search(q, limit=10)``, the raw
  query text as a user would type it; index built with ``index_corpus(entities=False)``
  (``skip_fields`` as above). ``default`` is the engine as it ships; ``--variants``
  adds ablations of its ranking choices (``VARIANTS``: other field weights, no
  proximity bonus, no weekday cue, Lucene's idf, AND for every query length...).
* ``whoosh``: stock Whoosh 2.7.4, ``LanguageAnalyzer("fr")`` on title and body TEXT
  fields, default ``BM25F()``, ``MultifieldParser`` with ``fieldboosts={"title": 2}``
  and a plain ``OrGroup`` (no coordination bonus); the query is its words, lowercased,
  punctuation and query syntax dropped.
* ``fts5``: SQLite FTS5 (stdlib ``sqlite3``), ``tokenize="unicode61 remove_diacritics 2"``,
  contentless table, ranked by ``bm25(fts, 2.0, 1.0)`` (title weighted 2); the query is
  its words ORed, elided articles (``l'``, ``qu'``...) and a short French stop list dropped.

Each system is warmed up with a few untimed queries, then timed one query at a time.
The load average is printed with the timings: the machine may be shared. Stock Whoosh
takes seconds per long query: ``--budget SECONDS`` stops a system after that much
time on a task (the table says how many queries it ran, and
gives the other systems' figure on those same queries).

Run (from the repository root)::

    .venv/bin/python bench/relevance.py --reuse --budget 900   # full: 3 tasks, all queries
    .venv/bin/python bench/relevance.py --reuse --sample 200 --tasks abstract,title \\
        --systems searchkit --variants default,title2,no-proximity --no-save   # iteration
    .venv/bin/python bench/relevance.py --reuse --optimize ...   # searchkit, one segment

Indexes go to a fresh temporary folder that is removed at the end, or with ``--reuse``
to ``--work`` (default ``/tmp/searchkit-relevance``), where complete indexes are kept
and reused. A full run prints a markdown table and replaces the generated part of the
"Ranking (issue 3)" section of ``bench/RESULTS.md`` (``--no-save`` leaves it alone).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whoosh import fields as wf  # noqa: E402
from whoosh import index as whoosh_index  # noqa: E402
from whoosh import scoring  # noqa: E402
from whoosh.analysis import LanguageAnalyzer  # noqa: E402
from whoosh.qparser import MultifieldParser, OrGroup  # noqa: E402

import searchkit  # noqa: E402
from searchkit import schema as sc  # noqa: E402
from searchkit.errors import SearchkitError  # noqa: E402
from searchkit.query import Ranking  # noqa: E402

K = 10
WARMUP_QUERIES = 20
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
SECTION = "## Ranking (issue 3)"
BEGIN, END = "<!-- relevance.py: begin -->", "<!-- relevance.py: end -->"


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    name: str
    corpus: str  # path relative to the data folder
    queries: str
    qrels: str
    qid_prefix: str
    skip: tuple[str, ...]  # searchkit text fields left out of the index
    main: str  # main metric

    @property
    def fields(self) -> tuple[str, ...]:
        """Text fields the baselines index (the lead, when kept, goes with the body)."""
        return tuple(f for f in ("title", "body") if f not in self.skip)

    @property
    def lead_in_body(self) -> bool:
        return "lead" not in self.skip


TASKS = {
    "abstract": Task(
        "abstract",
        "orangesum/articles.jsonl.gz",
        "orangesum/knownitem_queries.jsonl",
        "orangesum/knownitem_qrels.tsv",
        "A",
        ("lead",),
        "mrr@10",
    ),
    "title": Task(
        "title",
        "orangesum/articles.jsonl.gz",
        "orangesum/knownitem_queries.jsonl",
        "orangesum/knownitem_qrels.tsv",
        "T",
        ("title", "lead"),
        "mrr@10",
    ),
    "wikinews": Task(
        "wikinews",
        "wikinews-fr-100/articles.jsonl",
        "wikinews-fr-100/keyphrase_queries.jsonl",
        "wikinews-fr-100/keyphrase_qrels.tsv",
        "K",
        (),
        "ndcg@10",
    ),
}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def read_queries(data: Path, task: Task) -> list[tuple[str, str]]:
    rows = read_jsonl(data / task.queries)
    return [(r["qid"], r["query"]) for r in rows if r["qid"].startswith(task.qid_prefix)]


def read_qrels(data: Path, task: Task) -> dict[str, set[str]]:
    rel: dict[str, set[str]] = {}
    with open(data / task.qrels, encoding="utf-8") as fh:
        for line in fh:
            p = line.split()
            if len(p) >= 4 and int(p[3]) > 0 and p[0].startswith(task.qid_prefix):
                rel.setdefault(p[0], set()).add(p[2])
    return rel


def baseline_docs(data: Path, task: Task) -> Iterator[dict[str, str]]:
    """The corpus as the baselines index it: id, title, body (lead first when kept)."""
    for r in read_jsonl(data / task.corpus):
        body = r.get("body") or ""
        if task.lead_in_body and r.get("abstract"):
            body = r["abstract"] + "\n\n" + body
        doc = {"id": str(r["id"]), "body": body}
        if "title" in task.fields:
            doc["title"] = r.get("title") or ""
        yield doc


# --------------------------------------------------------------------------- metrics


def evaluate(run: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, float]:
    """MRR@10, success@1/@10, binary nDCG@10 over the judged queries (eval_run.py's)."""
    mrr = s1 = s10 = ndcg = 0.0
    for qid, relevant in qrels.items():
        ranked = run.get(qid, [])[:K]
        rr = dcg = 0.0
        for i, doc in enumerate(ranked, 1):
            if doc in relevant:
                if rr == 0.0:
                    rr = 1.0 / i
                dcg += 1.0 / math.log2(i + 1)
        idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), K) + 1))
        mrr += rr
        s1 += 1.0 if rr == 1.0 else 0.0
        s10 += 1.0 if rr > 0 else 0.0
        ndcg += dcg / idcg if idcg else 0.0
    n = len(qrels) or 1
    return {"mrr@10": mrr / n, "s@1": s1 / n, "s@10": s10 / n, "ndcg@10": ndcg / n}


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def timed(
    queries: list[tuple[str, str]], run_one: Callable[[str], list[str]], budget: float = 0.0
) -> tuple[dict[str, list[str]], list[float], tuple[float, float]]:
    """Warm up on a few queries, then run each once, timed; also the load average.

    With a ``budget`` (seconds, 0: none), the queries left when it is spent are skipped.
    """
    for _qid, text in queries[: min(WARMUP_QUERIES, max(1, len(queries) // 20))]:
        run_one(text)
    run: dict[str, list[str]] = {}
    lat: list[float] = []
    load0 = os.getloadavg()[0]
    clock = time.perf_counter
    start = clock()
    for qid, text in queries:
        if budget and clock() - start > budget:
            break
        t0 = clock()
        run[qid] = run_one(text)
        lat.append((clock() - t0) * 1000.0)
    return run, lat, (load0, os.getloadavg()[0])


# ------------------------------------------------------------------- searchkit side


@dataclass(frozen=True)
class Variant:
    """One searchkit configuration: a name and the ``Ranking`` it runs with."""

    name: str
    ranking: Ranking = field(default_factory=Ranking)


def _boosts(title: float, lead: float, body: float) -> tuple[tuple[str, float], ...]:
    return ((sc.TITLE, title), (sc.LEAD, lead), (sc.BODY, body))


_D = Ranking()
# Ablations of the engine's choices (``default`` is the engine as it ships).
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("default", _D),
        Variant("title2", replace(_D, boosts=_boosts(2.0, 1.5, 1.0))),
        Variant("title1", replace(_D, boosts=_boosts(1.0, 1.0, 1.0))),
        Variant("no-proximity", replace(_D, proximity=0.0)),
        Variant("no-weekday", replace(_D, weekday=0.0)),
        Variant("lucene-idf", replace(_D, idf="lucene")),
        # No query is long then, so the weekday cue is off too (it follows and_max_words).
        Variant("and-always", replace(_D, and_max_words=1000)),
        Variant("prune-df10", replace(_D, prune_df=0.1)),
        Variant("k1.5", replace(_D, k1=1.5)),
        Variant("b0.6", replace(_D, b=0.6)),
        Variant("repeats", replace(_D, repeats=True)),
    ]
}


def optimized_copy(source: Path, reuse: bool, expected: int) -> tuple[Path, float]:
    """A copy of a searchkit index merged into one segment (Whoosh ``optimize``)."""
    target = source.with_name(source.name + "-optimized")
    if reuse and searchkit_ready(target, expected):
        return target, 0.0
    t0 = time.perf_counter()
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", "*WRITELOCK"))
    whoosh_index.open_dir(str(target)).optimize()
    return target, time.perf_counter() - t0


def build_searchkit(data: Path, task: Task, target: Path) -> float:
    t0 = time.perf_counter()
    report = searchkit.index_corpus(
        [data / task.corpus], target, entities=False, rebuild=True, skip_fields=list(task.skip)
    )
    if report.rejected:
        print(f"  {report.rejected} records rejected: {report.errors[:3]}", file=sys.stderr)
    return time.perf_counter() - t0


def searchkit_ready(target: Path, expected: int) -> bool:
    try:
        with searchkit.SearchIndex(target) as ix:
            return bool(ix.stats()["articles"] == expected)
    except SearchkitError:
        return False


def run_searchkit(
    target: Path,
    variant: Variant,
    queries: list[tuple[str, str]],
    budget: float,
    nosnip_pass: bool = True,
) -> dict[str, Any]:
    with searchkit.SearchIndex(target, ranking=variant.ranking) as ix:
        fallback = 0
        errors = 0

        def one(text: str, snippets: bool = True) -> list[str]:
            nonlocal fallback, errors
            try:
                res = ix.search(text, limit=K, snippets=snippets)
            except SearchkitError:
                errors += 1
                return []
            fallback += bool(res.notices)
            return [h.id for h in res.hits]

        run, lat, load = timed(queries, one, budget)
        n_fallback, n_errors = fallback, errors
        done = [(qid, text) for qid, text in queries if qid in run] if nosnip_pass else []
        _, lat_ns, load_ns = timed(done, lambda text: one(text, snippets=False))
    return {
        "run": run,
        "lat": lat,
        "lat_nosnip": lat_ns,
        "load": (load[0], load_ns[1] if done else load[1]),
        "fallback": n_fallback,
        "errors": n_errors,
    }


# ---------------------------------------------------------------------- Whoosh stock


def build_whoosh(data: Path, task: Task, target: Path, jobs: int) -> float:
    t0 = time.perf_counter()
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    analyzer = LanguageAnalyzer("fr")
    text = {f: wf.TEXT(analyzer=analyzer) for f in task.fields}
    schema = wf.Schema(id=wf.ID(stored=True, unique=True), **text)
    ix = whoosh_index.create_in(str(target), schema)
    writer = ix.writer(procs=jobs, limitmb=256)
    for doc in baseline_docs(data, task):
        writer.add_document(**doc)
    writer.commit()
    return time.perf_counter() - t0


def whoosh_ready(target: Path, expected: int) -> bool:
    if not whoosh_index.exists_in(str(target)):
        return False
    ix = whoosh_index.open_dir(str(target))
    return bool(ix.doc_count() == expected)


_WORD = re.compile(r"\w+")


def run_whoosh(
    target: Path, task: Task, queries: list[tuple[str, str]], budget: float
) -> dict[str, Any]:
    ix = whoosh_index.open_dir(str(target))
    boosts = {"title": 2.0, "body": 1.0}
    parser = MultifieldParser(
        list(task.fields),
        ix.schema,
        fieldboosts={f: boosts[f] for f in task.fields},
        group=OrGroup,
    )
    with ix.searcher(weighting=scoring.BM25F()) as searcher:

        def one(text: str) -> list[str]:
            words = " ".join(_WORD.findall(text.lower()))
            if not words:
                return []
            hits = searcher.search(parser.parse(words), limit=K)
            return [h["id"] for h in hits]

        run, lat, load = timed(queries, one, budget)
    return {"run": run, "lat": lat, "load": load}


# ---------------------------------------------------------------------------- FTS5

APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4"
ELISIONS = frozenset("l d j m n s t c qu jusqu lorsqu puisqu quoiqu".split())
# A short French stop list: articles, prepositions, pronouns, auxiliaries' commonest forms.
FRENCH_STOP = frozenset(
    """au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma
    mais me même mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses
    son sur ta te tes toi ton tu un une vos votre vous à y été est sont a ont était
    cette cet leurs sans été être avoir fait plus""".split()
)
_FTS_WORD = re.compile(r"\w+(?:[" + APOSTROPHES + r"]\w+)*")


def fts_terms(text: str) -> list[str]:
    """Query words for FTS5: lowercased, elisions split off, stop words dropped, deduped."""
    out: list[str] = []
    for word in _FTS_WORD.findall(text.lower()):
        for ap in APOSTROPHES[1:]:
            word = word.replace(ap, "'")
        parts = word.split("'")
        while len(parts) > 1 and parts[0] in ELISIONS:
            parts = parts[1:]
        out += [p for p in parts if p and p not in FRENCH_STOP and p not in ELISIONS]
    return list(dict.fromkeys(out))


def build_fts5(data: Path, task: Task, target: Path) -> float:
    t0 = time.perf_counter()
    target.unlink(missing_ok=True)
    con = sqlite3.connect(target, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    cols = ", ".join(task.fields)
    con.execute(
        f"CREATE VIRTUAL TABLE fts USING fts5({cols}, content='', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    con.execute("CREATE TABLE meta (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL)")
    con.execute("BEGIN")
    marks = ", ".join("?" for _ in task.fields)
    for n, doc in enumerate(baseline_docs(data, task), 1):
        con.execute(
            f"INSERT INTO fts(rowid, {cols}) VALUES (?, {marks})",
            (n, *(doc[f] for f in task.fields)),
        )
        con.execute("INSERT INTO meta VALUES (?, ?)", (n, doc["id"]))
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - t0


def fts5_ready(target: Path, expected: int) -> bool:
    if not target.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        (count,) = con.execute("SELECT count(*) FROM meta").fetchone()
        con.close()
    except sqlite3.Error:
        return False
    return bool(count == expected)


def run_fts5(
    target: Path, task: Task, queries: list[tuple[str, str]], budget: float
) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    weights = ", ".join("2.0" if f == "title" else "1.0" for f in task.fields)
    sql = (
        f"SELECT m.id FROM fts JOIN meta m ON m.rowid = fts.rowid "
        f"WHERE fts MATCH ? ORDER BY bm25(fts, {weights}) LIMIT {K}"
    )

    def one(text: str) -> list[str]:
        terms = fts_terms(text)
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        return [row[0] for row in con.execute(sql, (match,))]

    run, lat, load = timed(queries, one, budget)
    con.close()
    return {"run": run, "lat": lat, "load": load}


def index_ready(system: str, target: Path, expected: int) -> bool:
    """Whether a complete index of ``system`` (``expected`` articles) is at ``target``."""
    ready = {"searchkit": searchkit_ready, "whoosh": whoosh_ready, "fts5": fts5_ready}[system]
    return ready(target, expected)


def build_index(system: str, data: Path, task: Task, target: Path, jobs: int) -> float:
    """Build the index of ``system`` for ``task`` at ``target``; returns the seconds taken."""
    if system == "searchkit":
        return build_searchkit(data, task, target)
    if system == "whoosh":
        return build_whoosh(data, task, target, jobs)
    return build_fts5(data, task, target)


# ------------------------------------------------------------------------- reporting


def machine() -> str:
    mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.split("\n")
    total = next((line.split()[1] for line in mem if line.startswith("Mem:")), "?")
    return (
        f"{os.cpu_count()} cores (nproc), {total} GB RAM (free -g), "
        f"Python {platform.python_version()}, Whoosh 2.7.4, SQLite {sqlite3.sqlite_version}"
    )


def utc_date() -> str:
    return subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| task | system | queries | MRR@10 | S@1 | S@10 | nDCG@10 | p50 ms | p95 ms "
        "| p50 / p95 ms no snippets | OR fallback / errors | load 1 min |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        m = r["metrics"]
        main = TASKS[r["task"]].main
        cells = {k: f"{v:.3f}" for k, v in m.items()}
        cells[main] = f"**{cells[main]}**"
        nosnip = f"{r['p50_nosnip']:.1f} / {r['p95_nosnip']:.1f}" if "p50_nosnip" in r else "–"
        fallback = f"{r['fallback']} / {r['errors']}" if "fallback" in r else "–"
        lines.append(
            f"| {r['task']} | {r['system']} | {r['queries']} | {cells['mrr@10']} "
            f"| {cells['s@1']} | {cells['s@10']} | {cells['ndcg@10']} | {r['p50']:.1f} "
            f"| {r['p95']:.1f} | {nosnip} | {fallback} | {r['load'][0]:.1f}–{r['load'][1]:.1f} |"
        )
    return head + "\n".join(lines) + "\n"


def subset_notes(rows: list[dict[str, Any]], totals: dict[str, int]) -> str:
    """For a row cut short by --budget, the other rows' figures on the same queries."""
    notes = []
    for r in rows:
        if r["queries"] >= totals[r["task"]]:
            continue
        main = TASKS[r["task"]].main
        qids = set(r["run"])
        others = []
        for o in rows:
            if o["task"] != r["task"] or o is r or not qids <= set(o["run"]):
                continue
            m = evaluate({q: o["run"][q] for q in qids}, {q: o["qrels"][q] for q in qids})
            others.append(f"{o['system']} {m[main]:.3f}")
        notes.append(
            f"* {r['task']}, {r['system']}: stopped by --budget after {r['queries']} of "
            f"{totals[r['task']]} queries (the first ones, in qid order); {main} on those "
            f"same queries: {r['metrics'][main]:.3f} here, " + ", ".join(others) + "."
        )
    return ("\n" + "\n".join(notes) + "\n") if notes else ""


def save_results(path: Path, block: str) -> None:
    """Replace the generated block of the section (the rest of the file is kept)."""
    text = path.read_text("utf-8") if path.exists() else "# Benchmark results\n"
    generated = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + generated + tail
    elif SECTION in text:
        head, _, tail = text.partition(SECTION)
        text = head + SECTION + "\n\n" + generated + "\n" + tail
    else:
        text = text.rstrip() + f"\n\n{SECTION}\n\n{generated}\n"
    path.write_text(text, "utf-8")


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="abstract,title,wikinews")
    ap.add_argument("--systems", default="searchkit,whoosh,fts5")
    ap.add_argument(
        "--variants",
        default="default",
        help=f"searchkit variants, comma-separated, or 'all': {', '.join(VARIANTS)}",
    )
    ap.add_argument("--sample", type=int, default=0, help="N queries per task (seeded sample)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=Path("/tmp/searchkit-relevance"))
    ap.add_argument("--reuse", action="store_true", help="keep and reuse indexes in --work")
    ap.add_argument("--jobs", type=int, default=1, help="writer processes for the Whoosh index")
    ap.add_argument(
        "--budget",
        type=float,
        default=0.0,
        help="seconds per task and system (0: none); queries left then are skipped",
    )
    ap.add_argument(
        "--optimize",
        action="store_true",
        help="experiment: run searchkit on a copy of its index merged to one segment",
    )
    ap.add_argument(
        "--snippets-only",
        action="store_true",
        help="time searchkit with snippets only (skip the second pass without them)",
    )
    ap.add_argument("--no-save", action="store_true", help="do not update bench/RESULTS.md")
    ap.add_argument("--json", type=Path, help="also write the figures here (JSON)")
    args = ap.parse_args(argv)

    tasks = [TASKS[t] for t in args.tasks.split(",") if t]
    systems = [s for s in args.systems.split(",") if s]
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    variants = [VARIANTS[n] for n in names]
    if args.reuse:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="searchkit-relevance-"))
    command = "python bench/relevance.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    started = utc_date()
    print(f"# {command}\n# {started}; {machine()}\n# {uptime()}", file=sys.stderr)

    rows: list[dict[str, Any]] = []
    builds: list[str] = []
    totals: dict[str, int] = {}
    try:
        for task in tasks:
            queries = read_queries(args.data, task)
            qrels = read_qrels(args.data, task)
            if args.sample and args.sample < len(queries):
                queries = sorted(random.Random(args.seed).sample(queries, args.sample))
            qrels = {q: qrels[q] for q, _ in queries if q in qrels}
            totals[task.name] = len(queries)
            expected = sum(1 for _ in read_jsonl(args.data / task.corpus))
            for system in systems:
                target = work / f"{system}-{task.name}{'.db' if system == 'fts5' else ''}"
                if not (args.reuse and index_ready(system, target, expected)):
                    print(f"[{task.name}] building {system} index in {target}", file=sys.stderr)
                    secs = build_index(system, args.data, task, target, args.jobs)
                    builds.append(f"{system}/{task.name}: {expected} articles in {secs:.0f} s")
                    print(f"  {builds[-1]}", file=sys.stderr)
                if system == "searchkit" and args.optimize:
                    target, secs = optimized_copy(target, args.reuse, expected)
                    if secs:
                        builds.append(f"optimize {target.name}: {secs:.0f} s")
                runs: list[tuple[str, dict[str, Any]]] = []
                budget = args.budget
                if system == "searchkit":
                    for v in variants:
                        name = "searchkit" + ("" if v.name == "default" else f" [{v.name}]")
                        res = run_searchkit(target, v, queries, budget, not args.snippets_only)
                        runs.append((name, res))
                elif system == "whoosh":
                    runs.append(("whoosh stock", run_whoosh(target, task, queries, budget)))
                else:
                    runs.append(("fts5", run_fts5(target, task, queries, budget)))
                for name, res in runs:
                    row = {
                        "task": task.name,
                        "system": name,
                        "queries": len(res["run"]),
                        "metrics": evaluate(res["run"], {q: qrels[q] for q in res["run"]}),
                        "p50": percentile(res["lat"], 50),
                        "p95": percentile(res["lat"], 95),
                        "load": res["load"],
                        "run": res["run"],
                        "qrels": qrels,
                    }
                    if res.get("lat_nosnip"):
                        row["p50_nosnip"] = percentile(res["lat_nosnip"], 50)
                        row["p95_nosnip"] = percentile(res["lat_nosnip"], 95)
                    if "fallback" in res:
                        row["fallback"] = res["fallback"]
                        row["errors"] = res["errors"]
                    rows.append(row)
                    extra = (
                        f" OR fallback {row['fallback']}, errors {row['errors']}"
                        if "fallback" in row
                        else ""
                    )
                    m = row["metrics"]
                    print(
                        f"[{task.name}] {name}: MRR {m['mrr@10']:.4f} S@1 {m['s@1']:.4f} "
                        f"S@10 {m['s@10']:.4f} nDCG {m['ndcg@10']:.4f} "
                        f"p50 {row['p50']:.1f} p95 {row['p95']:.1f} ms{extra}",
                        file=sys.stderr,
                    )
    finally:
        if not args.reuse:
            shutil.rmtree(work, ignore_errors=True)

    md = table(rows) + subset_notes(rows, totals)
    sample = f"{args.sample} sampled queries per task" if args.sample else "all queries"
    block = (
        f"Command: `{command}` ({sample})  \n"
        f"Date: {started}  \n"
        f"Machine: {machine()}  \n"
        f"Load: `{uptime()}` (at the end; per-row load averages in the table)  \n"
        + (f"Index builds this run: {'; '.join(builds)}  \n" if builds else "")
        + "\n"
        + md
    )
    print(block)
    if args.json:
        public = [{k: v for k, v in r.items() if k not in ("run", "qrels")} for r in rows]
        args.json.write_text(json.dumps(public, indent=1), "utf-8")
    if not args.no_save:
        save_results(RESULTS_MD, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
