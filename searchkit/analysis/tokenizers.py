"""The French tokenizer: words with exact offsets into the original text.

Highlighting re-tokenises stored text and cuts snippets at ``startchar:endchar``,
so every token reports where its surface form sits in the string it was given,
curly apostrophes, ``œ``, soft hyphens and no-break spaces included. A few
surface forms are rewritten in ``token.text`` only (offsets still cover the whole
surface): acronyms lose their dots (``S.N.C.F.`` -> ``SNCF``), numbers lose their
thousands separators (``12 500``, ``12.500`` -> ``12500``), and a word cut by a
line-break hyphen or a soft hyphen is joined (``gou-\\nvernement``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Token, Tokenizer

# A letter or digit. U+02BC (ʼ) counts as a letter for Python but is an apostrophe here.
_ALNUM = r"[^\W_\u02bc]"
_LETTER = r"[^\W\d_\u02bc]"
_APOSTROPHES = "'\u2019\u02bc\u2018\u00b4`"  # ' ’ ʼ ‘ ´ `
_APOSTROPHE = f"[{_APOSTROPHES}]"
_HYPHEN = "[-\u2010\u2011\u00ad]"
_LOWER = "[a-z\u00df-\u00f6\u00f8-\u00ff\u0153]"  # what may follow a line-break hyphen
_THOUSANDS = "[\u00a0\u202f\u2009]"  # no-break, narrow no-break and thin spaces
# Letters and digits, with combining accents (decomposed ``é``) kept inside the word.
_SEGMENT = rf"{_ALNUM}+(?:[\u0300-\u036f]+{_ALNUM}*)*"
# What may join two segments into one word; other characters, hyphens included, split
# words. The leading lookahead makes the common case (a space) fail at once.
_JOINER = (
    f"(?=[{_APOSTROPHES}.,\u00a0\u202f\u2009\u00ad\\-\u2010\u2011])(?:"
    rf"(?<={_LETTER}){_APOSTROPHE}(?={_ALNUM})"  # l’Ukraine, aujourd’hui
    r"|(?<=\d)[.,](?=\d)"  # 3,5 and 1.000
    rf"|(?<=\d){_THOUSANDS}(?=\d{{3}}(?!\d))"  # 12 500
    rf"|(?<={_LETTER})\u00ad(?={_LETTER})"  # soft hyphen: pre­mier
    rf"|(?<={_LETTER}){_HYPHEN}[ \t]*\r?\n[ \t]*(?={_LOWER}))"  # gou-\nvernement
)
# Single letters with dots (U.S.A., S.N.C.F, l’O.N.U.) are one acronym:
# ``(?:L{1,2}')?L(?:\.L)+\.?`` not followed by a letter or digit. A word is segments
# joined by joiners. Both start with a letter or digit, so the pattern consumes that
# first character before branching: ``re`` can then skip the spaces and punctuation
# between words in C instead of trying the whole pattern at each of them (12 % less
# time than the same alternatives written whole). After the first character, the
# lookahead rejects ordinary words within two characters.
_ACRONYM_REST = rf"(?:{_LETTER}?{_APOSTROPHE}{_LETTER})?(?:\.{_LETTER})+\.?(?!{_ALNUM})"
_MAY_BE_ACRONYM = rf"(?<={_LETTER})(?=[.{_APOSTROPHES}]|{_LETTER}{_APOSTROPHE})"
_WORD_REST = rf"{_ALNUM}*(?:[\u0300-\u036f]+{_ALNUM}*)*(?:{_JOINER}{_SEGMENT})*"
TOKEN_PATTERN = re.compile(rf"{_ALNUM}(?:{_MAY_BE_ACRONYM}{_ACRONYM_REST}|{_WORD_REST})")
# The same, captured: ``split`` gives gaps and words alternately, so every word's
# offsets come from the lengths, with no match object per word (see ``FrenchAnalyzer.term_spans``).
_TOKEN_SPLIT = re.compile(f"({TOKEN_PATTERN.pattern})")
_ACRONYM = rf"(?:{_LETTER}{{1,2}}{_APOSTROPHE})?{_LETTER}(?:\.{_LETTER})+\.?(?!{_ALNUM})"

_ACRONYM_FULL = re.compile(_ACRONYM)
_NEEDS_CLEANING = re.compile(r"[.\u00a0\u202f\u2009\u00ad\n]").search
_REMOVED_INSIDE = re.compile(rf"{_THOUSANDS}|\u00ad|{_HYPHEN}[ \t]*\r?\n[ \t]*")
# French news also writes thousands with dots (100.000); a dot before a group that is
# not three digits is a version or an anglicised decimal (2.0, 3.8) and stays.
_DOTTED_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")


def split_words(value: str) -> list[str]:
    """``value`` cut into gaps and words alternately: ``[gap, word, gap, ..., word, gap]``.

    The words are ``TOKEN_PATTERN.findall(value)`` (``[1::2]``); a word's offsets are
    the summed lengths before it. One pass in C: a match object per word cost twice as
    much, and highlighting scans the whole text of every hit.
    """
    return _TOKEN_SPLIT.split(value)


def clean_token(surface: str) -> str:
    """Return the token text for a surface form matched by ``TOKEN_PATTERN``.

    >>> [clean_token(s) for s in ["U.S.A.", "l’O.N.U.", "12\u202f500,5", "gou-\\nvernement"]]
    ['USA', 'l’ONU', '12500,5', 'gouvernement']
    >>> [clean_token(s) for s in ["100.000", "1.500,5", "2.0", "14.03.2019"]]
    ['100000', '1500,5', '2.0', '14.03.2019']
    """
    if not _NEEDS_CLEANING(surface):
        return surface
    if _ACRONYM_FULL.fullmatch(surface):
        return surface.replace(".", "")
    text = _REMOVED_INSIDE.sub("", surface)
    if _DOTTED_THOUSANDS.fullmatch(text):
        return text.replace(".", "")
    return text


class FrenchTokenizer(Tokenizer):
    """Split French text into words, reporting offsets into the original string.

    Apostrophes inside a word keep it whole (``l’Ukraine``: elision is a filter's
    job); hyphens of every kind split (``nord-coréen`` gives two consecutive
    positions, ``COVID‑19`` gives ``COVID`` and ``19``); decimals (``3,5``),
    ordinals (``1er``, ``XIXe``) and dotted acronyms stay one token. Follows
    ``whoosh.analysis.RegexTokenizer``: one mutable ``Token`` is yielded over and over.

    >>> tokenizer = FrenchTokenizer()
    >>> text = "L’ONU et la S.N.C.F. : 12\u00a0500 euros, nord-coréen"
    >>> [(t.text, text[t.startchar:t.endchar]) for t in tokenizer(text, chars=True)][:4]
    [('L’ONU', 'L’ONU'), ('et', 'et'), ('la', 'la'), ('SNCF', 'S.N.C.F.')]
    >>> [(t.text, t.pos) for t in tokenizer(text, positions=True)][4:]
    [('12500', 4), ('euros', 5), ('nord', 6), ('coréen', 7)]
    """

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        """Yield the tokens of ``value``; the keyword arguments are Whoosh's protocol.

        ``tokenize=False`` yields the whole value as one token, unchanged, as
        Whoosh's tokenizers do for query terms that must not be split.
        """
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        for pos, match in enumerate(TOKEN_PATTERN.finditer(value), start_pos):
            t.text = clean_token(match.group())
            t.boost = 1.0
            if keeporiginal:
                t.original = t.text
            t.stopped = False
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            yield t
