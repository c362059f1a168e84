"""Tests of the French analysis chains: the table of docs/FRENCH.md, offsets, pickling."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.analysis import Analyzer
from whoosh.highlight import ContextFragmenter, UppercaseFormatter, highlight

from searchkit.analysis import (
    ANALYSIS_VERSION,
    CHAINS,
    FrenchAnalyzer,
    _words,
    analyze,
    entity_analyzer,
    entity_key,
    exact_analyzer,
    text_analyzer,
)
from searchkit.analysis import tokenizers as tk
from searchkit.analysis.french import ELIDED, NEVER_STOP, STOP_WORDS
from searchkit.analysis.stemmer import stem

WIKINEWS = Path("/work/shared/data/wikinews-fr-100/articles.jsonl")

# A paragraph with curly apostrophes, œ, no-break spaces, hyphens of several kinds,
# an acronym, a line-break hyphen, a soft hyphen and a decomposed accent.
PARAGRAPH = (
    "L’Ukraine et la Corée du Nord : l’œuvre coûte 12\u00a0500 euros aux États-Unis,"
    " aujourd’hui. Jusqu’à hier, la S.N.C.F. et l'ONU (COVID\u201119) ont vu 3,5 %"
    " des Nord-Coréennes qu’il a rencontrées, presqu’île, prud’hommes, ﬁnance, 1er,"
    " XIXe siècle ; le gou-\nvernement du pre\u00admier ministre, Core\u0301e, O’Neill."
)


class Row(NamedTuple):
    """One row of the FRENCH.md table: document and query forms must give ``terms``."""

    id: str
    documents: list[str]
    queries: list[str]
    terms: list[str]
    query_terms: list[str] | None = None  # when the typed query is shorter


TABLE = [
    Row("01-curly-elision", ["l’Ukraine"], ["Ukraine"], ["ukrain"]),
    Row("02-upper-elision", ["L’UKRAINE"], ["ukraine"], ["ukrain"]),
    Row("03-modifier-apostrophe", ["lʼUkraine"], ["l'Ukraine"], ["ukrain"]),
    Row("04-jusqu", ["jusqu’à Kiev"], ["Kiev"], ["kiev"]),
    Row("05-lorsqu-qu-puisqu", ["lorsqu’elle", "qu’il", "puisqu’on"], [], []),
    Row("06-aujourdhui", ["aujourd’hui"], ["aujourd'hui", "aujourdhui"], ["aujourdhui"]),
    Row(
        "07-elision-exceptions",
        ["quelqu’un presqu’île prud’hommes"],
        ["quelqu'un presqu'ile prudhommes"],
        ["quelquun", "presquil", "prudhom"],
    ),
    Row("08-hyphen", ["nord-coréen"], ["nord coréen", "nord coreen"], ["nord", "coreen"]),
    Row("09-plural-feminine", ["Nord-Coréens", "nord-coréennes"], ["nord-coréen"],
        ["nord", "coreen"]),
    Row("10-oe-ligature", ["œuvre", "Œuvre"], ["oeuvre"], ["oeuvr"]),
    Row("11-main-doeuvre", ["main-d’œuvre"], ["main d'oeuvre"], ["main", "oeuvr"]),
    Row("12-etats-unis", ["États-Unis", "ÉTATS-UNIS"], ["Etats-Unis", "etats unis"],
        ["etat", "unis"]),
    Row("13-accents", ["coût Noël naïf"], ["cout noel naif"], ["cout", "noel", "naif"]),
    Row("14-elysee", ["Élysée"], ["elysee"], ["elys"]),
    Row("15-acronyms", ["U.S.A., S.N.C.F."], ["USA sncf"], ["usa", "sncf"]),
    Row("16-capitals", ["LA CORÉE DU NORD TIRE"], ["Corée du Nord"], ["core", "nord", "tire"],
        ["core", "nord"]),
    Row("17-aux-al", ["journaux chevaux"], ["journal cheval"], ["journal", "cheval"]),
    Row("18-plural-x", ["jeux hiboux"], ["jeu hibou"], ["jeu", "hibou"]),
    Row("19-feminine-plural", ["présidentes", "présidents"], ["président"], ["president"]),
    Row("20-avions-kept", ["les avions"], ["avion"], ["avion"]),
    Row("21-ete-est-kept", ["l'été à l'Est"], ["été est"], ["ete", "est"]),
    Row("22-hier-unstemmed", ["hier"], ["hier"], ["hier"]),
    Row("23-ordinals", ["1er XIXe siècle"], ["1er xixe"], ["1er", "xixe", "siecl"],
        ["1er", "xixe"]),
    Row("24-numbers", ["3,5 % 5 missiles"], ["3,5 5"], ["3,5", "5", "missil"], ["3,5", "5"]),
    Row("25-nbsp-thousands", ["12\u00a0500 euros"], ["12500 euros"], ["12500", "euro"]),
    Row("26-fi-ligature", ["\ufb01nance"], ["finance"], ["financ"]),
    Row("27-nb-hyphen", ["COVID\u201119"], ["covid-19"], ["covid", "19"]),
    Row("28-line-break-hyphen", ["gou-\nvernement"], ["gouvernement"], ["gouvernement"]),
]  # fmt: skip


@pytest.mark.parametrize("row", TABLE, ids=[row.id for row in TABLE])
def test_french_table_text_chain(row: Row) -> None:
    for document in row.documents:
        assert analyze(document) == row.terms, document
    expected = row.terms if row.query_terms is None else row.query_terms
    for query in row.queries:
        assert analyze(query) == expected, query


EXTRA = [
    ("dotted-thousands", "100.000 euros", ["100000", "euro"]),
    ("thin-space-thousands", "100\u2009000 euros", ["100000", "euro"]),
    ("version-number", "Web 2.0", ["web", "2.0"]),
    ("euphonic-t", "explique-t-elle", ["expliqu"]),
    ("double-elision", "qu’aujourd’hui", ["aujourdhui"]),
    ("soft-hyphen", "pre\u00admier", ["premi"]),
    ("combining-accent", "Core\u0301e", ["core"]),
    ("roman-ordinal", "XVIIIe", ["xviiie"]),
    ("superscript-ordinal", "1ᵉʳ", ["1er"]),
    ("not-an-elision", "O’Neill", ["o'neill"]),
    ("acronym-after-elision", "l’O.N.U.", ["onu"]),
    ("capitalised-hyphen-at-line-end", "Jean-\nPierre", ["jean", "pier"]),
]


@pytest.mark.parametrize(("text", "terms"), [e[1:] for e in EXTRA], ids=[e[0] for e in EXTRA])
def test_more_french_forms(text: str, terms: list[str]) -> None:
    assert analyze(text) == terms


@pytest.mark.parametrize("junk", sorted(ELIDED))
def test_no_elided_article_survives(junk: str) -> None:
    """Row 5 in general: no elided form becomes a term of its own."""
    for text in (f"{junk}’Emmanuel", f"{junk.upper()}'EMMANUEL", f"{junk}ʼEmmanuel"):
        assert analyze(text) == ["emmanuel"], text


def test_row_29_prefix_needs_the_exact_chain() -> None:
    """The exact chain keeps ``gouvernement`` whole, so ``gouvernem*`` can match it."""
    assert analyze("gouvernement", chain="exact") == ["gouvernement"]
    assert analyze("gouvernement", chain="exact")[0].startswith("gouvernem")
    assert analyze("gouvernement") != ["gouvernem"]
    assert analyze("Gouvernements", chain="exact") == ["gouvernements"]


@pytest.mark.parametrize("name", ["Kim Jong-un", "KIM JONG UN", "kim jong-un", "kim jong un"])
def test_row_30_entity_key(name: str) -> None:
    assert entity_key(name) == "kim jong un"
    assert analyze(name, chain="entity") == ["kim jong un"]


def test_entity_chain_one_term_per_name() -> None:
    terms = analyze("Kim Jong-un, Emmanuel Macron ,, L’Élysée", chain="entity")
    assert terms == ["kim jong un", "emmanuel macron", "elysee"]
    assert analyze(", ".join(terms), chain="entity") == terms  # keys are idempotent


@pytest.mark.parametrize(
    ("forms", "term"),
    [
        (["journaux", "journal"], "journal"),
        (["chevaux", "cheval"], "cheval"),
        (["jeux", "jeu"], "jeu"),
        (["hiboux", "hibou"], "hibou"),
        (["présidentes", "présidents", "président", "présidente"], "president"),
        (["avions", "avion"], "avion"),
        (["euros", "euro"], "euro"),
        (["coréens", "coréennes", "coréen", "coréenne"], "coreen"),
        (["aimée", "aimé", "aimer", "aimées"], "aime"),
        (["première", "premier", "premières"], "premi"),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else value,
)
def test_stemmer_equalities(forms: list[str], term: str) -> None:
    assert {analyze(form)[0] for form in forms} == {term}


def test_nord_coreen_forms_give_the_same_terms() -> None:
    expected = analyze("nord-coréen")
    assert analyze("nord-coréens") == analyze("nord-coréennes") == expected


@pytest.mark.parametrize("word", ["hier", "est", "unis", "xixe", "xviiie", "1er", "12500", "3,5"])
def test_stemmer_leaves_short_words_numbers_and_ordinals(word: str) -> None:
    assert stem(word) == word


def test_stop_list_keeps_content_words() -> None:
    for word in ["été", "ete", "est", "avions", "son", "or", "car", "hier"]:
        assert word not in STOP_WORDS
    assert not NEVER_STOP & STOP_WORDS
    assert all(word == word.lower() and word.isascii() for word in STOP_WORDS)


def test_analysing_twice_gives_the_same_terms() -> None:
    first = analyze(PARAGRAPH)
    assert analyze(PARAGRAPH) == first
    assert [t.text for t in text_analyzer()(PARAGRAPH)] == first


def _surfaces(analyzer: Analyzer, text: str) -> list[str]:
    return [text[t.startchar : t.endchar] for t in analyzer(text, chars=True)]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_offsets_point_at_the_original_words(fused: bool) -> None:
    analyzer = text_analyzer()
    run = analyzer if fused else analyzer.chain
    text = "L’Ukraine et la Corée du Nord : l’œuvre coûte 12\u00a0500 euros aux États-Unis."
    assert _surfaces(run, text) == [
        "L’Ukraine", "Corée", "Nord", "l’œuvre", "coûte", "12\u00a0500", "euros", "États", "Unis",
    ]  # fmt: skip
    surfaces = _surfaces(run, PARAGRAPH)
    for word in ["S.N.C.F.", "gou-\nvernement", "pre\u00admier", "Core\u0301e", "prud’hommes"]:
        assert word in surfaces


def test_every_token_offset_is_a_surface_word() -> None:
    analyzer = exact_analyzer()
    tokens = [(t.text, t.startchar, t.endchar) for t in analyzer(PARAGRAPH, chars=True)]
    for text, start, end in tokens:
        surface = PARAGRAPH[start:end]
        assert surface == surface.strip() and surface, (text, surface)
        assert analyze(surface, chain="exact") == [text]


def test_positions_are_consecutive_across_hyphens_and_stop_words() -> None:
    analyzer = text_analyzer()
    tokens = [(t.text, t.pos) for t in analyzer("les nord-coréens", positions=True)]
    assert tokens == [("nord", 1), ("coreen", 2)]
    tokens = [(t.text, t.pos) for t in analyzer("LA CORÉE DU NORD", positions=True)]
    assert [pos for _, pos in tokens] == [1, 2]  # "du" removed, phrase still adjacent


def _stream(analyzer: Any, text: str, **kwargs: Any) -> list[tuple[Any, ...]]:
    return [
        (t.text, t.pos, t.startchar, t.endchar, t.stopped)
        for t in analyzer(text, positions=True, chars=True, **kwargs)
    ]


@pytest.mark.parametrize("make", [text_analyzer, exact_analyzer], ids=["text", "exact"])
@pytest.mark.parametrize("removestops", [True, False], ids=["remove", "keep"])
def test_fused_path_equals_composed_chain(make: Any, removestops: bool) -> None:
    analyzer = make()
    for _ in range(2):  # cold cache, then warm
        fused = _stream(analyzer, PARAGRAPH, removestops=removestops, start_pos=3, start_char=7)
        composed = _stream(
            analyzer.chain, PARAGRAPH, removestops=removestops, start_pos=3, start_char=7
        )
        assert fused == composed


@pytest.mark.skipif(not WIKINEWS.exists(), reason="shared Wikinews sample not present")
def test_fused_path_equals_composed_chain_on_news() -> None:
    analyzer = text_analyzer()
    with WIKINEWS.open(encoding="utf-8") as lines:
        for line in lines:
            body = json.loads(line)["body"]
            assert _stream(analyzer, body) == _stream(analyzer.chain, body)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aeéœÆ’'ʼ‑- \u00a0\u202f.,\n15SNCFUlqjusd\u00adh\u0301", max_size=40))
def test_fused_path_equals_composed_chain_on_any_text(text: str) -> None:
    for analyzer in (text_analyzer(), exact_analyzer()):
        assert _stream(analyzer, text) == _stream(analyzer.chain, text)
    for term, _, start, end, _ in _stream(exact_analyzer(), text):
        assert analyze(text[start:end], chain="exact") == [term]


# The tokenizer's alternatives written whole, as they read in docs/FRENCH.md: the
# shipped pattern is the same language, rearranged for speed.
_REFERENCE_TOKENS = re.compile(
    rf"(?={tk._LETTER}[.{tk._APOSTROPHES}]|{tk._LETTER}{tk._LETTER}{tk._APOSTROPHE})"
    rf"{tk._ACRONYM}|{tk._SEGMENT}(?:{tk._JOINER}{tk._SEGMENT})*"
)
_ODD_TEXT = st.text(
    alphabet="aeéœÆ’'ʼ‘´`‑‐- \u00a0\u202f\u2009.,\r\n0159²SNCFUlqjusdßİı\u00adh\u0301\u0308_«»",
    max_size=60,
)


@settings(max_examples=500, deadline=None)
@given(_ODD_TEXT)
def test_tokenizer_equals_the_plain_alternation(text: str) -> None:
    spans = [m.span() for m in tk.TOKEN_PATTERN.finditer(text)]
    assert spans == [m.span() for m in _REFERENCE_TOKENS.finditer(text)]
    parts = tk.split_words(text)
    assert parts[1::2] == [text[a:b] for a, b in spans]
    assert "".join(parts) == text


@pytest.mark.skipif(not WIKINEWS.exists(), reason="shared Wikinews sample not present")
def test_tokenizer_equals_the_plain_alternation_on_news() -> None:
    with WIKINEWS.open(encoding="utf-8") as lines:
        for line in lines:
            body = json.loads(line)["body"]
            assert tk.TOKEN_PATTERN.findall(body) == _REFERENCE_TOKENS.findall(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ODD_TEXT, max_size=4))
def test_no_word_spans_a_blank_line(parts: list[str]) -> None:
    """What lets the indexer tokenize the exact twin's paragraphs once (``_words``)."""
    text = "\n\n".join(parts)
    assert _words(text) == tk.TOKEN_PATTERN.findall(text)
    assert _words(text) == tk.TOKEN_PATTERN.findall(text)  # remembered: the same again


@settings(max_examples=300, deadline=None)
@given(_ODD_TEXT)
def test_word_functions_equal_the_token_stream(text: str) -> None:
    """``terms``, ``positions`` and ``term_spans`` give what the tokens give."""
    analyzer = text_analyzer()
    assert isinstance(analyzer, FrenchAnalyzer)
    tokens = _stream(analyzer.chain, text)
    assert analyzer.terms(text) == [t[0] for t in tokens]
    positions: dict[str, list[int]] = {}
    for term, pos, *_ in tokens:
        positions.setdefault(term, []).append(pos)
    assert analyzer.positions(text) == positions
    wanted = frozenset(t[0] for t in tokens[::2])
    spans = [(start, end, term) for term, _, start, end, _ in tokens if term in wanted]
    assert list(analyzer.term_spans(text, wanted)) == spans


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_chains_survive_pickling(name: str) -> None:
    analyzer = CHAINS[name]()
    clone = pickle.loads(pickle.dumps(analyzer))
    assert clone == analyzer
    text = PARAGRAPH if name != "entity" else "Kim Jong-un, L’Élysée"
    assert [t.text for t in clone(text)] == [t.text for t in analyzer(text)]


def test_fused_analyzer_pickles_no_cache() -> None:
    analyzer = text_analyzer()
    analyzer(PARAGRAPH)
    assert isinstance(analyzer, FrenchAnalyzer)
    assert set(vars(analyzer)) == {"chain", "name", "renumber"}


def test_highlight_shows_the_word_as_written() -> None:
    text = "Selon Séoul, LA CORÉE DU NORD a tiré ; l’Ukraine proteste."
    analyzer = text_analyzer()
    terms = frozenset(analyze("corée ukraine"))
    snippet = highlight(text, terms, analyzer, ContextFragmenter(), UppercaseFormatter())
    assert "CORÉE" in snippet and "L’UKRAINE" in snippet


def test_unknown_chain_is_refused() -> None:
    with pytest.raises(ValueError, match="text, exact, entity"):
        analyze("x", chain="stemmed")


def test_analysis_version_is_a_string() -> None:
    assert isinstance(ANALYSIS_VERSION, str) and ANALYSIS_VERSION
    assert isinstance(entity_analyzer(), Analyzer)


def test_term_caches_since_a_mark_hold_only_new_words(monkeypatch) -> None:
    import searchkit.analysis as an

    analyzer = text_analyzer()
    analyzer.terms("archives anciennes")
    mark = an.mark_term_caches()
    analyzer.terms("archives zorglubiennes quintessenciâmes")  # words no other test uses
    new = an.term_caches(since=mark)["text"]
    assert set(new) == {"zorglubiennes", "quintessenciâmes"}
    # A cache cleared after the mark: the whole of it goes back.
    monkeypatch.setattr(an, "_CACHE_LIMIT", 0)
    analyzer.terms("xylophones")
    assert (
        an.term_caches(since=mark)["text"]
        == an.term_caches()["text"]
        == {"xylophones": ("xylophon", False)}
    )
    assert "xylophones" in an.term_caches(since=mark)["text"]
