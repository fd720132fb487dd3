"""Declines: whether the best passage can hold what the question asks for.

A passage on the right topic is still no answer when the question asks for something it
does not state: an amount needs a quantity of the kind asked and a date a date in the
sentence the question is about, a name only the byline holds, why an event happened needs
more than the event in a list. What a report holds is read from the report itself: a topic
(a phone number, a budget, complaints), a year or a place is out of scope only when the
report's own text never names it. Only general Chinese (question words, units, counters,
topic words) is written here, in the block below; nothing about any one report.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.content import Kind, Passage, Report
from bot.search.intents import AUTHOR_CUE, DOCUMENT_WORDS, SELF_REFERENCE
from bot.search.relatedness import query_tokens
from bot.search.results import Hit
from bot.search.sentences import YEAR, AnswerSentences
from bot.textnorm import STOPWORDS, compact, compact_report_text

if TYPE_CHECKING:
    from bot.search.index import IndexData

# --- General Chinese: question words, units, counters, topic words --------------------
# True of any report; the rules below read everything else from the report.

# What a question asks for. (Questions are normalised: Arabic numbers, no punctuation.)
ASKS_COUNT = re.compile(
    r"(?:多少|(?<![哪那这好])几)(个|位|名|人|项|次|条|家|分|字|年|天|届|所|座|元|万|亿|钱)?"
    r"|(?:规模|总量|面积|力度)有?多大"
)
ASKS_TIME = re.compile(r"哪[1一]?年|什么时候|何时|几月|哪[1一]?天|几号|多久|多长时间|频率|每隔")
ASKS_DURATION = re.compile(r"多久|多长时间|频率|每隔|几天|多少天")
ASKS_SHARE = re.compile(r"比重|比例|占比|百分之|百分比|几成|多少成|增幅|降幅|增速|率是多少")
# The thing a bare 多少 counts, when the question names it: money, people, a change.
ASKS_MONEY = re.compile(
    r"资金|收入|支出|补贴|补助|奖励|金额|经费|费用|投资|投入|资产|债务|债券|价格|电价|收费|钱|预算"
    r"|税收|税费|财政|存量"
)
ASKS_PEOPLE = re.compile(r"人数|人员|干部|职工|员工|同志|人口|学生|群众")
ASKS_CHANGE = re.compile(r"降低|下降|提高|增长|减少|压缩|增加|上涨|降了|涨了|减了|增了")
ASKS_REASON = re.compile(r"为什么|为何|为啥|什么原因|原因是|起因")
# An honour asked for (评上了什么荣誉称号), and how a sentence tells of one (被评为, 荣获).
ASKS_HONOUR = re.compile(r"荣誉|称号|奖项|获奖|表彰|评上|获评")
TELLS_HONOUR = re.compile(r"荣誉|称号|评为|评上|获评|授予|荣获|表彰|获奖|奖项")
AUTHOR_WORDS = frozenset("单位 上班 工作 职务 职位 身份 名字 姓名 担任 作者".split())
BIOGRAPHY = re.compile(r"以前|之前|曾经|过去|后来|现在在|调到|升任")
ASKS_LIST = re.compile(r"哪(?:\d+|几)(?:个|项|条|种|句|大)")
ASKS_NAME = re.compile(r"叫什么名字|叫啥|姓名|名字")
# The bot's own view asked for: a report states its authors' views, never the bot's.
ASKS_OPINION = re.compile(
    r"你(?:个人)?(?:觉得|认为|怎么看|如何看|怎么评价|如何评价|的看法|的评价|的意见)|在你看来"
)
# Who holds a post (区长是谁, 谁是组长): a post the report never names is none of its answers.
# (是谁 ends what is asked: 文章是谁写的 asks for the author)
ASKS_HOLDER = re.compile(r"(?:是谁|是哪位|由谁担任)(?=\s|$|呢|啊|呀)|谁是")
# Places beside the report's own (其他区县, 别的城市): the report tells of its own only.
OTHER_PLACES = re.compile(
    r"(?:其他|其它|别的|另外的?)(?:省份?|城市|市|区县|区|县|地区|街道|乡镇|地方)"
)

# Quantities, as a sentence of a report writes them (NFKC, simplified; digits Arabic or
# Chinese): a number with a unit or counter, a percentage, a share or a multiple.
CHINESE_DIGITS = "零〇一二两三四五六七八九十百千万亿"
NUMBER = (
    rf"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十][{CHINESE_DIGITS}]*(?:点[{CHINESE_DIGITS}]+)?)"
)
INDEFINITE = "一"  # 一个机制, 一批项目: an article, not an amount (一半 is a share)
MAGNITUDES = "(?:万|亿|千|百)*"
COUNTERS = "个位名人项次条家件所座笔批套台辆场类种支只张本份届期处道户间栋幢字分级档层"
PEOPLE_COUNTERS = "人名位户"
MONEY_UNITS = r"(?:元|美元)"
MEASURE_UNITS = (
    r"(?:平方米|平方公里|公顷|亩|公里|千米|米|吨|公斤|千克|斤|千瓦时|千瓦|度|立方米|升"
    r"|个百分点|百分点)"
)
TIME_UNITS = r"(?:个?工作日|天|日|小时|分钟|周|个?星期|个月|月|年|季度)"
SHARE = re.compile(
    rf"{NUMBER}\s*[%％‰]|百分之{NUMBER}|{NUMBER}成(?![立为本果就员])|{NUMBER}分之{NUMBER}"
    rf"|一半|过半|{NUMBER}倍|翻(?:一|两|{NUMBER})?番|{NUMBER}个?百分点"
)
MONEY = re.compile(rf"{NUMBER}{MAGNITUDES}{MONEY_UNITS}")
PEOPLE = re.compile(rf"{NUMBER}{MAGNITUDES}(?:余|多)?(?:[{PEOPLE_COUNTERS}]|人次)")
COUNTED = re.compile(rf"{NUMBER}{MAGNITUDES}(?:余|多)?(?:[{COUNTERS}]|{MEASURE_UNITS})")
DURATION = re.compile(rf"{NUMBER}(?:余|多)?{TIME_UNITS}|当[天日]|即时|实时|立即")
# A bare decimal (0.8, 1.12) is a ratio; dotted numbers (2.1.3) are headings.
RATIO = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")
# Numbers that are no amount: a year, an ordinal, a list marker.
NOT_AMOUNTS = re.compile(
    rf"(?:19|20)\d\d年|第{NUMBER}|[（(]{NUMBER}[）)]|^\s*{NUMBER}[.、]"
)
# A date, or a point in time a sentence is dated by.
DATE = re.compile(
    rf"\d{{4}}年|{NUMBER}月(?:{NUMBER}[日号])?|(?<![\d.])\d{{1,2}}日(?![内以])"
    r"|以来|去年|今年|前年|明年|年底|年初|年内|月底|之日起|起施行|起实施|起执行|起生效"
)
FREQUENCY = re.compile(r"每(?:年|季度?|月|周|星期|天|日|半年)|定期")

# Topics a question may ask about that a report may or may not hold: each in scope only
# when the report's own text holds one of its evidence words (or a pattern of them).
TOPIC_WORDS = (
    "电话 号码 地址 邮箱 网址 官网 预算 经费 工资 待遇 招聘 报考 应聘 录用 考公 资格 履历"
    " 简历 毕业 学历 籍贯 老家 出生 生日 年龄 投诉 举报 信访 办事指南 办理流程 办事流程 预约"
    " 网站 下载"
).split()
# Question forms that ask for a thing under other words: form -> evidence in a report.
TOPIC_FORMS = (
    # (not \d+号: 国发〔2018〕42号 is a document number, not a street address)
    (re.compile(r"在哪里?办公|怎么走|位置在|在什么地方"), re.compile(r"地址|位于|坐落|门牌")),
    (re.compile(r"多大年纪"), re.compile(r"年龄|\d+岁")),
    (re.compile(r"怎么申请|如何申请"), re.compile(r"申请")),
    (re.compile(r"(?:原文|全文)(?:在|去)?(?:哪|什么地方)"), re.compile(r"www|http|网站|网址")),
)
# (the report's text is normalised: 52亿 reads 5200000000, so no digit run is a phone number)
# (a 12345热线 the report tells of is no phone number of its own: 电话 needs 电话)
EVIDENCE = {
    "网址": r"网址|www|http", "官网": r"官网|www|http", "网站": r"网站|www|http",
    "下载": r"下载|www|http",
}

# Places: a name followed by one of these; the words below end so but name no place.
PLACE_SUFFIXES = "省市区县"
# Single characters that stand before a place rather than in its name (在邻区, 这个区).
NOT_IN_PLACE_NAMES = frozenset(
    "在 到 从 去 来 向 往 和 与 及 跟 同 的 是 我 你 他 她 它 本 该 各 全 这 那 哪 每 对 给 为 被"
    " 把 让 由 个 省 市 区 县 了 有 也 都 就 还".split()
)
PLACE_LEVELS = {"省": 0, "市": 1, "区": 2, "县": 2}  # a district is finer than its city
PLACE_NAME_CHARS = (2, 3)  # 厦门市, 黑龙江省
GENERIC_PLACE_NAMES = frozenset(
    "全 本 各 该 此 邻 外 别 别的 他 我 你 两 省 市 区 县 地 城 社 辖 园 新 老 山 郊 景 校"
    " 城乡 开发 自治 直辖 示范 试验 实验 保护 经济 工业 商业 风景 居住 生活 住宅 保税"
    " 贫困 民族 边境"
    " 地级 县级 市级 省级 区级 中心 重点 主城 城中 邻近 周边 兄弟 其他 其它 各个 全国 上 下".split()
)

# Words ending so that are no place name's end (文明城市, 城乡社区, 首发上市).
GENERIC_PLACE_WORDS = frozenset(
    "城市 社区 市区 城区 上市 超市 都市 门市 股市 楼市 夜市 集市 园区 景区 校区 辖区 郊区 小区"
    " 街区 片区 营区 病区 展区 地区 灾区 矿区 林区 牧区 全区 全市 全省 全县".split()
)

# Kinds that answer whatever is asked of them: a list, or the whole of a section.
ANSWERED_BY_KIND = frozenset(
    {Kind.SLOGAN_LIST, Kind.TABLE_OF_CONTENTS, Kind.LOST_MEASURE, Kind.SECTION}
)
NAMED_THING_MIN_CHARS = 3  # 出租车罢运 is a named event; 可靠 (two characters) a quality


class AnswerCheck:
    """The answer-type checks over one report's index (sentences split once, then kept)."""

    def __init__(self, report: Report, data: IndexData, passages: Mapping[str, Passage]) -> None:
        self.report = report
        self.data = data
        self.passages = passages
        # the report's own words, as one text: what it names is in scope
        self.text = data.report_text or "\n".join(
            compact(value) for p in passages.values() for value in (p.title, p.text)
        )
        years = Counter(YEAR.findall(self.text))
        dated = YEAR.search(compact(report.date))
        # the year the report is about: its date's, else the year it names most
        self.own_year = dated.group(1) if dated else (
            years.most_common(1)[0][0] if years else ""
        )
        # the sentence that answers, for replies too
        self.sentences = AnswerSentences(data, passages, self.own_year)

    def answers(self, text: str, hit: Hit) -> bool:
        """Whether the passage can hold what the question asks for."""
        return self.decline_reason(text, hit) is None

    def decline_reason(self, text: str, hit: Hit) -> str | None:
        """Why the passage cannot answer the question (a short rule name), or None."""
        if ASKS_OPINION.search(text):
            return "opinion"
        if self._topic_not_in_report(text):
            return "topic"
        if self._unnamed_post(text):
            return "post"
        if self._other_place(text) or OTHER_PLACES.search(text):
            return "place"
        if self._other_year(text, hit):
            return "year"
        if hit.kind in ANSWERED_BY_KIND:
            return None
        if hit.kind == Kind.AUTHOR:
            return None if self._about_author(text) else "author"
        if ASKS_NAME.search(text):
            return "name"
        sentence = self._answer_sentence(text, hit.id)
        if ASKS_COUNT.search(text) and not ASKS_DURATION.search(text) and not (
            _holds_amount(text, sentence) and self._counts_what_is_asked(text, sentence)
        ):
            return "amount"
        if ASKS_TIME.search(text) and not _holds_time(text, sentence):
            return "time"
        if ASKS_HONOUR.search(text) and not TELLS_HONOUR.search(sentence):
            return "honour"  # 文明创建评上了什么荣誉: a passage on 文明创建 that names no honour
        if ASKS_REASON.search(text) and self._only_listed(text, hit.id):
            return "reason"  # 出租车罢运 is listed among events; the report never says why
        if ASKS_LIST.search(text) and hit.kind == Kind.SLOGAN and not re.search("[、,]", hit.title):
            return "list"  # 五大战役 and 三个留人 are named, never spelled out
        return None

    def _answer_sentence(self, text: str, passage_id: str) -> str:
        """The sentence of a passage (as written: NFKC, simplified) that answers the question."""
        return self.sentences.answering(text, passage_id).written

    def _counts_what_is_asked(self, text: str, sentence: str) -> bool:
        """Whether the sentence with the amount is about what the question counts: each
        word of the question the index never met (in the report or its alternate questions)
        shares at least a character with it (房子 and 用房 may be one thing; 土地出让 and
        预算收入 are not)."""
        foreign = [
            t for t in query_tokens(self.data, text)
            if len(t) > 1 and t not in self.text and t not in self.data.idf
            and not t.isdigit() and not ASKS_COUNT.search(t)
        ]
        return all(set(t) & set(sentence) for t in foreign)

    def _topic_not_in_report(self, text: str) -> bool:
        """A topic (电话, 预算, 投诉) or a form asking for one (在哪里办公) whose words the
        report's own text never holds."""
        for word in TOPIC_WORDS:
            if word in text and not re.search(EVIDENCE.get(word, word), self.text):
                return True
        return any(
            form.search(text) and not evidence.search(self.text)
            for form, evidence in TOPIC_FORMS
        )

    def _unnamed_post(self, text: str) -> bool:
        """区长是谁 of a report that never names a 区长 (the byline's author words excepted:
        作者是谁 is the author's question)."""
        asked = ASKS_HOLDER.search(text)
        if asked is None:
            return False
        if asked.group() == "谁是":
            clause = text[asked.end():].split(" ", 1)[0]  # 谁是…组长: the post ends it
            words = self.data.segmenter.content_tokens(clause)[-1:]
        else:
            words = self.data.segmenter.content_tokens(text[:asked.start()])[-1:]
        post = words[0] if words else ""
        return (
            len(post) > 1 and post not in self.text and post not in AUTHOR_WORDS
            and post not in DOCUMENT_WORDS and not AUTHOR_CUE.search(post)
        )

    def _other_year(self, text: str, hit: Hit) -> bool:
        """A year the report never names (2018 of a 2021 summary), or one it names only
        elsewhere than in the passage found (2022's plans asked of 2021's figures)."""
        passage = self.passages.get(hit.id)
        held = compact_report_text(f"{passage.title}{passage.text}") if passage else ""
        for year in YEAR.findall(text):
            if f"{year}年" not in self.text:
                return True
            if year != self.own_year and f"{year}年" not in held and hit.kind not in (
                Kind.AUTHOR, Kind.SECTION
            ):
                return True
        return False

    def _only_listed(self, text: str, passage_id: str) -> bool:
        """Whether the question's main term appears in the passage only as a list item."""
        tokens = [t for t in self.data.segmenter.content_tokens(text) if len(t) > 1]
        passage = self.passages.get(passage_id)
        if not tokens or passage is None:
            return False
        main = max(tokens, key=lambda t: self.data.idf.get(t, 0.0))
        if len(main) < NAMED_THING_MIN_CHARS:
            return False
        items = [compact(part) for part in passage.text.split("、")]
        listed = [
            item for position, item in enumerate(items)
            if (position > 0 and item.startswith(main))
            or (position < len(items) - 1 and item.endswith(main))
        ]
        return bool(listed) and compact(passage.text).count(main) == len(listed)

    def _about_author(self, text: str) -> bool:
        """A question the byline answers names nothing the byline lacks (区委办主任 is not
        the author's office, 以前 not a thing the byline tells)."""
        author = next((d for d in self.data.docs if d.passage.kind == Kind.AUTHOR), None)
        if author is None:
            return False
        tokens = self.data.segmenter.content_tokens(SELF_REFERENCE.sub(" ", text))
        foreign = [
            t for t in tokens
            if t in self.data.report_terms and t not in author.tokens
            and t not in DOCUMENT_WORDS and t not in AUTHOR_WORDS
        ]
        # a date is known only for a document that states one (发布日期)
        asks_time = ASKS_TIME.search(text) and not self.report.date
        return not foreign and not asks_time and not BIOGRAPHY.search(text)

    def _other_place(self, text: str) -> bool:
        """A province, city, district or county the report never names (北京市, 湖里区),
        unless the question names one of the report's own places as fine too (我是湖里区的，
        听说思明区...; but 云川市的滨海区 is another district of the report's city)."""
        places = self.places(text)
        # named as the question names it: 上海 among 4 municipalities is not 上海市's plan
        named = [place for place in places if place in self.text]
        others = [place for place in places if place not in named]
        return any(
            all(PLACE_LEVELS[own[-1]] < PLACE_LEVELS[other[-1]] for own in named)
            for other in others
        )

    def places(self, text: str) -> list[str]:
        """The places (name and 省市区县) a question mentions."""
        tokens = self.data.segmenter.cut(text.replace(" ", ""), hmm=False)
        names: list[tuple[str, str]] = []
        for position, token in enumerate(tokens):
            if len(token) > min(PLACE_NAME_CHARS) and token[-1] in PLACE_SUFFIXES:
                if token[-2:] not in GENERIC_PLACE_WORDS:
                    names.append((token[:-1], token[-1]))  # 北京市, 东湖区: a dictionary word
                continue
            if token[:1] not in PLACE_SUFFIXES or (1 < len(token) <= 2):
                continue  # 社区, 上市: words of their own; 区政府 and 市 alone follow a name
            before = tokens[max(0, position - 2):position]
            if (len(token) == 1 or token[0] != "区") and before and len(
                before[-1]
            ) in PLACE_NAME_CHARS:
                names.append((before[-1], token[0]))  # 厦门 市, 广东 省政府 (not 对应 区政府)
            elif len(before) == 2 and all(
                len(t) == 1 and t not in NOT_IN_PLACE_NAMES for t in before
            ):
                names.append(("".join(before), token[0]))  # 湖 里 区政府: unknown to jieba
        return [
            name + suffix for name, suffix in names
            if name not in GENERIC_PLACE_NAMES and name not in STOPWORDS
            and re.fullmatch(r"[\u4e00-\u9fff]+", name)
        ]


def asks_number(text: str) -> bool:
    """Whether a (normalised) question asks for a number: how many, how much, what share
    (多少, 几个, 比例); its answer is the sentence that states it."""
    return bool(ASKS_COUNT.search(text) or ASKS_SHARE.search(text))


def _holds(pattern: re.Pattern[str], sentence: str) -> bool:
    """Whether the sentence holds a match that is an amount (一个 is an article)."""
    return any(
        not (m.group().startswith(INDEFINITE) and m.group()[1:2] not in f"{CHINESE_DIGITS}半")
        for m in pattern.finditer(sentence)
    )


def _holds_amount(question: str, sentence: str) -> bool:
    """Whether the sentence holds a quantity of the kind the question asks for: money for
    多少钱, people for 多少人, a share for 比重, any counted amount for 多少 and 几个."""
    sentence = NOT_AMOUNTS.sub(" ", sentence)
    share = _holds(SHARE, sentence)
    if ASKS_SHARE.search(question):
        return share or bool(RATIO.search(sentence))
    asked = ASKS_COUNT.search(question)
    unit = asked.group(1) if asked else None
    if unit in ("元", "钱"):
        return _holds(MONEY, sentence)
    if unit in ("人", "名", "位"):
        return _holds(PEOPLE, sentence)
    if unit in ("年", "天"):
        return _holds(DURATION, sentence)
    if unit is None and ASKS_MONEY.search(question):
        # 资金是多少: money; 降低多少 of a price: a share too
        return _holds(MONEY, sentence) or (share and bool(ASKS_CHANGE.search(question)))
    if unit is None and ASKS_PEOPLE.search(question):
        return _holds(PEOPLE, sentence)
    counted = _holds(COUNTED, sentence) or _holds(MONEY, sentence)
    if unit is not None and unit not in ("万", "亿"):
        return counted  # 几个, 多少项: a counted number
    return counted or share or bool(RATIO.search(sentence)) or _holds(DURATION, sentence)


def _holds_time(question: str, sentence: str) -> bool:
    """A date for when, a duration or a frequency for how long and how often."""
    if ASKS_DURATION.search(question):
        return _holds(DURATION, NOT_AMOUNTS.sub(" ", sentence)) or bool(
            FREQUENCY.search(sentence)
        )
    return bool(DATE.search(sentence))
