"""Readers: every format to Article values; bad records as CorpusError values."""

import gzip
import json
from pathlib import Path

import pytest

from searchkit.errors import CorpusError
from searchkit.model import Article, Notice
from searchkit.readers import derive_title, read_corpus

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed-article.txt"


def split(records):
    arts = [r for r in records if isinstance(r, Article)]
    errs = [r for r in records if isinstance(r, CorpusError)]
    notes = [r for r in records if isinstance(r, Notice)]
    return arts, errs, notes


def test_seed_article_parses():
    if not SEED.exists():
        pytest.skip("../shared/seed-article.txt is absent")
    arts, errs, _ = split(list(read_corpus([SEED])))
    assert not errs and len(arts) == 1
    art = arts[0]
    assert str(art.date) == "2023-09" and art.date.precision == "month"
    assert art.title.startswith("Le dictateur nord-coréen Kim Jong Un") and art.title_derived
    assert "Greg Norman" in art.body and not art.body.startswith("date")


def test_text_with_headline(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("date 2019-04-15 Incendie à Notre-Dame\n\nLa flèche s’est effondrée.\n", "utf-8")
    [art] = read_corpus([f])
    assert art.title == "Incendie à Notre-Dame" and not art.title_derived
    assert art.body == "La flèche s’est effondrée." and str(art.date) == "2019-04-15"


def test_ids_stable_and_distinct(tmp_path):
    (tmp_path / "x").mkdir()
    for name in ("x/a.txt", "b.txt"):
        (tmp_path / name).write_text("date 2020 Texte.", "utf-8")
    first = [a.id for a in read_corpus([tmp_path])]
    again = [a.id for a in read_corpus([tmp_path / "x", tmp_path / "b.txt"])]
    assert len(set(first)) == 2 and sorted(first) == sorted(again)


def test_jsonl_fields_and_bad_lines(tmp_path):
    f = tmp_path / "a.jsonl"
    lines = [
        json.dumps(
            {
                "id": "1",
                "title": "T",
                "text": "corps",
                "published": "2020-01-02",
                "abstract": "chapo",
                "url": "u",
                "source": "s",
            }
        ),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"id": "3", "body": "  "}),
        json.dumps({"id": "4", "content": "sans date"}),
        "",
        json.dumps({"id": "5", "body": "date bizarre", "date": "2023-13-45"}),
    ]
    f.write_text("\n".join(lines), "utf-8")
    arts, errs, notes = split(list(read_corpus([f])))
    assert [a.id for a in arts] == ["1", "4", "5"]
    a = arts[0]
    assert (a.title, a.body, a.lead, a.url, a.source, str(a.date)) == (
        "T",
        "corps",
        "chapo",
        "u",
        "s",
        "2020-01-02",
    )
    assert [str(e) for e in errs] == [
        f"{f}:2: malformed JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{f}:3: expected a JSON object, got list",
        f"{f}:4: no body text (expected one of: body, text, content)",
    ]
    assert [str(n) for n in notes] == [
        f"{f}:5: no date; indexed without a date",
        f"{f}:7: unusable date '2023-13-45'; indexed without a date",
    ]
    assert arts[1].date is None and arts[1].title == "sans date" and arts[1].title_derived


def test_json_array_and_csv(tmp_path):
    j = tmp_path / "a.json"
    j.write_text(json.dumps([{"body": "un", "date": "2021"}, "x", {"body": "deux"}]), "utf-8")
    c = tmp_path / "b.csv"
    c.write_text(
        "id,title,body,date\n1,Titre,Texte un,2020-05\n2,Trop,de,colonnes,ici\n"
        '3,Court\n4,T4,"Texte, avec virgule",2020-06-01\n',
        "utf-8",
    )
    arts, errs, _ = split(list(read_corpus([j, c])))
    assert [a.body for a in arts] == ["un", "deux", "Texte un", "Texte, avec virgule"]
    assert [str(e) for e in errs] == [
        f"{j}: record 2: expected a JSON object, got str",
        f"{c}:3: 5 columns where the header has 4",
        f"{c}:4: 2 columns where the header has 4",
    ]


def test_gzip_and_corrupt_gzip(tmp_path):
    good = tmp_path / "a.jsonl.gz"
    with gzip.open(good, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "g", "body": "compressé"}) + "\n")
    bad = tmp_path / "b.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"id": "x", "body": "y"}\n' * 50)[:40])
    arts, errs, _ = split(list(read_corpus([good, bad])))
    # the lines decoded before the damage are kept; the error says where it stopped
    assert arts[0].id == "g" and {a.id for a in arts[1:]} <= {"x"}
    assert len(errs) == 1 and str(errs[0]).startswith(f"{bad}: corrupt or truncated gzip")


def test_encodings(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffdate 2020 Élysée".encode())
    cp = tmp_path / "cp.txt"
    cp.write_bytes("date 2020 L’État a décidé".encode("cp1252"))
    arts, errs, notes = split(list(read_corpus([bom, cp])))
    assert not errs and [a.body for a in arts] == ["Élysée", "L’État a décidé"]
    assert [str(n) for n in notes] == [f"{cp}: not UTF-8; decoded as Windows-1252 (cp1252)"]


def test_binary_empty_missing_and_symlink_loop(tmp_path):
    (tmp_path / "doc.txt").write_bytes(b"%PDF-1.4\x00\x01binary")
    (tmp_path / "empty.txt").write_text("", "utf-8")
    (tmp_path / "ok.txt").write_text("date 2022-02-24 Invasion.", "utf-8")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "notes.md").write_text("ignored in folder walks", "utf-8")
    arts, errs, _ = split(list(read_corpus([tmp_path, tmp_path / "nope.txt"])))
    assert [a.body for a in arts] == ["Invasion."]
    messages = sorted(str(e) for e in errs)
    assert messages == sorted(
        [
            f"{tmp_path / 'doc.txt'}: binary file, not text (PDF, image or other?); skipped",
            f"{tmp_path / 'empty.txt'}: empty file",
            f"{tmp_path / 'nope.txt'}: no such file or folder",
        ]
    )


def test_text_without_header_or_with_bad_date(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("Un texte sans en-tête.", "utf-8")
    b = tmp_path / "b.txt"
    b.write_text("date 2023-13-45 Date impossible.", "utf-8")
    c = tmp_path / "c.txt"
    c.write_text("date 2023-01-01   \n", "utf-8")
    arts, errs, notes = split(list(read_corpus([a, b, c])))
    assert [(x.body, x.date) for x in arts] == [
        ("Un texte sans en-tête.", None),
        ("Date impossible.", None),
    ]
    assert [str(e) for e in errs] == [f"{c}:1: no body text after the date header"]
    assert len(notes) == 2


def test_duplicate_ids_in_one_file_give_a_notice(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps({"id": "same", "body": b}) for b in ("v1", "v2")), "utf-8")
    arts, _, notes = split(list(read_corpus([f])))
    assert [a.body for a in arts] == ["v1", "v2"]
    dup = [str(n) for n in notes if "duplicate" in n.message]
    assert dup == [f"{f}:2: duplicate id 'same' in this file; the last one wins"]


@pytest.mark.parametrize(
    "body, title",
    [
        ("Le président a parlé. Puis il est parti.", "Le président a parlé."),
        (
            "Court. Suite de la phrase bien plus longue que vingt caractères.",
            "Court. Suite de la phrase bien plus longue que vingt caractères.",
        ),
        ("\n\n  Première ligne\nDeuxième ligne", "Première ligne"),
    ],
)
def test_derive_title(body, title):
    assert derive_title(body) == title
