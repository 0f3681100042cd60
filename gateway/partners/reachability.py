"""Whether a partner's address answers at all, asked now: a TCP connection, no request.

The breaker and the health counters (``gateway.partners.health``) only change when a call
is made; with no traffic, a partner that went down an hour ago still shows ``closed``.
Operators also want to know, at the moment they look, whether the address the gateway
would call accepts a connection. This opens one TCP connection to the host and port of
the partner's base URL and closes it at once: no request is sent, so no partner quota is
spent and nothing is counted in the partner's health or breaker. It says nothing about
whether the partner would answer well, only whether something listens there.

The cause is one of a few fixed phrases (never an exception's text), in the style of
the adapters' ``last_error_cause``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Reach:
    """``ok`` when a TCP connection was accepted within the timeout; ``cause`` why not
    (``connection refused``, ``timed out``, ``name not resolved``, ``unreachable``,
    ``no address``); ``milliseconds`` how long the attempt took."""

    ok: bool
    cause: str | None
    milliseconds: float


async def reach(address: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Reach:
    """Open and close one TCP connection to ``address``'s host and port (its scheme's
    default port when none is given)."""
    started = time.perf_counter()

    def done(cause: str | None) -> Reach:
        return Reach(cause is None, cause, round((time.perf_counter() - started) * 1000, 1))

    if not address:
        return done("no address")
    parts = urlsplit(address)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return done("no address")
    if not parts.hostname:
        return done("no address")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port), timeout=timeout
        )
    except TimeoutError:
        return done("timed out")
    except ConnectionRefusedError:
        return done("connection refused")
    except socket.gaierror:
        return done("name not resolved")
    except OSError:
        return done("unreachable")
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return done(None)


async def reach_all(
    addresses: dict[str, str | None], timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, Reach]:
    """:func:`reach` for each named address, all at once."""
    names = list(addresses)
    found = await asyncio.gather(*(reach(addresses[n], timeout) for n in names))
    return dict(zip(names, found, strict=True))
