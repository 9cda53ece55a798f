"""The self-check page without a browser (api/routes/ui.py, api/static/): it is served
self-contained,
and the two endpoints it needs — the diff of two accepted trust-list versions and the dry run of
an upload — answer as documented. The browser drives it in tests/service/test_ui_browser.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.http.problems import PROBLEM_MEDIA_TYPE
from api.routes import ui
from demo.world import DEMO_EPOCH, DemoWorld
from keys import ES256, SigningKey
from tests.support.api_support import SZ, ZS, Clock, RecordingSync, auth, service_dir, settings_for
from trust_lists import KeyStatus, SignedTrustList, TrustList, authoring

JSON = {"content-type": "application/json"}


@pytest.fixture
def client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    root = service_dir(demo_world, tmp_path / "svc")
    app = create_app(settings_for(root), clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == code


class _Refs(HTMLParser):
    """Every URL the page would load (script src, link href, img src, ...) and every link."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self._in_script = True
            if a.get("src"):
                self.loads.append(a["src"] or "")
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"] or "")
        if tag in {"img", "iframe", "source", "audio", "video", "embed"} and a.get("src"):
            self.loads.append(a["src"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "style":
            self.inline_styles += 1
        if "style" in a:
            self.inline_styles += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


VENDORED_URL_COMMENTS = {
    "/static/vendor/jsQR.js": {
        "// Uses a variant of http://en.wikipedia.org/wiki/Bresenham's_line_algorithm"
    },
}


def test_the_page_is_served_self_contained(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert (
        "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    )
    refs = _Refs()
    refs.feed(r.text)
    assert refs.loads, "the page loads its script and style"
    for url in refs.loads + refs.links:
        assert not re.match(r"(?i)^\s*(https?:)?//", url), f"external URL in the page: {url}"
    assert "http://" not in r.text and "https://" not in r.text
    assert refs.inline_scripts == 0 and refs.inline_styles == 0  # the CSP forbids both
    for url in refs.loads:
        if url.startswith("data:"):
            continue
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = asset.headers["content-type"]
        assert kind.startswith("text/css" if url.endswith(".css") else "text/javascript"), kind
        # Nothing fetched from elsewhere by the script or the style either, and no web fonts.
        # A vendored script (unchanged, api/static/vendor/README.md) may name a URL in a comment.
        urls = {
            line.strip() for line in asset.text.splitlines() if re.search(r"(?i)https?://", line)
        }
        assert urls <= VENDORED_URL_COMMENTS.get(url, set()), url
        assert "@font-face" not in asset.text and "@import" not in asset.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_nothing_from_a_cdn(client: TestClient, path: str) -> None:
    """Swagger UI and ReDoc come from the fastapi-offline wheel: they work on an intranet."""
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    refs = _Refs()
    refs.feed(r.text)
    assert refs.loads
    for url in refs.loads:
        assert not re.match(r"(?i)^\s*(https?:)?//", url), f"external URL in {path}: {url}"
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    assert "fonts.googleapis" not in r.text and "cdn.jsdelivr" not in r.text
    # ... and the browser may fetch nothing from elsewhere (ReDoc asks Redocly's CDN for a logo).
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data: blob:" in csp
    assert not re.search(r"https?:", csp)


def test_static_assets_ship_with_the_package() -> None:
    """api/static is package data: the patterns of [tool.setuptools.package-data] cover it."""
    names = sorted(p.name for p in ui.STATIC_DIR.iterdir())
    assert {"index.html", "app.js", "app.css"} <= set(names)
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    for pattern in ("*.html", "*.css", "*.js"):
        assert f'"{pattern}"' in pyproject


def test_unknown_static_file_is_a_problem(client: TestClient) -> None:
    problem(client.get("/static/nope.js"), 404, "not_found")


def test_page_is_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/v1/trust-lists/{jurisdiction}/diff" in paths
    assert "/v1/trust-lists/{jurisdiction}/preview" in paths


# -- diff -------------------------------------------------------------------------------------


def _rotated(world: DemoWorld, code: str = SZ, *, bump: int = 1) -> tuple[TrustList, bytes]:
    """The next version of `code`'s list: a new issuer key, the old one withdrawn, the retired
    key revoked, signed by two operators."""
    at = DEMO_EPOCH + timedelta(minutes=5)
    tl = world.trust_lists[code]
    for _ in range(bump):
        tl = authoring.next_version(tl, issued_at=at, validity=timedelta(days=30))
    issuer = f"{'sz' if code == SZ else 'zs'}-amr"
    tl = authoring.add_key(tl, issuer, SigningKey.generate(ES256).public_key, granted_from=at)
    old_kid = world.issuer_key(code).kid
    tl = authoring.change_key_status(tl, old_kid, KeyStatus.WITHDRAWN, effective=at)
    if code == SZ:
        retired = world.keys[f"{SZ}-issuer-retired"].kid
        tl = authoring.change_key_status(tl, retired, KeyStatus.REVOKED, effective=at)
    return tl, world.sign_list(tl)


def test_diff_between_two_accepted_versions(client: TestClient, demo_world: DemoWorld) -> None:
    _, data = _rotated(demo_world)
    assert (
        client.put(
            f"/v1/trust-lists/{SZ}", content=data, headers={**auth("admin"), **JSON}
        ).status_code
        == 200
    )

    r = client.get(f"/v1/trust-lists/{SZ}/diff", params={"from": 1, "to": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from_sequence"], body["to_sequence"], body["jurisdiction"]) == (1, 2, SZ)
    assert body["counts"]["key_added"] == 1
    assert body["counts"]["key_withdrawn"] == 1
    assert body["counts"]["key_revoked"] == 1
    assert body["counts"]["sequence"] == 1
    withdrawn = [c for c in body["changes"] if c["category"] == "key_withdrawn"]
    assert withdrawn[0]["subject"] == demo_world.issuer_key(SZ).kid
    assert withdrawn[0]["service"] == "sz-amr"
    assert (withdrawn[0]["status"], withdrawn[0]["since"]) == ("withdrawn", "2026-11-26T00:05:00Z")
    added = [c for c in body["changes"] if c["category"] == "key_added"]
    assert (added[0]["status"], added[0]["since"]) == ("granted", "2026-11-26T00:05:00Z")
    assert body["to_digest"] == SignedTrustList.parse(data).digest

    # Defaults: to = current, from = the version before it.
    assert client.get(f"/v1/trust-lists/{SZ}/diff").json() == body
    # Backwards, and a version against itself.
    back = client.get(f"/v1/trust-lists/{SZ}/diff", params={"from": 2, "to": 1}).json()
    assert back["counts"]["key_removed"] == 1
    same = client.get(f"/v1/trust-lists/{SZ}/diff", params={"from": 1, "to": 1}).json()
    assert same["changes"] == [] and same["counts"] == {}


def test_diff_with_a_single_version_is_empty(client: TestClient) -> None:
    body = client.get(f"/v1/trust-lists/{ZS}/diff").json()
    assert (body["from_sequence"], body["to_sequence"], body["changes"]) == (1, 1, [])


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/v1/trust-lists/999999/diff", {}, 404, "not_found"),
        (f"/v1/trust-lists/{SZ}/diff", {"from": 7}, 404, "not_found"),
        (f"/v1/trust-lists/{SZ}/diff", {"to": 7}, 404, "not_found"),
        (f"/v1/trust-lists/{SZ}/diff", {"from": 0}, 422, "invalid_request"),
        (f"/v1/trust-lists/{SZ}/diff", {"to": "two"}, 422, "invalid_request"),
    ],
)
def test_diff_refusals_are_problems(
    client: TestClient, path: str, params: dict[str, Any], status: int, code: str
) -> None:
    problem(client.get(path, params=params), status, code)


# -- preview ----------------------------------------------------------------------------------


def _state(client: TestClient) -> Any:
    return client.get("/v1/trust-lists").json()


def test_preview_of_an_acceptable_list_changes_nothing(
    client: TestClient, demo_world: DemoWorld, tmp_path: Path
) -> None:
    before = _state(client)
    _, data = _rotated(demo_world)
    r = client.post(
        f"/v1/trust-lists/{SZ}/preview", content=data, headers={**auth("admin"), **JSON}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acceptable"] is True and body["code"] is None and body["unchanged"] is False
    assert (body["current_sequence"], body["sequence"]) == (1, 2)
    assert body["diff"]["counts"]["key_withdrawn"] == 1
    assert _state(client) == before  # nothing adopted
    audit = tmp_path / "svc" / "audit.log"
    assert not audit.exists() or audit.read_text() == ""  # nothing audited: nothing was uploaded

    # The upload itself then goes through.
    assert (
        client.put(f"/v1/trust-lists/{SZ}", content=data, headers={**auth("admin"), **JSON}).json()[
            "sequence"
        ]
        == 2
    )


def test_preview_says_why_a_list_would_be_refused(
    client: TestClient, demo_world: DemoWorld
) -> None:
    admin = {**auth("admin"), **JSON}
    current = demo_world.signed_lists[SZ].to_json()
    same = client.post(f"/v1/trust-lists/{SZ}/preview", content=current, headers=admin).json()
    assert same["acceptable"] is True and same["unchanged"] is True
    assert same["diff"]["changes"] == []

    _, nxt = _rotated(demo_world)
    client.put(f"/v1/trust-lists/{SZ}", content=nxt, headers=admin)
    rollback = client.post(f"/v1/trust-lists/{SZ}/preview", content=current, headers=admin).json()
    assert (rollback["acceptable"], rollback["code"]) == (False, "rollback")
    assert rollback["sequence"] == 1 and rollback["current_sequence"] == 2
    assert rollback["diff"]["from_sequence"] == 2

    # Signed by one operator only: below the threshold.
    tl, _ = _rotated(demo_world, bump=2)
    weak = SignedTrustList.create(tl, demo_world.operators(SZ)[:1]).to_json()
    refused = client.post(f"/v1/trust-lists/{SZ}/preview", content=weak, headers=admin).json()
    assert (refused["acceptable"], refused["code"]) == (False, "threshold_not_met")

    # Offered in the other city's slot.
    other = client.post(f"/v1/trust-lists/{ZS}/preview", content=nxt, headers=admin).json()
    assert (other["acceptable"], other["code"]) == (False, "jurisdiction_mismatch")

    garbage = client.post(
        f"/v1/trust-lists/{SZ}/preview", content=b'{"payload": "x"}', headers=admin
    ).json()
    assert (garbage["acceptable"], garbage["code"], garbage["diff"]) == (False, "malformed", None)


def test_preview_needs_an_admin_key_and_json(client: TestClient, demo_world: DemoWorld) -> None:
    data = demo_world.signed_lists[SZ].to_json()
    path = f"/v1/trust-lists/{SZ}/preview"
    problem(client.post(path, content=data, headers=JSON), 401, "unauthorized")
    problem(client.post(path, content=data, headers={**auth("counter"), **JSON}), 403, "forbidden")
    problem(
        client.post(path, content=data, headers={**auth("admin"), "content-type": "text/plain"}),
        415,
        "unsupported_media_type",
    )
    problem(client.post(path, content=b"", headers={**auth("admin"), **JSON}), 422, "malformed")
    problem(
        client.post(
            "/v1/trust-lists/999999/preview", content=data, headers={**auth("admin"), **JSON}
        ),
        404,
        "unknown_jurisdiction",
    )
    assert json.loads(data)  # the body really was a signed list


def test_every_sub_indication_is_worded_and_altered_differs_from_unknown_signer() -> None:
    """A clerk must tell "altered" (FAILED) from "could not confirm the signer" (INDETERMINATE)."""
    from verifier.verdict import SubIndication

    js = (ui.STATIC_DIR / "app.js").read_text(encoding="utf-8")
    texts: dict[str, list[str]] = {}
    for key, text in re.findall(r'"sub\.([A-Z_]+)": "([^"]*)"', js):
        texts.setdefault(key, []).append(text)
    for sub in SubIndication:
        assert len(texts.get(sub.value, [])) == 2, sub  # zh and en
    zh_hash, en_hash = texts["HASH_FAILURE"]
    zh_sig, en_sig = texts["SIG_CRYPTO_FAILURE"]
    assert "改动" in zh_hash + zh_sig and en_hash.startswith("Altered") and "Altered" in en_sig
    for unknown in ("NO_SIGNING_CERTIFICATE_FOUND", "NO_CERTIFICATE_CHAIN_FOUND"):
        zh, en = texts[unknown]
        assert zh.startswith("无法确认签名者") and en.startswith("Could not confirm the signer")
        assert "Altered" not in en
