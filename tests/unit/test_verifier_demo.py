"""The demo world (demo/world.py): what it contains, and the directory layout write_demo produces
(docs/CONTRACTS.md), reloaded from disk and verified."""

from __future__ import annotations

import hashlib
import json
import stat
import struct
import zlib
from pathlib import Path

import pytest

from demo import national as national_demo
from demo.world import (
    CITIES,
    DEMO_EPOCH,
    SHENZHEN,
    ZHONGSHAN,
    DemoWorld,
    build_demo_world,
    write_demo,
)
from keys import SigningKey
from trust_lists.anchors import load_anchors
from trust_lists.storage import TrustDirectory
from trust_lists.store import TrustStore
from verifier import Verifier


def test_world_is_consistent(demo_world: DemoWorld) -> None:
    w = demo_world
    assert w.now == DEMO_EPOCH
    assert {a.jurisdiction for a in w.anchors} == {SHENZHEN, ZHONGSHAN}
    for city in CITIES:
        tl = w.trust_lists[city.code]
        assert tl.operators.threshold == 2 and len(tl.operators.keys) == 3
        assert {s.id for s in tl.services} == {
            city.issuer_id,
            city.seal_authority_id,
            national_demo.service_id(city),
        }
    assert len(w.status_lists) == 4
    store = w.store()
    assert sorted(store.state.lists) == [SHENZHEN, ZHONGSHAN]
    assert store.state.catalogue is not None


def test_world_store_is_clock_independent() -> None:
    """Built at an old epoch, the store still comes up: it is judged at the world's time."""
    old = build_demo_world(DEMO_EPOCH.replace(year=2020))
    assert old.verifier().verify_licence(old.licence_sz, ZHONGSHAN).passed


def test_seal_image_is_a_valid_png(demo_world: DemoWorld) -> None:
    png = demo_world.seal_image
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, chunks = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks.append(kind)
        pos += 12 + length
    assert chunks == [b"IHDR", b"IDAT", b"IEND"]
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (48, 48)


def test_write_demo_layout(tmp_path: Path, demo_world: DemoWorld) -> None:
    target = tmp_path / "demo"
    write_demo(target, demo_world)
    config = json.loads((target / "huren.json").read_text())
    assert config == {
        "anchors": "anchors.json",
        "trust_dir": "trust",
        "receipt_key": "keys/receipt.pem",
        "api_keys": "api-keys.json",
        "grace_seconds": 0,
        "anonymous_self_check": True,
    }
    for name, key in demo_world.keys.items():
        path = target / "keys" / f"{name}.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert SigningKey.load(path).kid == key.kid
    assert stat.S_IMODE((target / "api-keys.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((target / "demo-credentials.txt").stat().st_mode) == 0o600

    # The credentials file holds the secrets whose SHA-256 is in api-keys.json.
    entries = json.loads((target / "api-keys.json").read_text())["keys"]
    secrets = {
        line.split("\t")[0]: line.split("\t")[2]
        for line in (target / "demo-credentials.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {e["role"] for e in entries} == {"counter", "business", "admin"}
    for e in entries:
        assert hashlib.sha256(secrets[e["id"]].encode()).hexdigest() == e["sha256"]
        assert e["revoked"] is False

    # The service's view: anchors and the trust directory reload and verify the samples.
    store = TrustStore(load_anchors(target / "anchors.json"), TrustDirectory(target / "trust"))
    assert store.load() == []
    assert store.state.version == demo_world.store().state.version
    v = Verifier(store, clock=lambda: demo_world.now)
    samples = target / "samples"
    assert v.verify_licence((samples / "licence-sz-business.jws").read_bytes(), ZHONGSHAN).passed
    assert v.verify_licence((samples / "licence-zs-food.jws").read_bytes(), SHENZHEN).passed
    assert v.verify_seal(
        (samples / "seal-sz-official.jws").read_bytes(),
        ZHONGSHAN,
        image=(samples / "seal-sz-official.png").read_bytes(),
    ).passed
    assert v.verify_sealed_document(
        (samples / "contract.txt").read_bytes(),
        (samples / "contract.sig.jws").read_bytes(),
        ZHONGSHAN,
    ).passed

    with pytest.raises(FileExistsError):
        write_demo(target, demo_world)
