"""Forwarded addresses and the anonymous rate limit (GitHub issue 19, finding 8), through a real
service process (tests/support/server_support.py): X-Forwarded-For counts only from a configured
proxy
(HUREN_FORWARDED_ALLOW_IPS, default none), and IPv6 clients share one bucket per /64."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.http.auth import ClientAddresses, bucket_of
from api.settings import Settings, SettingsError
from demo.world import DemoWorld
from tests.support import server_support
from tests.support.api_support import ZS
from tests.support.endpoints import SEAL

BURST = 10


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoWorld]:
    directory = tmp_path_factory.mktemp("forwarded") / "demo"
    return directory, server_support.demo_directory(directory)


def serve(
    world: tuple[Path, DemoWorld], host: str = "127.0.0.1", **env: str
) -> Iterator[server_support.ServiceProcess]:
    directory, _ = world
    server = server_support.start(
        directory,
        huren_serve=True,
        host=host,
        env={
            "HUREN_ANONYMOUS_SELF_CHECK": "1",
            "HUREN_ANONYMOUS_BURST": str(BURST),
            "HUREN_ANONYMOUS_RATE_PER_MINUTE": "1",
            **env,
        },
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def no_proxy(world: tuple[Path, DemoWorld]) -> Iterator[server_support.ServiceProcess]:
    yield from serve(world)


@pytest.fixture(scope="module")
def behind_proxy(world: tuple[Path, DemoWorld]) -> Iterator[server_support.ServiceProcess]:
    yield from serve(world, HUREN_FORWARDED_ALLOW_IPS="127.0.0.1, ::1")


def statuses(
    server: server_support.ServiceProcess, world: tuple[Path, DemoWorld], forwarded: list[str]
) -> list[int]:
    """One anonymous seal self-check per X-Forwarded-For value, in order."""
    body = {"token": world[1].seal_sz, "relying_jurisdiction": ZS}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return [
            client.post(SEAL, json=body, headers={"X-Forwarded-For": value}).status_code
            for value in forwarded
        ]


def test_rotating_forwarded_for_without_a_configured_proxy_does_not_escape_the_bucket(
    no_proxy: server_support.ServiceProcess, world: tuple[Path, DemoWorld]
) -> None:
    """Finding 8: from loopback, rotating X-Forwarded-For got 14 requests through a bucket of
    10 (uvicorn's default trusts it from 127.0.0.1)."""
    got = statuses(no_proxy, world, [f"203.0.113.{i}" for i in range(BURST + 4)])
    assert got == [200] * BURST + [429] * 4


def test_an_ipv6_peer_cannot_escape_its_bucket_either(world: tuple[Path, DemoWorld]) -> None:
    """The service on ::1 (it binds here), no proxy configured: the IPv6 peer is the client."""
    for server in serve(world, host="::1"):
        got = statuses(server, world, [f"2001:db8:{i:x}::1" for i in range(1, BURST + 3)])
        assert got == [200] * BURST + [429] * 2


def test_forwarded_for_is_honoured_from_a_configured_proxy(
    behind_proxy: server_support.ServiceProcess, world: tuple[Path, DemoWorld]
) -> None:
    # Each address has its own bucket ...
    assert statuses(behind_proxy, world, [f"198.51.100.{i}" for i in range(BURST + 4)]) == [200] * (
        BURST + 4
    )
    # ... which is really used: one address, over and over.
    assert statuses(behind_proxy, world, ["198.51.100.200"] * (BURST + 1))[-1] == 429
    # What the client writes left of what the proxy appended picks no bucket.
    spoofed = [f"192.0.2.{i}, 198.51.100.201" for i in range(BURST + 1)]
    assert statuses(behind_proxy, world, spoofed) == [200] * BURST + [429]


def test_ipv6_clients_share_a_bucket_per_64(
    behind_proxy: server_support.ServiceProcess, world: tuple[Path, DemoWorld]
) -> None:
    """A client rotating through the addresses of its /64 is one client."""
    one_64 = [f"2001:db8:5:6::{i:x}" for i in range(1, BURST + 5)]
    assert statuses(behind_proxy, world, one_64) == [200] * BURST + [429] * 4
    assert statuses(behind_proxy, world, ["2001:db8:5:7::1", "2001:db8:5:6:ffff::9"]) == [
        200,
        429,
    ]


# ---------------------------------------------------------------------------- units


def scope(peer: str | None, *forwarded: str) -> dict[str, object]:
    return {
        "client": (peer, 50000) if peer else None,
        "headers": [(b"x-forwarded-for", v.encode("latin-1")) for v in forwarded],
    }


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("unknown", "unknown"),
    ],
)
def test_the_bucket_of_an_address(address: str, bucket: str) -> None:
    assert bucket_of(address) == bucket


def test_forwarded_for_is_read_only_from_configured_proxies() -> None:
    none = ClientAddresses()
    assert none.of(scope("127.0.0.1", "203.0.113.9")) == "127.0.0.1"
    assert none.of(scope("::1", "203.0.113.9")) == "::1"
    assert none.of(scope(None)) == "unknown"
    proxies = ClientAddresses(["10.0.0.0/8", "::1"])
    assert proxies.of(scope("127.0.0.1", "203.0.113.9")) == "127.0.0.1"  # not a proxy
    assert proxies.of(scope("10.1.2.3")) == "10.1.2.3"  # a proxy, no header
    assert proxies.of(scope("::1", "2001:db8::7")) == "2001:db8::7"
    # Right to left, past every proxy; two header lines read as one list.
    chain = scope("10.0.0.1", "192.0.2.1, 203.0.113.9", "10.0.0.2")
    assert proxies.of(chain) == "203.0.113.9"
    # Not an address: the walk stops at the nearest proxy (one bucket for such requests).
    assert proxies.of(scope("10.0.0.1", "203.0.113.9, bogus")) == "10.0.0.1"
    assert proxies.of(scope("10.0.0.1", "203.0.113.9:443, 10.0.0.2")) == "10.0.0.2"
    assert proxies.of(scope("10.0.0.1", "")) == "10.0.0.1"
    assert proxies.of(scope("10.0.0.1", "10.0.0.9")) == "10.0.0.9"  # only proxies


def test_forwarded_allow_ips_setting(tmp_path: Path) -> None:
    env = {"HUREN_FORWARDED_ALLOW_IPS": "127.0.0.1, 10.0.0.0/8,::1"}
    assert Settings.load(None, env=env).forwarded_allow_ips == (
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    )
    assert Settings.load(None, env={}).forwarded_allow_ips == ()
    path = tmp_path / "huren.json"
    path.write_text(json.dumps({"forwarded_allow_ips": ["192.168.0.0/16"]}))
    assert Settings.load(path, env={}).forwarded_allow_ips == ("192.168.0.0/16",)
    for bad in ("*", "localhost", "10.0.0.0/33"):
        with pytest.raises(SettingsError):
            Settings.load(None, env={"HUREN_FORWARDED_ALLOW_IPS": bad})
    path.write_text(json.dumps({"forwarded_allow_ips": [1]}))
    with pytest.raises(SettingsError):
        Settings.load(path, env={})
