"""A whole sandbox in this event loop: a gateway on a fresh SQLite file, one client per
role, the four partner mocks on free ports, and the programme's register files.

Used by ``juntos-gateway demo`` without ``--gateway``, by the programme's end-to-end
tests and by the benchmarks. It lives with the CLI because it starts the gateway; the
programme only receives the URL, the credentials file and the register files.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from adapters.sandbox.faults import FAULT_PROFILES, SMSC_FAULT_PROFILES
from adapters.sandbox.population import Population
from adapters.sandbox.registers import write_registers
from adapters.sandbox.settings import PartnerFaults, SandboxSettings
from gateway import migrate
from gateway.cli.common import SANDBOX_CLIENTS_FILE, get_catalog
from gateway.cli.serve import seed_sandbox
from gateway.settings import Settings


def free_port() -> int:
    """A loopback TCP port free at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sandbox:
    """A running in-process sandbox. ``credentials`` is the clients file (one client per
    role), ``registers`` the directory of the programme's ``rnh.csv`` and
    ``districts.csv``; ``population`` is for tests that check outcomes against it."""

    url: str
    credentials: Path
    registers: Path
    population: Population
    partner_urls: dict[str, str]


@contextlib.asynccontextmanager
async def in_process_gateway(
    households: int, seed: int, faults: str, workdir: Path, log_level: str = "WARNING"
) -> AsyncIterator[Sandbox]:
    """A sandbox gateway on a fresh SQLite file in ``workdir`` and the mocks (the four
    agencies and the SMS centre) with ``households`` synthetic households and the fault
    profile ``faults`` (a key of :data:`adapters.sandbox.faults.FAULT_PROFILES`), in this
    event loop. The process's log lines are set to ``log_level`` (console format): the
    gateway shares the caller's output."""
    import uvicorn

    from adapters.sandbox.server import Server, endpoints, mock_servers
    from gateway.app import create_app
    from gateway.core.logging import configure_logging

    configure_logging(log_level, json=False)
    workdir.mkdir(parents=True, exist_ok=True)
    profile = FAULT_PROFILES[faults]
    sandbox = SandboxSettings(
        seed=seed,
        size=households,
        reniec_port=free_port(),
        osiptel_port=free_port(),
        bn_port=free_port(),
        minsa_his_port=free_port(),
        smsc_port=free_port(),
        smsc_admin_port=free_port(),
        faults=PartnerFaults(
            reniec=profile,
            osiptel=profile,
            bn=profile,
            minsa_his=profile,
            smsc=SMSC_FAULT_PROFILES[faults],
        ),
    )
    settings = Settings(
        env="sandbox",
        database_url=f"sqlite:///{workdir / 'gateway.db'}",
        var_dir=workdir,
        exchanges_poll_seconds=0.2,
        log_level=log_level,
    )
    for endpoint in endpoints(sandbox):
        partner = getattr(settings.partners, endpoint.partner)
        partner.base_url = endpoint.base_url
        # The mocks answer on loopback in milliseconds: give up on a lost answer sooner,
        # and probe a cut-off partner again sooner, than across a real network.
        partner.read_timeout_seconds = 3.0
        partner.breaker_cooldown_seconds = 2.0
    # The demo's clock is not the operation's: reminders go out at any hour, and the
    # sandbox SMSC grants a wider window than an operator's default.
    settings.partners.smsc.sending_from_hour = 0
    settings.partners.smsc.sending_to_hour = 24
    settings.partners.smsc.messages_per_second = 2_000.0
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    with contextlib.redirect_stdout(io.StringIO()):  # the clients go to the file only
        await asyncio.to_thread(seed_sandbox, settings, get_catalog(settings))
    registers = await asyncio.to_thread(write_registers, sandbox.population, workdir / "registers")
    port = free_port()
    gateway = Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="error", access_log=False
        )
    )
    servers = [gateway, *mock_servers(sandbox)]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    try:
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                for t in tasks:
                    if t.done() and t.exception():
                        raise RuntimeError("a sandbox server did not start") from t.exception()
                raise RuntimeError("a sandbox server stopped while starting")
            await asyncio.sleep(0.05)
        yield Sandbox(
            f"http://127.0.0.1:{port}",
            workdir / SANDBOX_CLIENTS_FILE,
            registers.directory,
            sandbox.population,
            # the HTTP agencies (the SMS centre speaks SMPP; its admin API is apart)
            {e.partner: e.base_url for e in endpoints(sandbox) if e.partner != "smsc"},
        )
    finally:
        for s in servers:
            s.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
