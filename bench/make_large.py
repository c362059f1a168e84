"""Build a large synthetic corpus from OrangeSum, for scale benchmarks (not for the project).

    .venv/bin/python bench/make_large.py --size 300000 --out /tmp/searchkit-large.jsonl.gz

Copies of the 33,688 OrangeSum articles with new ids (``<id>-copyN``) and dates
shifted back by N years, so that facets and date filters spread out. The text
repeats: this is SYNTHETIC data, stated as such in every benchmark that uses it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ORANGESUM, iter_jsonl  # noqa: E402


def shift_year(date: str | None, years: int) -> str | None:
    if not date or len(date) < 4 or not date[:4].isdigit():
        return date
    day = date[5:10]
    if day == "02-29":
        date = date[:8] + "28" + date[10:]
    return f"{int(date[:4]) - years:04d}{date[4:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=300_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/searchkit-large.jsonl.gz"))
    args = parser.parse_args()
    written = 0
    copy = 0
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=3) as out:
        while written < args.size:
            for doc in iter_jsonl(ORANGESUM):
                if written >= args.size:
                    break
                if copy:
                    doc["id"] = f"{doc['id']}-copy{copy}"
                    doc["date"] = shift_year(doc.get("date"), copy)
                    doc.pop("published_time", None)
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
                written += 1
            copy += 1
    print(f"{written} articles ({copy} passes over OrangeSum, synthetic) in {args.out}")


if __name__ == "__main__":
    main()
