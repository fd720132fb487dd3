"""Questions typed in pinyin letters are read as Chinese through the report's own words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.replies import FaqBot
from bot.search import Index
from bot.search.pinyin_input import PinyinVocabulary, folded, split_syllables, toneless
from bot.suite import Thresholds, imported_index
from bot.textnorm import normalize

CAIZHENG = Path(__file__).parent / "data" / "reports" / "caizheng-2021.txt"


@pytest.fixture(scope="module")
def index(faq_bot: FaqBot) -> Index:
    return faq_bot.index


@pytest.fixture(scope="module")
def caizheng(faqbot_cache_dir: Path) -> Index:
    """A report imported from raw text: nothing hand-written for it."""
    return imported_index(CAIZHENG, faqbot_cache_dir, Thresholds())


def read(index: Index, question: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return index.data.pinyin.read(normalize(question))


def passage_titled(index: Index, title: str) -> str:
    return next(p.id for p in index.report.passages if p.title == title)


# --- syllables and tones ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("letters", "boundaries", "syllables"),
    [
        ("zonghexietiao", (), ("zong", "he", "xie", "tiao")),
        ("ducha", (), ("du", "cha")),
        ("xian", (), ("xian",)),  # the usual reading: one syllable, unless marked off
        ("xian", (2,), ("xi", "an")),  # xi'an, xi an, xi1an1
        ("zhuangjiang", (), ("zhuang", "jiang")),
        ("lve", (), ("lve",)),
        ("hello", (), None),
        ("gdp", (), None),
        ("", (), None),
    ],
)
def test_unspaced_pinyin_splits_into_syllables(
    index: Index, letters: str, boundaries: tuple[int, ...], syllables: tuple[str, ...] | None
) -> None:
    assert split_syllables(letters, index.data.pinyin.syllables, boundaries) == syllables


def test_the_syllable_table_has_no_bare_consonants(index: Index) -> None:
    """hm, ng, m, n are readings of interjections; as syllables they make any consonant pinyin."""
    table = index.data.pinyin.syllables
    assert {"zhuang", "lve", "er", "a", "xian"} <= table
    assert not {"hm", "ng", "m", "n"} & table


@pytest.mark.parametrize(
    ("typed", "plain"),
    [("dū chá wèn xiào", "du cha wen xiao"), ("nǚ lǜ", "nv lv"), ("lüè", "lve"),
     ("zonghe", "zonghe")],
)
def test_tone_marks_are_dropped_and_u_umlaut_is_v(typed: str, plain: str) -> None:
    assert toneless(typed) == plain


# --- reading questions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "typed", "meant"),
    [
        ("ducha wenxiao", "ducha wenxiao", "督查问效"),
        ("zonghexietiao", "zonghexietiao", "综合协调"),
        ("zonghe xietiao", "zonghe xietiao", "综合协调"),  # a report term across a space
        ("dū chá wèn xiào", "dū chá wèn xiào", "督查问效"),
        ("du1cha2 wen4xiao4", "du1cha2 wen4xiao4", "督查问效"),
        ("Ducha Wenxiao", "ducha wenxiao", "督查问效"),
        ("zhengfuban de jingshen shi shenme", "zhengfuban de jingshen shi shenme",
         "政府办的精神是什么"),
        ("zonghe xietiao shi zenme zuo de", "zonghe xietiao shi zenme zuo de",
         "综合协调是怎么做的"),
        ("zhengfuban you naxie renwu", "zhengfuban you naxie renwu", "政府办有哪些任务"),
        ("di er bufen jiang shenme", "di er bufen jiang shenme", "第二部分讲什么"),  # 讲, not 激昂
        ("zuòzhě shì shéi", "zuòzhě shì shéi", "作者是谁"),  # 谁 read shei as well as shui
    ],
)
def test_pinyin_questions_read_as_the_reports_chinese(
    index: Index, question: str, typed: str, meant: str
) -> None:
    assert read(index, question) == (meant, ((typed, meant),))


@pytest.mark.parametrize(
    ("question", "text", "typed", "meant"),
    [
        ("政府办 de zuofeng", "政府办的作风", "de zuofeng", "的作风"),
        ("政府办de作风", "政府办的作风", "de", "的"),  # a lone particle beside typed Chinese
        ("综合协调 shi zenme zuo de", "综合协调是怎么做的", "shi zenme zuo de", "是怎么做的"),
    ],
)
def test_pinyin_mixed_with_chinese_is_read_in_place(
    index: Index, question: str, text: str, typed: str, meant: str
) -> None:
    assert read(index, question) == (text, ((typed, meant),))


@pytest.mark.parametrize(
    ("report_words", "general_words", "typed", "meant"),
    [
        (["西安"], {"先": 5000}, "xian", "西安"),  # the report speaks of 西安
        (["先进"], {"先": 5000, "西安": 3000}, "xian", "先"),  # it does not
        (["先进"], {"先": 5000, "西安": 3000}, "xi an", "西安"),  # marked off: two syllables
        (["先进"], {"先": 5000, "西安": 3000}, "xi1an1", "西安"),
    ],
)
def test_ambiguous_letters_prefer_the_reports_words(
    report_words: list[str], general_words: dict[str, int], typed: str, meant: str
) -> None:
    vocabulary = PinyinVocabulary.build(report_words, general_words, ["是"], [])
    # beside typed Chinese, so that a lone character may be read too
    assert vocabulary.read(normalize(f"是 {typed}"))[0] == f"是{meant}"


@pytest.mark.parametrize(
    ("question", "meant"),
    [
        ("ducha wenxao", "督查问效"),  # a letter missing
        ("ducha wenxioa", "督查问效"),  # two swapped (xi o a is no reading: a lone vowel)
        ("du cha wen xao", "督查问效"),  # the slip in a term typed syllable by syllable
        ("haixia luntna", "海峡论坛"),
        ("zonghexietiaoo", "综合协调"),  # a letter too many, in a long word typed alone
    ],
)
def test_one_slip_of_a_letter_is_mended_to_a_report_word(
    index: Index, question: str, meant: str
) -> None:
    assert read(index, question) == (meant, ((question, meant),))


@pytest.mark.parametrize(
    "question",
    ["wenxao", "hello world", "okay zenme ban", "xiaoo"],  # short, English, or no report word
)
def test_slips_are_not_mended_where_unsafe(index: Index, question: str) -> None:
    assert read(index, question) == (question, ())


def test_tone_digits_are_never_mended(index: Index) -> None:
    assert read(index, "du1cha2 wen4xao4") == ("du1cha2 wen4xao4", ())


@pytest.mark.parametrize(
    "question",
    [
        "PPP", "GDP增长了多少", "12345热线", "https://www.gov.cn/zhengce/content", "what is PPP",
        "hello world", "open", "china", "wifi密码", "5G产业园", "G20", "pm2.5", "A级企业",
        "du22", "综合协调是怎么做的",
    ],
)
def test_real_latin_input_and_chinese_questions_are_left_alone(
    index: Index, caizheng: Index, question: str
) -> None:
    for report in (index, caizheng):
        assert read(report, question) == (normalize(question), ())


def test_the_reports_own_latin_words_stay_inside_a_pinyin_question(caizheng: Index) -> None:
    """PPP is a word of that report: kept as typed while the pinyin around it is read."""
    text, readings = read(caizheng, "PPP xiangmu you jige")
    assert text == "ppp 项目有几个"
    assert readings == (("ppp xiangmu you jige", "ppp 项目有几个"),)


def test_a_chinese_question_gets_no_reading_note(index: Index) -> None:
    assert index.search("督查问效是怎么做的").corrections == ()


# --- answers and the reply -------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("ducha wenxiao", "s2.m3"),
        ("zonghexietiao", "s2.m1"),
        ("dū chá wèn xiào", "s2.m3"),
        ("zenme jianding zhengzhi xinyang", "s1.m1"),
        ("hegan fenwei zenme yingzao", "s3.m4"),
        ("zuozhe shi shei", "author"),  # an intent, named in pinyin
        ("di er bufen jiang shenme", "s2"),
    ],
)
def test_pinyin_questions_are_answered_on_the_seed_report(
    index: Index, question: str, passage: str
) -> None:
    result = index.search(question)
    assert result.answered and result.hits[0].id == passage
    assert result.corrections and result.corrections[0][0] == normalize(question)


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("PPP xiangmu you jige", "（二）规范推进PPP项目管理"),
        ("yinxing zhaiwu zenme huajie", "（二）稳妥化解隐性债务"),
        ("zhida zijin", "（二）管好用好直达资金"),
    ],
)
def test_pinyin_questions_are_answered_on_an_imported_report(
    caizheng: Index, question: str, title: str
) -> None:
    result = caizheng.search(question)
    assert result.answered and result.hits[0].id == passage_titled(caizheng, title)


@pytest.mark.parametrize(
    ("readings", "corrections", "said"),
    [
        ((("zonghe xietao", "综合些套"),), (("综合些套", "综合协调"),),
         (("zonghe xietao", "综合协调"),)),
        ((("zonghe xietiao", "综合协调"),), (("海峡论谈", "海峡论坛"),),
         (("zonghe xietiao", "综合协调"), ("海峡论谈", "海峡论坛"))),
        ((), (("海峡论谈", "海峡论坛"),), (("海峡论谈", "海峡论坛"),)),
    ],
)
def test_a_typo_corrected_in_a_reading_is_said_once(
    readings: tuple[tuple[str, str], ...], corrections: tuple[tuple[str, str], ...],
    said: tuple[tuple[str, str], ...],
) -> None:
    assert folded(readings, corrections) == said


def test_the_reply_says_how_the_letters_were_read(faq_bot: FaqBot) -> None:
    reply = faq_bot.ask("ducha wenxiao")
    notes = [b.text for b in reply.blocks if b.kind == "note"]
    assert reply.answered and "（已将“ducha wenxiao”理解为“督查问效”）" in notes


def test_the_reading_survives_the_index_cache(index: Index) -> None:
    """The index keeps its pinyin vocabulary as plain JSON data."""
    vocabulary = index.data.pinyin
    copy = PinyinVocabulary.from_data(json.loads(json.dumps(vocabulary.as_data())))
    for question in ("ducha wenxiao", "政府办 de zuofeng", "PPP"):
        assert copy.read(normalize(question)) == vocabulary.read(normalize(question))


# --- never a crash ---------------------------------------------------------------------

LATIN = "abcdefghijklmnopqrstuvwxyzāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüæßøABCZ0123456789 '-./"
FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # the index is read, never changed


def test_a_long_word_that_is_no_pinyin_is_refused_at_once(index: Index) -> None:
    """A letter no pinyin has at the end of a long word (no backtracking over the rest)."""
    for word in ("a" * 250 + "æ", "du1" * 80 + "ß"):
        assert read(index, word) == (normalize(word), ())


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.text(alphabet=LATIN + "政府办督查", max_size=60))
def test_arbitrary_latin_text_never_breaks_the_reading(index: Index, text: str) -> None:
    normalised = normalize(text)
    read_text, readings = index.data.pinyin.read(normalised)
    if not readings:
        assert read_text == normalised
    for typed, meant in readings:
        assert typed in normalised and meant in read_text


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.text(alphabet=LATIN, min_size=1, max_size=40))
def test_arbitrary_latin_questions_are_answered_or_declined(index: Index, text: str) -> None:
    result = index.search(text)
    assert result.answered in (True, False)
