"""Admins over HTTP: the menus per scope, /stats for an admin and "unknown command" for
anyone else, and reloading the content of the running bot process: `faqbot reload` from the
host (SIGHUP through the pid file) and /reload, a broken file keeping the old content."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from bot.replies import ADMIN_COMMANDS, COMMANDS
from e2e.conftest import ROOT, assert_shows, bot_environment, running_bot, text_of
from e2e.emulator import BotApiEmulator

TOKEN = "5550004321:AAFakeE2eAdminTokenNeverLogged_q7"
NEW_NAME = "思明区政府办重新加载的材料"
RELOAD_TIMEOUT = 60  # an index build on two slow shared cores


def _rename(report: Path, name: str) -> None:
    text = report.read_text(encoding="utf-8")
    report.write_text(re.sub(r"(?m)^  name: .*$", f"  name: {name}", text, count=1),
                      encoding="utf-8")


async def test_admin_menu_commands_and_reload_of_a_running_bot(tmp_path: Path,
                                                               cache_dir: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    report = content / "siming-report.yaml"
    tg = BotApiEmulator(TOKEN)
    admin, stranger = tg.user("管理员"), tg.user()
    async with running_bot(tmp_path / "bot", cache_dir, content=content, emulator=tg,
                           env={"FAQBOT_ADMINS": str(admin["id"])}) as bot:
        admin_chat, stranger_chat = tg.private_chat(admin), tg.private_chat(stranger)
        everyone = [name for name, _ in COMMANDS]
        assert tg.menu_of(stranger_chat) == everyone
        assert tg.menu_of(admin_chat) == everyone + [name for name, _ in ADMIN_COMMANDS]

        asked = tg.send(stranger, stranger_chat, "/stats")
        [unknown] = await tg.wait_for(lambda: tg.after(asked))
        assert_shows(unknown, bot.core.handle("/stats"))

        asked = tg.send(admin, admin_chat, "/stats")
        [stats] = await tg.wait_for(lambda: tg.after(asked))
        assert stats["text"].startswith("📊 使用统计")
        assert "今天" in stats["text"]  # the stranger's /stats was no question: no count check

        # from the host: `faqbot reload` signals the process named in the pid file
        _rename(report, NEW_NAME)
        command = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(bot.process.config), "reload"],
            cwd=ROOT, env=bot_environment(tg, cache_dir), capture_output=True, text=True,
            timeout=60,
        )
        assert command.returncode == 0, command.stderr
        process = bot.process.process
        assert process is not None and f"pid {process.pid}" in command.stdout
        await tg.wait_for(lambda: "content reloaded" in bot.process.stderr, RELOAD_TIMEOUT,
                          "the bot to log the reload")
        asked = tg.send(stranger, stranger_chat, "/sections")
        [sections] = await tg.wait_for(lambda: tg.after(asked))
        assert NEW_NAME in sections["text"]

        # /reload of a broken file: FILE:LINE in the reply, the last good content served
        lines = report.read_text(encoding="utf-8").splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.startswith("  author:")) + 1
        report.write_text("".join(lines[:at] + ["  bogus: 1\n"] + lines[at:]), encoding="utf-8")
        asked = tg.send(admin, admin_chat, "/reload")
        [failed] = await tg.wait_for(lambda: tg.after(asked), RELOAD_TIMEOUT)
        assert f"{report}:{at + 1}: unknown key 'bogus' in report" in failed["text"]
        asked = tg.send(stranger, stranger_chat, "海峡论坛是谁保障的")
        [answer] = await tg.wait_for(lambda: tg.after(asked))
        assert answer["text"] == text_of(bot.core.handle("海峡论坛是谁保障的"))

        # SIGHUP straight to the process: the same, the failure logged with FILE:LINE
        process.send_signal(signal.SIGHUP)
        await tg.wait_for(lambda: bot.process.stderr.count("content reload failed") >= 2,
                          RELOAD_TIMEOUT, "the bot to log the failed reload")
        assert "unknown key 'bogus'" in bot.process.stderr
        assert "Traceback" not in bot.process.stderr
        asked = tg.send(stranger, stranger_chat, "/sections")
        [sections] = await tg.wait_for(lambda: tg.after(asked))
        assert NEW_NAME in sections["text"]
    assert TOKEN not in bot.process.stderr + bot.process.stdout
    assert not (cache_dir / "faqbot.pid").exists()  # removed when the bot stopped
