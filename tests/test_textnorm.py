"""Normalisation: one canonical form for script, width, punctuation and numerals."""

from __future__ import annotations

import pytest

from bot.replies import FaqBot
from bot.textnorm import STOPWORDS, Segmenter, arabic_numerals, compact, normalize, to_simplified


@pytest.fixture(scope="module")
def segmenter(faq_bot: FaqBot) -> Segmenter:
    return faq_bot.index.data.segmenter


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("政府辦", "政府办"),
        ("綜合協調力求更優", "综合协调力求更优"),
        ("會務服務", "会务服务"),
        ("營造合幹氛圍", "营造合干氛围"),
        ("第二部分講了什麼", "第二部分讲了什么"),
        ("思明区政府办", "思明区政府办"),
    ],
)
def test_traditional_to_simplified(traditional: str, simplified: str) -> None:
    assert to_simplified(traditional) == simplified
    assert normalize(traditional) == normalize(simplified)


@pytest.mark.parametrize(
    ("wide", "narrow"),
    [("ＡＢＣ", "abc"), ("１２３", "123"), ("９·８投洽会", "98投洽会"), ("思明　区", "思明 区")],
)
def test_full_width_to_half_width(wide: str, narrow: str) -> None:
    assert normalize(wide) == narrow


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“参谋、协调、服务”", "参谋 协调 服务"),
        ("政府办的职责是什么？", "政府办的职责是什么"),
        ("政府办，职责！！", "政府办 职责"),
        ("《报告》——作者", "报告 作者"),
        ("(作者)", "作者"),
        ("  多个   空格  ", "多个 空格"),
        ("a_b", "a b"),
    ],
)
def test_punctuation_folds_to_single_spaces(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text", ["参谋、协调、服务", "参谋,协调,服务", "参谋，协调，服务", "参谋 协调 服务"]
)
def test_punctuation_variants_compact_alike(text: str) -> None:
    assert compact(text) == "参谋协调服务"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("二〇一二年", "2012年"),
        ("二零一二年", "2012年"),
        ("两千零一十二年", "2012年"),
        ("2012年", "2012年"),
        ("三十六个", "36个"),
        ("七位同志", "7位同志"),
        ("第二部分", "第2部分"),
        ("第三部分第一点", "第3部分第1点"),
        ("统一", "统一"),
        ("一流", "一流"),
        ("一是", "一是"),
        ("三大环节", "3大环节"),
    ],
)
def test_numerals_become_arabic_where_they_are_numbers(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("九八投洽会", "9·8投洽会"),
        ("九八投洽会", "98投洽会"),
        ("不到一万字", "不到1万字"),
        ("九·八投洽会", "9.8投洽会"),
        ("第2部分", "第二部分"),
        ("第２部分", "第二部分"),
        ("二〇一二年以来", "两千零一十二年以来"),
        ("36个信息联络点", "三十六个信息联络点"),
        ("第三部分第一点", "第3部分第1点"),
        ("第三部分的第一条", "第3部分的第1条"),
    ],
)
def test_numeral_spellings_normalise_alike(one: str, other: str) -> None:
    assert normalize(one) == normalize(other)


@pytest.mark.parametrize("text", ["统一起来", "一流业绩", "一致好评", "第一时间"])
def test_words_with_numeral_characters_keep_their_meaning(text: str) -> None:
    """一 inside a word stays a word (第一时间 is an idiom, but 第 makes it a number)."""
    expected = text.replace("第一", "第1")
    assert normalize(text) == expected


def test_arabic_numerals_leaves_plain_text_alone() -> None:
    assert arabic_numerals("思明区政府办") == "思明区政府办"


@pytest.mark.parametrize("word", sorted(STOPWORDS))
def test_stopwords_are_not_content_tokens(segmenter: Segmenter, word: str) -> None:
    assert segmenter.content_tokens(normalize(word)) == []


@pytest.mark.parametrize(
    ("question", "content"),
    [
        ("思明区政府办的职责是什么", "职责"),
        ("请问政府办简报是什么", "政府办简报"),
        ("你们的信息联络点有多少个呢", "信息联络点"),
        ("麻烦告诉我一下投洽会是怎么保障的", "投洽会"),
    ],
)
def test_question_words_are_dropped(segmenter: Segmenter, question: str, content: str) -> None:
    tokens = segmenter.content_tokens(normalize(question))
    assert [t for t in tokens if t in STOPWORDS] == []
    assert any(content in t for t in tokens)
    for word in ("什么", "请问", "怎么", "多少", "是", "的", "呢", "你们", "告诉"):
        assert word not in tokens


@pytest.mark.parametrize("term", ["政府办", "信息联络点", "投洽会", "合干氛围", "以文辅政"])
@pytest.mark.parametrize("template", ["{}", "{}是什么", "什么是{}", "请问{}怎么样"])
def test_report_terms_are_single_tokens(segmenter: Segmenter, term: str, template: str) -> None:
    tokens = segmenter.content_tokens(normalize(template.format(term)))
    assert term in tokens


@pytest.mark.parametrize("term", ["政府办", "信息联络点", "投洽会", "合干氛围"])
def test_report_terms_alone_are_one_token(segmenter: Segmenter, term: str) -> None:
    assert segmenter.content_tokens(normalize(term)) == [term]


def test_normalize_is_idempotent() -> None:
    for text in ["第二部分講了什麼？", "９·８投洽會", "二〇一二年以来", "“参谋、协调、服务”"]:
        once = normalize(text)
        assert normalize(once) == once
