"""The programme's side of the gateway: tokens per role, purposes, retries, problems.

A programme system holds one client per role (consumer, partner, auditor, admin), each
with its own credentials. Every call names its purpose. Transient answers (429, 502, 503,
504, a 409 saying the same request is still in progress, or no answer) are retried with
backoff, honouring ``Retry-After``; POSTs that change
anything carry an ``Idempotency-Key`` where the gateway takes one, so a retry never opens
a second account or pays twice.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from httpx_aiohttp import AiohttpTransport
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from program.identifiers import is_ascii_digits

T = TypeVar("T")

TRANSIENT = {429, 502, 503, 504}
# Conflicts that say "the same request is still being handled: ask again shortly".
IN_PROGRESS = {"idempotency-in-progress", "message-in-progress"}


class GatewayProblem(Exception):
    """The gateway refused or failed a call; carries the problem's type and status."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        # A problem document's type, or the token endpoint's RFC 6749 error code.
        self.slug = (
            str(problem.get("type", "")).rsplit("/", 1)[-1]
            or str(problem.get("error", ""))
            or f"http-{status}"
        )
        detail = problem.get("detail", problem.get("error_description", ""))
        super().__init__(f"HTTP {status} {self.slug}: {detail}")

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT or self.slug in IN_PROGRESS


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError) or (
        isinstance(exc, GatewayProblem) and exc.transient
    )


@dataclass
class Credentials:
    client_id: str
    client_secret: str


def load_credentials(path: Path) -> dict[str, Credentials]:
    """The per-role clients of a sandbox gateway (``var/sandbox-clients.json``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(c["role"]): Credentials(str(c["client_id"]), str(c["client_secret"]))
            for c in data["clients"]
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: cannot read client credentials ({exc})") from None


@dataclass
class GatewayClient:
    base_url: str
    credentials: dict[str, Credentials]
    concurrency: int = 16
    give_up_seconds: float = 180.0
    calls: int = 0
    retries: int = 0
    _http: httpx.AsyncClient | None = None
    retry_causes: Counter[str] = field(default_factory=Counter)
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _token_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def __aenter__(self) -> GatewayClient:
        # httpx's interface over aiohttp's connections: several times cheaper per call.
        limits = httpx.Limits(max_connections=self.concurrency * 2)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(120.0),
            transport=AiohttpTransport(limits=limits),
            limits=limits,
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        assert self._http is not None, "use the client as an async context manager"
        return self._http

    async def _token(self, role: str) -> str:
        cached = self._tokens.get(role)
        if cached and cached[1] > time.monotonic() + 30:
            return cached[0]
        async with self._token_lock:  # one token request per role, not one per caller
            cached = self._tokens.get(role)
            if cached and cached[1] > time.monotonic() + 30:
                return cached[0]
            return await self._new_token(role)

    async def _new_token(self, role: str) -> str:
        creds = self.credentials.get(role)
        if creds is None:
            raise ValueError(f"no credentials for the {role} role")
        response = await self.http.post(
            "/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        )
        if response.status_code != 200:
            raise GatewayProblem(response.status_code, _problem(response))
        body = response.json()
        self._tokens[role] = (body["access_token"], time.monotonic() + body["expires_in"])
        return str(body["access_token"])

    async def call(
        self,
        role: str,
        method: str,
        path: str,
        *,
        purpose: str | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """One call; the decoded JSON answer, or :class:`GatewayProblem`."""
        previous = ""
        async for attempt in AsyncRetrying(
            # A partner cut off by the gateway's breaker comes back after Retry-After: keep
            # asking for a while rather than drop the household.
            stop=stop_after_delay(self.give_up_seconds) if retry else stop_after_attempt(1),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0),
            retry=retry_if_exception(_retryable),
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self.retries += 1
                    self.retry_causes[previous] += 1
                try:
                    return await self._once(
                        role, method, path, purpose, json_body, content, content_type, params,
                        idempotency_key, headers or {},
                    )  # fmt: skip
                except Exception as exc:
                    previous = exc.slug if isinstance(exc, GatewayProblem) else type(exc).__name__
                    raise
        raise AssertionError("unreachable")

    async def _once(
        self,
        role: str,
        method: str,
        path: str,
        purpose: str | None,
        json_body: Any,
        content: bytes | None,
        content_type: str | None,
        params: dict[str, Any] | None,
        idempotency_key: str | None,
        extra: dict[str, str],
    ) -> dict[str, Any]:
        headers = {**extra, "Authorization": f"Bearer {await self._token(role)}"}
        if purpose:
            headers["X-Purpose"] = purpose
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if content_type:
            headers["Content-Type"] = content_type
        if json_body is not None:  # the bytes httpx would send for json=, UTF-8 and compact
            content = orjson.dumps(json_body)
            headers.setdefault("Content-Type", "application/json")
        self.calls += 1
        response = await self.http.request(
            method, path, headers=headers, content=content, params=params
        )
        if response.status_code >= 400:
            problem = GatewayProblem(response.status_code, _problem(response))
            if problem.transient:
                retry_after = response.headers.get("retry-after", "")
                if is_ascii_digits(retry_after):  # the gateway knows when to come back
                    await asyncio.sleep(min(int(retry_after), 10))
            raise problem
        return dict(orjson.loads(response.content))


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"status": response.status_code}
    return body if isinstance(body, dict) else {"status": response.status_code}


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the programme's ``main`` to its end and return its result, on uvloop's event
    loop where it is installed (not on Windows: asyncio's own there), as the gateway's
    processes run: a national operation's hundreds of thousands of calls spend a good
    part of the client's time in the loop and its transports.

    The garbage collector's youngest generation is examined after 10,000 container
    allocations instead of CPython's 700, as in the gateway's processes
    (``gateway.core.runtime``): the programme builds a dict per household and record, and
    at the default pace spends about a tenth of its time in collections that free almost
    nothing."""
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
