"""The self-check page and the trust-list view in a real browser: headless Chromium (Debian's
`chromium` package, driven by Python's playwright with `executable_path`) against a real uvicorn
process serving a demo directory on a loopback port.

Screenshots of every state go to test-output/screenshots/. Without a browser (or without
playwright) the tests are skipped with a loud reason, except under CI (`CI` set), where they
fail: `.ci/run` installs Chromium."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import jwt
import pytest

from demo.world import DemoWorld, _png_seal, build_demo_world
from keys import ES256, SigningKey
from tests.support.api_support import SECRETS, SZ, ZS
from tests.support.server_support import REPO, ServiceProcess, demo_directory, start
from trust_lists import KeyStatus, SignedTrustList, authoring

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
# TOOLING.md: without the background-networking flags Chromium keeps trying to reach Google.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> NoReturn:
    message = (
        f"BROWSER TESTS NOT RUN: {reason}. Install Debian's Chromium "
        "(`apt-get install -y --no-install-recommends chromium fonts-noto-cjk`) and the dev "
        "extra (`pip install -e '.[dev]'`, which brings playwright; never `playwright install`). "
        "Under CI (`CI` set) this is a failure."
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


def chromium_binary() -> str | None:
    """HUREN_CHROMIUM if set (and only that), else Debian's real binary, else its wrapper."""
    chosen = os.environ.get("HUREN_CHROMIUM")
    candidates = (chosen,) if chosen else (*CHROMIUM, shutil.which("chromium"))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def launched(*extra_flags: str) -> Iterator[Browser]:
    """Debian's Chromium with FLAGS and `extra_flags` (e.g. a fake camera), or a loud skip."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    binary = chromium_binary()
    if binary is None:
        _unavailable(f"no Chromium binary (looked for HUREN_CHROMIUM, {', '.join(CHROMIUM)})")
    pw = sync_playwright().start()
    try:
        # launch() gives every run a new, empty user-data-dir of its own.
        chromium = pw.chromium.launch(
            executable_path=binary, args=[*FLAGS, *extra_flags], headless=True
        )
    except Error as exc:
        pw.stop()
        _unavailable(f"Chromium at {binary} did not start: {str(exc)[:300]}")
    try:
        yield chromium
    finally:
        chromium.close()
        pw.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as chromium:
        yield chromium


@dataclass
class Demo:
    service: ServiceProcess
    world: DemoWorld
    directory: Path

    @property
    def url(self) -> str:
        return self.service.url

    def sample(self, name: str) -> Path:
        return self.directory / "samples" / name

    def key(self, role: str) -> str:
        return SECRETS[role]  # tests/support/server_support.py serves the test keys of every role


@contextmanager
def _serve(root: Path, now: datetime) -> Iterator[Demo]:
    """The demo world built at `now`, written under root and served by a uvicorn process."""
    directory = root / "demo"
    world = demo_directory(directory, build_demo_world(now))
    service = start(directory)
    try:
        yield Demo(service, world, directory)
    finally:
        service.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    # The process runs on the real clock, so the world is built at the real now.
    with _serve(tmp_path_factory.mktemp("ui"), datetime.now(UTC).replace(microsecond=0)) as d:
        yield d


@dataclass
class Seen:
    requests: list[str]
    errors: list[str]


@pytest.fixture
def seen() -> Seen:
    return Seen([], [])


def _new_page(browser: Browser, seen: Seen, **options: Any) -> Page:
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
        **{"viewport": {"width": 1100, "height": 900}, **options},
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("pageerror", lambda e: seen.errors.append(f"page error: {e}"))

    def console(message: Any) -> None:
        # A refused request (401, 409, ...) is logged by Chromium as "Failed to load resource":
        # the page handles those itself. Anything else (a CSP violation, a script error) is not.
        if message.type == "error" and "Failed to load resource" not in message.text:
            seen.errors.append(f"console: {message.text}")

    page.on("console", console)
    return page


@contextmanager
def clean_page(browser: Browser, demo: Demo, seen: Seen) -> Iterator[Page]:
    """A new page; once the test is done, nothing was loaded from elsewhere and no error."""
    p = _new_page(browser, seen)
    try:
        yield p
    finally:
        p.context.close()
    _assert_clean(seen, demo.url)


@pytest.fixture
def page(browser: Browser, demo: Demo, seen: Seen) -> Iterator[Page]:
    with clean_page(browser, demo, seen) as p:
        yield p


def _assert_clean(seen: Seen, url: str) -> None:
    assert seen.errors == []
    outside = [u for u in seen.requests if not u.startswith((url + "/", "blob:", "data:"))]
    assert outside == [], "the page loaded something from elsewhere"


def test_without_a_browser_the_tests_skip_loudly_but_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with (
        pytest.warns(UserWarning, match="BROWSER TESTS NOT RUN: no Chromium"),
        pytest.raises(pytest.skip.Exception),
    ):
        _unavailable("no Chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="BROWSER TESTS NOT RUN: no Chromium"):
        _unavailable("no Chromium")
    monkeypatch.setenv("HUREN_CHROMIUM", "/nonexistent/chromium")
    assert chromium_binary() is None  # an explicit choice is not silently replaced


# -- helpers ----------------------------------------------------------------------------------


def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def open_page(page: Page, demo: Demo, fragment: str = "") -> None:
    page.goto(demo.url + "/" + fragment)
    wait_until(page, "document.querySelectorAll('#relying option').length >= 2")


def verify(page: Page, files: list[Path], *, relying: str, key: str = "") -> str:
    page.fill("#api-key", key)
    page.click("#clear-btn")
    page.set_input_files("#file-input", [str(f) for f in files])
    wait_until(page, f"document.querySelectorAll('#file-list li').length == {len(files)}")
    page.select_option("#relying", relying)
    page.click("#verify-btn")
    badge = page.wait_for_selector("#result .badge[data-indication]")
    assert badge is not None
    return str(badge.get_attribute("data-indication"))


def wait_until(page: Page, expression: str, timeout: float = TIMEOUT_MS / 1000) -> None:
    """Poll a JavaScript expression until it is true. (page.wait_for_function evaluates its
    predicate with eval, which the page's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)


def b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def tampered(token: str) -> str:
    """The licence with its registered capital raised: the signature no longer matches."""
    header, payload, signature = token.split(".")
    claims = b64url_json(payload)
    claims["data"]["注册资本"] = "10亿元人民币"
    raw = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def texts(page: Page, selector: str) -> list[str]:
    return [
        str(x) for x in page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")
    ]


def tab_to(page: Page, element_id: str, limit: int = 40) -> None:
    """Press Tab until the element with that id has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key")


# -- the self-check page ----------------------------------------------------------------------


def test_licence_passes_for_the_other_city(page: Page, demo: Demo, tmp_path: Path) -> None:
    open_page(page, demo)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    indication = verify(
        page, [demo.sample("licence-sz-business.jws")], relying=ZS, key=demo.key("counter")
    )
    assert indication == "PASSED"
    assert page.text_content(".badge-word") == "通过"
    results = page.eval_on_selector_all(".checks li", "els => els.map(e => e.dataset.result)")
    assert len(results) >= 10 and set(results) == {"PASSED"}
    summary = page.text_content("#result-summary") or ""
    assert "深圳市前海互认科技有限公司" in summary and "91440300MA5G2U8T1P" in summary
    assert "营业执照" in summary and "深圳市市场监督管理局" in summary
    trust = page.text_content("#result-trust") or ""
    assert "中山市" in trust and "第 1 版" in trust
    assert page.text_content("#result-trust .countdown")  # when the list goes stale
    shot(page, "01-licence-passed.png")
    shot(page, "01-licence-passed-top.png", full_page=False)

    # The key lives in this tab's sessionStorage only.
    key = demo.key("counter")
    assert page.evaluate("sessionStorage.getItem('huren.apiKey')") == key
    assert key not in page.evaluate("JSON.stringify(localStorage)")

    # The signed receipt: a compact JWS by a key of /v1/receipts/jwks.json over this verdict.
    with page.expect_download() as download:
        page.click("#download-receipt")
    target = tmp_path / "receipt.jwt"
    download.value.save_as(target)
    receipt = target.read_text().strip()
    assert jwt.get_unverified_header(receipt)["typ"] == "huren-receipt+jwt"
    jwks = httpx.get(demo.url + "/v1/receipts/jwks.json").json()
    kid = jwt.get_unverified_header(receipt)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(receipt, jwt.PyJWK(jwk).key, algorithms=["ES256"])
    assert claims["verdict"]["indication"] == "PASSED"


def pick_item(page: Page, query: str, code: str) -> None:
    """Search the relying city's service items and choose one from the results."""
    page.fill("#item-search", query)
    option = page.wait_for_selector(f'#item-results button[data-code="{code}"]')
    assert option is not None
    option.click()
    page.wait_for_selector(f'#item-chosen [data-item="{code}"]')


def test_the_clerk_picks_a_service_item(page: Page, demo: Demo) -> None:
    """The Zhongshan central kitchen's food permit, in Shenzhen: accepted for the filing of
    collective-meal suppliers, refused for a change of a food production licence."""
    open_page(page, demo)
    page.select_option("#relying", SZ)
    assert "全市互认" in (page.text_content("#item-chosen") or "")  # no item: city-wide
    page.fill("#item-search", "备案")
    wait_until(page, "document.querySelectorAll('#item-results button').length == 2")
    found = texts(page, "#item-results button")
    assert any("集体用餐配送供应商备案" in x for x in found), found
    assert any("建设工程施工合同备案" in x for x in found), found
    page.fill("#item-search", "没有这种事项")
    page.wait_for_selector("#item-results li.hint")
    pick_item(page, "collective", "440300-SCJG-0012")
    permit = [demo.sample("licence-zs-food.jws")]
    assert verify(page, permit, relying=SZ, key=demo.key("counter")) == "PASSED"
    trust = page.text_content("#result-trust") or ""
    assert "集体用餐配送供应商备案（440300-SCJG-0012）" in trust
    shot(page, "16-item-accepted.png")

    pick_item(page, "0045", "440300-SCJG-0045")
    assert verify(page, permit, relying=SZ, key=demo.key("counter")) == "FAILED"
    reasons = " ".join(texts(page, ".checks li"))
    assert "食品生产许可证变更" in reasons and "文档本身有效" in reasons, reasons
    shot(page, "17-item-refused.png")

    # Items belong to one city: another relying city forgets the choice.
    page.select_option("#relying", ZS)
    assert "全市互认" in (page.text_content("#item-chosen") or "")
    page.click("#lang-toggle")
    assert "city-wide" in (page.text_content("#item-chosen") or "")
    page.click("#lang-toggle")


def test_tampered_licence_fails_with_the_reason(page: Page, demo: Demo, tmp_path: Path) -> None:
    forged = tmp_path / "licence-tampered.jws"
    forged.write_text(tampered(demo.world.licence_sz) + "\n")
    open_page(page, demo)
    assert verify(page, [forged], relying=ZS, key=demo.key("counter")) == "FAILED"
    sub = page.get_attribute(".badge-sub", "data-sub-indication")
    assert sub == "SIG_CRYPTO_FAILURE"
    assert "已被改动" in (page.text_content(".badge-sub") or "")
    failed = page.wait_for_selector(".checks li[data-result=FAILED]")
    assert failed is not None and failed.get_attribute("data-code") == "signature.valid"
    reason = page.text_content(".badge-reason") or ""
    assert reason == "原因：" + (failed.query_selector(".check-msg").text_content() or "")  # type: ignore[union-attr]
    # What the forged document claims is shown, but marked as not to be relied on.
    assert "10亿元人民币" in (page.text_content("#result-summary") or "")
    assert "未得到核验确认" in (page.text_content("#result-summary .unverified") or "")
    shot(page, "02-licence-tampered-failed.png")


def test_control_characters_from_a_document_are_shown_escaped(
    page: Page, demo: Demo, tmp_path: Path
) -> None:
    """A holder name with ESC [8m (conceal), a bidi override and a fake line end (issue 19,
    finding 7): the page shows each as a visible escape and lets none of them act."""
    header, payload, signature = demo.world.licence_sz.split(".")
    claims = b64url_json(payload)
    claims["holder"]["name"] = "深圳\x1b[8m\u202eevil\nPASSED"
    raw = json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode()
    forged = tmp_path / "licence-hostile-name.jws"
    forged.write_text(f"{header}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{signature}")
    open_page(page, demo)
    assert verify(page, [forged], relying=ZS, key=demo.key("counter")) == "FAILED"
    summary = page.text_content("#result-summary") or ""
    assert "深圳\\x1b[8m\\u202eevil\\x0aPASSED" in summary
    assert not any(c in summary for c in "\x1b\u202e\n")


def test_seal_shows_its_picture(page: Page, demo: Demo, tmp_path: Path) -> None:
    open_page(page, demo)
    seal, picture = demo.sample("seal-sz-official.jws"), demo.sample("seal-sz-official.png")
    # Seal self-checks may be anonymous (anonymous_self_check in the demo).
    assert verify(page, [seal, picture], relying=ZS) == "PASSED"
    wait_until(page, "document.querySelector('#seal-image').naturalWidth > 0")
    assert page.evaluate("document.querySelector('#seal-image').naturalWidth") == 48
    assert page.get_attribute("#result-seal [data-image-check]", "data-image-check") == "match"
    shot(page, "03-seal-picture.png")
    page.set_viewport_size({"width": 1100, "height": 1640})
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "03-seal-picture-top.png", full_page=False)  # docs/img/self-check.png

    # Another picture than the one the seal records.
    other = tmp_path / "other-seal.png"
    other.write_bytes(_png_seal(40))
    assert verify(page, [seal, other], relying=ZS) == "FAILED"
    assert page.get_attribute("#result-seal [data-image-check]", "data-image-check") == "mismatch"
    assert page.evaluate("document.querySelector('#seal-image').naturalWidth") == 40
    shot(page, "03-seal-picture-mismatch.png")

    # The issued picture saved as JPEG: "not the issued picture", never "altered" (issue 16).
    jpeg = tmp_path / "seal-sz-official.jpg"
    jpeg.write_bytes((REPO / "tests" / "data" / "seal-sz-official.jpg").read_bytes())
    assert verify(page, [seal, jpeg], relying=ZS) == "FAILED"
    headline = page.text_content(".badge-sub") or ""
    assert "此图片不是随印章签发的图片" in headline and "改动" in headline, headline
    assert "已被改动" not in headline
    assert page.get_attribute("#result-seal [data-image-check]", "data-image-check") == "mismatch"
    assert "不是随印章签发的图片" in (page.text_content("#result-seal figcaption") or "")
    assert page.evaluate("document.querySelector('#seal-image').naturalWidth") == 48


def test_pasted_token_loses_its_line_breaks_and_old_verdicts_go(page: Page, demo: Demo) -> None:
    """Issue 16: whitespace is removed from a pasted token and the page says so; a new check
    clears the previous verdict at once, so an error is never read under an old result."""
    open_page(page, demo)
    token = demo.world.licence_sz
    page.fill("#api-key", demo.key("counter"))
    page.fill("#token-text", token)
    page.select_option("#relying", ZS)
    page.click("#verify-btn")
    page.wait_for_selector("#result .badge[data-indication=PASSED]")
    assert page.is_hidden("#paste-note")  # nothing to remove

    page.fill("#api-key", "hk_not_a_key_0123456789abcdefghijkl")  # this check ends in a 401
    wrapped = "\n".join(token[i : i + 76] for i in range(0, len(token), 76))
    page.fill("#token-text", wrapped)
    page.click("#verify-btn")
    page.wait_for_selector("#form-error:not([hidden])")
    assert page.is_hidden("#result")  # the PASSED above is gone, not shown under the error
    assert page.input_value("#token-text") == token
    note = page.text_content("#paste-note") or ""
    assert page.is_visible("#paste-note") and f"删除 {wrapped.count(chr(10))} 个空格或换行" in note
    shot(page, "03-pasted-token-stripped.png")

    page.fill("#api-key", demo.key("counter"))
    page.click("#verify-btn")
    badge = page.wait_for_selector("#result .badge[data-indication]")
    assert badge is not None and badge.get_attribute("data-indication") == "PASSED"


def test_stamped_document_dropped_on_the_page(page: Page, demo: Demo) -> None:
    open_page(page, demo)
    page.fill("#api-key", "")  # anonymous self-check
    files = [demo.sample("contract.txt"), demo.sample("contract.sig.jws")]
    # Drag and drop: a drop event carrying the two files.
    transfer = page.evaluate_handle(
        """files => {
            const dt = new DataTransfer();
            for (const [name, text] of files) dt.items.add(new File([text], name));
            return dt;
        }""",
        [[f.name, f.read_text()] for f in files],
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    wait_until(page, "document.querySelectorAll('#file-list li').length == 2")
    page.select_option("#relying", SZ)
    page.click("#verify-btn")
    badge = page.wait_for_selector("#result .badge[data-indication]")
    assert badge is not None and badge.get_attribute("data-indication") == "PASSED"
    roles = page.eval_on_selector_all("#file-list select", "els => els.map(e => e.value)")
    assert roles == ["document", "signature"]
    summary = page.text_content("#result-summary") or ""
    assert "深中两地食材供应合作协议" in summary


def test_signature_value_with_and_without_its_data(page: Page, demo: Demo) -> None:
    """A .dat is the signature; a second file is the data it signs (anonymous self-check)."""
    open_page(page, demo)
    dat, xml = demo.sample("contract-sz-signature.dat"), demo.sample("contract-sz-signature.xml")
    assert verify(page, [dat, xml], relying=ZS) == "PASSED"
    roles = page.eval_on_selector_all("#file-list select", "els => els.map(e => e.value)")
    assert roles == ["signature", "document"]
    assert verify(page, [dat], relying=ZS) == "INDETERMINATE"
    sub = page.get_attribute(".badge-sub", "data-sub-indication")
    assert sub == "SIGNED_DATA_NOT_FOUND"


def test_unsupported_formats_are_named(page: Page, demo: Demo, tmp_path: Path) -> None:
    """A PDF (or a picture alone) gets the service's answer: what it is and what is verified,
    in the page's language, not "the signature is required"."""
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    open_page(page, demo)
    for file, what in ((pdf, "PDF 文档"), (demo.sample("seal-sz-official.png"), "PNG 图片")):
        page.fill("#api-key", "")  # anonymous self-check
        page.click("#clear-btn")
        page.set_input_files("#file-input", [str(file)])
        wait_until(page, "document.querySelectorAll('#file-list li').length == 1")
        page.select_option("#relying", ZS)
        page.click("#verify-btn")
        page.wait_for_selector("#form-error:not([hidden])")
        box = page.query_selector("#form-error [data-problem=unsupported_format]")
        assert box is not None, page.text_content("#form-error")
        assert box is not None
        text = box.text_content() or ""
        assert what in text and "支持的格式" in text and ".ofd" in text and ".dat" in text, text
        assert "signature is required" not in text and "签名" not in text.split("支持")[0]
    shot(page, "04-unsupported-format.png")


def test_switch_language(page: Page, demo: Demo) -> None:
    open_page(page, demo)
    token = demo.world.licence_sz
    verify(page, [demo.sample("licence-sz-business.jws")], relying=ZS, key=demo.key("counter"))
    zh = texts(page, ".check-msg")
    page.click("#lang-toggle")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert (
        page.text_content("#check-heading")
        == "Verify an e-licence, an e-seal or a stamped document"
    )
    assert page.text_content(".badge-word") == "PASSED"
    assert page.text_content("#lang-toggle") == "中文"
    # The page asks for the detailed report: every check, in order.
    api = httpx.post(
        demo.url + "/v1/licences/verify?report=detailed",
        json={"token": token, "relying_jurisdiction": ZS},
        headers={"Authorization": f"Bearer {demo.key('counter')}"},
    ).json()
    assert texts(page, ".check-msg") == [c["message_en"] for c in api["verdict"]["checks"]]
    assert zh == [c["message_zh"] for c in api["verdict"]["checks"]]
    assert "Business licence" in (page.text_content("#result-summary") or "")
    shot(page, "04-english.png")

    page.reload()  # the choice is remembered
    wait_until(page, "document.documentElement.lang == 'en'")
    assert page.text_content("#verify-btn") == "Verify"
    page.click("#lang-toggle")
    assert page.text_content("#verify-btn") == "核验"


def test_works_with_the_keyboard(page: Page, demo: Demo) -> None:
    open_page(page, demo)
    tab_to(page, "api-key")
    page.keyboard.type(demo.key("counter"))
    # The file chooser is in the Tab order (a visually hidden input inside the drop zone, which
    # shows the focus).
    tab_to(page, "file-input")
    outline = page.evaluate("getComputedStyle(document.querySelector('#dropzone')).outlineStyle")
    assert outline == "solid"
    tab_to(page, "token-text")
    page.keyboard.insert_text(demo.world.licence_sz)
    tab_to(page, "relying")
    page.keyboard.press("ArrowDown")
    assert page.eval_on_selector("#relying", "e => e.value") == ZS
    tab_to(page, "verify-btn")
    page.keyboard.press("Enter")
    page.wait_for_selector("#result .badge[data-indication=PASSED]")
    # The verdict takes the focus, so a screen reader reads it and Tab goes on from there.
    assert page.evaluate("document.activeElement.classList.contains('badge')")
    tab_to(page, "download-receipt", limit=3)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.startswith("huren-receipt-")


@pytest.mark.parametrize("width", [360, 480, 800])
def test_readable_on_a_small_screen(browser: Browser, demo: Demo, seen: Seen, width: int) -> None:
    page = _new_page(browser, seen, viewport={"width": width, "height": 720})
    try:
        open_page(page, demo)
        seal, picture = demo.sample("seal-sz-official.jws"), demo.sample("seal-sz-official.png")
        assert verify(page, [seal, picture], relying=ZS) == "PASSED"
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal scrolling at {width}px"
        box = page.query_selector(".badge-word").bounding_box()  # type: ignore[union-attr]
        assert box is not None and box["height"] >= 28  # the verdict stays large
        # The verdict comes into view by itself (it takes the focus).
        assert 0 <= box["y"] <= 150
        shot(page, f"05-small-screen-{width}.png", full_page=False)
    finally:
        page.context.close()
    _assert_clean(seen, demo.url)


# -- the trust-list view ----------------------------------------------------------------------


def rotated_list(world: DemoWorld) -> tuple[bytes, list[str]]:
    """Shenzhen's next list: its operator keys rotated (signed by two old and two new keys), a
    new issuer key, the old one withdrawn. Returns the signed list and the new kids."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    tl = authoring.next_version(world.trust_lists[SZ], issued_at=now, validity=timedelta(days=30))
    operators = [SigningKey.generate(ES256) for _ in range(3)]
    tl = authoring.set_operators(tl, [k.public_key for k in operators], 2)
    issuer = SigningKey.generate(ES256)
    tl = authoring.add_key(tl, "sz-amr", issuer.public_key, granted_from=now)
    tl = authoring.change_key_status(
        tl, world.issuer_key(SZ).kid, KeyStatus.WITHDRAWN, effective=now
    )
    signed = SignedTrustList.create(tl, [*world.operators(SZ)[:2], *operators[:2]])
    return signed.to_json(), [issuer.kid, *(k.kid for k in operators)]


def categories(page: Page, scope: str) -> set[str]:
    found = page.eval_on_selector_all(
        f"{scope} .diff-group", "els => els.map(e => e.dataset.category)"
    )
    return set(found)


def test_trust_lists_and_an_admin_upload(page: Page, demo: Demo, tmp_path: Path) -> None:
    open_page(page, demo, "#trust")
    page.wait_for_selector("#trust-table tbody tr[data-jurisdiction]")
    rows = page.eval_on_selector_all(
        "#trust-table tbody tr", "els => els.map(e => [e.dataset.jurisdiction, e.className])"
    )
    assert rows == [[SZ, "fresh"], [ZS, "fresh"]]
    assert texts(page, "#trust-table .seq") == ["1", "1"]
    first = page.text_content(f"tr[data-jurisdiction='{SZ}'] .countdown")
    assert first and first.startswith("还有 29 天")
    wait_until(
        page,
        f"document.querySelector(\"tr[data-jurisdiction='{SZ}'] .countdown\").textContent "
        f"!= {json.dumps(first)}",
    )  # it counts down
    shot(page, "06-trust-lists.png")

    new_list, kids = rotated_list(demo.world)
    upload = tmp_path / "440300-rotated.json"
    upload.write_bytes(new_list)
    page.fill("#api-key", demo.key("admin"))
    page.select_option("#upload-jurisdiction", SZ)
    page.set_input_files("#upload-file", str(upload))

    # Before: the service's verdict on it, and what it changes.
    page.click("#upload-check")
    page.wait_for_selector("#upload-before [data-acceptable]")
    assert page.get_attribute("#upload-before [data-acceptable]", "data-acceptable") == "true"
    before = page.text_content("#upload-before") or ""
    assert "序号：1 → 2" in before
    assert {"operator_added", "operator_removed", "key_added", "key_withdrawn"} <= categories(
        page, "#upload-before"
    )
    assert all(kid in before for kid in kids)
    assert texts(page, "#trust-table .seq") == ["1", "1"]  # a check changes nothing
    shot(page, "07-upload-checked.png")

    # After: accepted, and the page shows the new sequence.
    page.click("#upload-submit")
    page.wait_for_selector("#upload-after [data-outcome]")
    assert page.get_attribute("#upload-after [data-outcome]", "data-outcome") == "accepted"
    assert page.get_attribute("#upload-after .now-sequence", "data-sequence") == "2"
    wait_until(
        page, f"document.querySelector(\"tr[data-jurisdiction='{SZ}'] .seq\").textContent == '2'"
    )
    assert texts(page, "#trust-table .seq") == ["2", "1"]
    shot(page, "08-upload-accepted.png")

    # History and the difference between the two versions.
    page.click(f".history-btn[data-jurisdiction='{SZ}']")
    page.wait_for_selector("#history tbody tr[data-sequence='2']")
    page.click("#history .compare-btn")
    page.wait_for_selector("#diff .diff-body[data-from='1'][data-to='2']")
    assert {"operator_added", "operator_removed", "key_added", "key_withdrawn"} <= categories(
        page, "#diff"
    )
    assert "运营方" in (page.text_content("#diff") or "")  # the rotation warning's group
    shot(page, "09-history-diff.png")

    # The old list again: refused before (rollback) and after.
    old = tmp_path / "440300-v1.json"
    old.write_bytes(demo.world.signed_lists[SZ].to_json())
    page.set_input_files("#upload-file", str(old))
    page.click("#upload-submit")
    page.wait_for_selector("#upload-after [data-outcome='refused']")
    assert page.get_attribute("#upload-before [data-acceptable]", "data-acceptable") == "false"
    assert "rollback" in (page.text_content("#upload-before") or "")
    assert "rollback" in (page.text_content("#upload-after") or "")
    assert texts(page, "#trust-table .seq") == ["2", "1"]
    shot(page, "10-upload-refused.png")

    # The next verdict is judged under the new list.
    page.goto(demo.url + "/#check")
    wait_until(page, "document.querySelectorAll('#relying option').length >= 2")
    licence = demo.sample("licence-sz-business.jws")
    assert verify(page, [licence], relying=ZS, key=demo.key("counter")) == "PASSED"
    assert "第 2 版" in (page.text_content("#result-trust") or "")


def test_uploads_need_an_admin_key(page: Page, demo: Demo, tmp_path: Path) -> None:
    upload = tmp_path / "list.json"
    upload.write_bytes(demo.world.signed_lists[ZS].to_json())
    open_page(page, demo, "#trust")
    page.fill("#api-key", demo.key("counter"))
    page.select_option("#upload-jurisdiction", ZS)
    page.set_input_files("#upload-file", str(upload))
    page.click("#upload-submit")
    page.wait_for_selector("#upload-after [data-outcome='refused']")
    assert "无权" in (page.text_content("#upload-before") or "")
    assert "403" in (page.text_content("#upload-after") or "")


def test_stale_lists_warn_and_verdicts_are_indeterminate(
    browser: Browser, seen: Seen, tmp_path: Path
) -> None:
    """A service whose lists passed their next update a day ago."""
    then = datetime.now(UTC).replace(microsecond=0) - timedelta(days=31)
    with _serve(tmp_path, then) as stale:
        page = _new_page(browser, seen)
        try:
            open_page(page, stale, "#trust")
            page.wait_for_selector("#trust-table tbody tr.stale")
            states = page.eval_on_selector_all(
                "#trust-table [data-state]", "els => els.map(e => e.dataset.state)"
            )
            assert states == ["stale", "stale"]
            assert (page.text_content(f"tr[data-jurisdiction='{SZ}'] .countdown") or "").startswith(
                "已过"
            )
            shot(page, "11-trust-lists-stale.png")
            page.goto(stale.url + "/#check")
            wait_until(page, "document.querySelectorAll('#relying option').length >= 2")
            licence = stale.sample("licence-sz-business.jws")
            got = verify(page, [licence], relying=ZS, key=stale.key("counter"))
            assert got == "INDETERMINATE"
            assert page.get_attribute(".badge-sub", "data-sub-indication") == "TRY_LATER"
            shot(page, "12-licence-indeterminate-stale.png")
        finally:
            page.context.close()
        _assert_clean(seen, stale.url)


# -- small screens, the page's own words, fonts, API documentation (issue 16) -----------------

# What a clerk must be able to reach on each view; hidden file inputs are reached through their
# labels (.drop-label, .file-button), which are checked instead.
CHECK_CONTROLS = (
    "#nav-check", "#nav-trust", "#api-key", "#lang-toggle", ".drop-label", "#token-text",
    "#kind", "#relying", "#verify-btn", "#clear-btn",
)  # fmt: skip
TRUST_CONTROLS = (
    "#nav-trust", "#api-key", "#lang-toggle", ".history-btn", "#diff-from",
    "#diff-to", "#diff-form button", "#upload-jurisdiction", ".file-button", "#upload-check",
    "#upload-submit",
)  # fmt: skip

# Every element matched, rendered, that sticks out sideways of the viewport or of a box that
# cuts or scrolls its content (overflow other than visible), and every box scrolling sideways.
_CLIPPED_JS = """selectors => {
  const width = window.innerWidth, out = [], missing = [];
  for (const sel of selectors) {
    const els = Array.from(document.querySelectorAll(sel)).filter(e => e.getClientRects().length);
    if (!els.length) missing.push(sel);
    for (const e of els) {
      const r = e.getBoundingClientRect();
      if (r.left < 0 || r.right > width + 0.5) out.push(sel + " " + r.left + ".." + r.right);
      for (let a = e.parentElement; a; a = a.parentElement) {
        if (getComputedStyle(a).overflowX === "visible") continue;
        const box = a.getBoundingClientRect();
        if (r.left < box.left - 0.5 || r.right > box.right + 0.5) out.push(sel + " cut");
      }
    }
  }
  const sideways = Array.from(document.querySelectorAll("main *"))
    .filter(e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1
      && ["auto", "scroll"].includes(getComputedStyle(e).overflowX))
    .map(e => e.id || e.className);
  return {out, missing, sideways, scroll: document.documentElement.scrollWidth, width};
}"""


def assert_nothing_clipped(page: Page, selectors: tuple[str, ...], where: str) -> None:
    got = page.evaluate(_CLIPPED_JS, list(selectors))
    assert got["missing"] == [], f"{where}: not rendered"
    assert got["out"] == [], f"{where}: clipped at {got['width']}px"
    assert got["scroll"] <= got["width"], f"{where}: horizontal scrolling at {got['width']}px"
    assert got["sideways"] == [], f"{where}: a box scrolls sideways at {got['width']}px"


@pytest.mark.parametrize("width", [1280, 360])
def test_nothing_clipped_and_no_sideways_scrolling(
    browser: Browser, demo: Demo, seen: Seen, tmp_path: Path, width: int
) -> None:
    page = _new_page(browser, seen, viewport={"width": width, "height": 800})
    try:
        open_page(page, demo)
        assert_nothing_clipped(page, CHECK_CONTROLS, "check view")
        licence = demo.sample("licence-sz-business.jws")
        assert verify(page, [licence], relying=ZS, key=demo.key("counter")) == "PASSED"
        assert_nothing_clipped(page, (*CHECK_CONTROLS, ".badge", "#download-receipt"), "verdict")

        # The trust view with a second version, its history, a diff and an upload's preview.
        new_list, _ = rotated_list(demo.world)
        page.goto(demo.url + "/#trust")
        page.wait_for_selector("#trust-table tbody tr[data-jurisdiction]")
        upload = tmp_path / "next.json"
        upload.write_bytes(new_list)
        page.fill("#api-key", demo.key("admin"))
        page.select_option("#upload-jurisdiction", SZ)
        page.set_input_files("#upload-file", str(upload))
        page.click("#upload-check")
        page.wait_for_selector("#upload-before [data-acceptable]")
        page.click(f".history-btn[data-jurisdiction='{ZS}']")
        page.wait_for_selector("#history tbody tr[data-sequence]")
        assert_nothing_clipped(page, TRUST_CONTROLS, "trust view")
        cards = page.eval_on_selector_all(
            "#trust-table tbody tr, #history tbody tr",
            "els => els.map(e => getComputedStyle(e).display)",
        )
        assert set(cards) == ({"block"} if width == 360 else {"table-row"}), cards
        shot(page, f"13-trust-view-{width}.png")
        if width == 360:
            labels = page.eval_on_selector_all(
                "#trust-table tbody td[data-label]",
                "els => els.map(e => getComputedStyle(e, '::before').content)",
            )
            assert '"序号"' in labels and '"状态"' in labels  # each card labels its fields
    finally:
        page.context.close()
    _assert_clean(seen, demo.url)


def test_the_file_input_speaks_the_page_language(page: Page, demo: Demo, tmp_path: Path) -> None:
    """The native input says "Choose File" whatever the page's language; the page shows its own
    button instead, and the real input stays in the Tab order for keyboards and screen readers."""
    open_page(page, demo, "#trust")
    page.wait_for_selector("#trust-table tbody tr[data-jurisdiction]")
    assert page.text_content("#upload .file-button") == "选择文件"
    assert page.text_content("#upload-file-name") == "未选择文件"
    native = page.query_selector("#upload-file").bounding_box()  # type: ignore[union-attr]
    assert native is not None and native["width"] <= 1 and native["height"] <= 1
    tab_to(page, "upload-file")
    outline = page.evaluate(
        "getComputedStyle(document.querySelector('#upload .file-button')).outlineStyle"
    )
    assert outline == "solid"  # the focus shows on the visible button
    chosen = tmp_path / "深圳-next.json"
    chosen.write_bytes(demo.world.signed_lists[SZ].to_json())
    page.set_input_files("#upload-file", str(chosen))
    assert page.text_content("#upload-file-name") == "深圳-next.json"
    page.click("#lang-toggle")
    assert page.text_content("#upload .file-button") == "Choose file"
    assert page.text_content("#upload-file-name") == "深圳-next.json"
    labelled = page.evaluate(
        "document.querySelector('#upload-file').labels.length + ' ' + "
        "document.querySelector('#upload-file').getAttribute('aria-labelledby')"
    )
    assert labelled == "1 upload-file-label"
    page.click("#lang-toggle")


def test_refusals_in_the_chinese_page_are_worded_in_chinese(
    page: Page, demo: Demo, tmp_path: Path
) -> None:
    """The store words its refusals in English only: the Chinese page leads with its own words
    and shows the service's English text marked as such."""
    open_page(page, demo, "#trust")
    page.fill("#api-key", demo.key("admin"))
    page.select_option("#upload-jurisdiction", ZS)
    wrong = tmp_path / "sz-as-zs.json"
    wrong.write_bytes(demo.world.signed_lists[SZ].to_json())
    page.set_input_files("#upload-file", str(wrong))
    page.click("#upload-check")
    page.wait_for_selector("#upload-before [data-acceptable='false']")
    refusal = page.text_content("#upload-before .refusal") or ""
    assert refusal.startswith("列表所属城市与上传的城市不一致"), refusal
    assert "英文原文：" in refusal and "jurisdiction_mismatch" in refusal
    english = page.text_content("#upload-before .refusal [lang='en']") or ""
    assert english and english in refusal and not any("\u4e00" <= c <= "\u9fff" for c in english)
    shot(page, "14-refusal-zh.png")
    page.click("#lang-toggle")
    refusal_en = page.text_content("#upload-before .refusal") or ""
    assert english in refusal_en and "英文原文" not in refusal_en and "列表所属" not in refusal_en
    page.click("#lang-toggle")

    # The rotation warning of a diff comes from the service in English, marked the same way.
    new_list, _ = rotated_list(demo.world)
    rotated = tmp_path / "rotated.json"
    rotated.write_bytes(new_list)
    page.select_option("#upload-jurisdiction", SZ)
    page.set_input_files("#upload-file", str(rotated))
    page.click("#upload-check")
    # (acceptable or not: an earlier test may have uploaded a list like it already)
    page.wait_for_selector("#upload-before .diff-warning-line")
    warnings = texts(page, "#upload-before .diff-warning-line")
    assert warnings and all(w.strip().startswith("英文原文：") for w in warnings), warnings


def test_a_missing_chinese_font_is_named(
    browser: Browser, demo: Demo, seen: Seen, tmp_path: Path
) -> None:
    """With fonts-noto-cjk the note stays hidden; in a Chromium whose fontconfig knows only
    DejaVu (no CJK glyphs) every Chinese character is a box, and the page says so in English."""
    page = _new_page(browser, seen)
    try:
        open_page(page, demo)
        assert page.is_hidden("#font-note")
    finally:
        page.context.close()

    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    if not dejavu.is_dir():
        pytest.skip("DejaVu fonts are not installed: no font set without CJK to test with")
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>{dejavu}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    boxes = browser.browser_type.launch(
        executable_path=chromium_binary(), args=FLAGS, headless=True, env=env
    )
    try:
        page = _new_page(boxes, seen)
        open_page(page, demo)
        page.wait_for_selector("#font-note:not([hidden])")
        note = page.text_content("#font-note") or ""
        assert "No Chinese font" in note and "fonts-noto-cjk" in note
        assert page.get_attribute("#font-note [lang='en']", "lang") == "en"
        shot(page, "15-no-cjk-font.png", full_page=False)
    finally:
        boxes.close()
    _assert_clean(seen, demo.url)


@pytest.mark.parametrize(
    ("path", "rendered"), [("/docs", ".swagger-ui .info"), ("/redoc", ".api-content")]
)
def test_api_documentation_loads_nothing_from_elsewhere(
    browser: Browser, demo: Demo, seen: Seen, path: str, rendered: str
) -> None:
    page = _new_page(browser, seen)
    blocked: list[str] = []
    page.on(
        "requestfailed",
        lambda r: blocked.append(r.url) if r.failure == "csp" else None,
    )
    try:
        page.goto(demo.url + path)
        page.wait_for_selector(rendered)
        page.wait_for_load_state("networkidle")
        assert any(u.endswith("/openapi.json") for u in seen.requests)
        shot(page, f"16-api-docs{path.replace('/', '-')}.png", full_page=False)
    finally:
        page.context.close()
    # ReDoc's sidebar asks Redocly's CDN for a logo: the Content-Security-Policy of /redoc makes
    # Chromium refuse it before anything leaves the browser. That attempt, and its console
    # error, are the only ones allowed; every request that went out went to this service.
    refused = [e for e in seen.errors if "violates the following Content Security Policy" in e]
    assert all("https://cdn.redoc.ly/redoc/logo-mini.svg" in e for e in refused), refused
    assert len(refused) == len(blocked), (blocked, seen.requests)
    seen.errors[:] = [e for e in seen.errors if e not in refused]
    seen.requests[:] = [u for u in seen.requests if u not in blocked]
    _assert_clean(seen, demo.url)
