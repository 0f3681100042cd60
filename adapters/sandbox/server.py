"""Serving the mock agencies on loopback ports, alone or beside the gateway.

The SMS centre speaks SMPP, not HTTP: its server listens for SMPP on ``smsc_port`` and
serves its admin API (faults, replies from phones) over HTTP on ``smsc_admin_port``;
its endpoint's address is ``smpp://host:port``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from adapters.bn.mock import create_app as bn_app
from adapters.minsa_his.mock import create_app as his_app
from adapters.osiptel.mock import create_app as osiptel_app
from adapters.reniec.mock import create_app as reniec_app
from adapters.sandbox.settings import PARTNERS, SandboxSettings
from adapters.smsc.mock import SmscMock

_FACTORIES: dict[str, Callable[[SandboxSettings], ASGIApp]] = {  # HTTP agencies
    "reniec": reniec_app,
    "osiptel": osiptel_app,
    "bn": bn_app,
    "minsa_his": his_app,
}
_ENTRY_PATHS = {
    "reniec": "/ws/ConsultaDni?wsdl",
    "osiptel": "/v1/lineas",
    "bn": "/cuentas/v1/aperturas",
    "minsa_his": "/his/v1/atenciones",
    "smsc": "",
}


class Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`serve_all`, which stops them all."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class MockEndpoint:
    partner: str
    host: str
    port: int

    @property
    def base_url(self) -> str:
        scheme = "smpp" if self.partner == "smsc" else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def entry_url(self) -> str:
        return self.base_url + _ENTRY_PATHS[self.partner]


def endpoints(settings: SandboxSettings, only: Sequence[str] = PARTNERS) -> list[MockEndpoint]:
    return [
        MockEndpoint(name, settings.host, int(getattr(settings, f"{name}_port"))) for name in only
    ]


class SmscServer(Server):
    """The SMS centre: SMPP on its own port beside the admin API that uvicorn serves."""

    def __init__(self, config: uvicorn.Config, smsc: SmscMock, host: str, port: int) -> None:
        super().__init__(config)
        self.smsc = smsc
        self.smpp_address = (host, port)

    async def serve(self, sockets: list[Any] | None = None) -> None:
        listener = await self.smsc.start(*self.smpp_address)
        try:
            await super().serve(sockets)
        finally:
            listener.close()
            await self.smsc.stop()


def smsc_admin_url(settings: SandboxSettings) -> str:
    """The SMSC mock's admin API (faults, replies from phones)."""
    return f"http://{settings.host}:{settings.smsc_admin_port}"


def smsc_mock(settings: SandboxSettings) -> SmscMock:
    return SmscMock(settings.smsc_system_id, settings.smsc_password, settings.faults.smsc)


def mock_servers(settings: SandboxSettings, only: Sequence[str] = PARTNERS) -> list[Server]:
    servers: list[Server] = []
    for endpoint in endpoints(settings, only):
        if endpoint.partner == "smsc":
            smsc = smsc_mock(settings)
            config = uvicorn.Config(
                smsc.admin_app(),
                host=endpoint.host,
                port=settings.smsc_admin_port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
            servers.append(SmscServer(config, smsc, endpoint.host, endpoint.port))
            continue
        config = uvicorn.Config(
            _FACTORIES[endpoint.partner](settings),
            host=endpoint.host,
            port=endpoint.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        servers.append(Server(config))
    return servers


async def serve_all(servers: Sequence[Server]) -> None:
    """Run servers side by side in one event loop; SIGINT or SIGTERM stops every one."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
