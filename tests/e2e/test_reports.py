"""End to end over HTTP: `faqbot run` over a content folder of two reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.reports import deep_link
from e2e.conftest import Running, assert_shows, buttons_of, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def two(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path,
              two_reports_content: Path) -> AsyncIterator[Running]:
    async with running_bot(tmp_path_factory.mktemp("two"), cache_dir,
                           content=two_reports_content) as running:
        yield running


async def test_two_reports_over_http(two: Running) -> None:
    tg, core = two.tg, two.core
    assert "reports" in [c["command"] for c in tg.commands]
    user = tg.user()
    chat = tg.private_chat(user)

    specific = tg.send(user, chat, "一般公共预算收入完成了多少")  # one report's question
    [answer] = await tg.wait_for(lambda: tg.replies_to(specific))
    assert_shows(answer, core.handle("一般公共预算收入完成了多少"))
    assert "出处：《稳字当头强保障 改革创新提效能》" in answer["text"]
    assert ["fb:good:caizheng-2021/s1.m1", "fb:bad:caizheng-2021/s1.m1"] in buttons_of(answer)

    both = tg.send(user, chat, "作者是谁")  # both answer: a button per report
    [choice] = await tg.wait_for(lambda: tg.replies_to(both))
    assert buttons_of(choice) == [["p:caizheng-2021/author"], ["p:siming-report/author"]]
    await tg.answer_of(tg.press(user, choice, "p:siming-report/author"))
    await tg.wait_for(lambda: choice.get("edit_date"), what="the choice shown in place")
    expected = core.action("p:siming-report/author")
    assert expected is not None and "尤小波" in choice["text"]
    assert_shows(choice, expected)

    listing = tg.send(user, chat, "/reports")
    [reports] = await tg.wait_for(lambda: tg.after(listing))
    assert buttons_of(reports) == [["rep:caizheng-2021"], ["rep:siming-report"]]
    await tg.answer_of(tg.press(user, reports, "rep:caizheng-2021"))
    await tg.wait_for(lambda: "设为默认报告" in reports["text"], what="the default set")
    again = tg.send(user, chat, "作者是谁")  # now the default report answers
    [author] = await tg.wait_for(lambda: tg.replies_to(again))
    assert "王芳" in author["text"] and "尤小波" not in author["text"]

    link = tg.send(user, chat, f"/start {deep_link('siming-report', 's2.m3')}")
    [linked] = await tg.wait_for(lambda: tg.after(link))
    assert "三是督查问效力求更实" in linked["text"]
    assert any(data.startswith("p:siming-report/") for row in buttons_of(linked) for data in row)
