"""Durable storage of accepted trust state in a directory.

Layout: <root>/<stream>/<version:016d>.jws for every accepted document, and <root>/<stream>/HIGHEST
with the highest version ever accepted (the rollback guard, which outlives deleted files).
Streams: lists/<jurisdiction>, status/<sha256(uri)>, catalogue. Every write goes to a temporary
file, is fsynced, renamed into place, and the directory fsynced: a crash leaves old or new, never
a torn file.

Several processes may share one directory (`huren serve --workers N`, or instances on one
volume). Writers hold `<root>/.lock` exclusively (flock) for a whole judge-and-store, and after
storing write a new random token into `<root>/STAMP` in place (so the file keeps its inode);
readers keep STAMP open and compare its bytes with the ones they last read before judging
anything (one pread: it runs before every verdict), and re-read the streams when they changed.
A running service also holds `<root>/.served` shared for its lifetime, so that a writer outside
it (the command line) can tell and refuse: its write would bypass the service's upload path
(audit, propagation)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from trust_lists.errors import DirectoryServed, StorageError

_VERSION_FILE = re.compile(r"\A([0-9]{16})\.jws\Z")


def write_synced(fd: int, data: bytes) -> None:
    """Write all of data to the open file fd (continuing after short writes), fsync it and close
    it, also when writing fails."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write_synced(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), data)
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def status_stream(uri: str) -> str:
    return "status/" + hashlib.sha256(uri.encode("utf-8")).hexdigest()[:40]


def list_stream(jurisdiction: str) -> str:
    return f"lists/{jurisdiction}"


CATALOGUE_STREAM = "catalogue"


WRITERS_LOCK = ".lock"
SERVED_LOCK = ".served"
STAMP = "STAMP"
LOCK_FILES = frozenset({WRITERS_LOCK, SERVED_LOCK})  # empty files, only ever locked

Stamp = bytes | None
_monotonic = time.monotonic  # a name the tests can move
_STAMP_BYTES = 17  # 16 hex digits and a newline


class TrustDirectory:
    STAMP_RECHECK_SECONDS = 1.0

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._stamp_path = os.fspath(self.root / STAMP)
        self._stamp_inode = -1  # of the STAMP held open in _stamp_slot (-1: no STAMP)
        # The one descriptor number this object reads STAMP through (before every verdict),
        # closed only in __del__: a replaced STAMP is dup2()ed onto it, so a thread reading
        # meanwhile never preads a closed number (or one reused by another file or socket). The
        # lock serialises the rechecks.
        self._stamp_slot = -1
        self._stamp_lock = threading.Lock()
        self._stamp_recheck = 0.0  # _monotonic() after which the path is stat()ed again

    # -- sharing between processes ---------------------------------------------------------

    def _lock_fd(self, name: str) -> int:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return os.open(self.root / name, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open {self.root / name}: {exc.strerror}") from exc

    @contextlib.contextmanager
    def locked(self, *, shared: bool = False) -> Iterator[None]:
        """The writers' lock: exclusive for a judge-and-store, shared for reading a consistent
        set of streams. Released when the block ends (or the process dies)."""
        if shared and not self.root.is_dir():
            yield  # nothing stored yet: nothing to read consistently
            return
        fd = self._lock_fd(WRITERS_LOCK)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def hold_for_service(self) -> BinaryIO | None:
        """Mark the directory as served until the returned file is closed (or collected, or the
        process ends): a shared lock, so several service processes hold it together. None if
        the lock file cannot be made (a read-only directory, which nobody can write to either)."""
        try:
            fd = self._lock_fd(SERVED_LOCK)
        except StorageError:
            return None
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits out a command-line write in progress
        return os.fdopen(fd, "rb")

    @contextlib.contextmanager
    def unserved(self) -> Iterator[None]:
        """For writers outside the service: hold `.served` exclusively for the block, or raise
        DirectoryServed if a running service holds the directory."""
        fd = self._lock_fd(SERVED_LOCK)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DirectoryServed(
                    f"a running huren service holds {self.root}: upload through its API instead "
                    "(PUT /v1/trust-lists/{jurisdiction}, POST /v1/status-lists, PUT "
                    "/v1/catalogue with an admin key), so that it is judged against the state the "
                    "service holds, audited and propagated to every instance; or stop the service "
                    "first"
                ) from None
            yield
        finally:
            os.close(fd)

    def stamp(self) -> Stamp:
        """STAMP's token: changes with every store(). None while there is no STAMP."""
        due = self._stamp_inode < 0 or _monotonic() >= self._stamp_recheck
        if due and self._current_fd() < 0:
            return None
        return os.pread(self._stamp_slot, _STAMP_BYTES, 0)

    def _current_fd(self) -> int:
        """An open descriptor of the file now at STAMP's path (-1 if none): opened afresh if it
        was replaced or deleted behind the writers' back (a restore), which reading through the
        old descriptor cannot see. Checked at most every STAMP_RECHECK_SECONDS, so a verdict
        costs one pread (~0.4 us), not a stat of the path (~1.7 us)."""
        with self._stamp_lock:
            self._stamp_recheck = _monotonic() + self.STAMP_RECHECK_SECONDS
            try:
                inode = os.stat(self._stamp_path).st_ino
            except FileNotFoundError:
                inode = -1
            if inode >= 0 and inode == self._stamp_inode:
                return self._stamp_slot
            self._stamp_inode = -1
            if inode >= 0:
                with contextlib.suppress(FileNotFoundError):
                    fd = os.open(self._stamp_path, os.O_RDONLY | os.O_CLOEXEC)
                    inode = os.fstat(fd).st_ino
                    if self._stamp_slot < 0:
                        self._stamp_slot = fd
                    else:
                        os.dup2(fd, self._stamp_slot, inheritable=False)
                        os.close(fd)
                    self._stamp_inode = inode
            return self._stamp_slot if self._stamp_inode >= 0 else -1

    def __del__(self) -> None:
        if getattr(self, "_stamp_slot", -1) >= 0:
            with contextlib.suppress(OSError):
                os.close(self._stamp_slot)

    def _bump_stamp(self) -> None:
        """A new random token written over STAMP in place (created if missing), not fsynced:
        other processes read it from the page cache through the descriptor they hold, and after
        a crash every process reads the directory afresh anyway."""
        token = secrets.token_hex(8).encode("ascii") + b"\n"
        fd = os.open(self._stamp_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != _STAMP_BYTES:
                os.ftruncate(fd, _STAMP_BYTES)  # an old or damaged STAMP: one size from now on
            os.pwrite(fd, token, 0)  # one write of 17 bytes: a reader sees old or new bytes
        finally:
            os.close(fd)

    # -- streams ---------------------------------------------------------------------------

    def _dir(self, stream: str) -> Path:
        return self.root / stream

    def versions(self, stream: str) -> list[int]:
        d = self._dir(stream)
        if not d.is_dir():
            return []
        found = (_VERSION_FILE.match(p.name) for p in d.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def read(self, stream: str, version: int) -> bytes:
        return (self._dir(stream) / f"{version:016d}.jws").read_bytes()

    def highest(self, stream: str) -> int:
        try:
            text = (self._dir(stream) / "HIGHEST").read_text("ascii").strip()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise StorageError(f"cannot read rollback guard of {stream}: {exc.strerror}") from exc
        if not text.isdigit():
            raise StorageError(f"rollback guard of {stream} is corrupt")
        return int(text)

    def streams(self, prefix: str) -> list[str]:
        d = self.root / prefix
        if not d.is_dir():
            return []
        return sorted(f"{prefix}/{p.name}" for p in d.iterdir() if p.is_dir())

    def store(self, stream: str, version: int, data: bytes, *, keep: int | None = None) -> None:
        """Persist one accepted document and raise the guard. On failure nothing new remains."""
        d = self._dir(stream)
        target = d / f"{version:016d}.jws"
        try:
            d.mkdir(parents=True, exist_ok=True)
            existed = target.exists()
            atomic_write(target, data)
            try:
                atomic_write(d / "HIGHEST", f"{max(version, self.highest(stream))}\n".encode())
            except OSError:
                if not existed:
                    with contextlib.suppress(OSError):
                        target.unlink()
                raise
            self._bump_stamp()  # last: a reader that sees the new stamp finds the new files
        except OSError as exc:
            raise StorageError(f"cannot store {stream} version {version}: {exc.strerror}") from exc
        if keep is not None:
            for old in self.versions(stream)[:-keep]:
                with contextlib.suppress(OSError):
                    (d / f"{old:016d}.jws").unlink()
