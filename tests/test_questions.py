"""The evaluation question set (tests/data/questions.yaml) through the real index.

Answerable questions (non-empty ``expect``) need the top hit among the expected ids
and ``answered``; decline questions (``expect: []``) need ``answered`` False.
Both must succeed for at least 90%; the per-category figures are printed on failure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.replies import FaqBot
from bot.search import SECTIONS_ID, SLOGANS_ID

QUESTIONS = Path(__file__).resolve().parent / "data" / "questions.yaml"
REQUIRED = 0.90


@dataclass(frozen=True)
class Outcome:
    question: str
    category: str
    expect: tuple[str, ...]
    top: str  # id of the top hit, '' when there is none
    answered: bool

    @property
    def decline(self) -> bool:
        return not self.expect

    @property
    def right(self) -> bool:
        if self.decline:
            return not self.answered
        return self.answered and self.top in self.expect


def load_questions() -> list[dict]:
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def outcomes(faq_bot: FaqBot) -> list[Outcome]:
    results = []
    for entry in load_questions():
        result = faq_bot.index.search(entry["q"])
        results.append(Outcome(
            entry["q"], entry["category"], tuple(entry["expect"]),
            result.hits[0].id if result.hits else "", result.answered,
        ))
    return results


def report_table(outcomes: list[Outcome]) -> str:
    """Per-category figures and the questions that went wrong."""
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome.category].append(outcome)
    lines = [f"{'category':<14}{'right':>7}{'total':>7}{'rate':>8}"]
    for category, group in sorted(by_category.items()):
        right = sum(o.right for o in group)
        lines.append(f"{category:<14}{right:>7}{len(group):>7}{right / len(group):>8.0%}")
    wrong = [o for o in outcomes if not o.right]
    lines.append(f"wrong ({len(wrong)}):")
    lines += [
        f"  [{o.category}] {o.question} -> {o.top or '-'} answered={o.answered}, "
        f"expected {list(o.expect) or 'decline'}"
        for o in wrong
    ]
    return "\n".join(lines)


def rate(outcomes: list[Outcome]) -> float:
    return sum(o.right for o in outcomes) / len(outcomes)


def test_question_set_is_well_formed(faq_bot: FaqBot) -> None:
    entries = load_questions()
    assert entries and all(set(e) == {"q", "expect", "category"} for e in entries)
    questions = [e["q"] for e in entries]
    assert len(questions) == len(set(questions)), "duplicate questions"
    known = {p.id for p in faq_bot.report.passages} | {SLOGANS_ID, SECTIONS_ID}
    known |= {f"{s.id}.m{n}" for s in faq_bot.report.sections for n in s.missing_measures}
    unknown = {i for e in entries for i in e["expect"]} - known
    assert unknown == set(), "ids the bot can never answer with"
    assert any(not e["expect"] for e in entries) and any(e["expect"] for e in entries)


def test_top_hit_is_right_for_answerable_questions(outcomes: list[Outcome]) -> None:
    answerable = [o for o in outcomes if not o.decline]
    assert rate(answerable) >= REQUIRED, report_table(outcomes)


def test_declines_are_right_for_unanswerable_questions(outcomes: list[Outcome]) -> None:
    declines = [o for o in outcomes if o.decline]
    assert rate(declines) >= REQUIRED, report_table(outcomes)
