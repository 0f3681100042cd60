"""A million-row HIS push streams through a real gateway process in bounded memory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from bench.inbound import body, peak_rss_mib
from gateway.settings import Settings
from tests.fixtures.gateway import GetToken
from tests.fixtures.support import free_port

CLI = str(Path(sys.executable).with_name("juntos-gateway"))
ROWS = 1_000_000


async def test_a_million_rows_stream_in_bounded_memory(
    settings: Settings, get_token: GetToken
) -> None:
    token = await get_token(["partner"], ["coresponsibility-verification"])
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_VAR_DIR": str(settings.var_dir),
        "GATEWAY_PORT": str(port),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_EXCHANGES_WORKER": "false",
    }
    server = subprocess.Popen([CLI, "serve", "--no-mocks"], env=env, stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=None) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            before = peak_rss_mib(server.pid)

            async def stream() -> object:
                for block in body(ROWS):
                    yield block

            answer = await http.post(
                f"{url}/v1/inbound/minsa-his/health-records",
                content=stream(),
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Purpose": "coresponsibility-verification",
                    "X-Message-Id": "his-million",
                    "Content-Type": "application/x-ndjson",
                },
            )
        assert answer.status_code == 201, answer.text
        data = answer.json()["data"]
        assert (data["rows_accepted"], data["rows_rejected"]) == (ROWS, 0)
        grew = peak_rss_mib(server.pid) - before
        # The body is about 140 MB; the gateway holds a chunk of rows at a time.
        assert grew < 64, f"peak memory grew by {grew:.0f} MiB"
    finally:
        server.terminate()
        server.wait(timeout=30)
