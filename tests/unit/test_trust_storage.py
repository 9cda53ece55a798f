"""Durable trust state: restart persistence of the rollback guard, fail-closed reloads of broken or
truncated histories, crash safety, storage failures, and readers during a swap."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.trust_world import (
    NOW,
    SZ,
    T0,
    VALID,
    ZS,
    base_list,
    bump,
    disk,
    key,
    list_refused,
    make_store,
    refused,
    sign,
    uscc,
)
from trust_lists import authoring, storage
from trust_lists.errors import Rollback, RotationNotAuthorised, StorageError, ThresholdNotMet
from trust_lists.model import ServiceKind, TrustList
from trust_lists.signed import SignedTrustList
from trust_lists.store import TrustState, TrustStore


def list_file(root: Path, code: str, seq: int) -> Path:
    return root / "lists" / code / f"{seq:016d}.jws"


def highest_file(root: Path, code: str) -> Path:
    return root / "lists" / code / "HIGHEST"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "trust"


@pytest.fixture
def three(root: Path) -> tuple[TrustStore, list[TrustList]]:
    """Shenzhen lists 1, 2, 3 accepted (same operators), and Zhongshan's list 1."""
    store = make_store(root)
    lists = [base_list(SZ)]
    lists.append(bump(lists[0]))
    lists.append(bump(lists[1]))
    for tl in lists:
        store.submit_trust_list(sign(tl, "a1", "a2"), now=NOW)
    store.submit_trust_list(sign(base_list(ZS, operators=("z1", "z2"), threshold=1), "z1"), now=NOW)
    return store, lists


def test_history_is_kept_by_jurisdiction_and_sequence(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    store, _ = three
    assert sorted(disk(root)) == [
        f"lists/{SZ}/0000000000000001.jws",
        f"lists/{SZ}/0000000000000002.jws",
        f"lists/{SZ}/0000000000000003.jws",
        f"lists/{SZ}/HIGHEST",
        f"lists/{ZS}/0000000000000001.jws",
        f"lists/{ZS}/HIGHEST",
    ]
    assert [s.trust_list.sequence for s in store.history(SZ)] == [1, 2, 3]


def test_restart_remembers_the_rollback_guard(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    store, lists = three
    fresh = make_store(root)
    assert fresh.load() == []
    assert fresh.state.trust_list(SZ) == lists[2]
    assert fresh.state.version == store.state.version
    assert fresh.highest_sequence(SZ) == 3
    list_refused(fresh, sign(lists[1], "a1", "a2"), Rollback, "rollback")


def test_guard_survives_deleting_the_older_lists(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    _, lists = three
    list_file(root, SZ, 1).unlink()
    list_file(root, SZ, 2).unlink()
    fresh = make_store(root)
    assert fresh.load() == []  # list 3 alone still verifies against the pinned anchors
    assert fresh.state.trust_list(SZ) == lists[2]
    list_refused(fresh, sign(lists[1], "a1", "a2"), Rollback, "rollback")


def test_guard_survives_deleting_every_list(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    _, lists = three
    for seq in (1, 2, 3):
        list_file(root, SZ, seq).unlink()
    fresh = make_store(root)
    problems = fresh.load()
    assert any(SZ in p and "refusing to serve" in p for p in problems), problems
    assert fresh.state.trust_list(SZ) is None
    assert fresh.highest_sequence(SZ) == 3
    for old in lists:
        refused(
            fresh,
            Rollback,
            "rollback",
            lambda old=old: fresh.submit_trust_list(sign(old, "a1", "a2"), now=NOW),
        )


def test_truncated_history_is_not_served(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    """Deleting the newest file must not silently roll the service back to list 2."""
    _, lists = three
    newest = list_file(root, SZ, 3)
    saved = newest.read_bytes()
    newest.unlink()
    fresh = make_store(root)
    problems = fresh.load()
    assert len(problems) == 1 and "refusing to serve an older list" in problems[0]
    assert fresh.state.trust_list(SZ) is None  # fail closed
    assert fresh.state.trust_list(ZS) is not None  # other jurisdictions unaffected
    assert fresh.highest_sequence(SZ) == 3
    list_refused(fresh, sign(lists[1], "a1", "a2"), Rollback, "rollback")
    # Recovery: put the file back and restart.
    newest.write_bytes(saved)
    again = make_store(root)
    assert again.load() == []
    assert again.state.trust_list(SZ) == lists[2]


def test_corrupted_file_in_the_middle_fails_closed(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    path = list_file(root, SZ, 2)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    fresh = make_store(root)
    problems = fresh.load()
    assert any("stored list 2 refused" in p for p in problems), problems
    assert fresh.state.trust_list(SZ) is None
    assert fresh.highest_sequence(SZ) == 3


def test_file_name_must_match_the_sequence(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    _, lists = three
    list_file(root, SZ, 4).write_bytes(list_file(root, SZ, 3).read_bytes())
    fresh = make_store(root)
    problems = fresh.load()
    assert any("file name and sequence disagree" in p for p in problems), problems
    # The chain up to 3 is intact and 3 is the guard, so list 3 is served.
    assert fresh.state.trust_list(SZ) == lists[2]


def test_crash_after_the_file_before_the_guard(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    """A crash between writing list 4 and raising HIGHEST: on restart the file counts."""
    _, lists = three
    sz4 = bump(lists[2])
    list_file(root, SZ, 4).write_bytes(sign(sz4, "a1", "a2"))
    (root / "lists" / SZ / ".0000000000000005.jws.999.tmp").write_bytes(b"torn")
    fresh = make_store(root)
    assert fresh.load() == []
    assert fresh.state.trust_list(SZ) == sz4
    assert fresh.highest_sequence(SZ) == 4


def test_corrupt_guard_is_a_storage_error(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    highest_file(root, SZ).write_text("three\n")
    with pytest.raises(StorageError):
        make_store(root).load()


def test_failed_rename_leaves_everything_unchanged(
    root: Path, three: tuple[TrustStore, list[TrustList]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, lists = three
    data = sign(bump(lists[2]), "a1", "a2")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", broken_replace)
    list_refused(store, data, StorageError, "storage_failed", match="Input/output error")
    monkeypatch.undo()
    store.submit_trust_list(data, now=NOW)  # nothing was poisoned
    assert store.highest_sequence(SZ) == 4


def test_failed_guard_write_removes_the_new_file(
    root: Path, three: tuple[TrustStore, list[TrustList]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, lists = three
    real = storage.atomic_write

    def fail_on_guard(path: Path, data: bytes, mode: int = 0o644) -> None:
        if path.name == "HIGHEST":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, mode)

    monkeypatch.setattr(storage, "atomic_write", fail_on_guard)
    list_refused(store, sign(bump(lists[2]), "a1", "a2"), StorageError, "storage_failed")


def test_directory_where_a_file_is_refused(root: Path) -> None:
    store = make_store(root)
    (root / "lists").mkdir(parents=True)
    (root / "lists" / SZ).write_bytes(b"not a directory")
    list_refused(store, sign(base_list(SZ), "a1", "a2"), StorageError, "storage_failed")
    assert store.state.trust_list(SZ) is None


def test_refused_list_never_reaches_the_disk(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    store, lists = three
    list_refused(store, sign(bump(lists[2]), "a1"), ThresholdNotMet, "threshold_not_met")
    assert not list_file(root, SZ, 4).exists()


# -- concurrent readers during swaps -----------------------------------------------------------


def _growing_lists(code: str, count: int) -> list[TrustList]:
    """List n has exactly n services, so a reader can check a snapshot is internally whole."""
    base = base_list(SZ) if code == SZ else base_list(code, operators=("z1", "z2"), threshold=1)
    tl = authoring.remove_service(base, f"seal-{code}")
    out = [tl]
    for n in range(2, count + 1):
        tl = authoring.add_service(
            bump(tl, hours=0.01),
            service_id=f"svc-{n}",
            kind=ServiceKind.SEAL_AUTHORITY,
            name_zh=f"服务{n}",
            name_en=f"Service {n}",
            credit_code=uscc(n),
            scope=["enterprise-seal"],
            keys=[key(f"edsvc-{code}-{n}").public_key],
            granted_from=T0,
        )
        out.append(tl)
    return out


def test_readers_never_see_a_mix_during_swaps(root: Path) -> None:
    count = 15
    store = make_store(root)
    signed = {
        SZ: [sign(tl, "a1", "a2") for tl in _growing_lists(SZ, count)],
        ZS: [sign(tl, "z1") for tl in _growing_lists(ZS, count)],
    }
    done = threading.Event()
    errors: list[str] = []
    reads = [0]
    seen: set[str] = set()

    def reader() -> None:
        last_seq = {SZ: 0, ZS: 0}
        parsed: set[str] = set()
        while not done.is_set():
            state = store.state  # one snapshot, judged whole
            try:
                for code, sl in state.lists.items():
                    tl = sl.trust_list
                    assert hashlib.sha256(sl.envelope.payload).hexdigest() == sl.digest
                    if sl.digest not in parsed:  # the held list is exactly the signed bytes
                        assert SignedTrustList.parse(sl.to_json()).trust_list == tl
                        parsed.add(sl.digest)
                    assert len(tl.services) == tl.sequence
                    assert tl.sequence >= last_seq[code], "a reader went back in time"
                    last_seq[code] = tl.sequence
                    for service in tl.services:
                        for k in service.keys:
                            entry = state.find_key(code, k.kid)
                            assert entry is not None and entry.service is service
                again = TrustState(state.lists, state.status_lists, state.catalogue, state.grace)
                assert again.version == state.version
                reads[0] += 1
                seen.add(state.version)
            except AssertionError as exc:  # pragma: no cover - only on failure
                errors.append(str(exc))
                return

    def writer(code: str) -> None:
        try:
            for data in signed[code]:
                store.submit_trust_list(data, now=NOW)
        except Exception as exc:  # pragma: no cover - only on failure
            errors.append(f"writer {code}: {exc!r}")

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        readers = [threading.Thread(target=reader) for _ in range(3)]
        writers = [threading.Thread(target=writer, args=(c,)) for c in (SZ, ZS)]
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join(timeout=60)
        done.set()
        for t in readers:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(old_interval)
    assert errors == []
    assert reads[0] > 0
    assert len(seen) > 1, "the readers never overlapped a swap"
    # Two writers, no lost update: both jurisdictions end at their last list.
    assert store.state.trust_list(SZ).sequence == count  # type: ignore[union-attr]
    assert store.state.trust_list(ZS).sequence == count  # type: ignore[union-attr]
    fresh = make_store(root)
    assert fresh.load() == []
    assert fresh.state.version == store.state.version


def test_snapshot_taken_before_a_swap_stays_valid(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    store, lists = three
    before = store.state
    sz4 = authoring.remove_service(bump(lists[2]), f"seal-{SZ}")
    store.submit_trust_list(sign(sz4, "a1", "a2"), now=NOW + timedelta(minutes=1))
    after = store.state
    seal_kid = key(f"edseal1-{SZ}").kid
    assert before.find_key(SZ, seal_kid) is not None  # the old snapshot is untouched
    assert after.find_key(SZ, seal_kid) is None
    assert before.version != after.version


def test_store_files_are_not_world_writable(
    root: Path, three: tuple[TrustStore, list[TrustList]]
) -> None:
    mode = os.stat(list_file(root, SZ, 1)).st_mode & 0o777
    assert mode & 0o022 == 0


def test_truncated_history_keeps_the_rotated_operators_in_charge(root: Path) -> None:
    """After an operator rotation, a truncated history must not hand control back to the
    pinned (retired) operator keys: the last verified list's operators still decide."""
    store = make_store(root)
    first = base_list(SZ)
    store.submit_trust_list(sign(first, "a1", "a2"), now=NOW)
    rotated = authoring.set_operators(
        bump(first), [key(n).public_key for n in ("b1", "b2", "b3")], 2
    )
    store.submit_trust_list(sign(rotated, "a1", "a2", "b1", "b2"), now=NOW)
    third = bump(rotated)
    store.submit_trust_list(sign(third, "b1", "b2"), now=NOW)
    list_file(root, SZ, 3).unlink()
    fresh = make_store(root)
    assert fresh.load() and fresh.state.trust_list(SZ) is None
    # The retired operators a1, a2 sign a list above the guard: still refused.
    by_retired = bump(bump(first))
    by_retired = authoring.next_version(by_retired, issued_at=T0, validity=VALID)
    by_retired = dataclasses.replace(by_retired, sequence=4)
    list_refused(
        fresh, sign(by_retired, "a1", "a2"), RotationNotAuthorised, "rotation_not_authorised"
    )
    # The current operators can restore service with a new list.
    fresh.submit_trust_list(sign(dataclasses.replace(third, sequence=4), "b1", "b2"), now=NOW)
    assert fresh.state.trust_list(SZ) is not None


def test_two_stores_on_one_directory_see_each_others_writes_and_never_overwrite(
    root: Path,
) -> None:
    """Two processes (here two stores) writing one trust directory: each reads what the other
    stored before judging (the writers' lock, then STAMP), so the second can neither store a
    different list under the sequence the first stored nor serve the older list afterwards."""
    first, second = make_store(root), make_store(root)
    sz1 = base_list(SZ)
    first.submit_trust_list(sign(sz1, "a1", "a2"), now=NOW)
    assert second.refresh() == []  # before its next verdict: STAMP changed, so the new files
    assert second.state.lists[SZ].trust_list.sequence == 1
    before = second.state
    assert second.refresh() == [] and second.state is before  # nothing new: not even a swap

    sz2 = bump(sz1)
    other2 = authoring.remove_service(sz2, f"seal-{SZ}")  # another list with sequence 2
    second.submit_trust_list(sign(sz2, "a1", "a2"), now=NOW)
    stored = list_file(root, SZ, 2).read_bytes()
    held = first.state  # not refreshed yet: it would judge against sequence 1 without the lock
    with pytest.raises(Rollback):
        first.submit_trust_list(sign(other2, "a1", "a2"), now=NOW)
    assert list_file(root, SZ, 2).read_bytes() == stored  # never overwritten
    assert first.state is not held and first.state.lists[SZ].trust_list.sequence == 2


def test_stamp_is_written_in_place_and_read_through_a_held_descriptor(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers keep STAMP open and read its bytes before every verdict (a pread, not a stat of
    the path), so a writer changes that file itself, never replaces it; a STAMP replaced behind
    the service's back anyway (a restore) is opened afresh within STAMP_RECHECK_SECONDS."""
    writer, reader = make_store(root), make_store(root)
    sz1 = base_list(SZ)
    writer.submit_trust_list(sign(sz1, "a1", "a2"), now=NOW)
    assert reader.refresh() == [] and reader.state.lists[SZ].trust_list.sequence == 1
    stamp_file = root / storage.STAMP
    inode, token = stamp_file.stat().st_ino, stamp_file.read_bytes()
    assert len(token) == 17 and token.endswith(b"\n")

    sz2 = bump(sz1)
    writer.submit_trust_list(sign(sz2, "a1", "a2"), now=NOW)
    assert stamp_file.stat().st_ino == inode and stamp_file.read_bytes() != token
    assert reader.refresh() == [] and reader.state.lists[SZ].trust_list.sequence == 2

    # Replaced by another file (as `cp -a` of a backup would): seen at the next recheck.
    replaced = root / "STAMP.restored"
    replaced.write_bytes(b"0123456789abcdef\n")
    os.replace(replaced, stamp_file)
    directory = reader.directory
    assert directory is not None
    now = storage.time.monotonic()
    monkeypatch.setattr(storage, "_monotonic", lambda: now)
    assert directory.stamp() != b"0123456789abcdef\n"  # still the old file's descriptor
    now += storage.TrustDirectory.STAMP_RECHECK_SECONDS
    assert directory.stamp() == b"0123456789abcdef\n"
    writer.submit_trust_list(sign(bump(sz2), "a1", "a2"), now=NOW)
    assert reader.refresh() == [] and reader.state.lists[SZ].trust_list.sequence == 3


def test_a_stamp_of_another_size_is_rewritten_to_the_mapped_size(root: Path) -> None:
    """An empty or foreign STAMP (an older layout, a damaged file, one truncated under a reader)
    reads as what it holds, never a crash, and the next store gives it the one size."""
    store = make_store(root)
    store.submit_trust_list(sign(base_list(SZ), "a1", "a2"), now=NOW)
    stamp_file = root / storage.STAMP
    held = store.directory
    assert held is not None and held.stamp() is not None
    stamp_file.write_bytes(b"")  # truncated in place under a reader that holds it
    fresh = storage.TrustDirectory(root)
    assert fresh.stamp() == b"" and held.stamp() == b""
    store.submit_trust_list(sign(bump(base_list(SZ)), "a1", "a2"), now=NOW)
    assert len(stamp_file.read_bytes()) == 17
    assert fresh.stamp() == held.stamp() == stamp_file.read_bytes()


def test_stamp_rechecks_in_several_threads_never_touch_a_closed_or_foreign_descriptor(
    root: Path,
) -> None:
    """The event loop reads STAMP before every verdict while an upload reads it in a pool thread.
    With STAMP being replaced meanwhile (a restore), a recheck in one thread used to close the
    descriptor another was about to pread (EBADF: a 500), or closed a descriptor some other file
    had just been given (here the replacing thread's own). Rechecked on every call to make the
    window wide; the real interval only makes it rarer."""
    directory = storage.TrustDirectory(root)
    directory.STAMP_RECHECK_SECONDS = 0.0
    stamp_file = root / storage.STAMP
    root.mkdir(parents=True, exist_ok=True)
    stamp_file.write_bytes(b"0" * 16 + b"\n")
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                token = directory.stamp()
                assert token is None or (len(token) == 17 and token.endswith(b"\n"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def replace() -> None:
        try:
            for i in range(1000):
                tmp = root / "STAMP.restored"
                tmp.write_bytes(b"%016d\n" % i)
                os.replace(tmp, stamp_file)
                if i % 100 == 0:
                    stamp_file.unlink()
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    fds_before = len(os.listdir("/proc/self/fd"))
    threads = [threading.Thread(target=read) for _ in range(3)] + [threading.Thread(target=replace)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert directory.stamp() == stamp_file.read_bytes()
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 1  # the one held descriptor at most


@pytest.mark.parametrize("how", ["deleted", "replaced"])
@pytest.mark.xfail(
    strict=True,
    reason="known window: a reader notices a STAMP deleted or replaced out of band (a restore) "
    "only at its next path recheck, up to STAMP_RECHECK_SECONDS later; an upload acknowledged "
    "by another process meanwhile is not seen before that (docs/deployment.md, restore)",
)
def test_an_upload_right_after_stamp_is_replaced_is_seen_by_every_reader(
    root: Path, how: str
) -> None:
    """Two processes (the writer forked after the reader opened STAMP, as a preloaded server
    forks its workers): the writer's upload is acknowledged, then the reader's next verdict must
    judge against it."""
    sz1 = base_list(SZ)
    make_store(root).submit_trust_list(sign(sz1, "a1", "a2"), now=NOW)
    reader = make_store(root)
    assert reader.refresh() == [] and reader.state.lists[SZ].trust_list.sequence == 1
    stamp_file = root / storage.STAMP
    if how == "deleted":
        stamp_file.unlink()  # a restore from a copy without STAMP ("copied or not")
    else:
        (root / "STAMP.restored").write_bytes(stamp_file.read_bytes())
        os.replace(root / "STAMP.restored", stamp_file)  # tar -x, cp -a of a backup
    pid = os.fork()
    if pid == 0:  # the other worker: its upload, then its acknowledgement (exit 0)
        try:
            make_store(root).submit_trust_list(sign(bump(sz1), "a1", "a2"), now=NOW)
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert reader.refresh() == []
    assert reader.state.lists[SZ].trust_list.sequence == 2
