"""Storage faults during a trust-list upload (GitHub issue 7).

- The uploading process is killed (SIGKILL, a real signal) at every file-system step of the
  write, and in the middle of every write (a torn write), in a forked child that submits through
  a real TrustStore; and a real `python` subprocess is kill -9'ed at random moments while it
  submits a chain of lists. After each kill a fresh store, loading the directory as a restart
  would, holds the old or the new list, verified from the pinned anchors, never a corrupt one,
  and accepts the next upload.
- The disk is full, or the trust directory read-only, during an upload over HTTP: the upload is
  refused with 503 `storage_failed` naming the cause, the old list keeps serving, nothing is
  left behind, and the same upload succeeds once the fault is gone. Each runs twice: on a real
  file system (a 256 KiB tmpfs; a read-only bind mount; both need root, else skipped) and
  simulated (os.write / os.open patched to fail with ENOSPC / EROFS for files under the trust
  directory only), so the behaviour is checked everywhere.
- The audit log on a full or read-only disk neither masks the refusal as a 500 nor hides an
  accepted upload (the regression test for the bug this issue found)."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.http.problems import PROBLEM_MEDIA_TYPE
from demo.world import DEMO_EPOCH, DemoWorld
from tests.support.api_support import (
    SZ,
    ZS,
    Clock,
    RecordingSync,
    auth,
    demo_client,
    next_list,
    service_dir,
    settings_for,
)
from tests.support.trust_world import disk
from trust_lists import SignedTrustList, TrustDirectory, TrustStore, authoring

NOW = DEMO_EPOCH
ISSUED = NOW - timedelta(minutes=1)
REPO = Path(__file__).resolve().parents[2]
# Every os function the trust directory uses to write (storage.atomic_write, TrustDirectory.store).
WRITE_STEPS = (
    "mkdir", "open", "write", "pwrite", "ftruncate", "fsync", "close", "replace", "unlink"
)  # fmt: skip


# -- killed mid-write -----------------------------------------------------------------------------


def _kill_child(root: Path, world: DemoWorld, data: bytes, kill_at: int, torn: bool) -> None:
    """In a forked child: load the store, then submit `data` with the kill_at-th file-system
    step replaced by SIGKILL (after writing half the bytes, for a torn write). Never returns."""
    try:
        store = TrustStore(world.anchors, TrustDirectory(root))
        if store.load():
            os._exit(2)
        count = 0

        def wrap(name: str) -> Callable[..., Any]:
            real = getattr(os, name)

            def step(*args: Any, **kwargs: Any) -> Any:
                nonlocal count
                count += 1
                if count == kill_at:
                    if torn:
                        if name not in ("write", "pwrite"):
                            os._exit(4)  # not a write: nothing to tear at this step
                        real(args[0], bytes(args[1])[: max(1, len(args[1]) // 2)], *args[2:])
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(*args, **kwargs)

            return step

        for name in WRITE_STEPS:
            setattr(os, name, wrap(name))
        store.submit_trust_list(data, now=NOW)
        os._exit(0 if count < kill_at else 3)
    except BaseException:
        os._exit(5)


def _run_killed(root: Path, world: DemoWorld, data: bytes, kill_at: int, torn: bool) -> str:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        _kill_child(root, world, data, kill_at, torn)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return "killed"
    code = os.WEXITSTATUS(status)
    assert code in (0, 4), f"child failed with exit code {code}"
    return "completed" if code == 0 else "not-a-write"


def _assert_old_or_new(root: Path, world: DemoWorld, old: SignedTrustList, new: bytes) -> str:
    """A restart sees exactly the old or the new list, verified, and can go on."""
    new_signed = SignedTrustList.parse(new)
    fresh = TrustStore(world.anchors, TrustDirectory(root))
    assert fresh.load() == []
    held = fresh.state.lists[SZ]
    assert held.digest in (old.digest, new_signed.digest)
    assert fresh.highest_sequence(SZ) == held.trust_list.sequence
    assert fresh.state.lists[ZS].digest == world.signed_lists[ZS].digest
    # Leftover temporary files are never read as lists.
    for name in os.listdir(root / "lists" / SZ):
        assert name == "HIGHEST" or name.endswith(".jws") or name.endswith(".tmp"), name
    # The store is not wedged: the upload can be made (again) and survives another restart.
    fresh.submit_trust_list(new, now=NOW)
    again = TrustStore(world.anchors, TrustDirectory(root))
    assert again.load() == []
    assert again.state.lists[SZ].digest == new_signed.digest
    return "new" if held.digest == new_signed.digest else "old"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_upload_killed_at_every_step_of_the_write(demo_world: DemoWorld, tmp_path: Path) -> None:
    template = tmp_path / "template"
    demo_world.store(template)
    old = demo_world.signed_lists[SZ]
    new = next_list(demo_world, SZ, issued_at=ISSUED)
    outcomes: dict[str, int] = {"old": 0, "new": 0}
    kills = torn_writes = 0
    for torn in (False, True):
        kill_at = 0
        while True:
            kill_at += 1
            assert kill_at < 200, "the write never completed"
            root = tmp_path / f"run-{int(torn)}-{kill_at}"
            shutil.copytree(template, root)
            result = _run_killed(root, demo_world, new, kill_at, torn)
            if result == "completed":
                assert _assert_old_or_new(root, demo_world, old, new) == "new"
                break
            if result == "killed":
                kills += 1
                torn_writes += torn
                outcomes[_assert_old_or_new(root, demo_world, old, new)] += 1
            shutil.rmtree(root)
    # atomic_write of the list file and of HIGHEST: open, write, fsync, close, replace, open dir,
    # fsync, close each, plus the mkdir; then STAMP (for processes sharing the directory: open,
    # write in place with pwrite, close, no fsync); the three writes torn.
    assert kills >= 21 and torn_writes == 3, (kills, torn_writes)
    assert outcomes["old"] and outcomes["new"], outcomes


_SUBMITTER = """
import sys, pathlib
from datetime import datetime
from trust_lists import TrustDirectory, TrustStore
from trust_lists.anchors import load_anchors
root, anchors, lists, now = sys.argv[1:5]
store = TrustStore(load_anchors(anchors), TrustDirectory(root))
assert store.load() == []
now = datetime.fromisoformat(now)
print("ready", flush=True)
for path in sorted(pathlib.Path(lists).iterdir()):
    seq = int(path.stem)
    if seq <= store.highest_sequence("440300"):
        continue
    store.submit_trust_list(path.read_bytes(), now=now)
    print("adopted", seq, flush=True)
print("done", flush=True)
"""


def test_uploader_killed_at_random_moments(demo_world: DemoWorld, tmp_path: Path) -> None:
    """A real process submitting a chain of lists is kill -9'ed at a random moment, eight times
    (a ninth run finishes the chain); after each kill the directory loads cleanly, serves a list
    at least as new as the last one reported adopted, and the next process carries on."""
    from trust_lists.anchors import anchors_to_json

    root = tmp_path / "trust"
    demo_world.store(root)
    anchors = tmp_path / "anchors.json"
    anchors.write_bytes(anchors_to_json(demo_world.anchors))
    lists = tmp_path / "lists"
    lists.mkdir()
    tl = demo_world.trust_lists[SZ]
    for _ in range(80):
        tl = authoring.next_version(tl, issued_at=ISSUED, validity=timedelta(days=30))
        (lists / f"{tl.sequence:04d}.jws").write_bytes(demo_world.sign_list(tl))
    rng = random.Random(7)
    kills = 0
    last = 1
    for run in range(9):  # eight runs killed, then one left to finish the chain
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SUBMITTER,
                str(root),
                str(anchors),
                str(lists),
                NOW.isoformat(),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline().decode().strip()
        seen = ""
        if first == "ready" and run < 8:
            # Let 0-3 more lists through, then kill somewhere inside the next submission
            # (a list takes ~25 ms: parse, verify, write, fsync, rename, guard).
            for _ in range(rng.randrange(4)):
                line = proc.stdout.readline().decode()
                seen += line
                if not line.startswith("adopted"):
                    break
            time.sleep(rng.random() * 0.01)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        out, err = proc.communicate(timeout=30)
        lines = (seen + out.decode()).split()
        assert proc.returncode in (0, -signal.SIGKILL), (first, err.decode()[-2000:])
        adopted = [int(x) for x in lines[1::2] if x.isdigit()]
        fresh = TrustStore(demo_world.anchors, TrustDirectory(root))
        assert fresh.load() == []
        held = fresh.state.lists[SZ].trust_list.sequence
        assert held >= max(adopted, default=last) and held >= last
        assert fresh.highest_sequence(SZ) == held
        last = held
        if "done" in lines:
            break
    assert kills >= 5, "the kills all came too late to interrupt anything"
    assert last == 81 and "done" in lines


# -- disk full and read-only during an upload over HTTP -------------------------------------------


@dataclass
class Svc:
    client: TestClient
    root: Path
    world: DemoWorld

    @property
    def trust(self) -> Path:
        return self.root / "trust"


@contextlib.contextmanager
def service(world: DemoWorld, root: Path) -> Iterator[Svc]:
    with demo_client(world, root, clock=Clock(NOW)) as client:
        yield Svc(client, root, world)


def _mount(args: list[str]) -> None:
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("no mount(8) here; the simulated variant covers this fault")
    result = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here ({result.stderr.strip()}); the simulated variant runs")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _upload(svc: Svc, data: bytes) -> Any:
    return svc.client.put(
        f"/v1/trust-lists/{SZ}",
        content=data,
        headers={**auth("admin"), "content-type": "application/json"},
    )


def _still_serving_the_old_list(svc: Svc, files_before: dict[str, str]) -> None:
    c = svc.client
    assert c.get(f"/v1/trust-lists/{SZ}").content == svc.world.signed_lists[SZ].to_json()
    r = c.post(
        "/v1/licences/verify",
        json={"token": svc.world.licence_sz, "relying_jurisdiction": ZS},
        headers=auth("counter"),
    )
    verdict = r.json()["verdict"]
    assert verdict["indication"] == "PASSED" and verdict["trust"]["list_sequence"] == 1
    assert c.get("/readyz").status_code == 200
    assert disk(svc.trust) == files_before, "something was left in the trust directory"


def _refused_with(svc: Svc, data: bytes, cause: str) -> None:
    r = _upload(svc, data)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = r.json()
    assert body["code"] == "storage_failed"
    assert cause in body["detail"], body["detail"]


def _fill(path: Path) -> Path:
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def _under(path: object, root: Path) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(root.resolve())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _fd_under(fd: int, root: Path) -> bool:
    try:
        return _under(os.readlink(f"/proc/self/fd/{fd}"), root)
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["tmpfs", "simulated"])
def test_disk_full_during_an_upload(
    demo_world: DemoWorld,
    tmp_path: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = tmp_path / "svc"
    data = next_list(demo_world, SZ, issued_at=ISSUED)
    if mode == "tmpfs":
        root.mkdir()
        _mount(["-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(root)])
    try:
        with service(demo_world, root) as svc:
            before = disk(svc.trust)
            if mode == "tmpfs":
                filler = _fill(root)  # the audit log is on the full disk as well
            else:
                if not Path("/proc/self/fd").is_dir():
                    pytest.skip("needs /proc/self/fd")
                real_write = os.write

                def full(fd: int, buf: Any) -> int:
                    if _fd_under(fd, root):
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    return real_write(fd, buf)

                monkeypatch.setattr(os, "write", full)
            with caplog.at_level(logging.ERROR, logger="huren.audit"):
                _refused_with(svc, data, "No space left on device")
            assert any("audit_record" in getattr(r, "fields", {}) for r in caplog.records)
            _still_serving_the_old_list(svc, before)
            # Space again: the same upload goes through.
            if mode == "tmpfs":
                filler.unlink()
            else:
                monkeypatch.undo()
            r = _upload(svc, data)
            assert r.status_code == 200 and r.json()["sequence"] == 2, r.text
            assert json.loads((root / "audit.log").read_text().splitlines()[-1])["outcome"] == (
                "accepted"
            )
    finally:
        if mode == "tmpfs":
            _umount(root)


@pytest.mark.parametrize("mode", ["bind-mount", "simulated"])
def test_read_only_trust_directory_during_an_upload(
    demo_world: DemoWorld, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "svc"
    data = next_list(demo_world, SZ, issued_at=ISSUED)
    mounted = False
    with service(demo_world, root) as svc:
        before = disk(svc.trust)
        try:
            if mode == "bind-mount":
                _mount(["--bind", str(svc.trust), str(svc.trust)])
                mounted = True
                _mount(["-o", "remount,ro,bind", str(svc.trust)])
            else:
                real_open, real_mkdir = os.open, os.mkdir

                def read_only_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
                    writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
                    if writing and _under(path, svc.trust):
                        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
                    return real_open(path, flags, *args, **kwargs)

                def read_only_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
                    if _under(path, svc.trust):
                        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
                    real_mkdir(path, *args, **kwargs)

                monkeypatch.setattr(os, "open", read_only_open)
                monkeypatch.setattr(os, "mkdir", read_only_mkdir)
            _refused_with(svc, data, "Read-only file system")
            audit = json.loads((root / "audit.log").read_text().splitlines()[-1])
            assert (audit["outcome"], audit["code"]) == ("refused", "storage_failed")
            _still_serving_the_old_list(svc, before)
        finally:
            if mounted:
                _umount(svc.trust)
            monkeypatch.undo()
        r = _upload(svc, data)
        assert r.status_code == 200 and r.json()["sequence"] == 2, r.text


def test_an_unwritable_audit_log_never_hides_an_accepted_upload(
    demo_world: DemoWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (issue 7): AuditLog.append raised OSError, so with the audit log on a full or
    read-only disk an upload the store had already accepted (durably, and now served) was
    answered 500 and never published to the other instances; a refusal became a 500 too."""
    root = tmp_path / "svc"
    service_dir(demo_world, root)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the audit log's directory should be")
    sync = RecordingSync()
    app = create_app(
        settings_for(root, audit_log=blocked / "audit.log"),
        clock=Clock(NOW),
        sync=sync,  # type: ignore[arg-type]
    )
    data = next_list(demo_world, SZ, issued_at=ISSUED)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="huren.audit"),
    ):
        r = client.put(
            f"/v1/trust-lists/{SZ}",
            content=data,
            headers={**auth("admin"), "content-type": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert sync.published == [("trust_list", data)]
        records = [getattr(x, "fields", {}).get("audit_record") for x in caplog.records]
        assert any(rec and rec["outcome"] == "accepted" for rec in records)
        r = client.put(
            f"/v1/trust-lists/{SZ}",
            content=demo_world.signed_lists[SZ].to_json(),
            headers={**auth("admin"), "content-type": "application/json"},
        )
        assert r.status_code == 409 and r.json()["code"] == "rollback", r.text
