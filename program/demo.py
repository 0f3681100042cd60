"""``juntos-gateway demo``: the DU 095-2020 operation against a gateway, with a live
progress display, a summary in the terminal and an HTML report.

Against a running gateway (``--gateway URL``) it uses the clients in a credentials file
(by default the sandbox's ``var/sandbox-clients.json``). Without a URL it starts, in this
process, a sandbox gateway on a fresh SQLite file and the four partner mocks on free
ports, sized to ``--households``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from adapters.sandbox.faults import FaultConfig
from adapters.sandbox.population import Population
from adapters.sandbox.settings import PartnerFaults, SandboxSettings
from program.client import GatewayClient, load_credentials
from program.operation import Operation, Results
from program.registers import SandboxRegisters
from program.report import steps_table, summary_table, write_html

FAULT_PROFILES: dict[str, FaultConfig] = {
    "none": FaultConfig(),
    # Partners fail 30% of calls: errors, timeouts, malformed bodies (a bad day).
    "flaky": FaultConfig(
        error_rate=0.23, timeout_rate=0.05, malformed_rate=0.02, timeout_seconds=30.0, seed=7
    ),
    "slow": FaultConfig(latency_ms=40.0, jitter_ms=40.0, seed=7),
}


class LiveProgress:
    """One line per step: a bar when the total is known, a counter otherwise."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description:<55}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}

    def start(self, step: str, total: int | None) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(step, total=total)
        else:
            self.progress.update(self.tasks[step], total=total)

    def advance(self, step: str, n: int = 1, total: int | None = None) -> None:
        if step not in self.tasks:
            self.start(step, total)
        self.progress.advance(self.tasks[step], n)

    def finish(self, step: str, summary: str) -> None:
        if step not in self.tasks:
            self.start(step, 0)
        task = self.tasks[step]
        done = self.progress.tasks[self.progress.task_ids.index(task)].completed
        self.progress.update(
            task, description=f"{step}: {summary}", total=done or 1, completed=done or 1
        )


class QuietProgress:
    """Progress for scripts and benchmarks: one line per finished step."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo

    def start(self, step: str, total: int | None) -> None:
        pass

    def advance(self, step: str, n: int = 1, total: int | None = None) -> None:
        pass

    def finish(self, step: str, summary: str) -> None:
        if self.echo:
            print(f"  {step}: {summary}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sandbox:
    url: str
    credentials: Path
    population: Population
    ubigeo_file: Path | None
    partner_urls: dict[str, str]


@contextlib.asynccontextmanager
async def in_process_gateway(
    households: int, seed: int, faults: str, workdir: Path, log_level: str = "WARNING"
) -> AsyncIterator[Sandbox]:
    """A sandbox gateway on a fresh SQLite file and the four mocks, in this event loop."""
    import uvicorn

    from adapters.sandbox.server import Server, endpoints, mock_servers
    from gateway import migrate
    from gateway.app import create_app
    from gateway.cli import _catalog, seed_sandbox
    from gateway.settings import Settings

    workdir.mkdir(parents=True, exist_ok=True)
    profile = FAULT_PROFILES[faults]
    sandbox = SandboxSettings(
        seed=seed,
        size=households,
        reniec_port=free_port(),
        osiptel_port=free_port(),
        bn_port=free_port(),
        minsa_his_port=free_port(),
        faults=PartnerFaults(reniec=profile, osiptel=profile, bn=profile, minsa_his=profile),
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
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    with contextlib.redirect_stdout(io.StringIO()):  # the clients go to the file only
        await asyncio.to_thread(seed_sandbox, settings, _catalog(settings))
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
            workdir / "sandbox-clients.json",
            sandbox.population,
            sandbox.ubigeo_file,
            {e.partner: e.base_url for e in endpoints(sandbox)},
        )
    finally:
        for s in servers:
            s.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


async def play(
    url: str,
    credentials: Path,
    registers: SandboxRegisters,
    progress: LiveProgress | QuietProgress,
    *,
    seed: int,
    limit: int | None,
    concurrency: int,
    as_of: date,
) -> Results:
    async with GatewayClient(url, load_credentials(credentials), concurrency) as gw:
        operation = Operation(
            gw, registers, progress, as_of=as_of, seed=seed, limit=limit, concurrency=concurrency
        )
        return await operation.run()


def run_demo(
    *,
    households: int,
    seed: int,
    faults: str,
    gateway_url: str | None,
    credentials: Path,
    report: Path,
    concurrency: int,
    as_of: date,
    console: Console | None = None,
) -> Results:
    console = console or Console()
    live = LiveProgress(console)

    async def main() -> Results:
        if gateway_url:
            sandbox = SandboxSettings()  # the running mocks' population (same variables)
            registers = SandboxRegisters(sandbox.population, sandbox.ubigeo_file)
            console.print(f"Playing DU 095-2020 against {gateway_url} (up to {households:,})")
            with live.progress:
                return await play(
                    gateway_url,
                    credentials,
                    registers,
                    live,
                    seed=seed,
                    limit=households,
                    concurrency=concurrency,
                    as_of=as_of,
                )
        with tempfile.TemporaryDirectory(prefix="juntos-demo-") as tmp:
            async with in_process_gateway(households, seed, faults, Path(tmp)) as box:
                console.print(
                    f"Sandbox gateway at {box.url} with {households:,} synthetic households "
                    f"(partner faults: {faults})"
                )
                registers = SandboxRegisters(box.population, box.ubigeo_file)
                with live.progress:
                    return await play(
                        box.url,
                        box.credentials,
                        registers,
                        live,
                        seed=seed,
                        limit=None,
                        concurrency=concurrency,
                        as_of=as_of,
                    )

    results = asyncio.run(main())
    console.print(summary_table(results))
    console.print(steps_table(results))
    written = write_html(results, report, title_note=f"Seed {seed}, faults {faults}.")
    console.print(f"Report written to [bold]{written.resolve()}[/bold]")
    return results
