"""A burst of 300 messages from 30 users: every one answered once, in order per chat."""

from __future__ import annotations

import pytest

from e2e.conftest import Running, text_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS = 30
PER_USER = 10


async def test_burst_of_300_messages_from_30_users_is_answered_once_in_order(
    bot: Running, capsys: pytest.CaptureFixture[str],
) -> None:
    tg, core = bot.tg, bot.core
    questions = [q for p in core.report.passages for q in p.questions]
    expected = {q: text_of(core.handle(q)) for q in questions}
    users = [tg.user() for _ in range(USERS)]
    chats = [tg.private_chat(user) for user in users]
    before = len(tg.calls_of("sendMessage"))

    sent: dict[int, list[dict]] = {chat["id"]: [] for chat in chats}
    for round_ in range(PER_USER):
        for number, (user, chat) in enumerate(zip(users, chats, strict=True)):
            question = questions[(round_ * USERS + number) % len(questions)]
            sent[chat["id"]].append(tg.send(user, chat, question))
    first = tg.calls[-1].at if tg.calls else 0.0
    total = USERS * PER_USER

    await tg.wait_for(lambda: len(tg.calls_of("sendMessage")) - before >= total, timeout=240,
                      what=f"{total} answers")
    replies = tg.calls_of("sendMessage")[before:]
    elapsed = max(c.at for c in replies) - min(first, min(c.at for c in replies))
    assert not [c.error for c in replies if c.error]

    for chat in chats:
        answers = tg.bot_messages(chat)
        questions_asked = sent[chat["id"]]
        assert [a["reply_to_message"]["message_id"] for a in answers] == [
            m["message_id"] for m in questions_asked]  # each once, in the order asked
        for answer, asked in zip(answers, questions_asked, strict=True):
            assert answer["text"] == expected[asked["text"]]
    assert len(tg.calls_of("sendMessage")) - before == total  # nothing answered twice

    with capsys.disabled():
        print(f"\n[burst] {total} messages from {USERS} users answered in {elapsed:.2f}s: "
              f"{total / elapsed:.0f} messages/s, none lost, in order per chat")
