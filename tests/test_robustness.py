"""Messy archives (issue 6): searchkit never loses a good article and never shows a traceback.

Each kind of bad input gets a test. Through ``searchkit index`` (click's runner),
each test checks that:

* every problem is one line on stderr, ``error: PATH[:LINE]: what`` for a
  rejected record or file, ``notice: PATH[:LINE]: what`` for one indexed anyway;
* the summary counts match those lines (``rejected`` = error lines, ``notices``
  = notice lines) and the index (``articles``);
* every good record of the same run is indexed, with its text intact;
* the exit status is 0 when everything was indexed, 1 when something was
  rejected, 2 for a usage error.

Size: a 20 MB article is indexed with entity extraction (bounded to its first
100,000 characters), and 100,000 tiny files are walked by the reader (which
streams them); indexing 100,000 articles would take minutes, so the end-to-end
run uses 2,000 of them.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import random
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

import searchkit.readers as readers
from searchkit import index_corpus, open_index
from searchkit.cli import cli
from searchkit.errors import CorpusError
from searchkit.model import Article
from searchkit.readers import read_corpus

GOOD = "date 2020-01-02 La réforme des retraites est adoptée par l’Assemblée nationale."
SUMMARY = re.compile(
    r"^read (\d+), added (\d+), updated (\d+), unchanged (\d+), rejected (\d+)"
    r"(?:, notices (\d+))?; (\d+) articles in the index"
)


@dataclass
class Run:
    """What one ``searchkit index`` run printed and did."""

    exit_code: int
    errors: list[str]
    notices: list[str]
    summary: dict[str, int]
    stderr: str
    index: Path
    bodies: dict[str, str] = field(default_factory=dict)


def index(paths, index_dir: Path, *extra: str, entities: bool = False) -> Run:
    """Run ``searchkit index`` and check the properties every run must have."""
    args = ["index", *map(str, paths), "--index", str(index_dir), *extra]
    result = CliRunner().invoke(cli, args if entities else [*args, "--no-entities"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    notices = [line.removeprefix("notice: ") for line in lines if line.startswith("notice: ")]
    summaries = [SUMMARY.match(line) for line in lines if SUMMARY.match(line)]
    assert len(summaries) == 1, result.stderr
    assert len(errors) + len(notices) + 1 == len(lines), f"a stray line:\n{result.stderr}"
    m = summaries[0]
    keys = ("read", "added", "updated", "unchanged", "rejected", "notices", "articles")
    summary = {k: int(v or 0) for k, v in zip(keys, m.groups(), strict=True)}
    assert summary["rejected"] == len(errors)
    assert summary["notices"] == len(notices)
    assert result.exit_code == (1 if errors else 0)
    run = Run(result.exit_code, errors, notices, summary, result.stderr, index_dir)
    if index_dir.exists():
        ix = open_index(index_dir)
        with ix.searcher() as s:
            run.bodies = {d["id"]: d["body"] for d in s.all_stored_fields()}
        assert summary["articles"] == len(run.bodies)
    return run


def expect(lines: list[str], *expected: tuple[object, str]) -> None:
    """Each ``(where, fragment)`` is exactly one line ``where: …fragment…``; nothing else."""
    remaining = list(lines)
    for where, fragment in expected:
        found = [line for line in remaining if line.startswith(f"{where}: ") and fragment in line]
        assert len(found) == 1, f"{where}: {fragment!r} not once in:\n" + "\n".join(lines)
        remaining.remove(found[0])
    assert not remaining, "unexpected: " + "\n".join(remaining)


@pytest.fixture()
def folder(tmp_path) -> Path:
    """A corpus folder that already holds one good article."""
    path = tmp_path / "corpus"
    path.mkdir()
    (path / "good.txt").write_text(GOOD, "utf-8")
    return path


@pytest.fixture()
def alarm():
    """Fail, rather than hang, if a read blocks (a FIFO) or a walk loops."""

    def timeout(signum, frame):
        raise TimeoutError("searchkit index blocked for 120 s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def good_indexed(run: Run) -> None:
    assert GOOD.removeprefix("date 2020-01-02 ") in run.bodies.values()


# ---------------------------------------------------------------- encodings


def test_cp1252_and_latin1_are_decoded_with_a_notice(folder, tmp_path):
    text = "date 2021-05-06 L’État a décidé — « œuvre » à 5 € près"
    (folder / "cp1252.txt").write_bytes(text.encode("cp1252"))
    latin = "date 2021-05-07 Le garçon a mangé du pâté à Noël"
    (folder / "latin1.txt").write_bytes(latin.encode("latin-1"))
    # 0x81 has no character in cp1252: only Latin-1 can decode this one
    (folder / "latin1-c1.txt").write_bytes("date 2021-05-08 Déjà vu".encode("latin-1") + b" \x81")
    (folder / "cp1252.jsonl").write_bytes(
        '{"id": "w1", "date": "2020", "body": "Société générale"}\n'
        '{"id": "w2", "date": "2020", "body": "Hélène"}\n'.encode("cp1252")
    )
    run = index([folder], tmp_path / "ix")
    expect(
        run.notices,
        (folder / "cp1252.txt", "not UTF-8; decoded as Windows-1252 (cp1252)"),
        (folder / "latin1.txt", "not UTF-8; decoded as Windows-1252 (cp1252)"),
        (folder / "latin1-c1.txt", "not UTF-8; decoded as Latin-1 (ISO-8859-1)"),
        (f"{folder / 'cp1252.jsonl'}:1", "not UTF-8; decoded as Windows-1252 (cp1252)"),
    )
    assert run.exit_code == 0 and not run.errors
    bodies = set(run.bodies.values())
    assert {"L’État a décidé — « œuvre » à 5 € près", "Le garçon a mangé du pâté à Noël"} <= bodies
    assert "Déjà vu \x81" in bodies
    assert run.bodies["w1"] == "Société générale" and run.bodies["w2"] == "Hélène"
    good_indexed(run)


def test_utf8_with_bom_in_every_format(folder, tmp_path):
    bom = codecs.BOM_UTF8
    (folder / "bom.txt").write_bytes(bom + "date 2020-03-04 Élysée".encode())
    (folder / "bom.jsonl").write_bytes(
        bom + b'{"id": "j", "date": "2020", "body": "\xc3\xa9t\xc3\xa9"}\n'
    )
    (folder / "bom.csv").write_bytes(bom + "id,date,body\nc,2020-01-01,Hôtel\n".encode())
    (folder / "bom.json").write_bytes(bom + b'[{"id": "a", "date": "2020", "body": "tr\xc3\xa8s"}]')
    run = index([folder], tmp_path / "ix")
    assert run.exit_code == 0 and not run.errors and not run.notices
    assert run.bodies["j"] == "été" and run.bodies["c"] == "Hôtel" and run.bodies["a"] == "très"
    assert "Élysée" in run.bodies.values()


def test_invalid_utf8_sequences_are_replaced_with_a_notice(folder, tmp_path):
    """UTF-8 with a few bad bytes stays UTF-8 (accents intact), bad bytes become U+FFFD."""
    (folder / "bad.txt").write_bytes("date 2020 Élysée ".encode() + b"\xff\xfe" + " été".encode())
    lines = [
        b'{"id": "ok", "date": "2020", "body": "premi\xc3\xa8re"}',
        b'{"id": "bad", "date": "2020", "body": "a\xc3(b \xc3\xa9"}',
    ]
    (folder / "bad.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    run = index([folder], tmp_path / "ix")
    expect(
        run.notices,
        (folder / "bad.txt", "invalid UTF-8 byte sequence at byte 19; undecodable bytes replaced"),
        (f"{folder / 'bad.jsonl'}:2", "invalid UTF-8 byte sequence"),
    )
    assert "Élysée \ufffd\ufffd été" in run.bodies.values()
    assert run.bodies["ok"] == "première" and run.bodies["bad"] == "a\ufffd(b é"
    assert run.exit_code == 0


def test_unpaired_surrogates_from_json_escapes_are_replaced(folder, tmp_path):
    """``"\\ud800"`` is valid JSON but not encodable text: it used to crash the indexer."""
    (folder / "s.jsonl").write_text(
        '{"id": "s", "date": "2020", "title": "T \\udc80", "body": "a \\ud800 b"}\n'
    )
    run = index([folder], tmp_path / "ix")
    expect(
        run.notices,
        (f"{folder / 's.jsonl'}:1", "unpaired surrogates) in 'body' replaced with U+FFFD"),
        (f"{folder / 's.jsonl'}:1", "unpaired surrogates) in 'title' replaced with U+FFFD"),
    )
    assert run.bodies["s"] == "a \ufffd b"


# ---------------------------------------------------------------- files that are not corpus text


def test_empty_files(folder, tmp_path):
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.jsonl").write_text("\n  \n\n")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "blank.json").write_text("   \n")
    (folder / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    run = index([folder], tmp_path / "ix")
    expect(
        run.errors,
        *[
            (folder / name, "empty file")
            for name in ("empty.txt", "blank.jsonl", "empty.csv", "blank.json", "empty.jsonl.gz")
        ],
    )
    assert run.exit_code == 1 and run.summary["read"] == 1
    good_indexed(run)


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"


def test_binary_files(folder, tmp_path):
    (folder / "report.txt").write_bytes(
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>"
    )
    (folder / "photo.txt.gz").write_bytes(gzip.compress(PNG * 20))
    rng = random.Random(6)
    (folder / "noise.txt").write_bytes(rng.randbytes(3000))
    (folder / "noise.jsonl").write_bytes(rng.randbytes(3000).replace(b"\n", b" "))
    (folder / "noise.csv").write_bytes(bytes(rng.randrange(128, 256) for _ in range(500)))
    (folder / "ignored.pdf").write_bytes(b"%PDF-1.7 not read: unknown extension in a folder")
    photo = tmp_path / "photo.png"  # named on the command line: always read
    photo.write_bytes(PNG)
    run = index([folder, photo], tmp_path / "ix")
    binary = "binary file, not text"
    expect(
        run.errors,
        (folder / "report.txt", binary),
        (folder / "photo.txt.gz", binary),
        (folder / "noise.txt", binary),
        (folder / "noise.jsonl", binary),
        (folder / "noise.csv", binary),
        (photo, binary),
    )
    assert not run.notices and run.summary["read"] == 1
    good_indexed(run)


def test_unreadable_files(folder, tmp_path, monkeypatch, alarm):
    """A file that cannot be opened, a dangling link, a FIFO (a read would block forever).

    The tests run as root, for whom permissions do not stop a read: the failed
    open is simulated where the readers open files.
    """
    secret = folder / "secret.txt"
    secret.write_text(GOOD.replace("réforme", "secret"), "utf-8")
    (folder / "gone.jsonl").symlink_to(tmp_path / "deleted.jsonl")
    os.mkfifo(folder / "pipe.txt")
    real_open = open

    def denying_open(file, *args, **kwargs):
        if Path(file) == secret:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(readers, "open", denying_open, raising=False)
    run = index([folder], tmp_path / "ix")
    expect(
        run.errors,
        (secret, "unreadable: Permission denied"),
        (folder / "gone.jsonl", "broken symbolic link"),
        (folder / "pipe.txt", "not a regular file (FIFO, socket or device)"),
    )
    assert run.exit_code == 1 and run.summary["read"] == 1
    good_indexed(run)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_file_without_read_permission(folder, tmp_path):
    locked = folder / "locked.txt"
    locked.write_text(GOOD, "utf-8")
    locked.chmod(0)
    run = index([folder], tmp_path / "ix")
    expect(run.errors, (locked, "unreadable: Permission denied"))


def test_corrupt_gzip(folder, tmp_path):
    lines = b"".join(
        json.dumps({"id": f"z{i}", "body": f"dépêche numéro {i}"}).encode() + b"\n"
        for i in range(2000)
    )
    whole = gzip.compress(lines)
    (folder / "truncated.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "fake.jsonl.gz").write_text('{"id": "f", "body": "not compressed"}\n')
    damaged = bytearray(gzip.compress(GOOD.encode() * 50))
    damaged[30] ^= 0xFF
    (folder / "damaged.txt.gz").write_bytes(bytes(damaged))
    run = index([folder], tmp_path / "ix")
    expect(
        run.errors,
        (folder / "truncated.jsonl.gz", "corrupt or truncated gzip file after line"),
        (folder / "fake.jsonl.gz", "corrupt or truncated gzip file: named .gz but not gzip"),
        (folder / "damaged.txt.gz", "corrupt or truncated gzip file"),
    )
    kept = [k for k in run.bodies if k.startswith("z")]
    assert kept and len(kept) < 2000  # the records before the damage are kept
    assert all(run.bodies[k] == f"dépêche numéro {k[1:]}" for k in kept)
    good_indexed(run)


def test_symbolic_link_loops(folder, tmp_path, alarm):
    sub = folder / "sub"
    sub.mkdir()
    (sub / "inner.txt").write_text(GOOD.replace("réforme", "boucle"), "utf-8")
    (sub / "back").symlink_to(folder)  # a loop: sub/back/sub/back/…
    (folder / "a.txt").symlink_to(folder / "b.txt")  # two links pointing at each other
    (folder / "b.txt").symlink_to(folder / "a.txt")
    run = index([folder], tmp_path / "ix")
    expect(run.notices, (sub / "back", "symbolic link loop"))
    expect(
        run.errors,
        (folder / "a.txt", "symbolic link loop; skipped"),
        (folder / "b.txt", "symbolic link loop; skipped"),
    )
    assert run.summary["read"] == 2
    good_indexed(run)


def test_symbolic_link_loop_named_explicitly(folder, tmp_path, alarm):
    """Through the Python API (the CLI could refuse such a path up front as a usage error)."""
    (folder / "a.txt").symlink_to(folder / "b.txt")
    (folder / "b.txt").symlink_to(folder / "a.txt")
    problems = []
    report = index_corpus(
        [folder / "good.txt", folder / "a.txt"],
        tmp_path / "ix",
        entities=False,
        on_problem=problems.append,
    )
    assert [str(p) for p in problems] == [f"{folder / 'a.txt'}: symbolic link loop; skipped"]
    assert (report.read, report.rejected, report.articles) == (1, 1, 1)


# ---------------------------------------------------------------- bad records


def test_jsonl_with_bad_lines_in_the_middle(folder, tmp_path):
    f = folder / "feed.jsonl"
    lines = [
        json.dumps({"id": "first", "body": "avant"}),
        '{"id": "broken", "body": "une ligne coupée',
        "[1, 2, 3]",
        '"juste une chaîne"',
        "42",
        "null",
        "[" * 100_000,  # nesting deeper than the JSON parser's recursion limit
        '{"id": "huge", "body": "x", "n": ' + "9" * 5000 + "}",  # int beyond Python's limit
        json.dumps({"id": "dict", "body": {"fr": "texte"}}),
        json.dumps({"id": "list", "body": ["premier paragraphe", "second"], "title": 7}),
        json.dumps({"id": "last", "body": "après", "title": {"x": 1}}),
    ]
    f.write_text("\n".join(lines) + "\n", "utf-8")
    run = index([folder], tmp_path / "ix")
    expect(
        run.errors,
        (f"{f}:2", "malformed JSON: Invalid control character"),
        (f"{f}:3", "expected a JSON object, got list"),
        (f"{f}:4", "expected a JSON object, got str"),
        (f"{f}:5", "expected a JSON object, got int"),
        (f"{f}:6", "expected a JSON object, got NoneType"),
        (f"{f}:7", "malformed JSON: nested too deeply"),
        (f"{f}:8", "malformed JSON"),
        (f"{f}:9", "no body text (expected one of: body, text, content); 'body' holds a dict"),
    )
    expect(
        run.notices,
        *[(f"{f}:{n}", "no date; indexed without a date") for n in (1, 10, 11)],
        (f"{f}:11", "'title' holds a dict, not text; ignored"),
    )
    assert run.bodies["first"] == "avant" and run.bodies["last"] == "après"
    assert run.bodies["list"] == "premier paragraphe\n\nsecond"
    assert run.summary["read"] == 4 and run.summary["rejected"] == 8


def test_json_file_whose_value_is_not_an_object(folder, tmp_path):
    (folder / "string.json").write_text('"un article ?"')
    (folder / "number.json").write_text("3.14")
    (folder / "mixed.json").write_text(json.dumps([{"body": "bon"}, ["mauvais"], None]))
    (folder / "broken.json").write_text('[{"body": "x"},\n {"body": ]')
    run = index([folder], tmp_path / "ix")
    expect(
        run.errors,
        (f"{folder / 'string.json'}:1", "holds neither an object nor an array of objects (str)"),
        (f"{folder / 'number.json'}:1", "holds neither an object nor an array of objects"),
        (folder / "mixed.json", "record 2: expected a JSON object, got list"),
        (folder / "mixed.json", "record 3: expected a JSON object, got NoneType"),
        (f"{folder / 'broken.json'}:2", "malformed JSON: Expecting value"),
    )
    expect(run.notices, (folder / "mixed.json", "record 1: no date"))
    assert "bon" in run.bodies.values()


def test_csv_with_missing_or_extra_columns(folder, tmp_path):
    f = folder / "table.csv"
    f.write_text(
        "id,date,title,body\n"
        "c1,2020-01-01,Un,Premier article\n"
        "c2,2020-01-02,Deux\n"  # a column missing
        'c3,2020-01-03,Trois,"Texte, avec virgule",en trop\n'  # one too many
        'c4,2020-01-04,Quatre,"Sur deux\nlignes"\n'
        "c5,2020-01-05,Cinq,Dernier\n",
        "utf-8",
    )
    (folder / "excel.csv").write_text("id;titre;text\ne1;Point-virgule;Export à la française\n")
    run = index([folder], tmp_path / "ix")
    expect(
        run.errors,
        (f"{f}:3", "3 columns where the header has 4"),
        (f"{f}:4", "5 columns where the header has 4"),
    )
    expect(run.notices, (f"{folder / 'excel.csv'}:2", "no date"))
    assert run.bodies["c1"] == "Premier article" and run.bodies["c4"] == "Sur deux\nlignes"
    assert run.bodies["c5"] == "Dernier" and run.bodies["e1"] == "Export à la française"


def test_records_without_body_are_rejected(folder, tmp_path):
    (folder / "a.jsonl").write_text(
        '{"id": "t", "title": "Titre seul", "date": "2020"}\n{"id": "e", "body": "   "}\n'
    )
    (folder / "header-only.txt").write_text("date 2020-01-01\n\n")
    (folder / "b.csv").write_text("id,title,body\nx,Titre,\n")
    run = index([folder], tmp_path / "ix")
    no_body = "no body text (expected one of: body, text, content)"
    expect(
        run.errors,
        (f"{folder / 'a.jsonl'}:1", no_body),
        (f"{folder / 'a.jsonl'}:2", no_body),
        (f"{folder / 'header-only.txt'}:1", "no body text after the date header"),
        (f"{folder / 'b.csv'}:2", no_body),
    )
    assert run.exit_code == 1 and list(run.bodies.values()) == [GOOD[16:]]


def test_missing_impossible_or_worded_dates(folder, tmp_path):
    f = folder / "dates.jsonl"
    records = [
        {"id": "none", "body": "sans date"},
        {"id": "impossible", "body": "date impossible", "date": "2023-13-45"},
        {"id": "words", "body": "date en lettres", "date": "douze mars deux mille vingt"},
        {"id": "number", "body": "date nombre", "date": 2021},
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    (folder / "words.txt").write_text("date hier Un article daté en toutes lettres.", "utf-8")
    (folder / "undated.txt").write_text("Un article sans en-tête de date.", "utf-8")
    run = index([folder], tmp_path / "ix")
    expect(
        run.notices,
        (f"{f}:1", "no date; indexed without a date"),
        (f"{f}:2", "unusable date '2023-13-45'; indexed without a date"),
        (f"{f}:3", "unusable date 'douze mars deux mille vingt'; indexed without a date"),
        (f"{folder / 'words.txt'}:1", "unusable date 'hier'; indexed without a date"),
        (f"{folder / 'undated.txt'}:1", "header; indexed without a date"),
    )
    assert run.exit_code == 0 and run.summary["articles"] == 7
    runner = CliRunner()
    shown = json.loads(
        runner.invoke(cli, ["show", "impossible", "--index", str(run.index), "--json"]).stdout
    )
    assert shown["date"] is None
    stats = json.loads(runner.invoke(cli, ["stats", "--index", str(run.index), "--json"]).stdout)
    assert stats["undated"] == 5  # all but good.txt and the year 2021


def test_duplicate_ids_in_one_file_the_last_one_wins(folder, tmp_path):
    f = folder / "dup.jsonl"
    f.write_text(
        "\n".join(
            json.dumps({"id": i, "date": "2020", "body": b})
            for i, b in [("d", "version 1"), ("e", "autre"), ("d", "version 2"), ("d", "v3")]
        ),
        "utf-8",
    )
    run = index([folder], tmp_path / "ix")
    expect(
        run.notices,
        (f"{f}:3", "duplicate id 'd' in this file; the last one wins"),
        (f"{f}:4", "duplicate id 'd' in this file; the last one wins"),
    )
    assert run.bodies["d"] == "v3" and run.summary["articles"] == 3


def test_duplicate_ids_across_runs_are_updated_never_doubled(folder, tmp_path):
    f = folder / "feed.jsonl"
    f.write_text('{"id": "x", "date": "2020", "body": "première version"}\n', "utf-8")
    first = index([folder], tmp_path / "ix")
    assert first.summary["added"] == 2
    again = index([folder], tmp_path / "ix")
    assert (again.summary["added"], again.summary["unchanged"], again.summary["articles"]) == (
        0,
        2,
        2,
    )
    f.write_text('{"id": "x", "date": "2020", "body": "seconde version"}\n', "utf-8")
    other = folder / "copy.jsonl"  # the same id from another file, in another run
    other.write_text('{"id": "x", "date": "2020", "body": "troisième version"}\n', "utf-8")
    third = index([folder / "good.txt", f], tmp_path / "ix")
    assert (third.summary["updated"], third.summary["articles"]) == (1, 2)
    fourth = index([other], tmp_path / "ix")
    assert (fourth.summary["updated"], fourth.summary["articles"]) == (1, 2)
    assert fourth.bodies["x"] == "troisième version"


# ---------------------------------------------------------------- size


def big_french_text(chars: int) -> str:
    """Sentences of long words (fewer tokens per megabyte, faster), naming people and places."""
    sentences = [
        "Le président Emmanuel Macron rencontrait les parlementaires marseillais à Marseille.",
        "Les négociations intergouvernementales reprennent extraordinairement à Bruxelles.",
        "Anticonstitutionnellement, l’administration prolongeait les consultations "
        "interministérielles.",
        "Les réglementations environnementales concernant les télécommunications évoluent.",
    ]
    rng = random.Random(20)
    out, size = [], 0
    while size < chars:
        sentence = rng.choice(sentences)
        out.append(sentence)
        size += len(sentence) + 1
    return " ".join(out)[:chars]


@pytest.fixture(scope="module")
def text_20mb() -> str:
    return big_french_text(20_000_000)


def test_20_mb_article_in_every_format_is_read_whole(tmp_path, text_20mb):
    """The readers take a 20 MB record in a text file, a JSON Lines line and a CSV field."""
    (tmp_path / "big.txt").write_text("date 2021-03-04 " + text_20mb, "utf-8")
    (tmp_path / "big.jsonl").write_text(json.dumps({"id": "j", "body": text_20mb}) + "\n")
    (tmp_path / "big.csv").write_text(f'id,body\nc,"{text_20mb}"\nd,petit\n', "utf-8")
    records = list(read_corpus([tmp_path / n for n in ("big.txt", "big.jsonl", "big.csv")]))
    assert not [r for r in records if isinstance(r, CorpusError)]
    articles = [r for r in records if isinstance(r, Article)]
    assert [len(a.body) for a in articles] == [len(text_20mb.strip())] * 3 + [5]
    assert all(len(a.title) <= 141 for a in articles)


def test_20_mb_article_is_indexed_with_bounded_entity_extraction(tmp_path, text_20mb):
    """The one test that runs the entity model: it reads the first 100,000 characters."""
    (tmp_path / "big.jsonl").write_text(
        json.dumps({"id": "big", "date": "2021-03-04", "body": text_20mb}) + "\n"
    )
    run = index([tmp_path / "big.jsonl"], tmp_path / "ix", entities=True)
    assert run.exit_code == 0 and run.summary["added"] == 1 and not run.notices
    assert run.bodies["big"] == text_20mb
    shown = json.loads(
        CliRunner().invoke(cli, ["show", "big", "--index", str(run.index), "--json"]).stdout
    )
    assert "Emmanuel Macron" in shown["entities"].get("person", [])
    found = CliRunner().invoke(cli, ["search", "macron", "--index", str(run.index), "--json"])
    assert found.exit_code == 0 and json.loads(found.stdout)["total"] == 1


def test_snippet_of_a_huge_article_reads_a_bounded_part(text_20mb, monkeypatch):
    """Work bound, not time: the snippet of a 20 MB body analyses at most ~100,000 characters."""
    import searchkit.snippets as snippets

    analysed = []
    analyzer = snippets._ANALYZER

    class Counting:
        def term_spans(self, text, wanted):
            analysed.append(len(text))
            yield from analyzer.term_spans(text, wanted)

    monkeypatch.setattr(snippets, "_ANALYZER", Counting())
    snippet = snippets.make_snippet(text_20mb, {"gouvernemental"})
    assert snippet.text and analysed and max(analysed) <= 200_000


def test_one_megabyte_single_line(folder, tmp_path):
    line = big_french_text(1_000_000).replace(".", ",")  # no sentence end: no short title
    (folder / "line.txt").write_text("date 2022-02-02 " + line, "utf-8")
    (folder / "line.jsonl").write_text(json.dumps({"id": "l", "body": line}) + "\n", "utf-8")
    (folder / "word.txt").write_text("date 2022 " + "x" * 1_000_000, "utf-8")  # one 1 MB word
    run = index([folder], tmp_path / "ix")
    assert run.exit_code == 0 and run.summary["articles"] == 4
    assert run.bodies["l"] == line.strip()
    titles = CliRunner().invoke(cli, ["search", "reglementations", "--index", str(run.index)])
    assert titles.exit_code == 0
    ix = open_index(run.index)
    with ix.searcher() as s:
        assert all(len(d["title"]) <= 141 for d in s.all_stored_fields())


def make_tiny_files(root: Path, count: int) -> None:
    """``count`` tiny text articles, 100 to a folder, folders nested two deep."""
    for i in range(count):
        if i % 100 == 0:
            folder = root / f"{i // 10_000:02d}" / f"{i // 100 % 100:02d}"
            folder.mkdir(parents=True)
        fd = os.open(folder / f"{i:06d}.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, f"date 2020-01-{i % 28 + 1:02d} Brève numéro {i}.".encode())
        os.close(fd)


def test_100000_tiny_files_are_walked_and_streamed(tmp_path, monkeypatch):
    """The reader walks 100,000 files in nested folders one at a time, in a stable order.

    Streaming: when the 50,000th article comes out, 50,000 files have been
    opened, not 100,000; and the consumer here keeps nothing.
    """
    root = tmp_path / "many"
    make_tiny_files(root, 100_000)
    opened = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        opened.append(1)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(readers, "open", counting_open, raising=False)
    count, ids, last = 0, set(), ""
    for record in read_corpus([root]):
        assert isinstance(record, Article), record
        count += 1
        if count == 50_000:
            assert len(opened) == 50_000
        assert record.origin.path > last  # name order: 00/00/000000.txt, 00/00/000001.txt …
        last = record.origin.path
        ids.add(record.id)
    assert count == len(ids) == 100_000


def test_2000_tiny_files_are_indexed_end_to_end(tmp_path):
    root = tmp_path / "many"
    make_tiny_files(root, 2000)
    run = index([root], tmp_path / "ix")
    assert run.exit_code == 0 and not run.errors and not run.notices
    assert run.summary["read"] == run.summary["added"] == run.summary["articles"] == 2000
    again = index([root], tmp_path / "ix")
    assert again.summary["unchanged"] == again.summary["articles"] == 2000


# ---------------------------------------------------------------- exit status and summary


def test_exit_status_0_when_everything_was_indexed(folder, tmp_path):
    run = index([folder], tmp_path / "ix")
    assert run.exit_code == 0 and run.summary["read"] == 1


@pytest.mark.parametrize(
    "args",
    [
        ["index"],
        ["index", "corpus", "--jobs", "0"],
        ["index", "corpus", "--skip-field", "date"],
        ["index", "corpus", "--no-such-option"],
    ],
)
def test_exit_status_2_for_usage_errors(tmp_path, args):
    result = CliRunner().invoke(cli, [*args, "--index", str(tmp_path / "ix")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")


def test_a_path_that_does_not_exist_is_a_usage_error(folder, tmp_path):
    result = CliRunner().invoke(
        cli, ["index", str(folder), str(tmp_path / "typo"), "--index", str(tmp_path / "ix")]
    )
    assert result.exit_code == 2 and "typo" in result.stderr
    assert not (tmp_path / "ix").exists()


def test_everything_at_once_counts_match(folder, tmp_path, alarm):
    """One messy archive with every kind of problem: lines, counts and index agree."""
    files = {
        "cp.txt": "date 2020 Café crème".encode("cp1252"),
        "bom.txt": codecs.BOM_UTF8 + b"date 2020 Avec BOM",
        "bad.txt": b"date 2020 caf\xc3\xa9 \xff",
        "empty.txt": b"",
        "doc.txt": b"%PDF-1.4\x00",
        "z.jsonl.gz": gzip.compress(b'{"id": "g1", "body": "ok"}\n' * 3)[:25],
        "mixed.jsonl": b'{"id": "m1", "body": "un"}\n{oops\n[]\n{"id": "m2"}\n',
        "d.jsonl": b'{"id": "d", "body": "1"}\n{"id": "d", "body": "2", "date": "2023-13-45"}\n',
        "t.csv": b"id,body\nc1,un\nc2\nc3,trois,trop\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "loop").symlink_to(folder)
    run = index([folder], tmp_path / "ix")
    mixed, d, t = (f"{folder / name}" for name in ("mixed.jsonl", "d.jsonl", "t.csv"))
    expect(
        run.errors,
        (folder / "empty.txt", "empty file"),
        (folder / "doc.txt", "binary file"),
        (folder / "z.jsonl.gz", "corrupt or truncated gzip file"),
        (f"{mixed}:2", "malformed JSON"),
        (f"{mixed}:3", "expected a JSON object"),
        (f"{mixed}:4", "no body text"),
        (f"{t}:3", "1 columns where the header has 2"),
        (f"{t}:4", "3 columns where the header has 2"),
    )
    expect(
        run.notices,
        (folder / "cp.txt", "decoded as Windows-1252"),
        (folder / "bad.txt", "invalid UTF-8"),
        (folder / "loop", "symbolic link loop"),
        (f"{mixed}:1", "no date"),
        (f"{d}:1", "no date"),
        (f"{d}:2", "unusable date"),
        (f"{d}:2", "duplicate id 'd'"),
        (f"{t}:2", "no date"),
    )
    assert run.exit_code == 1
    assert run.summary == {
        "read": 8,  # d twice
        "added": 7,
        "updated": 0,
        "unchanged": 0,
        "rejected": 8,
        "notices": 8,
        "articles": 7,
    }
    assert set(run.bodies) >= {"m1", "d", "c1"} and run.bodies["d"] == "2"
    assert {"Café crème", "Avec BOM", "café \ufffd"} <= set(run.bodies.values())
