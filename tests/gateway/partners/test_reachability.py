"""The connection check operators see on the partners' page: a listening address
accepts, a closed port refuses, and nothing else is claimed."""

from __future__ import annotations

import asyncio

from gateway.partners.reachability import reach, reach_all
from tests.fixtures.support import bound_socket


async def test_a_listening_address_accepts_and_a_closed_port_refuses() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), sock=bound_socket())
    port = server.sockets[0].getsockname()[1]
    closed = bound_socket()  # bound, never listening: connections to it are refused
    closed_port = closed.getsockname()[1]
    try:
        found = await reach_all(
            {
                "up": f"http://127.0.0.1:{port}/some/path",
                "down": f"http://127.0.0.1:{closed_port}",
                "none": None,
            }
        )
    finally:
        server.close()
        await server.wait_closed()
        closed.close()
    assert found["up"].ok
    assert found["up"].cause is None
    assert not found["down"].ok
    assert found["down"].cause == "connection refused"
    assert not found["none"].ok
    assert found["none"].cause == "no address"


async def test_an_address_without_a_host_is_no_address() -> None:
    assert (await reach("not a url")).cause == "no address"
    assert (await reach("http://127.0.0.1:99999")).cause == "no address"
