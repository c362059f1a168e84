"""The CLI: exit codes, one-line errors, JSON shapes, as a user meets them."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchkit.cli import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-ix")
    result = CliRunner().invoke(
        cli,
        ["index", str(ROOT / "corpus"), "--index", str(path), "--no-entities"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return path


def test_index_summary_and_rerun_is_unchanged(runner, cli_index):
    result = runner.invoke(
        cli,
        ["index", str(ROOT / "corpus"), "--index", str(cli_index), "--no-entities"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "added 0, updated 0, unchanged" in result.stderr and "rejected 0" in result.stderr


def test_search_json_shape(runner, cli_index):
    result = runner.invoke(
        cli,
        [
            "search",
            "coree du nord",
            "--index",
            str(cli_index),
            "--json",
            "--facets",
            "--limit",
            "3",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert set(doc) >= {"query", "total", "hits", "facets"}
    hit = doc["hits"][0]
    assert set(hit) >= {
        "id",
        "title",
        "date",
        "score",
        "snippet",
        "highlights",
        "source",
        "url",
        "entities",
    }
    for start, end in hit["highlights"]:
        assert hit["snippet"][start:end].lower() in {"corée", "nord"}
    assert "month" in doc["facets"]


def test_search_text_output_marks_highlights(runner, cli_index):
    result = runner.invoke(
        cli, ["search", "Thunberg", "--index", str(cli_index), "--no-color"], catch_exceptions=False
    )
    assert result.exit_code == 0 and "[Thunberg]" in result.stdout
    assert "article(s) found" in result.stdout


def test_show_and_stats_json(runner, cli_index):
    found = json.loads(
        runner.invoke(cli, ["search", "Thunberg", "--index", str(cli_index), "--json"]).stdout
    )
    article_id = found["hits"][0]["id"]
    shown = json.loads(
        runner.invoke(cli, ["show", article_id, "--index", str(cli_index), "--json"]).stdout
    )
    assert shown["id"] == article_id and "Thunberg" in shown["body"]
    stats = json.loads(runner.invoke(cli, ["stats", "--index", str(cli_index), "--json"]).stdout)
    assert stats["articles"] >= 40


def test_analyze(runner):
    result = runner.invoke(cli, ["analyze", "L’ÉLYSÉE", "--json"], catch_exceptions=False)
    terms = json.loads(result.stdout)
    assert (
        terms["text"]
        == json.loads(runner.invoke(cli, ["analyze", "elysee", "--json"]).stdout)["text"]
    )
    assert terms["entity"] == ["elysee"]


def test_missing_index_is_one_line_error(runner, tmp_path):
    result = runner.invoke(cli, ["search", "x", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f'Error: {tmp_path / "none"}/: no index here; run "searchkit index corpus/" first'
    ]


def test_unknown_id(runner, cli_index):
    result = runner.invoke(cli, ["show", "nope", "--index", str(cli_index)])
    assert result.exit_code == 1 and result.stderr.startswith("Error: no article with id")


@pytest.mark.parametrize(
    "args",
    [
        ["search", "x", "--from", "2023-13-45"],
        ["search", "x", "--to", "hier"],
        ["search", "x", "--limit", "0"],
        ["search"],
        ["index"],
    ],
)
def test_usage_errors_exit_2(runner, cli_index, args):
    result = runner.invoke(cli, [*args, "--index", str(cli_index)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_bad_records_exit_1_and_rest_indexed(runner, tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "good.txt").write_text("date 2020-01-01 Bon article.", "utf-8")
    (corpus / "bad.jsonl").write_text('{"id": "1", "body": "ok"}\n{oops\n', "utf-8")
    result = runner.invoke(
        cli, ["index", str(corpus), "--index", str(tmp_path / "ix"), "--no-entities"]
    )
    assert result.exit_code == 1
    assert f"error: {corpus / 'bad.jsonl'}:2: malformed JSON" in result.stderr
    assert "read 2, added 2, updated 0, unchanged 0, rejected 1" in result.stderr


def test_env_var_sets_index(runner, cli_index, monkeypatch):
    monkeypatch.setenv("SEARCHKIT_INDEX", str(cli_index))
    result = runner.invoke(cli, ["stats", "--json"], catch_exceptions=False)
    assert json.loads(result.stdout)["index"] == str(cli_index)


def test_filter_only_search_without_query(runner, cli_index):
    result = runner.invoke(
        cli,
        ["search", "--from", "2024", "--index", str(cli_index), "--json"],
        catch_exceptions=False,
    )
    dates = [h["date"] for h in json.loads(result.stdout)["hits"]]
    assert dates and all(d.startswith("2024") for d in dates)


def test_batch_prints_a_trec_run(runner, cli_index, tmp_path):
    queries = tmp_path / "q.tsv"
    queries.write_text("q1\tcoree du nord\nq2\tThunberg\n\nq3\tzzzyxw\n", "utf-8")
    result = runner.invoke(
        cli,
        ["search", "--batch", str(queries), "--limit", "2", "--index", str(cli_index)],
        catch_exceptions=False,
    )
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [r[0] for r in rows] == ["q1", "q1", "q2", "q2"]
    assert all(r[1] == "Q0" and r[5] == "searchkit" for r in rows)
    assert [r[3] for r in rows] == ["1", "2", "1", "2"]
    assert float(rows[0][4]) >= float(rows[1][4])


def test_batch_rejects_a_line_without_tab(runner, cli_index):
    result = runner.invoke(
        cli, ["search", "--batch", "-", "--index", str(cli_index)], input="just words\n"
    )
    assert result.exit_code == 2 and "--batch line 1" in result.stderr


def test_skip_field_option(runner, tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text(
        '{"id": "1", "title": "Chevaux", "abstract": "licorne", "body": "texte"}\n', "utf-8"
    )
    ix = tmp_path / "ix"
    runner.invoke(
        cli,
        ["index", str(f), "--index", str(ix), "--no-entities", "--skip-field", "lead"],
        catch_exceptions=False,
    )
    hits = json.loads(
        runner.invoke(cli, ["search", "licorne", "--index", str(ix), "--json"]).stdout
    )
    assert hits["total"] == 0
    hits = json.loads(
        runner.invoke(cli, ["search", "chevaux", "--index", str(ix), "--json"]).stdout
    )
    assert hits["total"] == 1


def test_python_m_and_no_spacy_when_searching(cli_index):
    """`python -m searchkit` works, and a search never imports spaCy (cold start)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from searchkit.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['search', 'Macron', '--index', {str(cli_index)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'spacy' not in sys.modules, 'spaCy imported by a search'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    out = subprocess.run(
        [sys.executable, "-m", "searchkit", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "search" in out.stdout and "index" in out.stdout
