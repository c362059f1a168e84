"""Day names in a pasted passage, matched against the articles' publication dates.

News copy dates events by the day of the week: "a annoncé mardi", "jeudi soir".
The day named is the day of publication, or the day before for an article
published the next morning. When someone pastes a summary or a paragraph to find
the article it came from, several articles often share its words (the same story
the day it broke and in the follow-ups); the day it names tells them apart. On
OrangeSum's abstracts, two in five name a day, and favouring the articles
published that day (or the day after) raised MRR@10 by about 0.01 on queries
held out from the tuning (bench/RESULTS.md, "Ranking (issue 3)").

Only long queries use this (more than ``Ranking.and_max_words`` words, see
:mod:`searchkit.search`): in a query of up to four words, a day name is as likely
a topic as the date of an event. Plurals ("tous les mardis") say how often, not
when; a day joined by a hyphen ("Mardi-Gras", "lundi-vendredi") or "mardi gras"
is a name or a range. None of them counts.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .dates import parse_date

WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_NAMED = re.compile(r"(?<![\w-])(" + "|".join(WEEKDAYS) + r")(?![\w-])(?!\s+gras\b)", re.IGNORECASE)
DAY_AFTER = 0.5  # an article of the next day counts half: most copy dates its own day


def named_weekdays(text: str) -> frozenset[int]:
    """The days of the week ``text`` names, as ``date.weekday()`` numbers (Monday 0)."""
    return frozenset(WEEKDAYS.index(m.lower()) for m in _NAMED.findall(text))


def weekday_match(stored_date: object, days: Collection[int]) -> float:
    """1 if the article appeared on one of ``days``, :data:`DAY_AFTER` if the day after, else 0.

    ``stored_date`` is the date as stored (``YYYY-MM-DD``); an article dated to
    the month or the year, or not at all, gets 0: its weekday is unknown.
    """
    span = parse_date(stored_date)
    if span is None or span.precision != "day" or not days:
        return 0.0
    weekday = span.start.weekday()
    if weekday in days:
        return 1.0
    if (weekday - 1) % 7 in days:
        return DAY_AFTER
    return 0.0
