"""The running bot's process id, so that `faqbot reload` on the host can signal it.

`faqbot run` (Telegram mode) writes ``faqbot.pid`` into the cache directory, owner-only,
and removes it on exit; `faqbot reload` reads it back only when it is a regular file of
ours that nobody else can write, and sends SIGHUP: the bot re-reads its content.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

from bot.errors import FaqbotError

logger = logging.getLogger(__name__)

PID_FILE = "faqbot.pid"
MAX_PID_BYTES = 32  # a decimal pid and a newline; anything longer is not ours


class PidFileError(FaqbotError):
    """No running bot can be signalled; the message is one line for the user."""

    def format_message(self) -> str:
        return f"faqbot: {self}"


def pid_path(directory: Path) -> Path:
    return directory / PID_FILE


@contextlib.contextmanager
def written(directory: Path) -> Iterator[Path | None]:
    """This process's pid in ``directory``/faqbot.pid (0600) while the block runs; None
    (and one warning: the bot runs on, only `faqbot reload` cannot find it) when the file
    cannot be written."""
    path = pid_path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale one (a killed bot), or another replica's: ours now
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{os.getpid()}\n")
    except OSError as error:
        logger.warning("cannot write the pid file %s (`faqbot reload` will not find this "
                       "bot; SIGHUP still works): %s", path, error.strerror or error)
        yield None
        return
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if read_pid(directory) == os.getpid():  # not a newer replica's
                path.unlink()


def read_pid(directory: Path) -> int:
    """The pid in ``directory``/faqbot.pid; PidFileError unless the file is a regular
    file owned by this user, writable by nobody else, holding a positive number."""
    path = pid_path(directory)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise PidFileError(f"no running bot: {path} does not exist "
                           "(is `faqbot run` running with this configuration?)") from None
    except OSError as error:
        raise PidFileError(f"cannot read {path}: {error.strerror or error}") from None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            raise PidFileError(f"{path} is not a file of this user: not trusted")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PidFileError(f"{path} is writable by others: not trusted")
        text = file.read(MAX_PID_BYTES + 1)
    try:
        pid = int(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        pid = 0
    if pid <= 0 or len(text) > MAX_PID_BYTES:
        raise PidFileError(f"{path} does not hold a process id")
    return pid


def signal_reload(directory: Path) -> int:
    """Send SIGHUP to the bot whose pid file is in ``directory``; its pid."""
    pid = read_pid(directory)
    command_line = Path(f"/proc/{pid}/cmdline")  # Linux: a pid reused by another program
    with contextlib.suppress(OSError):  # (elsewhere, or /proc hidden: trust the file)
        if command_line.exists() and b"bot" not in command_line.read_bytes():
            raise PidFileError(f"no running bot: process {pid} of {pid_path(directory)} "
                               "is another program now")
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise PidFileError(f"no running bot: process {pid} of {pid_path(directory)} "
                           "has exited") from None
    except PermissionError:
        raise PidFileError(f"process {pid} of {pid_path(directory)} is not ours") from None
    return pid
