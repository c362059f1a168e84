"""The entity chain: a whole name normalised to one key (FRENCH.md, chain 3).

``Kim Jong-un``, ``KIM JONG UN`` and ``kim jong-un`` all become ``kim jong un``.
Keys are never stemmed: a filter on ``Macron`` must not match ``Macronie``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from unidecode import unidecode

# Hyphens (all Unicode dashes), apostrophes and dots separate words inside a name.
_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_SEPARATORS = re.compile(r"[\-\u2010-\u2015\u2212'’ʼ‘´`.·_/]+")
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def entity_key(name: str) -> str:
    """Normalise an entity name to its key.

    >>> entity_key("Kim Jong-un")
    'kim jong un'
    >>> entity_key("  L’Élysée ")
    'l elysee'
    >>> entity_key("S.N.C.F.")
    'sncf'
    """
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), unidecode(name)).lower()
    text = _SEPARATORS.sub(" ", text)
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
