"""One key per entity across the archive: normalisation, then a curated alias table.

``entity_key`` (analysis/keys.py) folds case, accents and separators, so
``Etats-Unis``/``États-Unis`` and ``Nations unies``/``Nations-Unies`` already meet.
:func:`canonical_key` goes two steps further, and both the index side
(``entities._resolve``) and the query side (``query.entity_filter``) use it:

* leading articles are dropped (``Le Canard enchaîné`` = ``Canard enchaîné``,
  ``Les Républicains`` = ``Républicains``, ``l'Europe`` = ``Europe``); the display
  name keeps them;
* the alias table ``data/aliases.tsv`` (curated, shipped with the package) maps
  the other spellings of one entity to one key: ``RPDC`` -> ``coree du nord``,
  ``Putin`` -> ``vladimir poutine``, ``Daech`` -> ``etat islamique``. It also
  gives the entity's type and the name to show.

A curated name of two words or more is also looked for in the text
(:func:`find_curated`), because the model cuts some of them (``État`` out of
``État islamique``, ``Amérique`` out of ``Amérique latine``).

The index-level helpers at the end take a Whoosh reader or searcher: the full
names a surname stands for (:func:`expand_entity`), the surname that stands for
a full name (:func:`surname_keys`), each key's type by majority across the
archive (:func:`type_votes`, :func:`majority_type`), the terms a filter should
match (:func:`entity_terms`, which ``query.entity_filter`` uses when given a
reader), and the archive's entities with their merged spellings
(:func:`archive_entities`, for ``searchkit entities``). Changing the table
changes keys: re-index to apply it (:func:`aliases_version` says which table an
index was built with, once the indexer records it).
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from unidecode import unidecode

from .analysis.keys import entity_key

ALIASES_FILE = Path(__file__).resolve().parent / "data" / "aliases.tsv"
TYPES = ("person", "org", "place", "misc")
# Leading words dropped from keys (never the last word): French and English articles.
_ARTICLE_WORDS = frozenset({"le", "la", "les", "l", "the"})
# Abbreviations spelt out, word by word, in keys.
_WORD_FORMS = {"st": "saint", "ste": "sainte"}


@dataclass
class AliasTable:
    """The curated table: variant keys, and per canonical key its type and name."""

    key_of: dict[str, str] = field(default_factory=dict)  # any known key -> canonical key
    type_of: dict[str, str] = field(default_factory=dict)  # canonical key -> type
    name_of: dict[str, str] = field(default_factory=dict)  # canonical key -> display name
    scanned: list[tuple[str, str]] = field(default_factory=list)  # (surface, canonical key)
    version: str = ""
    _pattern: re.Pattern[str] | None = None

    def pattern(self) -> re.Pattern[str] | None:
        """One regular expression for every scanned surface form (longest first)."""
        if self._pattern is None and self.scanned:
            forms = sorted({s for s, _ in self.scanned}, key=lambda s: (-len(s), s))
            body = "|".join(_surface_regex(s) for s in forms)
            self._pattern = re.compile(rf"(?<![\w\-])(?:{body})(?![\w\-])")
        return self._pattern


def base_key(key: str) -> str:
    """A key without leading articles (``la france`` -> ``france``), abbreviations spelt out.

    >>> base_key("les republicains"), base_key("le pen"), base_key("st etienne")
    ('republicains', 'pen', 'saint etienne')
    >>> base_key("la")
    'la'
    """
    words = [_WORD_FORMS.get(w, w) for w in key.split()]
    while len(words) > 1 and words[0] in _ARTICLE_WORDS:
        words = words[1:]
    return " ".join(words)


def parse_aliases(lines: Iterable[str], source: str = "aliases") -> AliasTable:
    """Read the alias table: ``type<TAB>name<TAB>variant | variant | …``, ``#`` comments.

    The name is the one shown; every variant, and the name, get its key. A
    variant written with a leading ``~`` is a key only and is never looked for
    in the text (short or ambiguous forms: ``~Poutine``). Raises ``ValueError``
    on a malformed line, an unknown type, or a variant claimed by two entries.
    """
    table = AliasTable()
    digest = hashlib.blake2b(digest_size=6)
    for n, raw in enumerate(lines, start=1):
        digest.update(raw.encode())
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) not in (2, 3) or cells[0].strip() not in TYPES:
            raise ValueError(f"{source}:{n}: expected 'type<TAB>name<TAB>variants', got {raw!r}")
        etype, name = cells[0].strip(), cells[1].strip()
        canonical = base_key(entity_key(name))
        if not canonical:
            raise ValueError(f"{source}:{n}: empty name")
        variants = [v.strip() for v in (cells[2] if len(cells) == 3 else "").split("|")]
        for variant in [name, *variants]:
            scan = not variant.startswith("~")
            variant = variant.lstrip("~").strip()
            key = base_key(entity_key(variant))
            if not key:
                continue
            if table.key_of.get(key, canonical) != canonical:
                raise ValueError(
                    f"{source}:{n}: {variant!r} is already a variant of {table.key_of[key]!r}"
                )
            table.key_of[key] = canonical
            if scan and len(key.split()) > 1:
                table.scanned.append((variant, canonical))
        if table.type_of.get(canonical, etype) != etype:
            raise ValueError(f"{source}:{n}: {name!r} has two types")
        table.type_of[canonical] = etype
        table.name_of.setdefault(canonical, name)
    for key, canonical in table.key_of.items():
        if table.key_of.get(canonical, canonical) != canonical:
            raise ValueError(f"{source}: {key!r} -> {canonical!r}, itself a variant")
    table.version = digest.hexdigest()
    return table


@lru_cache(maxsize=1)
def alias_table() -> AliasTable:
    """The table shipped with the package, read once per process."""
    with ALIASES_FILE.open(encoding="utf-8") as fh:
        return parse_aliases(fh, ALIASES_FILE.name)


def aliases_version() -> str:
    """A short hash of the shipped table, to record with an index (keys depend on it)."""
    return alias_table().version


@lru_cache(maxsize=65536)
def canonical_key(name: str) -> str:
    """The one key of an entity, whatever the spelling: normalised, then aliased.

    >>> canonical_key("Vladimir Putin") == canonical_key("Vladimir Poutine")
    True
    >>> canonical_key("RPDC"), canonical_key("Les Républicains"), canonical_key("Le Monde")
    ('coree du nord', 'republicains', 'monde')
    """
    key = base_key(entity_key(name))
    return alias_table().key_of.get(key, key)


def curated_type(key: str) -> str | None:
    """The type the alias table gives a canonical key, if it lists it."""
    return alias_table().type_of.get(key)


def curated_name(key: str) -> str | None:
    """The name the alias table shows for a canonical key, if it lists it."""
    return alias_table().name_of.get(key)


def find_curated(text: str) -> list[tuple[str, str, int, int]]:
    """Curated names of two words or more found in ``text``: ``(type, name, start, end)``.

    Matching ignores accents on capitals (``Etat islamique``) and the kind of
    space, hyphen or apostrophe between words, but not case: ``maison blanche``
    in lower case is not the White House.
    """
    table = alias_table()
    pattern = table.pattern()
    if pattern is None:
        return []
    out = []
    for m in pattern.finditer(text):
        key = canonical_key(m.group())
        if key in table.type_of:
            out.append((table.type_of[key], m.group(), m.start(), m.end()))
    return out


_SEP = r"[\s\-\u2010-\u2015'’ʼ]+"


def _surface_regex(surface: str) -> str:
    """A curated spelling as a pattern: accents optional, any separator between words."""
    parts = []
    for word in re.split(r"[\s\-\u2010-\u2015'’ʼ]+", surface):
        letters = []
        for ch in word:
            folded = unidecode(ch)
            if ch.isalpha() and len(folded) == 1 and folded != ch:
                letters.append(f"[{ch}{folded}]")
            else:
                letters.append(re.escape(ch))
        parts.append("".join(letters))
    return _SEP.join(parts)


# --- index level: a reader's lexicon -------------------------------------------------------


def _text(term: Any) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else str(term)


_BY_LAST_WORD: weakref.WeakKeyDictionary[Any, dict[str, list[str]]] = weakref.WeakKeyDictionary()


def _person_keys(reader: Any) -> dict[str, list[str]]:
    """The person keys of a reader grouped by last word, built once per reader."""
    try:
        return _BY_LAST_WORD[reader]
    except (KeyError, TypeError):
        pass
    groups: dict[str, list[str]] = {}
    if "person" in reader.indexed_field_names():
        for term in reader.lexicon("person"):
            text = _text(term)
            groups.setdefault(text.rsplit(" ", 1)[-1], []).append(text)
    try:
        _BY_LAST_WORD[reader] = groups
    except TypeError:  # a reader that takes no weak reference: not cached
        pass
    return groups


def expand_entity(reader: Any, field_name: str, key: str) -> list[str]:
    """The keys of ``field_name`` that a person filter on ``key`` stands for.

    ``key`` itself, and the longer person names that end with its words: a
    surname typed alone (``le drian``, ``de gendt``) finds the full names the
    articles give (``jean yves le drian``, ``thomas de gendt``), and a full name
    finds spans where the model kept a word in front (``chinois xi jinping``).
    Only for persons: ``saint denis`` must not find ``strasbourg saint denis``,
    nor ``nations unies`` the ``conseil de securite des nations unies``.
    """
    if field_name != "person":
        return [key]
    tail = " " + key
    longer = [k for k in _person_keys(reader).get(key.rsplit(" ", 1)[-1], ()) if k.endswith(tail)]
    return [key, *sorted(longer)]


def surname_keys(reader: Any, key: str, share: float = 0.8) -> list[str]:
    """Shorter person keys that stand for the full name ``key`` in this archive.

    An article that writes only ``Poutine`` is keyed ``poutine`` (unless the alias
    table says otherwise). A full-name filter takes such a surname when, among the
    articles naming someone with a longer name ending with it, at least ``share``
    name ``key``: ``poutine`` for ``vladimir poutine``, not ``pen`` for ``marine le
    pen`` when ``jean marie le pen`` is often in the news too.
    """
    words = key.split()
    groups = _person_keys(reader)
    out = []
    for i in range(1, len(words)):
        short = base_key(" ".join(words[i:]))
        if short in (key, *out) or not reader.doc_frequency("person", short):
            continue
        tail = " " + short
        full = [k for k in groups.get(short.rsplit(" ", 1)[-1], ()) if k.endswith(tail)]
        counts = {k: reader.doc_frequency("person", k) for k in full}
        total = sum(counts.values())
        if total and counts.get(key, 0) >= share * total:
            out.append(short)
    return out


def type_votes(reader: Any, key: str, fields: Iterable[str] = TYPES) -> dict[str, int]:
    """How many articles give ``key`` each type (deleted articles may still count)."""
    names = set(reader.indexed_field_names())
    return {f: reader.doc_frequency(f, key) for f in fields if f in names}


def majority_type(votes: dict[str, int]) -> str | None:
    """The type most articles give a key (ties: the first in ``TYPES``), None if unseen."""
    best = max(votes.items(), key=lambda kv: (kv[1], -TYPES.index(kv[0])), default=None)
    return best[0] if best and best[1] > 0 else None


def entity_terms(reader: Any, entity_type: str | None, name: str) -> list[tuple[str, str]]:
    """The ``(field, key)`` terms a filter on ``name`` matches, decided on the index.

    * Keys: the name's canonical key; for a person (or any type), also the
      longer person names ending with it (:func:`expand_entity`) and, as a
      person, the surname that stands for it in this archive
      (:func:`surname_keys`: ``poutine`` for ``Vladimir Poutine``).
    * Types, by majority across the archive: a key that most articles give the
      requested type (or that the alias table gives it) is matched in every
      entity field, so the articles where the model typed it otherwise count
      too (``Cour constitutionnelle`` read once as a place); a key whose
      majority is another type is matched only where it has the requested type.
      A name that no article gives the requested type is matched with the
      types it has rather than not at all.
    * ``entity_type`` None matches any type. Empty when the name has no key.
    """
    key = canonical_key(name)
    if not key:
        return []
    names = set(reader.indexed_field_names())
    fields = [f for f in TYPES if f in names]
    keys, surnames = [key], []
    if entity_type in (None, "person") and "person" in names:
        keys = expand_entity(reader, "person", key)
        surnames = [
            ("person", short)
            for short in surname_keys(reader, key)  # as a person only, and if mostly one
            if majority_type(type_votes(reader, short, fields)) == "person"
        ]
    terms: list[tuple[str, str]] = []
    for k in dict.fromkeys(keys):
        votes = type_votes(reader, k, fields)
        decided = curated_type(k) or majority_type(votes)
        if entity_type is None or decided == entity_type:
            terms += [(f, k) for f in fields if votes.get(f)]
        elif votes.get(entity_type):
            terms.append((entity_type, k))
    if not terms:  # no article gives it this type: the types it has, if any
        votes = type_votes(reader, key, fields)
        terms = [(f, key) for f in fields if votes.get(f)]
    terms += surnames
    return terms or [(f, key) for f in ([entity_type] if entity_type else fields)]


def relaxed_types(reader: Any, entity_type: str | None, name: str) -> list[str]:
    """The types a typed filter matched instead, when no article gives the name its type.

    Empty when the filter kept its type (or has none): for a notice such as "no
    place named 'ONU' in the index; matching it as org".
    """
    if entity_type is None:
        return []
    fields = [f for f, _ in entity_terms(reader, entity_type, name)]
    return [] if entity_type in fields else list(dict.fromkeys(fields))


def entity_variants(searcher: Any, field_name: str, key: str, sample: int = 200) -> list[str]:
    """The names articles give one key, most frequent first (from up to ``sample`` articles).

    For ``searchkit entities``: ``vladimir poutine`` shows ``Vladimir Poutine``,
    ``Vladimir Putin``. Reads the stored entity JSON of the articles that have it.
    """
    return [n for n, _ in _variant_counts(searcher, [field_name], key, sample).most_common()]


def _variant_counts(searcher: Any, fields: list[str], key: str, sample: int) -> Counter[str]:
    """Mentions per spelling of ``key`` in up to ``sample`` articles that have it."""
    from whoosh import query as wq

    names: Counter[str] = Counter()
    q = wq.Or([wq.Term(f, key) for f in fields])
    for n, docnum in enumerate(searcher.docs_for_query(q)):
        if n >= sample:
            break
        stored = json.loads(searcher.stored_fields(docnum).get("entities") or "{}")
        for items in stored.values():
            for ekey, ename, count in items:
                if ekey == key:
                    names[str(ename)] += int(count)
    return names


@dataclass(frozen=True)
class ArchiveEntity:
    """One entity of the whole archive, for ``searchkit entities``."""

    key: str
    type: str  # the alias table's, else the type most articles give it
    count: int  # articles that mention it, whatever type each gave it
    name: str  # the alias table's name, else the most frequent spelling
    variants: tuple[str, ...] = ()  # other spellings articles use, most frequent first


def archive_entities(
    searcher: Any, entity_type: str | None = None, top: int = 20, variants: int = 5
) -> list[ArchiveEntity]:
    """The most mentioned entities, each once, under its type by majority across the archive.

    Counts come from the lexicons of the entity fields; an article gives a key one
    type (``entities._resolve``), so the per-type counts of a key add up to its
    articles. The best candidates are recounted on live documents (a lexicon
    still counts deleted ones). ``entity_type`` None lists every type together.
    """
    from whoosh import query as wq

    reader = searcher.reader()
    fields = [f for f in TYPES if f in set(reader.indexed_field_names())]
    votes: dict[str, dict[str, int]] = {}
    for f in fields:
        for term, info in reader.iter_field(f):
            votes.setdefault(_text(term), {})[f] = info.doc_frequency()
    ranked = []
    for key, by_type in votes.items():
        etype = curated_type(key) or majority_type(by_type)
        if etype and (entity_type is None or etype == entity_type):
            ranked.append((sum(by_type.values()), key, etype))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    out = []
    for _, key, etype in ranked[: top * 3]:
        live = wq.Or([wq.Term(f, key) for f in fields if votes[key].get(f)])
        count = sum(1 for _ in searcher.docs_for_query(live))
        if count:
            used = [f for f in fields if votes[key].get(f)]
            names = [n for n, _ in _variant_counts(searcher, used, key, 50).most_common()]
            shown = curated_name(key) or (names[0] if names else key)
            others = tuple(dict.fromkeys(n for n in names if n != shown))[:variants]
            out.append(ArchiveEntity(key, etype, count, shown, others))
    out.sort(key=lambda e: (-e.count, e.key))
    return out[:top]
