"""Measure the matcher on a question set, side by side with a BM25 baseline.

A question set is a YAML list of entries ``{q, expect, category}`` (and an
optional ``persona``: who asks). ``expect`` lists the acceptable passages, best
first, and ``[]`` or ``none`` means the bot must decline. A passage is named by
its id (``s2.m1``) or, in sets written by someone who saw only the report, by its
heading as the report prints it (``二是以文辅政力求更精``, ``（三）深化预算管理改革``,
``intro``, ``closing``, ``author``/``metadata``): ``resolve_questions`` turns each
into ids of the loaded report, and one it cannot resolve is an error naming the
file and line. An expected passage also accepts its parts (a long passage is
answered in parts ``s2.m2.p1``, ...) and the slogans quoting it (a slogan's reply
is that passage's text under its path). Per category we report:

- top-1 accuracy: an answerable question is right when the bot answers with a
  passage in ``expect``; a must-decline question is right when the bot declines;
- top-3 recall (answerable questions): an expected id is among the first three hits;
- decline precision: of the questions declined, the share that should be declined;
- decline recall: of the must-decline questions, the share declined.

The overall figure is the share of all questions handled right (top-1 accuracy
over the whole set).

The baseline is ``rank_bm25.BM25Okapi`` (a dev dependency, imported only here)
over the bot's own jieba tokens of each passage's title, text, questions and
keywords, after the same ``textnorm.normalize``. It declines below the score
threshold that maximises its own overall figure on the set being measured, an
optimistic baseline. It has no intents, so it can never return the slogan list
or a measure the source lost.

>>> questions = [Question("q1", ("s1",), "direct"), Question("q2", (), "offtopic")]
>>> evaluation = Evaluation("toy", (
...     Outcome(questions[0], Prediction(("s1",), 80, True)),
...     Outcome(questions[1], Prediction(("s2",), 60, True)),
... ))
>>> evaluation.overall.top1, evaluation.overall.decline_recall
(0.5, 0.0)
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot import safe_yaml
from bot.content import AUTHOR_ID, CLOSING_ID, INTRO_ID, Passage, Report
from bot.search import SECTIONS_ID, SLOGANS_ID, Band, Index
from bot.textnorm import Segmenter, normalize

if TYPE_CHECKING:  # the quality tools use the bot; the bot never imports them
    from bot.replies import FaqBot, Reply

MAX_QUESTIONS_BYTES = 2 * 1024 * 1024  # ours are 30-60 KB; the same cap as content
TOP_K = 3
# Calibration bins of the bot's 0-100 confidence, for answered questions.
CONFIDENCE_BINS = ((0, 49), (50, 69), (70, 89), (90, 100))
_KEYS = ("q", "expect", "category")
_OPTIONAL_KEYS = ("persona",)
DECLINE_WORD = "none"  # ``expect: none``: the bot must decline


class EvaluationError(Exception):
    """The evaluation cannot run; the message is one line."""


class QuestionSetError(EvaluationError):
    """A question file is broken: ``FILE:LINE: message``."""


class BaselineUnavailable(EvaluationError):
    """rank_bm25 (a dev dependency) is not installed."""


# --- question sets ------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    text: str
    expect: tuple[str, ...]  # acceptable passage ids, best first; () = must decline
    category: str
    line: int = 0
    persona: str = ""  # who asks (blind sets: citizen, journalist, ...)
    expect_lines: tuple[int, ...] = ()  # the line of each item of expect, for errors

    @property
    def should_decline(self) -> bool:
        return not self.expect


def load_questions(path: Path) -> list[Question]:
    """Read and validate a question set; raise QuestionSetError naming the file and line."""
    try:
        root = safe_yaml.load_node(path, MAX_QUESTIONS_BYTES)
    except safe_yaml.YamlFileError as error:
        raise QuestionSetError(str(error)) from None

    def fail(node: Node, message: str) -> QuestionSetError:
        return QuestionSetError(f"{path}:{node.start_mark.line + 1}: {message}")

    def is_text(node: Node) -> bool:
        return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str"

    if root is None:
        raise QuestionSetError(f"{path}:1: the question file is empty")
    if not isinstance(root, SequenceNode):
        raise fail(root, "a question set is a list of entries with q, expect and category")
    questions: list[Question] = []
    for item in root.value:
        if not isinstance(item, MappingNode):
            raise fail(item, "each entry must be a mapping with q, expect and category")
        fields: dict[str, Node] = {}
        for key_node, value_node in item.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else str(key_node)
            if key not in _KEYS + _OPTIONAL_KEYS:
                raise fail(key_node, f"unknown key '{key}' (expected q, expect, category, "
                                     "optionally persona)")
            if key in fields:
                raise fail(key_node, f"duplicate key '{key}'")
            fields[key] = value_node
        for key in _KEYS:
            if key not in fields:
                raise fail(item, f"missing key '{key}'")
        for key in ("q", "category", *(k for k in _OPTIONAL_KEYS if k in fields)):
            if not is_text(fields[key]) or not fields[key].value.strip():
                raise fail(fields[key], f"'{key}' must be non-empty text")
        expect = fields["expect"]
        if is_text(expect) and expect.value.strip() == DECLINE_WORD:
            items: list[Node] = []
        elif isinstance(expect, SequenceNode):
            items = expect.value
        else:
            raise fail(expect, "'expect' must be a list of passage ids or headings "
                               f"([] or {DECLINE_WORD} = must decline)")
        for node in items:
            if not is_text(node) or not node.value.strip():
                raise fail(node, "items of 'expect' must be passage ids or headings")
        persona = fields.get("persona")
        questions.append(Question(
            fields["q"].value.strip(),
            tuple(node.value.strip() for node in items),
            fields["category"].value.strip(),
            item.start_mark.line + 1,
            persona.value.strip() if persona is not None else "",
            tuple(node.start_mark.line + 1 for node in items),
        ))
    if not questions:
        raise QuestionSetError(f"{path}:1: the question set has no questions")
    return questions


def answer_ids(index: Index) -> frozenset[str]:
    """Every id the bot can answer with: passages, the slogan list, the table of
    contents, lost measures."""
    lost = {
        f"{section.id}.m{number}"
        for section in index.report.sections
        for number in section.missing_measures
    }
    return frozenset(index.passages) | {SLOGANS_ID, SECTIONS_ID} | lost


# --- expectations written as headings ---------------------------------------------

# What a blind set may write instead of a section or measure heading.
PASSAGE_WORDS = {"intro": INTRO_ID, "closing": CLOSING_ID, "author": AUTHOR_ID,
                 "metadata": AUTHOR_ID}
_ID_LIKE = re.compile(r"^[a-z]+\d*(\.[a-z]+\d+)*$")  # s2, s2.m1, sl3, s1.m2.p1


def _heading_key(text: str) -> str:
    """A heading compared as printed: full and half width alike, spaces ignored."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


class Resolver:
    """Expected passages (ids, headings, passage words) -> the ids the bot may answer with.

    >>> from bot.content import Measure, Section
    >>> section = Section("s1", 1, "着力思想提标,强化政治引领", "", (
    ...     Measure("s1.m1", 1, "立足对党忠诚", "……"),))
    >>> resolver = Resolver(Report("r", "", "", "", "", "", "引言", (section,)), {"intro"})
    >>> resolver.resolve("一是立足对党忠诚"), resolver.resolve("一、着力思想提标")
    (('s1.m1',), ('s1',))
    """

    def __init__(self, report: Report, answer_ids: Iterable[str],
                 aliases: dict[str, str] | None = None) -> None:
        self.report = report
        self.aliases = aliases or {}
        passages = report.passages
        self.known = frozenset(answer_ids) | {p.parent for p in passages if p.kind == "part"}
        # a passage's parts and the slogans quoting it answer for it
        self.answering: dict[str, list[str]] = {}
        for passage in passages:
            if passage.kind in ("part", "slogan") and passage.parent:
                self.answering.setdefault(passage.parent, []).append(passage.id)
        self.headings = [
            (_heading_key(heading), passage_id)
            for section in report.sections
            for heading, passage_id in (
                (section.heading, section.id),
                *((m.heading, m.id) for m in section.measures),
            )
        ]

    def resolve(self, item: str) -> tuple[str, ...]:
        """The ids answering for one expected item; raise ValueError saying why not."""
        item = self.aliases.get(item, item)
        if item in PASSAGE_WORDS:
            passage_id = PASSAGE_WORDS[item]
            if passage_id not in self.known:
                raise ValueError(f"'{item}': the report has no {item} passage")
        elif item in self.known:
            passage_id = item
        elif _ID_LIKE.match(item):
            raise ValueError(f"unknown passage id '{item}'")
        else:
            passage_id = self._heading(item)
        return (passage_id, *self.answering.get(passage_id, ()))

    def _heading(self, heading: str) -> str:
        """The section or measure whose printed heading starts with this one (marker and
        the start of the title); exactly one must."""
        key = _heading_key(heading)
        exact = [i for h, i in self.headings if h == key]
        found = exact or [i for h, i in self.headings if key and h.startswith(key)]
        found = found or self._holding(key)
        if not found:
            raise ValueError(f"heading '{heading}' matches no section or measure of the report"
                             " and no passage holds these words")
        if len(found) > 1:
            raise ValueError(f"heading '{heading}' matches several passages "
                             f"({', '.join(found)}); quote more of the title")
        return found[0]


    def _holding(self, key: str) -> list[str]:
        """The smallest passages whose text holds these words (the opening words of a
        paragraph or bullet inside a section or measure: its passage answers for it)."""
        holders = [p for p in self.report.passages
                   if p.kind != "slogan" and key and key in _heading_key(p.text)]
        if not holders:
            return []
        smallest = min(len(p.text) for p in holders)
        return [p.id for p in holders if len(p.text) == smallest]


def resolve_questions(questions: Sequence[Question], index: Index, source: str,
                      aliases: dict[str, str] | None = None) -> list[Question]:
    """The questions with every expected item as ids of this index's report (the item,
    its parts and the slogans quoting it); QuestionSetError names the file and line of
    the first item that cannot be resolved."""
    resolver = Resolver(index.report, answer_ids(index), aliases)
    resolved = []
    for question in questions:
        ids: list[str] = []
        lines = question.expect_lines or (question.line,) * len(question.expect)
        for item, line in zip(question.expect, lines, strict=True):
            try:
                ids.extend(i for i in resolver.resolve(item) if i not in ids)
            except ValueError as error:
                raise QuestionSetError(f"{source}:{line}: {error}") from None
        resolved.append(replace(question, expect=tuple(ids)))
    return resolved


# --- predictions and scores ---------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """What a matcher did with one question."""

    ids: tuple[str, ...]  # ranked hits, best first
    score: float  # confidence of the best hit (bot: 0-100, BM25: raw score)
    answered: bool  # a passage is shown, hedged or not: top-1 counts it as an answer
    hedged: bool = False  # answered in the "probably this" band (bot only)


@dataclass(frozen=True)
class Outcome:
    question: Question
    prediction: Prediction

    @property
    def declined(self) -> bool:
        return not self.prediction.answered

    @property
    def correct(self) -> bool:
        """Top-1 right: answered with an expected passage, or declined when it should be."""
        if self.question.should_decline:
            return self.declined
        ids = self.prediction.ids
        return self.prediction.answered and bool(ids) and ids[0] in self.question.expect

    @property
    def in_top3(self) -> bool:
        return any(i in self.question.expect for i in self.prediction.ids[:TOP_K])


@dataclass(frozen=True)
class Scores:
    """Counts for one category (or the whole set) and the rates derived from them."""

    n: int
    correct: int
    answerable: int
    top3: int
    declined: int
    declined_right: int
    should_decline: int

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Scores:
        return cls(
            n=len(outcomes),
            correct=sum(o.correct for o in outcomes),
            answerable=sum(not o.question.should_decline for o in outcomes),
            top3=sum(o.in_top3 for o in outcomes if not o.question.should_decline),
            declined=sum(o.declined for o in outcomes),
            declined_right=sum(o.declined and o.question.should_decline for o in outcomes),
            should_decline=sum(o.question.should_decline for o in outcomes),
        )

    @property
    def top1(self) -> float:
        return _rate(self.correct, self.n) or 0.0

    @property
    def top3_recall(self) -> float | None:
        return _rate(self.top3, self.answerable)

    @property
    def decline_precision(self) -> float | None:
        return _rate(self.declined_right, self.declined)

    @property
    def decline_recall(self) -> float | None:
        return _rate(self.declined_right, self.should_decline)

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n, "top1_accuracy": self.top1, "top3_recall": self.top3_recall,
            "decline_precision": self.decline_precision, "decline_recall": self.decline_recall,
            "counts": {
                "correct": self.correct, "answerable": self.answerable, "top3": self.top3,
                "declined": self.declined, "declined_right": self.declined_right,
                "should_decline": self.should_decline,
            },
        }


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Evaluation:
    """One matcher's outcomes on a question set."""

    name: str
    outcomes: tuple[Outcome, ...]
    threshold: float | None = None  # the decline threshold, when fitted on the set

    @property
    def overall(self) -> Scores:
        return Scores.of(self.outcomes)

    def categories(self) -> dict[str, Scores]:
        """Scores per category, in order of first appearance."""
        groups: dict[str, list[Outcome]] = {}
        for outcome in self.outcomes:
            groups.setdefault(outcome.question.category, []).append(outcome)
        return {category: Scores.of(group) for category, group in groups.items()}

    def wrong(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]

    def calibration(
        self, bins: Sequence[tuple[int, int]] = CONFIDENCE_BINS
    ) -> list[tuple[str, int, int]]:
        """(bin label, answered questions, of which right) per non-empty confidence bin."""
        rows = []
        for low, high in bins:
            inside = [o for o in self.outcomes
                      if o.prediction.answered and low <= o.prediction.score <= high]
            if inside:
                rows.append((f"{low}-{high}", len(inside), sum(o.correct for o in inside)))
        return rows

    def hedged(self) -> tuple[int, int]:
        """(answers given with a hedge, of which right)."""
        hedged = [o for o in self.outcomes if o.prediction.answered and o.prediction.hedged]
        return len(hedged), sum(o.correct for o in hedged)


def evaluate(name: str, questions: Sequence[Question], predictions: Sequence[Prediction],
             threshold: float | None = None) -> Evaluation:
    outcomes = tuple(Outcome(q, p) for q, p in zip(questions, predictions, strict=True))
    return Evaluation(name, outcomes, threshold)


def bot_prediction(index: Index, question: str) -> Prediction:
    result = index.search(question, k=TOP_K)
    score = result.hits[0].score if result.hits else 0
    return Prediction(tuple(h.id for h in result.hits), score, result.answered,
                      result.band == Band.PROBABLE)


# --- the BM25 baseline ------------------------------------------------------------


class Bm25Baseline:
    """rank_bm25.BM25Okapi over the bot's jieba tokens of normalised passages.

    ``rank`` never declines on its own (except when nothing matches); the decline
    threshold is applied by ``fit_threshold``/``with_threshold``.
    """

    def __init__(self, passages: Sequence[Passage], segmenter: Segmenter):
        try:
            import numpy
            from rank_bm25 import BM25Okapi
        except ImportError:
            raise BaselineUnavailable(
                "the BM25 baseline needs rank_bm25 (a dev dependency): pip install -e '.[dev]'"
            ) from None
        self._numpy = numpy
        self.segmenter = segmenter
        self.ids = [p.id for p in passages]
        self.model = BM25Okapi([self.tokens(document_text(p)) or [""] for p in passages])

    def tokens(self, text: str) -> list[str]:
        return self.segmenter.content_tokens(normalize(text))

    def rank(self, question: str, k: int = TOP_K) -> Prediction:
        tokens = self.tokens(question)
        if not tokens:
            return Prediction((), 0.0, False)
        scores = self.model.get_scores(tokens)
        k = min(k, len(scores))
        top = self._numpy.argpartition(-scores, k - 1)[:k]
        order = sorted(top, key=lambda i: (-scores[i], i))
        best = float(scores[order[0]])
        if best <= 0:
            return Prediction((), best, False)
        return Prediction(tuple(self.ids[i] for i in order), best, True)


def document_text(passage: Passage) -> str:
    """What the baseline indexes of a passage: title, text, questions and keywords."""
    return " ".join((passage.title, passage.text, *passage.questions, *passage.keywords))


def with_threshold(predictions: Sequence[Prediction], threshold: float) -> list[Prediction]:
    """Answer only when the best score reaches the threshold."""
    return [replace(p, answered=bool(p.ids) and p.score >= threshold) for p in predictions]


def fit_threshold(questions: Sequence[Question], predictions: Sequence[Prediction]) -> float:
    """The decline threshold maximising the overall figure on this set (lowest on ties);
    ``inf`` means declining everything is best."""
    candidates = sorted({p.score for p in predictions if p.ids}) + [math.inf]
    best, best_correct = math.inf, -1
    for threshold in candidates:
        outcomes = map(Outcome, questions, with_threshold(predictions, threshold))
        correct = sum(o.correct for o in outcomes)
        if correct > best_correct:
            best, best_correct = threshold, correct
    return best


# --- the comparison ---------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    source: str
    bot: Evaluation
    bm25: Evaluation
    notes: tuple[str, ...] = field(default=())


def compare(index: Index, questions: Sequence[Question], source: str = "",
            aliases: dict[str, str] | None = None) -> Comparison:
    """Run the question set through the bot and the BM25 baseline (expected headings
    resolved against the index's report first)."""
    written = questions
    questions = resolve_questions(questions, index, source or "questions", aliases)
    bot = evaluate("bot", questions, [bot_prediction(index, q.text) for q in questions])
    baseline = Bm25Baseline(index.report.passages, index.data.segmenter)
    raw = [baseline.rank(q.text) for q in questions]
    threshold = fit_threshold(questions, raw)
    bm25 = evaluate("bm25", questions, with_threshold(raw, threshold), threshold)
    bot_only = sum(
        1 for q in questions
        if q.expect and not any(i in baseline.ids for i in q.expect)
    )
    notes = (
        "bm25 = rank_bm25.BM25Okapi over the bot's jieba tokens (same dictionary, same "
        "textnorm.normalize, stopwords removed) of each passage's title+text+questions+keywords",
        (f"bm25 declines when its best score < {threshold:.2f}" if threshold != math.inf
         else "bm25 declines every question")
        + ": the threshold that maximises its own overall figure on this set (fitted on the "
        "test set itself, so an optimistic baseline)",
        f"{bot_only} questions expect only ids BM25 cannot return "
        "(the slogan list, the table of contents, lost measures)",
        "an expected passage also accepts its parts and the slogans quoting it (their reply "
        "shows that passage); top-1 answers counted right only so: "
        f"bot {_through_parts(bot, written, index)}, "
        f"bm25 {_through_parts(bm25, written, index)}",
    )
    return Comparison(source, bot, bm25, notes)


def _through_parts(evaluation: Evaluation, written: Sequence[Question], index: Index) -> int:
    """Right answers that are a part or a quoting slogan the set did not name itself."""
    return sum(
        1 for outcome, question in zip(evaluation.outcomes, written, strict=True)
        if outcome.correct and outcome.prediction.answered
        and outcome.prediction.ids[0] not in question.expect
        and index.passages[outcome.prediction.ids[0]].kind in ("part", "slogan")
    )


# --- output -----------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def format_text(comparison: Comparison, verbose: bool = False) -> str:
    """Per-category table, bot | bm25 side by side, then overall, calibration, notes."""
    bot, bm25 = comparison.bot, comparison.bm25
    bot_categories, bm25_categories = bot.categories(), bm25.categories()
    width = max(8, *(len(c) for c in bot_categories))
    metrics = ("top-1 accuracy", "top-3 recall", "decline precision", "decline recall")
    lines = [
        f"question set: {comparison.source or '-'} ({len(bot.outcomes)} questions, "
        f"{len(bot_categories)} categories); figures in %, bot | bm25",
        (f"{'':{width}} {'':>4}  " + "  ".join(f"{m:^17}" for m in metrics)).rstrip(),
        f"{'category':{width}} {'n':>4}  "
        + "  ".join(f"{'bot':>7} | {'bm25':<7}" for _ in metrics).rstrip(),
    ]

    def row(name: str, ours: Scores, theirs: Scores) -> str:
        pairs = (
            (ours.top1, theirs.top1),
            (ours.top3_recall, theirs.top3_recall),
            (ours.decline_precision, theirs.decline_precision),
            (ours.decline_recall, theirs.decline_recall),
        )
        cells = "  ".join(f"{_pct(a):>7} | {_pct(b):<7}" for a, b in pairs)
        return f"{name:{width}} {ours.n:>4}  {cells}".rstrip()

    for category, scores in bot_categories.items():
        lines.append(row(category, scores, bm25_categories[category]))
    lines.append(row("overall", bot.overall, bm25.overall))
    gap = 100 * (bot.overall.top1 - bm25.overall.top1)
    worst = min(bot_categories.items(), key=lambda item: item[1].top1)
    lines.append(
        f"overall (share of all questions handled right): bot {_pct(bot.overall.top1)}% | "
        f"bm25 {_pct(bm25.overall.top1)}% ({gap:+.1f} points); "
        f"lowest bot category: {worst[0]} {_pct(worst[1].top1)}%"
    )
    bins = " · ".join(
        f"{label}: {100 * right / n:.0f}% of {n}" for label, n, right in bot.calibration()
    )
    lines.append(
        f"calibration (bot, answered questions by confidence -> share right): {bins or '-'}"
    )
    hedged, hedged_right = bot.hedged()
    lines.append(f"hedged (bot, answered as \"probably this\"): {hedged}, of which right "
                 f"{hedged_right}")
    lines.extend(f"note: {note}" for note in comparison.notes)
    if verbose:
        wrong = bot.wrong()
        lines.append(f"bot wrong answers ({len(wrong)}):")
        lines.extend(f"  {_describe(o)}" for o in wrong)
    return "\n".join(lines)


def _describe(outcome: Outcome) -> str:
    question, prediction = outcome.question, outcome.prediction
    expected = ", ".join(question.expect) or "decline"
    best = prediction.ids[0] if prediction.ids else "-"
    got = f"{best} ({prediction.score:g})" if prediction.answered else (
        f"declined (best {best} {prediction.score:g})"
    )
    return f"[{question.category}] {question.text} | expected: {expected} | got: {got}"


def as_dict(comparison: Comparison) -> dict[str, object]:
    def one(evaluation: Evaluation) -> dict[str, object]:
        return {
            "overall": evaluation.overall.as_dict(),
            "categories": {c: s.as_dict() for c, s in evaluation.categories().items()},
            "threshold": evaluation.threshold,
            "wrong": [
                {
                    "question": o.question.text, "category": o.question.category,
                    "expected": list(o.question.expect), "got": list(o.prediction.ids),
                    "score": o.prediction.score, "answered": o.prediction.answered,
                }
                for o in evaluation.wrong()
            ],
        }

    bot = one(comparison.bot)
    bot["calibration"] = [
        {"confidence": label, "answered": n, "right": right}
        for label, n, right in comparison.bot.calibration()
    ]
    hedged, hedged_right = comparison.bot.hedged()
    bot["hedged"] = {"answered": hedged, "right": hedged_right}
    bm25 = one(comparison.bm25)
    if bm25["threshold"] == math.inf:
        bm25["threshold"] = None
    return {"questions": comparison.source, "bot": bot, "bm25": bm25,
            "notes": list(comparison.notes)}


def format_json(comparison: Comparison) -> str:
    return json.dumps(as_dict(comparison), ensure_ascii=False, indent=2)


# --- conversations ------------------------------------------------------------------
#
# A conversation set is a YAML list of ``{persona, turns: [{say, expect}]}``, put through
# FaqBot.handle turn by turn with one chat key per conversation (follow-ups read the
# conversation's context). ``expect`` is ``smalltalk:<kind>``, a heading as the report
# prints it (or intro, closing, author), or ``decline``. Each turn is scored in a category:
# smalltalk (it expects small talk), follow-up (its line carries a ``# follow-up`` tag, or
# ``category: follow-up``), else question. A turn expecting ``decline`` is right when the
# reply is an honest no: a decline, or a measure the source lost.

SMALLTALK_PREFIX = "smalltalk:"
CONVERSATION_DECLINE = "decline"
FOLLOW_UP = "follow-up"
_FOLLOW_UP_TAG = re.compile(r"#\s*follow-up\b")
_TURN_KEYS = ("say", "expect")
_TURN_OPTIONAL = ("category",)


@dataclass(frozen=True)
class Conversation:
    persona: str
    turns: tuple[Question, ...]  # say as text; expect as written until resolved
    line: int = 0


def load_conversations(path: Path) -> list[Conversation]:
    """Read and validate a conversation set; QuestionSetError names the file and line."""
    from bot.smalltalk import SmallTalk

    try:
        text = safe_yaml.read_text(path, MAX_QUESTIONS_BYTES)
        root = safe_yaml.compose(path, text)
    except safe_yaml.YamlFileError as error:
        raise QuestionSetError(str(error)) from None
    lines = text.splitlines()

    def fail(node: Node, message: str) -> QuestionSetError:
        return QuestionSetError(f"{path}:{node.start_mark.line + 1}: {message}")

    def text_of(node: Node, what: str) -> str:
        if not (isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str"
                and node.value.strip()):
            raise fail(node, f"{what} must be non-empty text")
        return str(node.value).strip()

    def mapping(node: Node, keys: tuple[str, ...], optional: tuple[str, ...],
                what: str) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise fail(node, f"each {what} must be a mapping with {', '.join(keys)}")
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else str(key_node)
            if key not in keys + optional:
                raise fail(key_node, f"unknown key '{key}' (expected {', '.join(keys)})")
            if key in fields:
                raise fail(key_node, f"duplicate key '{key}'")
            fields[key] = value_node
        for key in keys:
            if key not in fields:
                raise fail(node, f"missing key '{key}'")
        return fields

    if root is None:
        raise QuestionSetError(f"{path}:1: the conversation file is empty")
    if not isinstance(root, SequenceNode) or not root.value:
        raise fail(root, "a conversation set is a list of {persona, turns: [{say, expect}]}")
    kinds = {f"{SMALLTALK_PREFIX}{kind.value}" for kind in SmallTalk}
    conversations = []
    for item in root.value:
        fields = mapping(item, ("turns",), ("persona",), "conversation")
        persona = text_of(fields["persona"], "'persona'") if "persona" in fields else ""
        turns_node = fields["turns"]
        if not isinstance(turns_node, SequenceNode) or not turns_node.value:
            raise fail(turns_node, "'turns' must be a list of {say, expect}")
        turns = []
        for turn in turns_node.value:
            turn_fields = mapping(turn, _TURN_KEYS, _TURN_OPTIONAL, "turn")
            say = text_of(turn_fields["say"], "'say'")
            expect = text_of(turn_fields["expect"], "'expect'")
            if expect.startswith(SMALLTALK_PREFIX) and expect not in kinds:
                raise fail(turn_fields["expect"], f"unknown small talk '{expect}' (expected "
                                                  f"{', '.join(sorted(kinds))})")
            first, last = turn.start_mark.line, turn.end_mark.line
            tagged = any(_FOLLOW_UP_TAG.search(line) for line in lines[first:last + 1])
            if "category" in turn_fields:
                category = text_of(turn_fields["category"], "'category'")
            elif expect.startswith(SMALLTALK_PREFIX):
                category = "smalltalk"
            else:
                category = FOLLOW_UP if tagged else "question"
            written = () if expect == CONVERSATION_DECLINE else (expect,)
            line = turn_fields["expect"].start_mark.line + 1
            turns.append(Question(say, written, category, turn.start_mark.line + 1, persona,
                                  (line,) * len(written)))
        conversations.append(Conversation(persona, tuple(turns), item.start_mark.line + 1))
    return conversations


def resolve_conversations(conversations: Sequence[Conversation], index: Index, source: str,
                          aliases: dict[str, str] | None = None) -> list[Conversation]:
    """Every expected heading as ids of the index's report; small talk stays as written."""
    resolved = []
    for conversation in conversations:
        turns = []
        for turn in conversation.turns:
            if turn.expect and turn.expect[0].startswith(SMALLTALK_PREFIX):
                turns.append(turn)
            else:
                turns.extend(resolve_questions([turn], index, source, aliases))
        resolved.append(replace(conversation, turns=tuple(turns)))
    return resolved


def conversation_prediction(bot: FaqBot, reply: Reply) -> Prediction:
    """What a reply did, as a prediction: its small talk, or the passage it shows (a
    measure the source lost counts as an honest no, as a decline does)."""
    if reply.small_talk is not None:
        return Prediction((f"{SMALLTALK_PREFIX}{reply.small_talk.value}",), 100, True)
    result = reply.result
    score = result.hits[0].score if result is not None and result.hits else 0
    shown = reply.passage_id
    honest_no = not reply.answered or (bool(shown) and bot.lost_measure_id(shown))
    hedged = result is not None and result.band == Band.PROBABLE
    return Prediction((shown,) if shown else (), score, not honest_no, hedged)


def converse(bot: FaqBot, conversations: Sequence[Conversation]) -> list[Prediction]:
    """Each conversation through FaqBot.handle under its own chat key, turn by turn."""
    predictions = []
    for number, conversation in enumerate(conversations):
        chat_key = f"eval:{number}"
        for turn in conversation.turns:
            predictions.append(conversation_prediction(bot, bot.handle(turn.text, chat_key)))
    return predictions


def compare_conversations(bot: FaqBot, conversations: Sequence[Conversation],
                          source: str = "", aliases: dict[str, str] | None = None
                          ) -> Comparison:
    """The conversations through the bot, and each turn alone through BM25 (a lookup with
    no small talk and no context: the baseline a conversation has to beat)."""
    index = bot.index
    resolved = resolve_conversations(conversations, index, source or "conversations", aliases)
    turns = [turn for conversation in resolved for turn in conversation.turns]
    bot_evaluation = evaluate("bot", turns, converse(bot, resolved))
    baseline = Bm25Baseline(index.report.passages, index.data.segmenter)
    raw = [baseline.rank(turn.text) for turn in turns]
    threshold = fit_threshold(turns, raw)
    bm25 = evaluate("bm25", turns, with_threshold(raw, threshold), threshold)
    notes = (
        f"{len(resolved)} conversations through FaqBot.handle, one chat key each; "
        "categories: smalltalk, follow-up (tagged # follow-up), question",
        "bm25 = each turn alone (no small talk, no context), declining below "
        + (f"{threshold:.2f}" if threshold != math.inf else "every score")
        + " (fitted on this set)",
        "a turn expecting decline is right when the reply is a decline or a lost measure",
    )
    return Comparison(source, bot_evaluation, bm25, notes)
