"""Snippets: readable passages, the same ones on every run, offsets pointing at the words."""

from searchkit.analysis import analyze
from searchkit.snippets import make_snippet

FILLER = " ".join(["Le conseil municipal a siégé longuement sur le budget."] * 12)


def terms(query: str) -> list[str]:
    return analyze(query)


def test_prose_preferred_over_all_caps_heading():
    text = (
        "LA CORÉE DU NORD TIRE DEUX MISSILES\n\n"
        + FILLER
        + " Les diplomates ont parlé de la Corée du Nord toute la journée. "
        + FILLER
    )
    snip = make_snippet(text, terms("coree nord"), top=1)
    marked = [snip.text[s:e] for s, e in snip.highlights]
    assert marked == ["Corée", "Nord"]


def test_ties_broken_by_position_not_by_chance():
    text = (
        FILLER
        + " Premier passage sur Bruxelles. "
        + FILLER
        + " Second passage sur Bruxelles. "
        + FILLER
    )
    snips = {make_snippet(text, terms("bruxelles"), top=1).text for _ in range(20)}
    assert len(snips) == 1
    assert "Premier passage" in snips.pop()


def test_highlight_offsets_point_at_the_article_words():
    text = "Hier,\n\n  l’Assemblée   nationale a voté la loi. " + FILLER
    snip = make_snippet(text, terms("assemblee"))
    assert [snip.text[s:e] for s, e in snip.highlights] == ["Assemblée"]
    assert "  " not in snip.text


def test_no_match_gives_the_opening_without_highlight():
    snip = make_snippet("Un texte court sur la pluie.", terms("soleil"))
    assert snip.text == "Un texte court sur la pluie."
    assert snip.highlights == []


def test_stop_word_with_the_same_term_is_not_marked():
    """`leurs` stems to `leur`, which is also a stop word: only the indexed word is marked."""
    snip = make_snippet("Ils ont perdu leur maison et leurs biens.", terms("leurs"))
    assert [snip.text[s:e] for s, e in snip.highlights] == ["leurs"]
