"""The plain-words scorer: same BM25 as Whoosh's, AND/OR semantics, proximity, caching."""

from pathlib import Path

import numpy as np
import pytest
from whoosh import query as wq
from whoosh import scoring
from whoosh.reading import TermNotFound

from searchkit import SearchIndex, index_articles, index_corpus, indexer
from searchkit import ranking as rk
from searchkit import schema as sc
from searchkit.analysis import analyze
from searchkit.dates import parse_date_span as span
from searchkit.indexer import open_index
from searchkit.model import Article
from searchkit.query import DEFAULT_RANKING, Ranking, parse_query
from searchkit.ranking import PlainScorer, plain_units

ROOT = Path(__file__).resolve().parents[1]
BOOSTS = DEFAULT_RANKING.boosts


@pytest.fixture(scope="module", autouse=True)
def no_merges():
    """Keep every batch's segment and every deletion: the cases under test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(indexer, "merge_segments", lambda writer, segments: list(segments))
        yield


@pytest.fixture(scope="module")
def segmented_dir(tmp_path_factory):
    """corpus/ indexed in small batches: several segments, no deletion."""
    path = tmp_path_factory.mktemp("rank-seg")
    index_corpus([ROOT / "corpus"], path, entities=False, batch_size=7)
    return path


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """corpus/ indexed in small batches (several segments), then partly re-indexed
    with changed text (deleted documents): the cases where a scorer goes wrong."""
    path = tmp_path_factory.mktemp("rank-ix")
    index_corpus([ROOT / "corpus"], path, entities=False, batch_size=7)
    with SearchIndex(path) as ix:
        hits = ix.search("gouvernement", limit=3, snippets=False).hits
    changed = [
        Article(id=h.id, title=h.title, body="Texte remplacé : le gouvernement démissionne.")
        for h in hits
    ]
    index_articles(changed, path)
    return path


def schema():
    return sc.build_schema()


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("retraites réforme", [("retrait",), ("reform",)]),
        ("Corée du Nord", [("core",), ("nord",)]),
        ("les Nord-Coréens", [("nord", "coreen")]),
        ('"taxe carbone" Macron', [("taxe", "carbon"), ("macron",)]),
        ("Botswana: mort de 275 éléphants", [("botswana",), ("mort",), ("275",), ("elephant",)]),
    ],
)
def test_plain_units(text, units):
    q = parse_query(text, schema(), conjunctive=False)
    assert plain_units(text, q, BOOSTS) == units


@pytest.mark.parametrize(
    "text",
    ["titre:macron retraites", "macron^3 retraites", "gouvernem*", "macron NOT retraites",
     "macron OR retraites", "macron AND retraites"],
)  # fmt: skip
def test_structured_queries_are_not_plain(text):
    q = parse_query(text, schema(), conjunctive=False)
    assert plain_units(text, q, BOOSTS) is None


def bm25_both_ways(index_dir, text):
    """(ours, Whoosh's BM25F) scores of the plain query ``text``, by document number."""
    ix = open_index(index_dir)
    with ix.searcher(weighting=scoring.BM25F()) as searcher:
        units = plain_units(text, parse_query(text, ix.schema, conjunctive=False), BOOSTS)
        terms = [u[0] for u in units]
        flat = wq.Or([wq.Term(f, t, boost=w) for t in terms for f, w in BOOSTS])
        expected = {h.docnum: h.score for h in searcher.search(flat, limit=None)}
        scorer = PlainScorer(searcher, BOOSTS, idf="whoosh")
        assert len(scorer._segments) > 1
        scores, matched = scorer.score(units, all_units=False)
        got = {int(d): float(scores[d]) for d in matched.nonzero()[0]}
    return got, expected


QUERIES = ["gouvernement réforme", "Corée du Nord missile", "président élection Ukraine"]


@pytest.mark.parametrize("text", QUERIES)
def test_scores_equal_whoosh_bm25f(segmented_dir, text):
    """Over several segments, the numpy scores are Whoosh's BM25F."""
    got, expected = bm25_both_ways(segmented_dir, text)
    assert got.keys() == expected.keys()
    for d, s in expected.items():
        assert got[d] == pytest.approx(s, rel=1e-6)


@pytest.mark.parametrize("text", QUERIES)
def test_deleted_versions_never_match(corpus_dir, text):
    """Updated articles leave deleted versions: never matched, and not counted in the
    document frequencies: Whoosh counts them until a merge, so its idf is lower."""
    with open_index(corpus_dir).reader() as reader:
        assert reader.has_deletions()
    got, expected = bm25_both_ways(corpus_dir, text)
    assert got.keys() == expected.keys()
    for d, s in expected.items():
        assert s * (1 - 1e-6) <= got[d] <= s * 1.2


def test_and_then_or_semantics(corpus_dir):
    with SearchIndex(corpus_dir) as ix:
        both = ix.search("Corée missile", limit=100, snippets=False)
        korea = ix.search("Corée", limit=100, snippets=False)
        missile = ix.search("missile", limit=100, snippets=False)
        assert both.total > 0
        assert {h.id for h in both.hits} == {h.id for h in korea.hits} & {
            h.id for h in missile.hits
        }
        # five words or more: any of them, ranked as the two words joined by OR
        long = ix.search("Corée missile zzzabsent yyyabsent xxxabsent", limit=100)
        assert not long.notices
        assert long.total == len({h.id for h in korea.hits} | {h.id for h in missile.hits})
    with SearchIndex(corpus_dir, ranking=Ranking(and_max_words=1)) as ix:
        either = ix.search("Corée missile", limit=100)
    assert [h.id for h in long.hits] == [h.id for h in either.hits]


def test_cache_eviction_changes_nothing(corpus_dir, monkeypatch):
    query = "gouvernement président élection réforme Ukraine"
    with SearchIndex(corpus_dir) as ix:
        before = [(h.id, h.score) for h in ix.search(query, snippets=False).hits]
    monkeypatch.setattr(rk, "CACHE_POSTINGS", 5)
    with SearchIndex(corpus_dir) as ix:
        ix.search("retraites", snippets=False)
        after = [(h.id, h.score) for h in ix.search(query, snippets=False).hits]
    assert after == before


def _matcher_postings(leaf, field, tbytes):
    """Whoosh's own reading of a posting list, deleted documents included."""
    m = leaf._terms.matcher(field, tbytes, leaf.schema[field].format)
    ids, weights, values = [], [], []
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        values.append(m.value())
        m.next()
    return ids, weights, values


def test_postings_decode_as_whoosh_reads_them(segmented_dir, corpus_dir, tmp_path):
    """Every term of every segment, deleted versions too; lists of several blocks, zipped or not."""
    articles = [
        Article(id=f"a{i}", title="Commun", body=f"mot commun {'répété ' * (i % 4)} n{i}")
        for i in range(300)
    ]
    index_articles(articles, tmp_path)
    checked = multi = 0
    for path in (segmented_dir, corpus_dir, tmp_path):
        with open_index(path).reader() as reader:
            for leaf, _offset in reader.leaf_readers():
                for field in (sc.TITLE, sc.LEAD, sc.BODY):
                    for tbytes in leaf.lexicon(field):
                        ids, weights, values = _matcher_postings(leaf, field, tbytes)
                        got = rk._segment_postings(leaf, field, tbytes, values=True)
                        assert got[0].tolist() == ids
                        assert got[1].tolist() == pytest.approx(weights)
                        assert got[2] == list(values)
                        checked += 1
                        multi += len(ids) > 128
    assert checked > 1000
    assert multi >= 3  # "mot", "commun" and "repet" span three blocks each


def test_unknown_term_raises_term_not_found(segmented_dir):
    with open_index(segmented_dir).reader() as reader:
        leaf = reader.leaf_readers()[0][0]
        with pytest.raises(TermNotFound):
            rk._segment_postings(leaf, sc.BODY, b"zzzabsent")


def _phrases_from_corpus() -> list[tuple[str, ...]]:
    """Adjacent words of the sample corpus (pairs, triples), words apart, a repeated word."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").rglob("*.txt"))]
    phrases: list[tuple[str, ...]] = []
    for k, text in enumerate(texts[:40]):
        words = analyze(text)
        phrases.append(tuple(words[10 + k : 12 + k]))
        phrases.append(tuple(words[20 + k : 23 + k]))
        phrases.append((words[5], words[9]))  # not adjacent, most often
    return [*phrases, ("nord", "coree"), ("coree", "nord"), ("pari", "pari"), ("etat", "uni")]


@pytest.mark.parametrize("fixture", ["segmented_dir", "corpus_dir"])
def test_phrases_match_as_whoosh_phrase_queries(fixture, request):
    """Phrases read from positions match what Whoosh's Phrase query matches."""
    with SearchIndex(request.getfixturevalue(fixture)) as ix:
        scorer = ix._scorer()
        live = scorer.live
        matched = 0
        for unit in _phrases_from_corpus():
            whoosh = np.zeros(scorer.size, dtype=bool)
            phrase = wq.Or([wq.Phrase(f, list(unit)) for f, _w in scorer.boosts])
            whoosh[list(scorer.searcher.docs_for_query(phrase))] = True
            assert (scorer._phrase_mask(unit, live) == whoosh & live).all(), unit
            matched += int((whoosh & live).any())
    assert matched > 40  # most phrases are found somewhere


def test_phrases_among_few_candidates_skip_blocks_correctly(tmp_path):
    """Few candidates in lists of several blocks: only their blocks are read, same answer."""
    articles = [
        Article(id=f"a{i:03d}", title="Commun", body=f"mot commun {'répété ' * (i % 4)} n{i}")
        for i in range(400)
    ]
    index_articles(articles, tmp_path)
    with SearchIndex(tmp_path) as ix:
        scorer = ix._scorer()
        for step in (1, 7, 50, 399):
            candidates = np.zeros(scorer.size, dtype=bool)
            candidates[::step] = True
            candidates &= scorer.live
            for unit in [
                ("mot", "commun"),
                ("commun", "repet"),
                ("repet", "repet"),
                ("commun", "mot"),
            ]:
                whoosh = np.zeros(scorer.size, dtype=bool)
                phrase = wq.Or([wq.Phrase(f, list(unit)) for f, _w in scorer.boosts])
                whoosh[list(scorer.searcher.docs_for_query(phrase))] = True
                got = scorer._phrase_mask(unit, candidates)
                assert (got == whoosh & candidates).all(), (unit, step)
        assert scorer._phrase_mask(("mot", "commun"), candidates).sum() == 2  # a000, a399


def test_proximity_ranks_adjacent_words_first(tmp_path):
    filler = " ".join(["Le conseil a parlé du budget de la ville."] * 5)
    articles = [
        Article(id="apart", title="Débat", body=f"La taxe monte. {filler} Le carbone baisse."),
        Article(id="adjacent", title="Débat", body=f"La taxe carbone monte. {filler}"),
    ]
    index_articles(articles, tmp_path)
    with SearchIndex(tmp_path) as ix:
        assert [h.id for h in ix.search("taxe carbone").hits] == ["adjacent", "apart"]
    with SearchIndex(tmp_path, ranking=Ranking(proximity=0)) as ix:
        hits = ix.search("taxe carbone").hits
        assert hits[0].score == pytest.approx(hits[1].score, rel=0.2)


def test_a_word_the_query_repeats_weighs_more_when_asked(tmp_path):
    """``Ranking(repeats=True)``: BM25's query term frequency (measured, not the default)."""
    articles = [
        Article(id="taxe", title="Débat", body="La taxe monte encore cette année."),
        Article(id="budget", title="Débat", body="Le budget monte encore cette année."),
    ]
    index_articles(articles, tmp_path)
    query = "taxe budget taxe impôt hausse année taxe"  # more than four words: OR
    with SearchIndex(tmp_path, ranking=Ranking(repeats=True)) as ix:
        hits = ix.search(query, snippets=False).hits
        assert [h.id for h in hits] == ["taxe", "budget"]
        assert hits[0].score > 2 * hits[1].score
    with SearchIndex(tmp_path) as ix:  # the default: each distinct word once
        hits = ix.search(query, snippets=False).hits
        assert hits[0].score == pytest.approx(hits[1].score, rel=0.05)


def test_filters_sort_and_facets_on_plain_queries(corpus_dir):
    with SearchIndex(corpus_dir) as ix:
        plain = ix.search("gouvernement", limit=100, snippets=False)
        dated = ix.search("gouvernement", date_from=span("2020"), date_to=span("2022"), limit=100)
        assert 0 < dated.total < plain.total
        assert all("2020" <= h.date[:4] <= "2022" for h in dated.hits)
        by_date = ix.search("gouvernement", sort="date", limit=100, snippets=False)
        assert by_date.total == plain.total
        dates = [h.date for h in by_date.hits if h.date]
        assert dates == sorted(dates, reverse=True)
        faceted = ix.search("gouvernement", facets=True, snippets=False)
        # the same articles through Whoosh's matchers (field queries are not plain)
        whoosh = ix.search(
            "title:gouvernement OR lead:gouvernement OR body:gouvernement", facets=True
        )
        assert whoosh.total == plain.total
        assert faceted.facets == whoosh.facets and faceted.facets["month"]


@pytest.mark.parametrize("query", ["zzzqqq", "zzzqqq wwwxxx", "title:zzzqqq"])
def test_no_match_with_date_sort_and_facets(corpus_dir, query):
    """Nothing matched stays nothing: an empty match set must not become "no filter"."""
    with SearchIndex(corpus_dir) as ix:
        by_date = ix.search(query, sort="date")
        faceted = ix.search(query, facets=True)
    assert by_date.total == 0 and by_date.hits == []
    assert faceted.total == 0 and faceted.hits == []
    assert all(not counts for counts in faceted.facets.values())


def fast_and_whoosh(index_dir, query, conjunctive):
    """(searchkit's results, ids Whoosh's own AND or OR parse of ``query`` matches)."""
    ix = open_index(index_dir)
    q = parse_query(query, ix.schema, conjunctive=conjunctive)
    with ix.searcher() as searcher:
        expected = {searcher.stored_fields(d)["id"] for d in searcher.docs_for_query(q)}
    with SearchIndex(index_dir) as index:
        return index.search(query, limit=1000, snippets=False), expected


@pytest.mark.parametrize(
    "query",
    ["Corée missile", "les Nord-Coréens", '"Corée du Nord" sanctions', "réforme retraites grève",
     "Macron élection présidentielle", "l'Ukraine", "États-Unis Trump"],
)  # fmt: skip
def test_plain_and_matches_whoosh_and(segmented_dir, query):
    """The fast path's AND finds exactly the articles Whoosh's AND query finds."""
    got, expected = fast_and_whoosh(segmented_dir, query, conjunctive=True)
    assert not got.notices  # every query here has matches with all its words
    assert {h.id for h in got.hits} == expected and got.total == len(expected)


@pytest.mark.parametrize(
    "query",
    ['"Corée du Nord" xyzzy', "Nord-Coréens xyzzy", "COVID-19 xyzzy",
     "Corée missile Ukraine Russie sanctions Poutine"],
)  # fmt: skip
def test_plain_or_matches_whoosh_or(segmented_dir, query):
    """In OR mode (fallback, long queries) a phrase or hyphenated word still needs its phrase."""
    got, expected = fast_and_whoosh(segmented_dir, query, conjunctive=False)
    assert {h.id for h in got.hits} == expected and got.total == len(expected)


def test_pages_never_repeat_or_skip_tied_articles(segmented_dir):
    with SearchIndex(segmented_dir) as ix:
        whole = ix.search("paris", limit=100, snippets=False)
        paged = [h.id for p in range(1, 6) for h in ix.search("paris", limit=5, page=p).hits]
    assert whole.total > 10
    assert paged == [h.id for h in whole.hits][: len(paged)]
    assert len(paged) == len(set(paged)) == min(whole.total, 25)


@pytest.mark.parametrize("sort", ["relevance", "date"])
@pytest.mark.parametrize("query", ["ukraine", "ukrain*"])
def test_page_past_the_end_is_empty(segmented_dir, query, sort):
    with SearchIndex(segmented_dir) as ix:
        first = ix.search(query, sort=sort, snippets=False)
        past = ix.search(query, sort=sort, page=50, snippets=False)
    assert first.hits and past.hits == [] and past.total == first.total


def test_field_restriction_beside_the_bare_word_is_kept(segmented_dir):
    with SearchIndex(segmented_dir) as ix:
        both = ix.search("macron titre:macron", limit=1000, snippets=False)
        title_only = ix.search("titre:macron", limit=1000, snippets=False)
    assert {h.id for h in both.hits} == {h.id for h in title_only.hits}


def test_or_fallback_keeps_not(segmented_dir):
    """`NOT x` must not turn into "every article without x" when AND finds nothing."""
    with SearchIndex(segmented_dir) as ix:
        assert ix.search("ukraine xyzzy NOT trump").total == 0


@pytest.mark.parametrize("text", ["Que faire?”", "“guerre?”", "guerre?…", "pourquoi? oui"])
def test_question_mark_before_punctuation_is_not_a_wildcard(text):
    q = parse_query(text, schema())
    assert not any(isinstance(leaf, wq.Wildcard) for leaf in q.leaves())
