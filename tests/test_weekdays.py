"""Day names in long queries favour the articles published that day (searchkit.weekdays)."""

import pytest

from searchkit import SearchIndex, index_articles
from searchkit.dates import parse_date_span as span
from searchkit.model import Article
from searchkit.query import Ranking
from searchkit.weekdays import DAY_AFTER, named_weekdays, weekday_match


def test_named_weekdays_reads_day_names_in_any_case():
    text = "Le ministre a annoncé MARDI soir ce que le Conseil votera jeudi."
    assert named_weekdays(text) == {1, 3}  # Monday is 0, as date.weekday()
    assert named_weekdays("Dimanche, vote.") == {6}


def test_plurals_and_longer_words_are_not_days():
    assert named_weekdays("Le marché se tient tous les mardis et les jeudis.") == frozenset()
    assert named_weekdays("Les lundistes et les samedistes.") == frozenset()
    assert named_weekdays("Aucun jour ici.") == frozenset()


def test_names_and_ranges_are_not_days():
    assert named_weekdays("Le carnaval du Mardi-Gras à Rio") == frozenset()
    assert named_weekdays("un Mardi gras pluvieux") == frozenset()
    assert named_weekdays("ouvert du lundi-vendredi") == frozenset()
    assert named_weekdays("Mardi, gras ou pas, il a voté.") == {1}


@pytest.mark.parametrize(
    ("stored", "days", "expected"),
    [
        ("2020-07-02", {3}, 1.0),  # a Thursday, "jeudi"
        ("2020-07-03", {3}, DAY_AFTER),  # Friday's article on Thursday's news
        ("2020-07-01", {3}, 0.0),  # the day before: not a report of it
        ("2020-07-06", {6}, DAY_AFTER),  # Monday after "dimanche": the week wraps
        ("2020-07-02T22:10:00Z", {3}, 1.0),
        ("2020-07", {3}, 0.0),  # a month: its weekday is unknown
        ("2020", {3}, 0.0),
        (None, {3}, 0.0),
        ("pas une date", {3}, 0.0),
        ("2020-07-02", set(), 0.0),
    ],
)
def test_weekday_match(stored, days, expected):
    assert weekday_match(stored, days) == expected


def _same_story(tmp_path):
    """Two articles with the same words, published on a Tuesday and on a Thursday."""
    body = "Le gouvernement a présenté sa réforme des retraites devant les syndicats."
    articles = [
        Article(id="mardi", title="Retraites", body=body, date=span("2020-06-16")),
        Article(id="jeudi", title="Retraites", body=body, date=span("2020-06-18")),
    ]
    index_articles(articles, tmp_path)


def test_a_long_query_naming_a_day_ranks_that_days_article_first(tmp_path):
    _same_story(tmp_path)
    words = "le gouvernement a présenté {} sa réforme des retraites aux syndicats"
    with SearchIndex(tmp_path) as ix:
        for day in ("mardi", "jeudi"):
            hits = ix.search(words.format(day), snippets=False).hits
            assert [h.id for h in hits] == [day, "mardi" if day == "jeudi" else "jeudi"]
            assert hits[0].score > hits[1].score
    with SearchIndex(tmp_path, ranking=Ranking(weekday=0)) as ix:  # off: a tie
        hits = ix.search(words.format("jeudi"), snippets=False).hits
        assert hits[0].score == pytest.approx(hits[1].score)


def test_a_short_query_naming_a_day_is_not_reranked(tmp_path):
    """Two or three typed words: the day is as likely a topic as a date."""
    _same_story(tmp_path)
    with SearchIndex(tmp_path) as ix:
        hits = ix.search("réforme jeudi", snippets=False).hits
        # Neither article has "jeudi" in its text: the AND query falls back to OR,
        # and the scores stay tied whatever the dates.
        assert len(hits) == 2
        assert hits[0].score == pytest.approx(hits[1].score)


def test_the_cue_needs_more_than_four_words(tmp_path):
    """Four words stay a short query (AND, no cue); the fifth makes it a passage."""
    _same_story(tmp_path)
    with SearchIndex(tmp_path) as ix:
        four = ix.search("gouvernement réforme retraites jeudi", snippets=False).hits
        assert four[0].score == pytest.approx(four[1].score)
        five = ix.search("gouvernement réforme retraites syndicats jeudi", snippets=False).hits
        assert five[0].id == "jeudi"
        assert five[0].score > five[1].score


def test_the_next_days_article_gets_half_and_an_undated_one_nothing(tmp_path):
    body = "Le gouvernement a présenté sa réforme des retraites devant les syndicats."
    articles = [
        Article(id="mardi", title="Retraites", body=body, date=span("2020-06-16")),
        Article(id="mercredi", title="Retraites", body=body, date=span("2020-06-17")),
        Article(id="vendredi", title="Retraites", body=body, date=span("2020-06-19")),
        Article(id="juin", title="Retraites", body=body, date=span("2020-06")),
        Article(id="sans-date", title="Retraites", body=body),
    ]
    index_articles(articles, tmp_path)
    query = "le gouvernement a présenté mardi sa réforme des retraites aux syndicats"
    with SearchIndex(tmp_path) as ix:
        hits = ix.search(query, snippets=False).hits
    score = {h.id: h.score for h in hits}
    assert [h.id for h in hits][:2] == ["mardi", "mercredi"]
    base = score["vendredi"]
    assert score["juin"] == pytest.approx(base)
    assert score["sans-date"] == pytest.approx(base)
    tuesday, wednesday = score["mardi"] - base, score["mercredi"] - base
    # The same text everywhere: the best score before the cue is the base score.
    assert tuesday == pytest.approx(Ranking().weekday * base, abs=1e-3)  # hits round scores
    assert wednesday == pytest.approx(tuesday / 2, abs=1e-3)


def test_pages_agree_with_one_long_page(tmp_path):
    """The cue reranks the same best articles whatever the page: no repeat, no gap."""
    _same_story(tmp_path)
    words = "le gouvernement a présenté jeudi sa réforme des retraites aux syndicats"
    with SearchIndex(tmp_path) as ix:
        whole = [h.id for h in ix.search(words, limit=2, snippets=False).hits]
        paged = [ix.search(words, limit=1, page=p, snippets=False).hits[0].id for p in (1, 2)]
    assert paged == whole == ["jeudi", "mardi"]
