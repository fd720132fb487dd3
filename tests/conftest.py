"""Shared fixtures: the real bot, built once per session with its index cache in a temp dir.

Fixture names are generic on purpose (other test packages may reuse them):
``project_root``, ``faqbot_cache_dir``, ``faqbot_feedback_db``, ``settings``, ``faq_bot``
and ``postgres_url`` (a throwaway PostgreSQL server, started by the first test that needs
it and stopped at the end of the session; if it cannot start, those tests fail and say why).
Nothing a test runs writes into the work tree: the index cache and the feedback
database live in temp dirs, for this process and (through the environment) subprocesses.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.replies import FaqBot
from tests import pgserver

ROOT = Path(__file__).resolve().parents[1]
_HYPOTHESIS_STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"


def pytest_configure(config: pytest.Config) -> None:
    """hypothesis keeps its caches (unicode tables, constants) in a temp dir, not the work
    tree; it reads the variable once, while tests are collected."""
    if _HYPOTHESIS_STORAGE not in os.environ:
        os.environ[_HYPOTHESIS_STORAGE] = tempfile.mkdtemp(prefix="faqbot-hypothesis-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop(_HYPOTHESIS_STORAGE), True))


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root (where config.yaml and content/ live)."""
    return ROOT


@pytest.fixture(scope="session")
def faqbot_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index cache for the whole session: built once, reused by subprocesses."""
    return tmp_path_factory.mktemp("faqbot-cache")


@pytest.fixture(scope="session")
def faqbot_feedback_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where recorded questions and ratings go during the session (chat and run record)."""
    return tmp_path_factory.mktemp("faqbot-feedback") / "faqbot.sqlite3"


@pytest.fixture(autouse=True)
def _faqbot_cache_env(
    monkeypatch: pytest.MonkeyPatch, faqbot_cache_dir: Path, faqbot_feedback_db: Path
) -> None:
    """Keep the index cache (and jieba's) and the feedback database out of the work tree,
    also for subprocesses."""
    monkeypatch.setenv("FAQBOT_CACHE_DIR", str(faqbot_cache_dir))
    monkeypatch.setenv("FAQBOT_FEEDBACK_DB", str(faqbot_feedback_db))
    monkeypatch.delenv("FAQBOT_DATABASE_URL", raising=False)  # the host's store: never in tests


@pytest.fixture(scope="session")
def settings(faqbot_cache_dir: Path, faqbot_feedback_db: Path) -> Settings:
    """The project's config.yaml, read with a clean environment (no token, temp dirs)."""
    environ = {
        "FAQBOT_CACHE_DIR": str(faqbot_cache_dir),
        "FAQBOT_FEEDBACK_DB": str(faqbot_feedback_db),
    }
    return load_settings(ROOT / "config.yaml", environ=environ)


@pytest.fixture(scope="session")
def faq_bot(settings: Settings) -> FaqBot:
    """The real bot over the real content, built once per session."""
    return FaqBot.from_settings(settings)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL server for the session (tests/pgserver.py), its URL also in
    FAQBOT_TEST_DATABASE_URL for subprocesses. Tests isolate themselves in schemas."""
    try:
        server = pgserver.start()
    except pgserver.PostgresUnavailable as error:
        reason = str(error)
    else:
        reason = ""
    if reason:  # a failure, never a skip: CI must not pass without the PostgreSQL tests
        pytest.fail(f"PostgreSQL tests need a throwaway server and it could not start: {reason}",
                    pytrace=False)
    os.environ[pgserver.URL_VARIABLE] = server.url
    try:
        yield server.url
    finally:
        os.environ.pop(pgserver.URL_VARIABLE, None)
        server.stop()


@pytest.fixture(scope="session")
def two_reports_content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A content folder of two reports: the seed report and caizheng-2021.yaml, imported
    from tests/data/reports/caizheng-2021.txt as `faqbot import` drafts it."""
    from bot.importer import build_draft

    folder = tmp_path_factory.mktemp("two-reports")
    shutil.copy(ROOT / "content" / "siming-report.yaml", folder)
    shutil.copytree(ROOT / "content" / "raw", folder / "raw")  # the seed's source
    raw = ROOT / "tests" / "data" / "reports" / "caizheng-2021.txt"
    draft = build_draft(raw.read_text(encoding="utf-8"), raw.resolve().as_posix(), raw.stem)
    (folder / f"{raw.stem}.yaml").write_text(draft.yaml, encoding="utf-8")
    return folder
