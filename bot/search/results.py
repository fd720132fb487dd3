"""What the matcher returns: ranked hits and the result of one search.

Hits for what is no passage (the table of contents, the slogan list, a lost measure, a
section or measure the report does not have) carry an id and a kind but no words: bot.replies
says them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.content import Kind, Passage, Section
from bot.search.intents import Intent, LostMeasure

SLOGANS_ID = "slogans"
SECTIONS_ID = "sections"
ABSENT = Kind.ABSENT  # the name callers used before Kind
CERTAIN = 100  # the confidence of what a question named (第二部分, 作者): nothing to guess


@dataclass(frozen=True)
class Hit:
    """One ranked passage, or what a question named, with a 0-100 confidence."""

    id: str
    kind: Kind
    title: str
    text: str
    path: str
    score: int

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "kind": self.kind.value, "title": self.title,
            "text": self.text, "path": self.path, "score": self.score,
        }


class Band(StrEnum):
    """How sure the matcher is: answer; probably this (shown with a hedge and the runner-up);
    decline (the nearest passages offered instead)."""

    ANSWER = "answer"
    PROBABLE = "probable"
    DECLINE = "decline"


@dataclass(frozen=True)
class SearchResult:
    """One search. ``answered``: a passage is shown (the ANSWER and PROBABLE bands); the
    band follows it unless given (PROBABLE is always given)."""

    question: str
    hits: tuple[Hit, ...]
    answered: bool
    corrections: tuple[tuple[str, str], ...] = ()  # (typed, meant) pairs: (海峡论谈, 海峡论坛)
    intent: Intent | None = None  # what the question named, when it named something
    band: Band = Band.ANSWER
    # where the sentence that answers stands in the best passage's text (start, end), for a
    # free-text question answered by a passage of several sentences; else None
    answer_span: tuple[int, int] | None = None
    asks_number: bool = False  # a free-text question asking how many, how much, what share

    def __post_init__(self) -> None:
        if not self.answered and self.band == Band.ANSWER:
            object.__setattr__(self, "band", Band.DECLINE)
        if self.answered == (self.band == Band.DECLINE):
            raise ValueError(f"a {self.band} band cannot be answered={self.answered}")


def passage_hit(passage: Passage, score: float) -> Hit:
    """A passage as a hit, its score clamped and rounded onto 0-100."""
    return Hit(passage.id, passage.kind, passage.title, passage.text, passage.path,
               max(0, min(100, round(score))))


def absent_hit(section: int, measure: int | None = None) -> Hit:
    """第四部分 of a three-part report, 第五点 of a four-point section: asked for, not there.

    Its id names what was asked for (s4, s2.m5); it is never a passage, so never answered.
    """
    passage_id = f"s{section}" if measure is None else f"s{section}.m{measure}"
    return Hit(passage_id, Kind.ABSENT, "", "", "", 0)


def missing_measure_hit(section: Section, number: int) -> Hit:
    """A measure the source lost (section 三 keeps only its 四是): one of its
    ``missing_measures``, never a number the section does not have."""
    return Hit(LostMeasure(section, number).id, Kind.LOST_MEASURE, "", "", "", CERTAIN)


def list_hit(kind: Kind) -> Hit:
    """The table of contents or the slogan list, asked for as such."""
    passage_id = SLOGANS_ID if kind == Kind.SLOGAN_LIST else SECTIONS_ID
    return Hit(passage_id, kind, "", "", "", CERTAIN)
