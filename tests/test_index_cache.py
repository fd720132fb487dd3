"""The index cache: plain authenticated data in a private directory, never code; optional.

Each test works on its own copy of the session's warm cache (``faq_bot`` built it).
Tests that need files of another user run as root (``os.chown``); the read-only
directory is tested in a child process whose effective user owns it, since root
writes anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import marshal
import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

from bot import cache as cache_module
from bot import content as content_module
from bot import search, textnorm
from bot.content import content_files, load_report
from bot.replies import FaqBot
from bot.search import (
    INDEX_PACKAGES,
    Index,
    IndexData,
    declines,
    index_code,
    index_key,
    intents,
    package_versions,
    relatedness,
    results,
    scoring,
    typos,
)
from bot.search import index as search_index

QUESTION = "海峡论坛是谁保障的"
ANSWER_ID = "s2.m1"
OTHER_UID = 4242  # any uid that is not ours
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another user")


@pytest.fixture
def content(project_root: Path) -> Path:
    return project_root / "content"


@pytest.fixture
def cache(tmp_path: Path, faq_bot: FaqBot, faqbot_cache_dir: Path, content: Path) -> Path:
    """A private cache holding the seed's index only (copied from the session's warm cache
    when it is there; jieba's dictionary left out)."""
    copy = tmp_path / "cache"
    shutil.copytree(faqbot_cache_dir, copy, ignore=shutil.ignore_patterns("jieba*", "index-*"))
    name = f"index-{index_key(content_files([content]))}.json"
    if (faqbot_cache_dir / name).is_file():
        shutil.copy(faqbot_cache_dir / name, copy / name)
    else:  # other tests' builds pushed it out of the shared cache
        Index.load(content, copy)
    return copy


def index_file(cache: Path) -> Path:
    """The newest index file in cache."""
    return max(cache.glob("index-*"), key=lambda p: p.stat().st_mtime_ns)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def assert_answers_from_the_content(index: Index, content: Path) -> None:
    """The answer and its text are the report's own, whatever the cache held."""
    hit = index.search(QUESTION).hits[0]
    assert hit.id == ANSWER_ID
    assert hit.text == next(p.text for p in load_report(content).passages if p.id == ANSWER_ID)


class _CreatesMarker:
    """A pickle that, when loaded, creates a file: what a planted cache file could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


# --- nothing read back runs or changes answers ------------------------------------------


def test_a_planted_pickle_is_never_loaded(
    cache: Path, content: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "the-payload-ran"
    planted = index_file(cache)
    planted.write_bytes(pickle.dumps(_CreatesMarker(marker)))
    index = Index.load(content, cache)
    assert not marker.exists()
    assert_answers_from_the_content(index, content)
    [warning] = warnings(caplog)
    assert planted.name in warning and "not a cache file" in warning
    assert not index_file(cache).read_bytes().startswith(b"\x80")  # replaced by our own


def test_an_edited_cache_file_is_refused_not_served(
    cache: Path, content: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = index_file(cache)
    original = file.read_bytes()
    edited = original.replace("圆满完成".encode(), "未能完成".encode())  # same length
    assert edited != original
    file.write_bytes(edited)
    index = Index.load(content, cache)
    assert_answers_from_the_content(index, content)
    assert "未能完成" not in index.search(QUESTION).hits[0].text
    [warning] = warnings(caplog)
    assert "changed after it was written" in warning


def test_a_valid_file_copied_under_another_key_is_refused(
    cache: Path, project_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An index of other content, renamed to this content's key, is not served."""
    content = tmp_path / "content"
    shutil.copytree(project_root / "content", content)
    report = content / "siming-report.yaml"
    report.write_text(
        report.read_text(encoding="utf-8").replace("圆满完成", "顺利完成"), encoding="utf-8"
    )
    old = index_file(cache)
    old.rename(cache / f"index-{index_key(content_files([content]))}.json")
    index = Index.load(content, cache)
    assert "顺利完成" in index.search(QUESTION).hits[0].text
    [warning] = warnings(caplog)
    assert "changed after it was written" in warning


# --- ownership and modes --------------------------------------------------------------


def group_writable(path: Path) -> None:
    path.chmod(0o660)


def world_writable(path: Path) -> None:
    path.chmod(0o666)


def another_users(path: Path) -> None:
    os.chown(path, OTHER_UID, OTHER_UID)


def a_symbolic_link(path: Path) -> None:
    target = path.with_name("elsewhere")
    path.rename(target)
    path.symlink_to(target.name)


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (group_writable, "writable by others"),
        (world_writable, "writable by others"),
        pytest.param(another_users, "belongs to uid", marks=ROOT_ONLY),
        (a_symbolic_link, "symbolic link"),
    ],
)
def test_an_index_file_not_ours_alone_is_refused_and_replaced(
    cache: Path, content: Path, caplog: pytest.LogCaptureFixture,
    spoil: Callable[[Path], None], reason: str,
) -> None:
    file = index_file(cache)
    spoil(file)
    index = Index.load(content, cache)
    assert_answers_from_the_content(index, content)
    [warning] = warnings(caplog)
    assert reason in warning
    status = index_file(cache).lstat()
    assert stat.S_ISREG(status.st_mode) and status.st_uid == os.geteuid()
    assert stat.S_IMODE(status.st_mode) == cache_module.FILE_MODE


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (group_writable, "writable by others"),
        (world_writable, "writable by others"),
        pytest.param(another_users, "belongs to uid", marks=ROOT_ONLY),
    ],
)
@pytest.mark.parametrize("what", ["the directory", cache_module.KEY_FILE])
def test_a_cache_directory_or_key_not_ours_alone_is_not_used(
    cache: Path, content: Path, caplog: pytest.LogCaptureFixture,
    spoil: Callable[[Path], None], reason: str, what: str,
) -> None:
    """Files in a directory others can write to (or signed with a key others could
    have written) are not read, and nothing is written there."""
    if what == "the directory":
        spoil(cache)
        cache.chmod(cache.stat().st_mode | 0o700)  # still ours to look into
    else:
        spoil(cache / what)
    before = {p.name: p.read_bytes() for p in cache.iterdir()}
    index = Index.load(content, cache)
    assert_answers_from_the_content(index, content)
    [warning] = warnings(caplog)
    assert reason in warning and "building in memory" in warning
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == before


def test_a_symbolic_link_as_cache_directory_is_not_used(
    cache: Path, content: Path, caplog: pytest.LogCaptureFixture
) -> None:
    link = cache.with_name("link")
    link.symlink_to(cache.name)
    index = Index.load(content, link)
    assert_answers_from_the_content(index, content)
    [warning] = warnings(caplog)
    assert "symbolic link" in warning


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_the_cache_directory_and_files_are_private(
    faq_bot: FaqBot, content: Path, tmp_path: Path, umask: int
) -> None:
    directory = tmp_path / "new" / "cache"
    old_umask = os.umask(umask)
    try:
        Index.load(content, directory)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(directory.stat().st_mode) == cache_module.DIRECTORY_MODE
    for file in directory.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == cache_module.FILE_MODE, file.name


# --- an unusable cache is one warning -------------------------------------------------------


def a_regular_file(directory: Path) -> Path:
    directory.write_text("not a directory\n", encoding="utf-8")
    return directory


def inside_a_file(directory: Path) -> Path:
    directory.write_text("not a directory\n", encoding="utf-8")
    return directory / "cache"


@pytest.mark.parametrize("place", [a_regular_file, inside_a_file])
def test_a_cache_directory_that_cannot_be_one_is_one_warning(
    tmp_path: Path, content: Path, caplog: pytest.LogCaptureFixture,
    place: Callable[[Path], Path],
) -> None:
    directory = place(tmp_path / "cache")
    index = Index.load(content, directory)
    assert_answers_from_the_content(index, content)
    [warning] = warnings(caplog)
    assert str(directory) in warning and "building in memory" in warning


def test_an_index_that_can_be_neither_read_nor_written_is_one_warning(
    cache: Path, content: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A directory where the index file should be: refused, and not replaceable."""
    file = index_file(cache)
    file.unlink()
    file.mkdir()
    (file / "inside").write_bytes(b"x")
    index = Index.load(content, cache)
    assert_answers_from_the_content(index, content)
    [warning] = warnings(caplog)
    assert "not a regular file" in warning
    assert file.is_dir()


def test_an_index_that_cannot_be_serialised_is_served_from_memory(
    tmp_path: Path, content: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: textnorm.Segmenter) -> dict[str, object]:
        raise ValueError("a dictionary word holds a line break")

    monkeypatch.setattr(textnorm.Segmenter, "as_data", refuse)
    index = Index.load(content, tmp_path / "cache")
    assert_answers_from_the_content(index, content)
    [warning] = warnings(caplog)
    assert "cannot be written: a dictionary word holds a line break" in warning
    assert not list((tmp_path / "cache").glob("index-*"))


def test_a_cache_warns_once_however_many_problems_follow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with cache_module.private_cache(tmp_path / "cache") as cache:
        assert cache is not None
        for name in ("first", "second"):
            (cache.directory / name).mkdir()
            (cache.directory / name / "inside").write_bytes(b"x")
            assert cache.read(name) is None
            assert not cache.write(name, b"payload", stale_prefix=name)
    [warning] = warnings(caplog)
    assert "first" in warning


def load_with_read_only_cache(directory: Path, content: Path) -> tuple[str, list[str]]:
    """Index.load with directory read-only for the process: the top hit's id and the
    warnings. Root writes anywhere, so as root a forked child takes the directory's
    owner as its effective user (everything it needs is imported already)."""
    if os.geteuid() != 0:
        directory.chmod(0o500)
        try:
            return _load_and_collect(directory, content)
        finally:
            directory.chmod(0o700)
    for path in (directory, *directory.iterdir()):
        os.chown(path, OTHER_UID, OTHER_UID)
    directory.chmod(0o500)
    # the key hashes the bot's code and its packages' versions, which may sit where that user
    # cannot read (a checkout and its .venv in a 0700 folder): the child hashes a readable
    # copy of the code, the same bytes and names, and the versions read here
    versions = search_index.package_versions()
    code = directory.parent / "code"
    shutil.copytree(Path(search_index.__file__).parents[1], code,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in (code, *code.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report the outcome or the error, then leave at once
        try:
            os.close(read)
            search_index.index_code = lambda: sorted(code.rglob("*.py"))  # type: ignore
            search_index.package_versions = lambda: versions  # type: ignore
            os.setegid(OTHER_UID)
            os.seteuid(OTHER_UID)
            outcome: object = _load_and_collect(directory, content)
        except BaseException:
            outcome = traceback.format_exc()
        finally:
            os.write(write, json.dumps(outcome).encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        outcome = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert isinstance(outcome, list), outcome  # else the child's traceback
    answer, logged = outcome
    return answer, logged


class _Warnings(logging.Handler):
    """The warnings logged while it is attached (caplog does not reach a forked child)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _load_and_collect(directory: Path, content: Path) -> tuple[str, list[str]]:
    collected = _Warnings()
    logging.getLogger("bot").addHandler(collected)
    try:
        index = Index.load(content, directory)
    finally:
        logging.getLogger("bot").removeHandler(collected)
    return index.search(QUESTION).hits[0].id, collected.messages


@pytest.mark.parametrize("warm", [True, False])
def test_a_read_only_cache_directory_is_at_most_one_warning(
    cache: Path, content: Path, warm: bool
) -> None:
    """A warm read-only cache is simply read; a cold one cannot be filled: one warning."""
    if not warm:
        index_file(cache).unlink()
    # a place another user can reach (pytest's temp dirs are root's alone)
    reachable = Path(tempfile.mkdtemp(prefix="faqbot-read-only-"))
    try:
        reachable.chmod(0o711)
        directory = reachable / "cache"
        shutil.copytree(cache, directory)
        # the content too: the checkout may sit where that user cannot read (mktemp -d)
        readable = reachable / "content"
        shutil.copytree(content, readable)
        for path in (readable, *readable.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        answer, logged = load_with_read_only_cache(directory, readable)
    finally:
        shutil.rmtree(reachable)
    assert answer == ANSWER_ID
    assert len(logged) == (0 if warm else 1), logged


# --- jieba's own cache ------------------------------------------------------------------------

_BUILD = """
import sys
from pathlib import Path
from bot.search import Index
index = Index.load(Path(sys.argv[1]), Path(sys.argv[2]) if sys.argv[2] else None)
print(index.search(sys.argv[3]).hits[0].id, "planted" in index.data.segmenter.freq)
"""


@pytest.mark.parametrize("with_cache", [True, False])
def test_jieba_never_reads_or_writes_the_temp_dir(
    tmp_path: Path, content: Path, project_root: Path, with_cache: bool
) -> None:
    """jieba's own cache (a marshal file in the temp dir, read without any check) is not
    used: a fresh process builds the index leaving TMPDIR as it was, ignoring a file
    planted there, and keeps jieba's dictionary only in our cache, as checked JSON."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    planted = temp / "jieba.cache"
    planted.write_bytes(marshal.dumps(({"planted": 1}, 1)))
    cache = tmp_path / "cache"
    if with_cache:
        cache.mkdir(mode=0o700)
        (cache / "jieba.cache").write_bytes(b"left by an older version")
        (cache / "jieba-0.0.json").write_bytes(b"an older jieba's dictionary")
    env = {**os.environ, "TMPDIR": str(temp), "FAQBOT_LOG_LEVEL": "WARNING"}

    def build(content: Path) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", _BUILD, str(content), str(cache) if with_cache else "",
             QUESTION],
            capture_output=True, text=True, env=env, cwd=project_root, timeout=120, check=True,
        )
        assert not result.stderr  # no warning
        return result.stdout.split()

    assert build(content) == [ANSWER_ID, "False"]
    assert [p.name for p in temp.iterdir()] == ["jieba.cache"]
    if with_cache:
        [dictionary] = cache.glob("jieba*")  # the stale ones are gone
        assert dictionary.name == f"jieba-{package_versions()['jieba']}.json"
        written = dictionary.stat().st_ino  # a rewrite is a new file
        edited = tmp_path / "edited"
        shutil.copytree(content, edited)
        with (edited / "siming-report.yaml").open("a", encoding="utf-8") as report:
            report.write("# edited: the index is built again, jieba's dictionary read back\n")
        assert build(edited) == [ANSWER_ID, "False"]
        assert dictionary.stat().st_ino == written


# --- stale files, the key ---------------------------------------------------------------------


def edited_content(project_root: Path, tmp_path: Path, name: str = "content") -> Path:
    content = tmp_path / name
    shutil.copytree(project_root / "content", content)
    report = content / "siming-report.yaml"
    report.write_text(report.read_text(encoding="utf-8") + f"\n# {name}\n", encoding="utf-8")
    return content


def test_writing_a_new_index_removes_stale_ones(
    cache: Path, project_root: Path, tmp_path: Path
) -> None:
    content = edited_content(project_root, tmp_path)
    old_index = index_file(cache)
    abandoned = cache / ".index-0.json.0123.tmp"
    in_progress = cache / ".index-1.json.4567.tmp"
    old_pickle = cache / "index-0123456789abcdef.pickle"
    for file in (old_pickle, abandoned, in_progress, cache / "notes.txt"):
        file.write_bytes(b"x")
    long_ago = time.time() - 3600
    os.utime(abandoned, (long_ago, long_ago))
    unused = time.time() - cache_module.UNUSED_SECONDS - 60
    for file in (old_index, old_pickle):
        os.utime(file, (unused, unused))
    Index.load(content, cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [cache_module.KEY_FILE, index_file(cache).name, in_progress.name, "notes.txt"]
    )
    assert index_file(cache) != old_index


def test_recently_used_versions_are_kept_up_to_a_few(
    cache: Path, project_root: Path, tmp_path: Path
) -> None:
    seed_index = index_file(cache)
    Index.load(project_root / "content", cache)  # used now: kept beside the others
    for number in range(cache_module.KEEP_VERSIONS - 1):
        Index.load(edited_content(project_root, tmp_path, f"c{number}"), cache)
    indexes = sorted(cache.glob("index-*"))
    assert len(indexes) == cache_module.KEEP_VERSIONS and seed_index in indexes
    Index.load(edited_content(project_root, tmp_path, "one-more"), cache)
    assert len(list(cache.glob("index-*"))) == cache_module.KEEP_VERSIONS
    assert not seed_index.exists()  # the least recently used went


def test_every_bot_module_is_covered_by_the_key(tmp_path: Path) -> None:
    code = index_code()
    builders = {
        Path(m.__file__).resolve()
        for m in (search, search_index, intents, typos, relatedness, scoring, declines, results,
                  textnorm, content_module, cache_module)
        if m.__file__
    }
    assert builders <= {p.resolve() for p in code}
    bot_root = Path(content_module.__file__ or "").parent
    copies = []
    for module in code:
        copies.append(tmp_path / module.relative_to(bot_root))
        copies[-1].parent.mkdir(exist_ok=True)
        shutil.copy(module, copies[-1])
    versions = package_versions()
    content = [Path(__file__)]
    keys = {index_key(content, copies, versions)}
    for copy in copies:
        original = copy.read_bytes()
        copy.write_bytes(original + b"\n")
        keys.add(index_key(content, copies, versions))
        copy.write_bytes(original)
    assert len(keys) == len(copies) + 1


def test_modules_of_one_name_in_two_folders_are_told_apart(tmp_path: Path) -> None:
    """bot/__init__.py and bot/search/__init__.py: swapping their bodies changes the key."""
    (tmp_path / "search").mkdir()
    outer, inner = tmp_path / "__init__.py", tmp_path / "search" / "__init__.py"
    content, versions = [Path(__file__)], package_versions()
    keys = set()
    for outer_body, inner_body in ((b"a = 1\n", b""), (b"", b"a = 1\n")):
        outer.write_bytes(outer_body)
        inner.write_bytes(inner_body)
        keys.add(index_key(content, [outer, inner], versions))
    assert len(keys) == 2


@pytest.mark.parametrize("package", ["python", *INDEX_PACKAGES])
def test_a_new_package_version_changes_the_key(package: str) -> None:
    versions = package_versions()
    assert package in versions
    content = [Path(__file__)]
    key = index_key(content, index_code(), versions)
    assert index_key(content, index_code(), {**versions, package: "999"}) != key


def test_package_versions_agree_with_importlib_metadata() -> None:
    versions = package_versions()
    expected = {package: metadata.version(package) for package in INDEX_PACKAGES}
    assert {package: versions[package] for package in INDEX_PACKAGES} == expected
    assert versions["python"] == sys.version


# --- round trip -------------------------------------------------------------------------------


def test_the_cached_index_is_the_built_one(
    tmp_path: Path, content: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every field of IndexData survives the cache (a new field the codec forgot fails here)."""
    built = Index.load(content, tmp_path / "cache")
    written = index_file(tmp_path / "cache").stat().st_ino
    cached = Index.load(content, tmp_path / "cache")
    assert index_file(tmp_path / "cache").stat().st_ino == written  # read, not rebuilt
    assert not warnings(caplog)
    assert cached.report == built.report and cached.report.passages == built.report.passages
    for field in dataclasses.fields(IndexData):
        value, expected = getattr(cached.data, field.name), getattr(built.data, field.name)
        if field.name == "segmenter":
            value, expected = value.as_data(), expected.as_data()
        assert value == expected, field.name
