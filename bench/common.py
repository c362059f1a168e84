"""Shared helpers of the benchmarks: corpora, queries, process-tree measurement.

Benchmarks read the larger data sets in ``../shared/data`` by path when they are
there and fall back to the project's ``corpus/`` otherwise; nothing is copied.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ORANGESUM = SHARED / "data" / "orangesum" / "articles.jsonl.gz"
KNOWNITEM = SHARED / "data" / "orangesum" / "knownitem_queries.jsonl"
ANCHORS = SHARED / "anchors"
ANCHOR_PY = Path(os.environ.get("ANCHOR_PY", "/tmp/searchkit-anchors/venv/bin/python"))


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
        f"load {load:.1f} at start, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def open_text(path: Path):  # type: ignore[no-untyped-def]
    return (
        gzip.open(path, "rt", encoding="utf-8")
        if path.suffix == ".gz"
        else open(path, encoding="utf-8")
    )


def iter_jsonl(path: Path, limit: int | None = None) -> Iterator[dict]:
    with open_text(path) as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                return
            yield json.loads(line)


def load_queries(kind: str, limit: int | None = None) -> list[tuple[str, str]]:
    """OrangeSum known-item queries: ``title`` (T*), ``abstract`` (A*) or ``short``.

    ``short`` queries are 2–3 content words drawn deterministically from the titles.
    """
    rows = list(iter_jsonl(KNOWNITEM))
    prefix = "A" if kind == "abstract" else "T"
    queries = [(r["qid"], r["query"]) for r in rows if r["qid"].startswith(prefix)]
    if kind == "short":
        queries = [(qid, _short(text, i)) for i, (qid, text) in enumerate(queries)]
        queries = [(qid, q) for qid, q in queries if q]
    return queries[:limit] if limit else queries


_WORD = re.compile(r"[^\W\d_]{4,}")


def _short(title: str, i: int) -> str:
    words = _WORD.findall(title)
    return " ".join(words[: 2 + i % 2])


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run a command; sample the RSS of its whole process tree; CPU of all its children."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.2)
    out = proc.stdout.read() if proc.stdout else ""
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return Measured(wall, cpu, peak / 2**20, proc.returncode, out)


def _tree_rss(root: int) -> int:
    """Sum of RSS over ``root`` and its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
