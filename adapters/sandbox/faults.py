"""Faults on demand for the mock agencies: latency, errors, silence, garbage.

Each mock wraps its app in a :class:`FaultInjector`. Every request (admin calls aside)
draws once from a seeded generator, so a fault sequence is reproducible from its seed.
The configuration is set from settings at start and replaced at run time with
``PUT /_admin/faults``; ``GET /_admin/faults`` shows it with counts of what was injected.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.smsc.faults import SmscFaults

ADMIN_PATH = "/_admin/faults"


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0, le=60_000, description="Added to every answer.")
    jitter_ms: float = Field(default=0.0, ge=0, le=60_000, description="Uniform extra delay.")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Share answered 5xx/fault.")
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="Share never answered.")
    malformed_rate: float = Field(default=0.0, ge=0, le=1, description="Share with broken body.")
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    seed: int = 0

    def total_rate(self) -> float:
        return self.error_rate + self.timeout_rate + self.malformed_rate


def corrupt(body: bytes) -> bytes:
    """A body that its media type's parser must reject: cut mid-structure."""
    cut = body[: max(1, len(body) // 2)]
    return cut + b"\x00<"


class FaultInjector:
    def __init__(
        self,
        app: ASGIApp,
        config: FaultConfig,
        error_response: Callable[[], Response],
    ) -> None:
        if config.total_rate() > 1:
            raise ValueError("error_rate + timeout_rate + malformed_rate must not exceed 1")
        self.app = app
        self.error_response = error_response
        self.counts: Counter[str] = Counter()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self.counts.clear()

    def _admin_state(self) -> bytes:
        return json.dumps(
            {"config": self.config.model_dump(), "counts": dict(self.counts)}
        ).encode()

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "PUT":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            try:
                config = FaultConfig.model_validate_json(body or b"{}")
                if config.total_rate() > 1:
                    raise ValueError("rates add up to more than 1")
            except (ValidationError, ValueError) as exc:
                detail = str(exc).splitlines()[0]
                response = Response(
                    json.dumps({"title": "invalid fault configuration", "detail": detail}),
                    status_code=422,
                    media_type="application/problem+json",
                )
                await response(scope, receive, send)
                return
            self.configure(config)
        await Response(self._admin_state(), media_type="application/json")(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        cfg = self.config
        draw = self._rng.random()
        jitter = self._rng.random() * cfg.jitter_ms
        self.counts["requests"] += 1
        delay = (cfg.latency_ms + jitter) / 1000
        if delay:
            self.counts["delayed"] += 1
            await asyncio.sleep(delay)
        if draw < cfg.timeout_rate:
            # Silence: the caller's own timeout is expected to fire first. Should it not,
            # an error still ends the exchange rather than leaving it undefined.
            self.counts["timeouts"] += 1
            await asyncio.sleep(cfg.timeout_seconds)
            await self.error_response()(scope, receive, send)
            return
        if draw < cfg.timeout_rate + cfg.error_rate:
            self.counts["errors"] += 1
            await self.error_response()(scope, receive, send)
            return
        if draw < cfg.total_rate():
            self.counts["malformed"] += 1
            await self._malformed(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        body = b""

        async def capture(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")

        await self.app(scope, receive, capture)
        assert start is not None
        broken = corrupt(body)
        headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(broken)).encode()))
        await send({**start, "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": broken})


#: Named fault profiles for the whole sandbox (``juntos-gateway demo --faults``).
FAULT_PROFILES: dict[str, FaultConfig] = {
    "none": FaultConfig(),
    # Partners fail 30% of calls: errors, timeouts, malformed bodies (a bad day).
    "flaky": FaultConfig(
        error_rate=0.23, timeout_rate=0.05, malformed_rate=0.02, timeout_seconds=30.0, seed=7
    ),
    "slow": FaultConfig(latency_ms=40.0, jitter_ms=40.0, seed=7),
}

#: The same profiles as the SMS centre shows them: a bad day throttles and cuts binds,
#: and some messages end undelivered or expired; a slow one returns receipts late.
SMSC_FAULT_PROFILES: dict[str, SmscFaults] = {
    "none": SmscFaults(),
    "flaky": SmscFaults(
        throttle_rate=0.2, drop_rate=0.02, undelivered_rate=0.02, expired_rate=0.01, seed=7
    ),
    "slow": SmscFaults(receipt_delay_ms=2_000.0, seed=7),
}
