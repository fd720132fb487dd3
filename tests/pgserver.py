"""A throwaway PostgreSQL server for the tests (and `faqbot bench`'s store row).

initdb + pg_ctl in a private temp dir, listening only on a unix socket in that dir (no TCP
port), trust authentication for the one local user. As root it runs as the ``postgres``
system user (PostgreSQL refuses to run as root). Whatever goes wrong is raised as
PostgresUnavailable with the reason, never skipped.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN_DIRS = ("/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/bin")
BIN_DIRS_VARIABLE = "FAQBOT_PG_BIN_DIRS"  # where else to look (os.pathsep-separated), first
START_SECONDS = 60  # pg_ctl -w waits this long for the server (a loaded 2-core machine)
SERVER_USER = "postgres"  # the system user that runs the server when we are root
DATABASE_USER = "faqbot"  # the superuser initdb creates; the tests connect as it
URL_VARIABLE = "FAQBOT_TEST_DATABASE_URL"  # where the running server's URL is published


class PostgresUnavailable(Exception):
    """PostgreSQL could not be started here; the message says why."""


@dataclass
class PostgresServer:
    directory: Path
    url: str
    _run_as: list[str]
    _pg_ctl: str

    def stop(self) -> None:
        subprocess.run([*self._run_as, self._pg_ctl, "stop", "-D", str(self.directory / "data"),
                        "-m", "immediate", "-w"], capture_output=True, timeout=START_SECONDS)
        shutil.rmtree(self.directory, ignore_errors=True)


def _tool(name: str) -> str:
    given = os.environ.get(BIN_DIRS_VARIABLE)
    dirs = given.split(os.pathsep) if given is not None else [*os.get_exec_path(), *BIN_DIRS]
    found = next((f"{d}/{name}" for d in dirs if os.access(f"{d}/{name}", os.X_OK)), None)
    if found is None:
        raise PostgresUnavailable(f"{name} not found (looked in {os.pathsep.join(dirs)})")
    return found


def start() -> PostgresServer:
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    run_as: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="faqbot-pg-"))
    try:
        if os.geteuid() == 0:
            try:
                server_user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root and there is no '{SERVER_USER}' system user to run "
                    "PostgreSQL as") from None
            os.chown(directory, server_user.pw_uid, server_user.pw_gid)
            run_as = ["runuser", "-u", SERVER_USER, "--"]
        directory.chmod(0o700)
        data = directory / "data"
        _step([*run_as, initdb, "-D", str(data), "-U", DATABASE_USER, "--auth=trust",
               "--encoding=UTF8", "--locale=C", "--no-sync"], "initdb")
        options = (f"-k {directory} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        _step([*run_as, pg_ctl, "start", "-D", str(data), "-w", "-t", str(START_SECONDS),
               "-l", str(directory / "server.log"), "-o", options], "pg_ctl start",
              log=directory / "server.log")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    url = f"postgresql://{DATABASE_USER}@/postgres?host={directory}"
    return PostgresServer(directory, url, run_as, pg_ctl)


def _step(argv: list[str], name: str, log: Path | None = None) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=START_SECONDS + 30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PostgresUnavailable(f"{name} failed: {error}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        if log is not None and log.exists():
            detail += log.read_text(errors="replace").strip().splitlines()[-3:]
        raise PostgresUnavailable(f"{name} exited {done.returncode}: {' | '.join(detail[-4:])}")
