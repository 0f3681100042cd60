"""Serving the four mock agencies on loopback ports, alone or beside the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from adapters.bn.mock import create_app as bn_app
from adapters.minsa_his.mock import create_app as his_app
from adapters.osiptel.mock import create_app as osiptel_app
from adapters.reniec.mock import create_app as reniec_app
from adapters.sandbox.settings import PARTNERS, SandboxSettings

_FACTORIES: dict[str, Callable[[SandboxSettings], ASGIApp]] = {
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
        return f"http://{self.host}:{self.port}"

    @property
    def entry_url(self) -> str:
        return self.base_url + _ENTRY_PATHS[self.partner]


def endpoints(settings: SandboxSettings, only: Sequence[str] = PARTNERS) -> list[MockEndpoint]:
    return [
        MockEndpoint(name, settings.host, int(getattr(settings, f"{name}_port"))) for name in only
    ]


def mock_servers(settings: SandboxSettings, only: Sequence[str] = PARTNERS) -> list[Server]:
    servers: list[Server] = []
    for endpoint in endpoints(settings, only):
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
