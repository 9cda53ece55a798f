"""Pulling signed trust documents from the jurisdictions' publication URLs.

The transport sits behind a small fetcher protocol (python-tuf's ngclient FetcherInterface is the
model): `Fetcher.fetch` answers the bytes at a URL, bounded in size and time, or raises
FetchError with a stable code. `HttpFetcher` is the one over HTTP(S) with httpx. Whatever is
fetched is submitted to this instance's own TrustStore, which verifies it against its pinned
anchors; an adopted document is then published through the Redis fan-out (api/sync/fanout.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from trust_lists.errors import Rollback, TrustStateError
from trust_lists.timeutil import format_time

if TYPE_CHECKING:  # httpx is imported with the first fetcher: no sources, no import
    import httpx

log = logging.getLogger("huren.sync")

# What the sync carries: the three kinds of trust document (not a verifier.DocumentKind).
TrustDocumentKind = Literal["trust_list", "status_list", "catalogue"]

DEFAULT_PULL_INTERVAL = 300.0
DEFAULT_PULL_TIMEOUT = 10.0
DEFAULT_PULL_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_PULL_RETRY_BASE = 1.0


class FetchError(Exception):
    """A fetch that gave no document: `code` is stable (timeout, unreachable, too_large,
    http_<status>), the message says more."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes | None  # None: not modified since `etag`
    etag: str | None


class Fetcher(Protocol):
    async def fetch(self, url: str, *, etag: str | None) -> Fetched:
        """The document at url (or not-modified), within the fetcher's size and time bounds;
        raises FetchError."""
        ...

    async def close(self) -> None: ...


class HttpFetcher:
    """HTTP(S) through httpx: no redirects, a whole-exchange timeout, a byte cap checked on the
    Content-Length and again while reading."""

    def __init__(self, *, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=False,
                headers={"User-Agent": "huren-trust-sync/1"},
            )
        return self._http

    async def fetch(self, url: str, *, etag: str | None) -> Fetched:
        import httpx

        http = self._client()
        headers = {"If-None-Match": etag} if etag else {}
        try:
            async with asyncio.timeout(self.timeout):
                async with http.stream("GET", url, headers=headers) as resp:
                    if resp.status_code == 304:
                        return Fetched(None, etag)
                    if resp.status_code != 200:
                        raise FetchError(f"http_{resp.status_code}")
                    length = resp.headers.get("content-length")
                    if length is not None and length.isdigit() and int(length) > self.max_bytes:
                        raise FetchError("too_large", f"Content-Length {length}")
                    body = bytearray()
                    async for chunk in resp.aiter_bytes():
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise FetchError("too_large", f"more than {self.max_bytes} bytes")
                    new_etag = resp.headers.get("etag")
        except TimeoutError as exc:
            raise FetchError("timeout", f"no complete answer within {self.timeout}s") from exc
        except httpx.HTTPError as exc:
            raise FetchError("unreachable", f"{type(exc).__name__}: {exc}") from exc
        return Fetched(bytes(body), new_etag)

    async def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # diagnostics key, same form as the Redis field
    kind: TrustDocumentKind
    url: str
    jurisdiction: str | None = None


def sources_of(settings: Any) -> tuple[Source, ...]:
    sources: list[Source] = []
    for code, url in sorted((getattr(settings, "sources", None) or {}).items()):
        sources.append(Source(f"trust_list:{code}", "trust_list", str(url), str(code)))
    for url in getattr(settings, "status_sources", None) or []:
        sources.append(Source(f"status_list:{url}", "status_list", str(url)))
    catalogue_url = getattr(settings, "catalogue_source", None)
    if catalogue_url:
        sources.append(Source("catalogue", "catalogue", str(catalogue_url)))
    return tuple(sources)


class Puller:
    """Fetch each source on its interval (backing off after failures), submit what comes, and
    hand what was adopted to `adopted` (which publishes and notifies)."""

    def __init__(
        self,
        settings: Any,
        *,
        submit: Callable[[TrustDocumentKind, bytes, str | None], bool],
        adopted: Callable[[TrustDocumentKind, bytes], Awaitable[None]],
        clock: Callable[[], datetime],
        fetcher: Fetcher | None = None,
    ) -> None:
        self.submit = submit
        self.adopted = adopted
        self.clock = clock
        self.interval = float(getattr(settings, "pull_interval_seconds", DEFAULT_PULL_INTERVAL))
        self.timeout = float(getattr(settings, "pull_timeout_seconds", DEFAULT_PULL_TIMEOUT))
        self.max_bytes = int(getattr(settings, "pull_max_bytes", DEFAULT_PULL_MAX_BYTES))
        self.retry_base = float(
            getattr(settings, "pull_retry_base_seconds", DEFAULT_PULL_RETRY_BASE)
        )
        self.sources = sources_of(settings)
        self._fetcher = fetcher
        self.last_pull: dict[str, dict[str, Any]] = {}
        self.adopted_count = 0
        self._etags: dict[str, str] = {}
        self.stopping = False

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            self._fetcher = HttpFetcher(timeout=self.timeout, max_bytes=self.max_bytes)
        return self._fetcher

    async def pull_once(self) -> None:
        """Fetch every source once (concurrently). Diagnostics in `last_pull`."""
        await asyncio.gather(*(self.pull(s) for s in self.sources))

    async def loop(self, source: Source) -> None:
        failures = 0
        while not self.stopping:
            ok = await self.pull(source)
            failures = 0 if ok else failures + 1
            if ok:
                delay = self.interval * random.uniform(0.9, 1.0)  # noqa: S311
            else:
                backoff = self.retry_base * 2 ** min(failures - 1, 30)
                delay = min(self.interval, backoff) * random.uniform(0.5, 1.0)  # noqa: S311
            await asyncio.sleep(delay)

    async def close(self) -> None:
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            try:
                await fetcher.close()
            except Exception as exc:
                log.debug("closing the pull fetcher: %s", exc)

    async def pull(self, source: Source) -> bool:
        """One fetch-and-submit. True unless the fetch failed or the document was refused
        (an older or unchanged document is not a failure)."""
        entry = self.last_pull.setdefault(
            source.name, {"kind": source.kind, "url": source.url, "failures": 0}
        )
        status, error, detail = "unchanged", None, None
        fetched = Fetched(None, None)
        try:
            fetched = await self.fetcher.fetch(source.url, etag=self._etags.get(source.name))
        except FetchError as exc:
            status, error, detail = "error", exc.code, str(exc)
        except Exception as exc:
            status, error, detail = "error", "fetch_failed", repr(exc)
        data = fetched.body
        if data is not None:
            try:
                adopted = await asyncio.to_thread(
                    self.submit, source.kind, data, source.jurisdiction
                )
                status = "adopted" if adopted else "unchanged"
                if fetched.etag:
                    self._etags[source.name] = fetched.etag
            except Rollback as exc:
                status, error, detail = "ignored", exc.code, str(exc)
                log.debug("pull %s: older document ignored (%s)", source.url, exc)
            except TrustStateError as exc:
                status, error, detail = "refused", exc.code, str(exc)
            except Exception as exc:
                status, error, detail = "refused", "malformed", repr(exc)
            else:
                if adopted:
                    self.adopted_count += 1
                    log.info("pull %s: adopted a new %s", source.url, source.kind)
                    await self.adopted(source.kind, data)
        failed = status in ("error", "refused")
        if failed:
            log.warning("pull %s: %s (%s) %s", source.url, status, error, detail or "")
        entry.update(
            status=status,
            time=format_time(self.clock()),
            error=error,
            detail=detail,
            failures=entry["failures"] + 1 if failed else 0,
        )
        if not failed:
            entry["last_success"] = entry["time"]
        return not failed


__all__ = [
    "DEFAULT_PULL_INTERVAL",
    "DEFAULT_PULL_MAX_BYTES",
    "DEFAULT_PULL_RETRY_BASE",
    "DEFAULT_PULL_TIMEOUT",
    "FetchError",
    "Fetched",
    "Fetcher",
    "HttpFetcher",
    "Puller",
    "Source",
    "TrustDocumentKind",
    "sources_of",
]
