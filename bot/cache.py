"""The private cache directory: authenticated files of plain data.

What the bot caches (the index, jieba's dictionary) is read back only

- from a directory this user owns and nobody else can write (created 0700),
- from regular files this user owns and nobody else can write (no symbolic links,
  no FIFOs), opened relative to the directory checked once, so a path swapped in
  between is never followed,
- when a keyed MAC (BLAKE2b; the key is a 0600 file in the directory) proves that
  this installation wrote the file under this very name.

Payloads are bytes the caller decodes as plain data (JSON): nothing read back can
run code. The cache is optional: whatever is wrong with it, one warning is logged
and the caller works without it.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

logger = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
KEY_FILE = "cache.key"
_KEY_BYTES = 32  # BLAKE2b's longest key
_MAC_BYTES = 32
_MAGIC = b"faqbot-cache 1\n"  # a file of another kind (an old pickle) is named, not parsed
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
# A temp file is renamed within a second of its creation; one this old was left by a crash.
_ABANDONED_TEMP_SECONDS = 600
# Other versions (another report, older code) are kept while recently used, so that two
# reports or a validate run sharing the directory do not rebuild each other's index, but
# no more than a few of them, and none unused for a week: old files do not pile up.
KEEP_VERSIONS = 4
UNUSED_SECONDS = 7 * 24 * 3600
_FLAGS = os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


class CacheRefused(Exception):
    """The cache directory or a file in it is unusable or not trusted; one line."""


class PrivateCache:
    """An open, checked cache directory. Use ``private_cache`` to get one."""

    def __init__(self, directory: Path, directory_fd: int, key: bytes) -> None:
        self.directory = directory
        self._fd = directory_fd
        self._key = key
        self._warned = False

    @classmethod
    def open(cls, directory: Path) -> PrivateCache:
        """Create (0700) or open the directory and check it; raise CacheRefused."""
        if os.open not in os.supports_dir_fd or not hasattr(os, "O_DIRECTORY"):
            raise CacheRefused("this platform cannot open files relative to a checked directory")
        if directory.is_symlink():  # O_NOFOLLOW below refuses it too, less clearly
            raise CacheRefused("it is a symbolic link")
        try:
            directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | _FLAGS)
        except FileExistsError:
            raise CacheRefused("it is not a directory") from None
        except OSError as error:
            raise CacheRefused(_reason(error)) from None
        try:
            _check(os.fstat(fd), "the directory", directory=True)
            return cls(directory, fd, _key(fd))
        except BaseException:
            os.close(fd)
            raise

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def read(self, name: str) -> bytes | None:
        """The payload stored under name; None when there is none or it is refused."""
        try:
            content = _read_checked(self._fd, name, "the file")
        except FileNotFoundError:
            return None
        except (OSError, CacheRefused) as error:
            self.warn(name, f"refused: {_reason(error)}; rebuilding it")
            return None
        if not content.startswith(_MAGIC):
            self.warn(name, "refused: not a cache file of this bot; rebuilding it")
            return None
        mac = content[len(_MAGIC) : len(_MAGIC) + _MAC_BYTES]
        payload = content[len(_MAGIC) + _MAC_BYTES :]
        if not hmac.compare_digest(mac, self._mac(name, payload)):
            self.warn(name, "refused: its content was changed after it was written; rebuilding it")
            return None
        with suppress(OSError):  # its modification time says when it was last used
            os.utime(name, dir_fd=self._fd, follow_symlinks=False)
        return payload

    def write(self, name: str, payload: bytes, *, stale_prefix: str,
              keep_versions: int = KEEP_VERSIONS) -> bool:
        """Store payload under name (atomically), then remove the other files whose
        names start with stale_prefix: older versions of the same thing."""
        temporary = f".{name}.{os.urandom(8).hex()}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, FILE_MODE,
                         dir_fd=self._fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(_MAGIC + self._mac(name, payload) + payload)
                os.replace(temporary, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
            except BaseException:
                _unlink(temporary, self._fd)
                raise
        except OSError as error:
            self.warn(name, f"cannot be written: {_reason(error)}")
            return False
        self._remove_stale(stale_prefix, name, keep_versions)
        return True

    def warn(self, name: str, problem: str) -> None:
        """One warning per cache: the first problem says it all, the rest are details."""
        log = logger.debug if self._warned else logger.warning
        self._warned = True
        log("cache file %s %s", self.directory / name, problem)

    def _mac(self, name: str, payload: bytes) -> bytes:
        # The name is covered too: a valid file copied under another key is refused.
        mac = hashlib.blake2b(key=self._key, digest_size=_MAC_BYTES)
        mac.update(name.encode() + b"\0")
        mac.update(payload)
        return mac.digest()

    def _remove_stale(self, prefix: str, keep: str, keep_versions: int) -> None:
        """Remove abandoned temporary files, and the other versions (prefix...) beyond the
        keep_versions most recently used or unused for UNUSED_SECONDS."""
        now = time.time()
        versions: list[tuple[float, str]] = []
        try:
            with os.scandir(self._fd) as entries:
                for entry in entries:
                    if entry.name == keep or entry.is_dir(follow_symlinks=False):
                        continue
                    used = entry.stat(follow_symlinks=False).st_mtime
                    if entry.name.startswith(prefix):
                        versions.append((used, entry.name))
                    elif _abandoned(entry.name, prefix, now - used):
                        _unlink(entry.name, self._fd)
        except OSError as error:
            logger.debug("cannot list %s for stale files: %s", self.directory, _reason(error))
            return
        versions.sort(reverse=True)  # most recently used first; keep counts as one
        for position, (used, name) in enumerate(versions, start=2):
            if position > keep_versions or now - used > UNUSED_SECONDS:
                _unlink(name, self._fd)


@contextmanager
def private_cache(directory: Path | None) -> Iterator[PrivateCache | None]:
    """The checked cache at directory, or None (after one warning) when it cannot be used."""
    if directory is None:
        yield None
        return
    try:
        cache = PrivateCache.open(directory)
    except CacheRefused as error:
        logger.warning("cache directory %s not used: %s; building in memory", directory, error)
        yield None
        return
    try:
        yield cache
    finally:
        cache.close()


def _abandoned(name: str, prefix: str, age: float) -> bool:
    """The temporary file of a write that crashed (one in progress is younger)."""
    return (name.startswith(f".{prefix}") and name.endswith(".tmp")
            and age > _ABANDONED_TEMP_SECONDS)


def _check(status: os.stat_result, what: str, *, directory: bool = False) -> None:
    """Of the expected type, owned by this user and writable by nobody else."""
    if not (stat.S_ISDIR if directory else stat.S_ISREG)(status.st_mode):
        raise CacheRefused(f"{what} is not a {'directory' if directory else 'regular file'}")
    if status.st_uid != os.geteuid():
        raise CacheRefused(f"{what} belongs to uid {status.st_uid}, not to this user")
    if status.st_mode & _WRITABLE_BY_OTHERS:
        raise CacheRefused(f"{what} is writable by others (mode {stat.S_IMODE(status.st_mode):o})")


def _key(directory_fd: int) -> bytes:
    """The MAC key, created once per cache directory (0600, never replaced)."""
    try:
        try:
            key = _read_checked(directory_fd, KEY_FILE, KEY_FILE)
        except FileNotFoundError:
            _create_key(directory_fd)
            key = _read_checked(directory_fd, KEY_FILE, KEY_FILE)
    except OSError as error:
        raise CacheRefused(f"{KEY_FILE}: {_reason(error)}") from None
    if len(key) != _KEY_BYTES:
        raise CacheRefused(f"{KEY_FILE} is damaged: delete it to start a new cache")
    return key


def _create_key(directory_fd: int) -> None:
    """Write a new key beside, then link it into place: two processes starting at once
    agree on one key (the second link fails and that process reads the first's)."""
    temporary = f".{KEY_FILE}.{os.urandom(8).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, FILE_MODE,
                 dir_fd=directory_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(_KEY_BYTES))
        os.link(temporary, KEY_FILE, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
    except FileExistsError:
        pass
    finally:
        _unlink(temporary, directory_fd)


def _read_checked(directory_fd: int, name: str, what: str) -> bytes:
    """A file's bytes, if it is a regular file of ours alone (never following a link)."""
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _FLAGS, dir_fd=directory_fd)
    try:
        _check(os.fstat(fd), what)
        with open(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def _unlink(name: str, directory_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=directory_fd)
    except OSError:
        pass  # already gone, or not ours to remove: nothing to clean up


def _reason(error: OSError | CacheRefused) -> str:
    if isinstance(error, CacheRefused):
        return str(error)
    if error.errno == errno.ELOOP:  # what O_NOFOLLOW answers for a symbolic link
        return "it is a symbolic link"
    return error.strerror or str(error)
