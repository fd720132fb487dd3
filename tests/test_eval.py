"""faqbot eval and bench: the accuracy bar on the question set, the metrics, the CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bot import cli
from bot import suite as suite_module
from bot.config import load_settings
from bot.evaluation import (
    Comparison,
    Evaluation,
    Outcome,
    Prediction,
    Question,
    QuestionSetError,
    Scores,
    compare,
    compare_conversations,
    evaluate,
    fit_threshold,
    load_conversations,
    load_questions,
    resolve_conversations,
    resolve_questions,
    with_threshold,
)
from bot.replies import FaqBot
from bot.search import Index
from bot.suite import Thresholds, imported_index, load_suite, run_suite

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
        ("- q: 你好\n  expect: [s99]\n  category: x\n", 2, "unknown passage id 's99'"),
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
    # end to end through the emulator, one and two replicas beside the echo bot
    for replicas in ("1 replica", "2 replicas"):
        line = next((row for row in out.splitlines() if row.startswith(replicas + " ")), None)
        assert line is not None, f"missing end-to-end row: {replicas}"
        bot, echo, ratio = line[len(replicas):].split()
        assert float(bot) > 0 and float(echo) > 0 and ratio.endswith("×"), line


# --- expectations written as headings (blind sets) ------------------------------------

REPORTS = ROOT / "tests" / "data" / "reports"
CAIZHENG = REPORTS / "caizheng-2021.txt"  # (一) measures, numbered again in every section
NONGJI = REPORTS / "real-guofa-2018-42-nongji.txt"  # a real document: 发展目标 is in parts


@pytest.fixture(scope="module")
def imported(faqbot_cache_dir: Path) -> dict[str, Index]:
    """The indexes of two raw reports imported in memory, as the suite loads them."""
    return {raw.stem: imported_index(raw, faqbot_cache_dir, Thresholds())
            for raw in (CAIZHENG, NONGJI)}


def _resolve(index: Index, item: str, aliases: dict[str, str] | None = None) -> tuple[str, ...]:
    question = Question("问题", (item,), "x", 1)
    return resolve_questions([question], index, "set.yaml", aliases)[0].expect


@pytest.mark.parametrize(
    ("heading", "ids"),
    [
        ("二是以文辅政力求更精", ("s2.m2", "sl9", "sl10")),  # 一是 style; its slogans
        ("四是营造合干氛围", ("s3.m4", "sl13")),
        ("三是督查问效", ("s2.m3", "sl11")),  # the start of the title is enough
        ("二、着力业务提速", ("s2",)),  # a section by its short title
        ("一、着力思想提标,增强大局意识", ("s1", "sl2", "sl3")),  # ... or its whole heading
        ("intro", ("intro", "sl1")),
        ("author", ("author",)),
        ("metadata", ("author",)),
        ("s1.m1", ("s1.m1",)),  # an id stays an id
    ],
)
def test_seed_headings_resolve_to_passage_ids(
    faq_bot: FaqBot, heading: str, ids: tuple[str, ...]
) -> None:
    assert _resolve(faq_bot.index, heading) == ids


@pytest.mark.parametrize(
    ("report", "heading", "ids"),
    [
        ("caizheng-2021", "（三）助企纾困精准有力", ("s1.m3", "sl4")),
        ("caizheng-2021", "（二）规范推进PPP项目管理", ("s3.m2",)),  # (二) again in s3
        ("caizheng-2021", "(二)稳妥化解隐性债务", ("s4.m2", "sl10")),  # half-width marker
        ("caizheng-2021", "五、加强自身建设", ("s5", "sl11", "sl12")),
        ("caizheng-2021", "closing", ("closing",)),
        ("real-guofa-2018-42-nongji", "（九）加强绿色高效新机具新技术示范推广", ("s4.m9",)),
        ("real-guofa-2018-42-nongji", "八、强化组织领导", ("s8",)),
        ("real-guofa-2018-42-nongji", "metadata", ("author",)),
    ],
)
def test_imported_headings_resolve_to_passage_ids(
    imported: dict[str, Index], report: str, heading: str, ids: tuple[str, ...]
) -> None:
    assert _resolve(imported[report], heading) == ids


def test_a_measure_answered_in_parts_accepts_the_measure_and_every_part(
    imported: dict[str, Index],
) -> None:
    index = imported["real-guofa-2018-42-nongji"]
    expect = _resolve(index, "（二）发展目标")
    assert expect[:3] == ("s1.m2", "s1.m2.p1", "s1.m2.p2")
    question = Question("发展目标是什么", expect, "x")
    for part in ("s1.m2.p1", "s1.m2.p2"):
        assert Outcome(question, Prediction((part,), 90, True)).correct
    assert not Outcome(question, Prediction(("s1.m1",), 90, True)).correct


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("五是不存在的措施", "heading '五是不存在的措施' matches no section or measure"),
        ("四是", "heading '四是' matches several passages (s1.m4, s2.m4, s3.m4)"),
        ("closing", "'closing': the report has no closing passage"),
        ("s9.m1", "unknown passage id 's9.m1'"),
    ],
)
def test_an_unresolvable_expectation_names_file_line_and_heading(
    faq_bot: FaqBot, tmp_path: Path, item: str, message: str
) -> None:
    path = tmp_path / "blind.yaml"
    path.write_text(
        "- q: 区长是谁\n  expect: none\n  category: unanswerable\n  persona: citizen\n"
        f"- q: 第五点是什么\n  expect:\n    - intro\n    - \"{item}\"\n  category: section\n",
        encoding="utf-8",
    )
    with pytest.raises(QuestionSetError) as error:
        compare(faq_bot.index, load_questions(path), str(path))
    assert str(error.value).startswith(f"{path}:8: {message}")


def test_an_alias_reads_a_wrongly_quoted_heading_as_the_printed_one(faq_bot: FaqBot) -> None:
    aliases = {"二是以文辅政力求更好": "二是以文辅政力求更精"}
    assert _resolve(faq_bot.index, "二是以文辅政力求更好", aliases)[0] == "s2.m2"


def test_blind_fields_load_persona_and_none(tmp_path: Path) -> None:
    path = tmp_path / "blind.yaml"
    path.write_text("- q: 区长是谁\n  expect: none\n  category: unanswerable\n"
                    "  persona: journalist\n", encoding="utf-8")
    (question,) = load_questions(path)
    assert (question.expect, question.persona, question.should_decline) == (
        (), "journalist", True)


# --- the suite ------------------------------------------------------------------------

SUITE = ROOT / "tests" / "data" / "suite.yaml"


def test_every_expectation_of_the_default_suite_resolves(
    faq_bot: FaqBot, imported: dict[str, Index], faqbot_cache_dir: Path
) -> None:
    """A broken set cannot silently score: every heading of every set names a passage
    (resolution only; no question is put to the bot here)."""
    entries = load_suite(SUITE)
    assert {e.name for e in entries if e.untouched} == {
        "siming-blind", "caizheng-blind", "nongji-blind", "chat-siming-blind",
        "pinyin-siming-blind"}
    for entry in entries:
        if entry.raw and entry.raw.stem not in imported:
            imported[entry.raw.stem] = imported_index(entry.raw, faqbot_cache_dir, Thresholds())
        index = imported[entry.raw.stem] if entry.raw else faq_bot.index
        if entry.conversational:  # the bar: at least 40 exchanges
            conversations = load_conversations(entry.questions)
            turns = [t for c in resolve_conversations(conversations, index, str(
                entry.questions)) for t in c.turns]
            assert len(turns) >= 40, entry.name
            continue
        questions = load_questions(entry.questions)
        resolved = resolve_questions(questions, index, str(entry.questions),
                                     dict(entry.aliases))
        # the bar: 60 questions a set (issue 9), 30 of a pinyin set (issue 10)
        assert len(resolved) == len(questions) >= (
            30 if entry.name.startswith("pinyin-") else 60), entry.name
        # the issue's bar: every category, a fifth must decline (issue 9's sets)
        if entry.untouched and not entry.name.startswith("pinyin-"):
            assert sum(q.should_decline for q in resolved) >= 0.19 * len(resolved), entry.name


_ENTRY = "- name: a\n  report: {report}\n  questions: {questions}\n  untouched: false\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the suite file is empty"),
        ("name: a\n", 1, "a suite is a list of entries"),
        ("- name: a\n  report: {report}\n  questions: {questions}\n", 1,
         "missing key 'untouched'"),
        ("- name: a\n  questions: {questions}\n  untouched: false\n", 1,
         "give exactly one of report (a content YAML) and raw"),
        ("- name: a\n  report: {report}\n  raw: {raw}\n  questions: {questions}\n"
         "  untouched: false\n", 1, "give exactly one of report"),
        (_ENTRY.replace("untouched: false", "untouched: maybe"), 4,
         "'untouched' must be true or false"),
        (_ENTRY + "  weight: 2\n", 5, "unknown key 'weight'"),
        (_ENTRY + _ENTRY, 5, "duplicate entry name 'a'"),
        (_ENTRY.replace("{questions}", "nowhere.yaml"), 3, "questions file "),
        (_ENTRY + "  aliases: [x]\n", 5, "'aliases' maps a heading"),
    ],
)
def test_a_broken_suite_entry_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, message: str
) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text.format(report=ROOT / "content" / "siming-report.yaml",
                                raw=CAIZHENG, questions=QUESTIONS), encoding="utf-8")
    assert _cli("eval", "--suite", str(path)) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert "\n" not in error and captured.out == ""
    assert error.startswith(f"faqbot: {path}:{line}: ") and message in error, error


def test_a_question_set_and_a_suite_together_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _cli("eval", str(QUESTIONS), "--suite", str(SUITE)) == cli.EXIT_ERROR
    assert capsys.readouterr().err == "faqbot: give a question set or --suite, not both\n"


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    """Two reports: the seed (a content YAML) and caizheng imported from its raw text,
    each with three questions written as headings; the second marked untouched."""
    seed_set, raw_set = tmp_path / "seed.yaml", tmp_path / "caizheng.yaml"
    seed_set.write_text(
        "- q: 海峡论坛是谁保障的\n  expect: [\"一是综合协调力求更优\"]\n  category: direct\n"
        "- q: 海峡论坛是谁保障的\n  expect: [author]\n  category: planted\n"
        "- q: 明天天气怎么样\n  expect: none\n  category: offtopic\n", encoding="utf-8")
    raw_set.write_text(
        "- q: 政采贷是什么\n  expect: [\"（三）助企纾困精准有力\"]\n  category: direct\n"
        "- q: 政采贷是什么\n  expect: [closing]\n  category: planted\n"
        "- q: 明天天气怎么样\n  expect: none\n  category: offtopic\n", encoding="utf-8")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"- name: seed\n  report: {ROOT / 'content' / 'siming-report.yaml'}\n"
        "  questions: seed.yaml\n  untouched: false\n"
        f"- name: imported\n  raw: {CAIZHENG}\n  questions: caizheng.yaml\n  untouched: true\n",
        encoding="utf-8")
    return suite


def test_an_imported_entry_evaluates_without_hand_written_content(
    small_suite: Path, faqbot_cache_dir: Path
) -> None:
    seed, imported_result = run_suite(load_suite(small_suite), faqbot_cache_dir)
    assert "imported in memory" in imported_result.report
    report = imported_result.comparison.bot.outcomes[0].question  # resolved against the draft
    assert report.expect == ("s1.m3", "sl4")
    index = imported_index(CAIZHENG, faqbot_cache_dir, Thresholds())
    # nothing hand-written: no alternate questions, keywords or synonyms, only the draft
    assert not any(p.questions for p in index.report.passages if p.kind != "author")
    assert not index.report.synonyms and index.report.file.endswith("caizheng-2021.yaml")
    assert imported_result.comparison.bot.overall.n == 3
    assert seed.comparison.bot.overall.n == 3


def test_the_suite_prints_one_table_per_report_and_a_summary(
    small_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("eval", "--suite", str(small_suite), "--verbose") == 0
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("== ")]
    assert len(headers) == 2
    assert headers[0] == f"== seed: report {ROOT / 'content' / 'siming-report.yaml'}"
    assert headers[1].startswith(f"== imported (untouched): report {CAIZHENG}, imported in")
    assert out.count("figures in %, bot | bm25") == 2
    assert len(re.findall(r"^overall +3 ", out, flags=re.MULTILINE)) == 2
    summary = out[out.index("summary: "):].splitlines()
    assert re.match(r"entry +report +questions +bot +bm25 +lowest bot category +untouched",
                    summary[1])
    assert re.match(r"seed +\S+siming-report\.yaml +3 +[\d.]+ +[\d.]+ +\w+ [\d.]+ +no$",
                    summary[2])
    assert re.match(r"imported +\S+caizheng-2021\.txt +3 +[\d.]+ +[\d.]+ +\w+ [\d.]+ +yes$",
                    summary[3])
    # wrong answers are listed for the seed set, never for an untouched one
    assert "[planted] 海峡论坛是谁保障的" in out
    assert "[planted] 政采贷是什么" not in out
    assert "bot wrong answers: not listed (untouched set)" in out


def test_the_suite_as_json_hides_the_wrong_answers_of_untouched_sets(
    small_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("eval", "--suite", str(small_suite), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    seed, imported_entry = data["entries"]
    assert (seed["name"], seed["untouched"], imported_entry["raw"]) == ("seed", False, True)
    assert seed["bot"]["overall"]["n"] == imported_entry["bot"]["overall"]["n"] == 3
    assert "wrong" in seed["bot"] and "wrong" not in imported_entry["bot"]
    assert "wrong" not in imported_entry["bm25"]


def test_eval_without_a_question_set_runs_the_default_suite(
    small_suite: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(suite_module, "DEFAULT_SUITE", small_suite)
    assert _cli("eval") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"suite: {small_suite} (2 entries;")
    assert out.count("\n== ") == 2


def test_words_inside_a_passage_resolve_to_the_smallest_passage_holding_them(
    faq_bot: FaqBot,
) -> None:
    from bot.evaluation import Resolver, answer_ids

    resolver = Resolver(faq_bot.report, answer_ids(faq_bot.index))
    measure = next(m for s in faq_bot.report.sections for m in s.measures if len(m.text) > 30)
    words = measure.text[10:24]  # words from inside the measure's text, not its heading
    assert resolver.resolve(words)[0] == measure.id
    with pytest.raises(ValueError, match="no passage holds these words"):
        resolver.resolve("报告里没有的一句话")


# --- conversations ------------------------------------------------------------------------

_CONVERSATIONS = """\
- persona: citizen
  turns:
    - say: 你好
      expect: smalltalk:greeting
    - say: 督查这块怎么搞的
      expect: 三是督查问效力求更实
    - say: 下一点呢
      expect: 四是会务服务力求更细  # follow-up
- persona: colleague
  turns:
    - say: 你们办公室新同志进来以后怎么带
      expect: 四是营造合干氛围
    - say: 那第一点呢
      expect: decline  # follow-up; the source lost 一是 of section 三
    - say: 思明区去年GDP多少
      expect: decline
    - say: 谢谢
      expect: smalltalk:goodbye
"""


def test_conversations_load_with_a_category_per_turn(tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(_CONVERSATIONS, encoding="utf-8")
    first, second = load_conversations(path)
    assert first.persona == "citizen" and len(first.turns) == 3
    assert [t.category for t in (*first.turns, *second.turns)] == [
        "smalltalk", "question", "follow-up", "question", "follow-up", "question", "smalltalk"]
    assert second.turns[1].expect == () and first.turns[0].expect == ("smalltalk:greeting",)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("- turns:\n    - say: 你好\n      expect: smalltalk:hug\n", 3, "unknown small talk"),
    ("- turns:\n    - say: 你好\n", 2, "missing key 'expect'"),
    ("- persona: x\n", 1, "missing key 'turns'"),
    ("- turns: []\n", 1, "'turns' must be a list"),
    ("[]\n", 1, "a conversation set is a list"),
])
def test_a_broken_conversation_set_names_the_line(tmp_path: Path, text: str, line: int,
                                                  message: str) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionSetError, match=rf"chat\.yaml:{line}: {message}"):
        load_conversations(path)


def test_conversations_are_scored_per_turn_through_the_bot(faq_bot: FaqBot,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(_CONVERSATIONS, encoding="utf-8")
    bot = FaqBot(faq_bot.settings, faq_bot.index)
    comparison = compare_conversations(bot, load_conversations(path), str(path))
    right = [o.correct for o in comparison.bot.outcomes]
    # the last turn expects goodbye and gets thanks; a lost measure is an honest no
    assert right == [True, True, True, True, True, True, False]
    categories = comparison.bot.categories()
    assert (categories["smalltalk"].n, categories["follow-up"].n) == (2, 2)
    assert categories["follow-up"].top1 == 1.0
    assert comparison.bm25.categories()["smalltalk"].top1 == 0.0  # a lookup has no small talk


def test_a_suite_entry_may_give_conversations(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "chat.yaml").write_text(_CONVERSATIONS, encoding="utf-8")
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"- name: chat\n  report: {ROOT / 'content' / 'siming-report.yaml'}\n"
                     "  conversations: chat.yaml\n  untouched: false\n", encoding="utf-8")
    [entry] = load_suite(suite)
    assert entry.conversational
    assert _cli("eval", "--suite", str(suite), "--verbose") == 0
    out = capsys.readouterr().out
    assert re.search(r"^smalltalk +2 +50\.0 \| 0\.0", out, flags=re.MULTILINE)
    assert "[smalltalk] 谢谢 | expected: smalltalk:goodbye | got: smalltalk:thanks" in out
    suite.write_text(f"- name: chat\n  report: {ROOT / 'content' / 'siming-report.yaml'}\n"
                     "  conversations: chat.yaml\n  questions: chat.yaml\n  untouched: false\n",
                     encoding="utf-8")
    with pytest.raises(suite_module.SuiteError, match="exactly one of questions"):
        load_suite(suite)


# The development sets (written blind, matched against while developing; the untouched sets
# stay the final check): the share each report reaches now, so that no change can lower it.
# The target is 95% on every report; the imported reports do not reach it yet (their
# paraphrases need general word knowledge the lexical matcher lacks: see README).
DEV_SET_FLOORS = {
    "siming-dev": 0.93, "caizheng-dev": 0.78, "zhengce-dev": 0.85, "liangshi-dev": 0.78,
    "chat-siming-dev": 0.91, "pinyin-siming-dev": 0.97, "smalltalk-siming-dev": 0.95,
}


def test_the_development_sets_keep_their_figures(faqbot_cache_dir: Path) -> None:
    entries = [e for e in load_suite(SUITE) if e.name in DEV_SET_FLOORS]
    assert {e.name for e in entries} == set(DEV_SET_FLOORS)
    settings = load_settings(ROOT / "config.yaml")
    thresholds = Thresholds(settings.match.answer_threshold, settings.match.suggest_threshold,
                            settings.match.probable_threshold)
    for result in run_suite(entries, faqbot_cache_dir, thresholds):
        top1 = result.comparison.bot.overall.top1
        floor = DEV_SET_FLOORS[result.entry.name]
        assert top1 >= floor, f"{result.entry.name}: {top1:.1%} < {floor:.0%}"
