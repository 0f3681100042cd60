"""The registry through which the gateway core finds an adapter for each port.

Adapters are registered explicitly by a wiring function named in settings
(``GATEWAY_ADAPTERS``, default ``adapters.wiring:register``), so the core never imports
a partner module; an alternative wiring (a fake partner, another protocol) is a setting.
The composition root (``gateway.state``) loads that function: this module must not know
the settings, which compose the adapters' settings models, or the adapters that import
this module would import themselves back through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from gateway.partners.health import PartnerHealth
from gateway.partners.ports import RenewableCredential
from gateway.partners.resilience import PartnerGuard

P = TypeVar("P")


class PartnerRegistry:
    def __init__(self, health: PartnerHealth) -> None:
        self.health = health
        self.guards: dict[str, PartnerGuard] = {}
        # Partners whose credential the gateway renews itself, by partner name.
        self.credentials: dict[str, RenewableCredential] = {}
        self._adapters: dict[type[Any], Any] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def register(self, port: type[P], adapter: P) -> None:
        if not isinstance(adapter, port):
            raise TypeError(f"{type(adapter).__name__} does not implement {port.__name__}")
        self._adapters[port] = adapter

    def register_credential(self, adapter: RenewableCredential) -> None:
        if not isinstance(adapter, RenewableCredential):
            raise TypeError(f"{type(adapter).__name__} does not renew its credential")
        self.credentials[adapter.partner] = adapter

    def get(self, port: type[P]) -> P:
        try:
            return cast(P, self._adapters[port])
        except KeyError:
            raise LookupError(f"no adapter registered for {port.__name__}") from None

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(closer)

    async def aclose(self) -> None:
        for closer in reversed(self._closers):
            await closer()
        self._closers.clear()
