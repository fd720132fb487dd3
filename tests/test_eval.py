"""faqbot eval and bench: the accuracy bar on the question set, the metrics, the CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bot import cli
from bot.evaluation import (
    Comparison,
    Evaluation,
    Outcome,
    Prediction,
    Question,
    QuestionSetError,
    Scores,
    compare,
    evaluate,
    fit_threshold,
    load_questions,
    with_threshold,
)
from bot.replies import FaqBot

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "data" / "questions.yaml"
CATEGORIES = sorted({q.category for q in load_questions(QUESTIONS)})


@pytest.fixture(scope="module")
def comparison(faq_bot: FaqBot) -> Comparison:
    """The bot and the BM25 baseline on the evaluation question set, in process."""
    return compare(faq_bot.index, load_questions(QUESTIONS), str(QUESTIONS))


def _cli(*argv: str) -> int:
    return cli.main(["--config", str(ROOT / "config.yaml"), *argv])


# --- the bar --------------------------------------------------------------------


def test_bot_answers_at_least_97_percent_of_the_question_set(comparison: Comparison) -> None:
    overall = comparison.bot.overall
    assert overall.top1 >= 0.97, f"overall {overall.top1:.1%} ({overall.correct}/{overall.n})"


@pytest.mark.parametrize("category", CATEGORIES)
def test_no_category_is_below_90_percent(comparison: Comparison, category: str) -> None:
    scores = comparison.bot.categories()[category]
    assert scores.top1 >= 0.90, f"{category}: {scores.top1:.1%} ({scores.correct}/{scores.n})"


def test_bot_beats_the_bm25_baseline_by_10_points(comparison: Comparison) -> None:
    bot, bm25 = comparison.bot.overall.top1, comparison.bm25.overall.top1
    assert bot >= bm25 + 0.10, f"bot {bot:.1%} vs bm25 {bm25:.1%}"


@pytest.mark.parametrize("name", ["heldout.yaml", "heldout2.yaml"])
def test_held_out_sets_stay_above_90_percent_and_beat_bm25(faq_bot: FaqBot, name: str) -> None:
    """Sets written independently of the alternate questions and never tuned on: a guard
    against overfitting the main set (their figures are reported, the 97% bar is not theirs)."""
    path = ROOT / "tests" / "data" / name
    held_out = compare(faq_bot.index, load_questions(path), str(path))
    bot, bm25 = held_out.bot.overall.top1, held_out.bm25.overall.top1
    assert bot >= 0.90 and bot >= bm25 + 0.10, f"{name}: bot {bot:.1%} vs bm25 {bm25:.1%}"


def test_the_baseline_threshold_is_fitted_and_stated(comparison: Comparison) -> None:
    assert comparison.bm25.threshold is not None
    assert any("threshold" in note for note in comparison.notes)


# --- metrics on a toy set -------------------------------------------------------------


def _toy() -> Evaluation:
    """Six questions, hand-scored below."""
    rows = [
        (Question("q1", ("a",), "x"), Prediction(("a", "b", "c"), 95, True)),  # right, top 3
        (Question("q2", ("a",), "x"), Prediction(("b", "a"), 92, True)),  # wrong, top 3
        (Question("q3", ("a",), "x"), Prediction(("b", "c", "d", "a"), 30, False)),  # declined
        (Question("q4", (), "y"), Prediction(("a",), 20, False)),  # declined: right
        (Question("q5", (), "y"), Prediction(("a",), 60, True)),  # answered: wrong
        (Question("q6", (), "y"), Prediction((), 0, False)),  # declined: right
    ]
    return evaluate("toy", [q for q, _ in rows], [p for _, p in rows])


def test_overall_counts_declines_of_must_decline_questions_as_right() -> None:
    overall = _toy().overall
    assert (overall.n, overall.correct) == (6, 3)
    assert overall.top1 == 0.5


def test_top3_recall_counts_answerable_questions_only() -> None:
    assert _toy().overall.top3_recall == pytest.approx(2 / 3)


def test_decline_precision_and_recall() -> None:
    overall = _toy().overall
    assert overall.decline_precision == pytest.approx(2 / 3)  # q3 declined wrongly
    assert overall.decline_recall == pytest.approx(2 / 3)  # q5 answered wrongly


def test_scores_per_category() -> None:
    categories = _toy().categories()
    assert list(categories) == ["x", "y"]
    x, y = categories["x"], categories["y"]
    assert (x.top1, x.top3_recall, x.decline_precision, x.decline_recall) == (
        pytest.approx(1 / 3), pytest.approx(2 / 3), 0.0, None,
    )
    assert (y.top1, y.top3_recall, y.decline_precision, y.decline_recall) == (
        pytest.approx(2 / 3), None, 1.0, pytest.approx(2 / 3),
    )


def test_an_answer_below_the_top_is_not_a_top1_hit() -> None:
    outcome = Outcome(Question("q", ("a",), "x"), Prediction(("b", "a"), 80, True))
    assert not outcome.correct and outcome.in_top3


def test_rates_without_a_denominator_are_none() -> None:
    scores = Scores.of([])
    assert (scores.top1, scores.top3_recall, scores.decline_precision) == (0.0, None, None)


def test_calibration_bins_answered_questions_by_confidence() -> None:
    assert _toy().calibration() == [("50-69", 1, 0), ("90-100", 2, 1)]


def test_fit_threshold_maximises_the_overall_figure() -> None:
    questions = [Question("a", ("a",), "x"), Question("b", ("b",), "x"), Question("n", (), "x")]
    raw = [Prediction(("a",), 7.0, True), Prediction(("b",), 5.0, True),
           Prediction(("a",), 3.0, True)]
    assert fit_threshold(questions, raw) == 5.0
    assert [p.answered for p in with_threshold(raw, 5.0)] == [True, True, False]


def test_fit_threshold_can_decline_everything() -> None:
    questions = [Question("n", (), "x")]
    assert fit_threshold(questions, [Prediction(("a",), 3.0, True)]) == math.inf


# --- question files ---------------------------------------------------------------


def test_the_evaluation_set_loads_with_lines() -> None:
    questions = load_questions(QUESTIONS)
    assert len(questions) > 100
    assert all(q.line > 0 and q.category for q in questions)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- q: 你好\n  expect: s1\n  category: direct\n", 2, "'expect' must be a list"),
        ("q: 你好\n", 1, "a question set is a list"),
        ("- q: 你好\n  expect: []\n", 1, "missing key 'category'"),
        ("- q: 你好\n  expect: []\n  category: x\n  answer: y\n", 4, "unknown key 'answer'"),
        ("- q: 你好\n  expect: [1]\n  category: x\n", 2, "items of 'expect'"),
        ("- q: ''\n  expect: []\n  category: x\n", 1, "'q' must be non-empty text"),
        ("- q: [你好\n", 2, "invalid YAML"),
        ("", 1, "empty"),
        ("- q: 你好\n  expect: [s99]\n  category: x\n", 1, "unknown passage id 's99'"),
    ],
)
def test_a_broken_question_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, message: str
) -> None:
    path = tmp_path / "questions.yaml"
    path.write_text(text, encoding="utf-8")
    assert _cli("eval", str(path)) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert "\n" not in error and captured.out == ""
    assert error.startswith(f"faqbot: {path}:{line}: ") and message in error


def test_a_missing_question_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(QuestionSetError, match="not found"):
        load_questions(tmp_path / "none.yaml")


# --- the command ------------------------------------------------------------------


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(
        "- q: 海峡论坛是谁保障的\n  expect: [s2.m1]\n  category: direct\n"
        "- q: 海峡论坛是谁保障的\n  expect: [author]\n  category: planted\n"
        "- q: 明天天气怎么样\n  expect: []\n  category: offtopic\n",
        encoding="utf-8",
    )
    return path


def test_eval_prints_bot_and_bm25_side_by_side(
    small_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("eval", str(small_set)) == 0
    out = capsys.readouterr().out
    for row in ("direct", "planted", "offtopic", "overall", "calibration", "bm25 declines"):
        assert row in out
    assert "bot | bm25" in out


def test_eval_verbose_lists_wrong_answers(
    small_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("eval", str(small_set), "--verbose") == 0
    out = capsys.readouterr().out
    assert "bot wrong answers (1)" in out
    assert "[planted] 海峡论坛是谁保障的 | expected: author | got: s2.m1" in out


def test_eval_json(small_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("eval", str(small_set), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bot"]["overall"]["n"] == 3
    assert data["bot"]["overall"]["top1_accuracy"] == pytest.approx(2 / 3)
    assert set(data["bot"]["categories"]) == {"direct", "planted", "offtopic"}
    assert "threshold" in data["bm25"]


@pytest.mark.parametrize("command", ["eval", "bench"])
def test_quality_commands_are_documented_with_an_example(command: str) -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert "Example: faqbot " + command in subparsers.choices[command].description


# --- bench smoke test ----------------------------------------------------------------

_BENCH_ROWS = {
    "p50 per question, report (ms)": (0.0, 1000.0),
    "p99 per question, report (ms)": (0.0, 5000.0),
    "p50 per question, ×3 (ms)": (0.0, 1000.0),
    "p99 per question, ×3 (ms)": (0.0, 5000.0),
    "cold start, one question (ms)": (1.0, 120_000.0),
    "peak RSS of that process (MB)": (1.0, 8000.0),
}


def test_bench_quick_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("bench", "--quick", "--scale", "3", "--questions", str(QUESTIONS)) == 0
    out = capsys.readouterr().out
    assert re.search(r"metric +bot +bm25 +jieba\.lcut +bot/bm25 +bot/jieba", out)
    for metric, (low, high) in _BENCH_ROWS.items():
        line = next((row for row in out.splitlines() if row.startswith(metric)), None)
        assert line is not None, f"missing row: {metric}"
        values = line[len(metric):].split()
        bot, bm25, jieba = (float(v) for v in values[:3])
        for value in (bot, bm25, jieba):
            assert low < value < high, line  # sanity only: timings never pass or fail
        assert values[3].endswith("×") and values[4].endswith("×")
