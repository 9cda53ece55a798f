"""Durable storage of accepted trust state in a directory.

Layout: <root>/<stream>/<version:016d>.jws for every accepted document, and <root>/<stream>/HIGHEST
with the highest version ever accepted (the rollback guard, which outlives deleted files).
Streams: lists/<jurisdiction>, status/<sha256(uri)>, catalogue. Every write goes to a temporary
file, is fsynced, renamed into place, and the directory fsynced: a crash leaves old or new, never
a torn file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from pathlib import Path

from trust_lists.errors import StorageError

_VERSION_FILE = re.compile(r"\A([0-9]{16})\.jws\Z")


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
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


class TrustDirectory:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

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
        except OSError as exc:
            raise StorageError(f"cannot store {stream} version {version}: {exc.strerror}") from exc
        if keep is not None:
            for old in self.versions(stream)[:-keep]:
                with contextlib.suppress(OSError):
                    (d / f"{old:016d}.jws").unlink()
