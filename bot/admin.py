"""What admins get: /stats, /review and /reload replies, channel-neutral.

The Telegram adapter decides who is an admin (``settings.admins``); this module only says
what to answer, with the words of the config's ``texts:``. ``review_lines`` is also what
``faqbot review`` prints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from bot.config import Settings
from bot.content import ContentError
from bot.errors import FaqbotError
from bot.logs import event_line
from bot.replies import Block, FaqBot, Reply
from bot.store import STATS_DAYS, Review, Stats, StoreError

logger = logging.getLogger(__name__)

RELOAD_PROBLEMS = 10  # FILE:LINE lines a /reload reply lists: one screen of a phone
PROBLEM_CHARS = 200  # each clipped to this: a problem names a file, a line and one mistake


def _note(text: str) -> Reply:
    return Reply((Block("note", text),), answered=False)


def _recording(faq: FaqBot) -> bool:
    return faq.store is not None and faq.settings.retention_days > 0


def review_lines(settings: Settings, review: Review, where: str,
                 shown: Callable[[str], str] = str) -> list[str]:
    """The review as lines: the most asked unanswered questions (times, best score, text)
    and the worst-rated passages (👎 / 👍); ``shown`` makes typed text safe to show."""
    none = "  " + settings.text("review_none")
    lines = [settings.text("review_unanswered", where=where)]
    lines.extend(f"  {times:>4}×  {score:>3}  {shown(question)}"
                 for question, times, score in review.unanswered)
    if not review.unanswered:
        lines.append(none)
    lines.append(settings.text("review_worst"))
    lines.extend(f"  {shown(passage_id):<8} {bad:>3} / {good:<3}"
                 for passage_id, bad, good in review.worst)
    if not review.worst:
        lines.append(none)
    lines.append(settings.text("review_hint"))
    return lines


def stats_lines(settings: Settings, stats: Stats) -> list[str]:
    """/stats as lines: counts, shares, votes, busiest hours, top unanswered questions."""
    text = settings.text
    hours = "、".join(f"{hour:02d}:00（{count}）" for hour, count in stats.busiest_hours)
    lines = [
        text("stats_title"),
        text("stats_questions", today=stats.today, days=STATS_DAYS, week=stats.week),
        text("stats_shares", answered=f"{stats.answered:.0%}", hedged=f"{stats.hedged:.0%}",
             declined=f"{stats.declined:.0%}"),
        text("stats_votes", good=stats.good, bad=stats.bad),
        text("stats_hours", hours=hours or text("review_none")),
        text("stats_unanswered"),
    ]
    lines.extend(f"  {count:>4}×  {question}" for question, count in stats.top_unanswered)
    if not stats.top_unanswered:
        lines.append("  " + text("review_none"))
    return lines


def stats(faq: FaqBot) -> Reply:
    """/stats: the use of today and the last days, from the store."""
    if not _recording(faq) or faq.store is None:
        return _note(faq.settings.text("recording_off"))
    try:
        lines = stats_lines(faq.settings, faq.store.stats())
    except StoreError as error:
        return _note(faq.settings.text("store_unavailable", error=error))
    return Reply(tuple(Block("text", line) for line in lines), answered=False)


def review(faq: FaqBot, limit: int = 10) -> Reply:
    """/review: what `faqbot review` prints, ``limit`` rows per list."""
    if not _recording(faq) or faq.store is None:
        return _note(faq.settings.text("recording_off"))
    try:
        where = str(getattr(faq.store, "where", ""))  # the back ends name their database
        lines = review_lines(faq.settings, faq.store.review(limit), where)
    except StoreError as error:
        return _note(faq.settings.text("store_unavailable", error=error))
    return Reply(tuple(Block("text", line) for line in lines), answered=False)


def problem_lines(error: Exception) -> list[str]:
    """An error of loading content as FILE:LINE lines, at most RELOAD_PROBLEMS of them."""
    if isinstance(error, ContentError):
        lines = [str(problem) for problem in error.problems]
    elif isinstance(error, FaqbotError):
        lines = error.format_message().splitlines()
    else:
        lines = [f"{type(error).__name__}: {error}"]
    clipped = [line if len(line) <= PROBLEM_CHARS else line[: PROBLEM_CHARS - 1] + "…"
               for line in lines[:RELOAD_PROBLEMS]]
    if len(lines) > RELOAD_PROBLEMS:
        clipped.append(f"… (+{len(lines) - RELOAD_PROBLEMS})")
    return clipped


def reload(faq: FaqBot, via: str) -> Reply:
    """/reload, SIGHUP or `faqbot reload` (``via``, for the log): re-read the content and
    serve it, or keep serving the old one and say what is wrong. Never raises."""
    try:
        report = faq.reload()
    except Exception as error:  # any error: the old content stays, the admin reads why
        problems = problem_lines(error)
        line, fields = event_line("content reload failed", via=via, problems=len(problems),
                                  first=json.dumps(problems[0] if problems else "",
                                                   ensure_ascii=False))
        logger.warning("%s", line, extra=fields,
                       exc_info=None if isinstance(error, FaqbotError) else error)
        blocks = [Block("note", faq.settings.text("reload_failed"))]
        blocks.extend(Block("item", problem) for problem in problems)
        return Reply(tuple(blocks), answered=False)
    line, fields = event_line("content reloaded", via=via, report=report.id,
                              passages=len(report.passages))
    logger.info("%s", line, extra=fields)
    return _note(faq.settings.text("reload_done", report=report.name,
                                   passages=len(report.passages)))
