"""Test helpers that build real things: loopback servers and contract validation."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.types import ASGIApp

from adapters.sandbox.server import Server

_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port for a server in another process. The OS may hand a just-released
    port out again, so this process never returns the same one twice."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def bound_socket() -> socket.socket:
    """A socket already bound to a free loopback port: no window for another server."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def start_server(
    app: ASGIApp, sock: socket.socket | None = None
) -> tuple[Server, asyncio.Task[None], str]:
    """uvicorn serving ``app`` on a pre-bound loopback socket (``sock``, when the app must
    know its address before it starts), started; and its URL."""
    sock = sock or bound_socket()
    port = int(sock.getsockname()[1])
    server = Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return server, task, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def serve_on_loopback(app: ASGIApp) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yield its base URL."""
    server, task, url = await start_server(app)
    try:
        yield url
    finally:
        server.should_exit = True
        await task


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Contract:
    """An OpenAPI 3.1 document that checks real responses against itself."""

    def __init__(self, path: Path) -> None:
        self.spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.uri = f"urn:contract:{path.name}"
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(self.uri, resource)

    def check(self, template: str, response: httpx.Response) -> None:
        method = response.request.method.lower()
        operation = self.spec["paths"][template][method]
        status = str(response.status_code)
        assert status in operation["responses"], f"{status} not declared for {method} {template}"
        declared = operation["responses"][status]
        if "$ref" in declared:
            declared = self.spec["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
        media = response.headers["content-type"].split(";")[0]
        assert media in declared.get("content", {}), f"{media} not declared for {status}"
        if "json" not in media:
            return
        pointer = _pointer("paths", template, method, "responses", status, "content", media)
        if "$ref" in operation["responses"][status]:
            name = operation["responses"][status]["$ref"].rsplit("/", 1)[1]
            pointer = _pointer("components", "responses", name, "content", media)
        validator = Draft202012Validator(
            {"$ref": f"{self.uri}#/{pointer}/schema"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        errors = [
            f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())
        ]
        assert not errors, errors


def is_problem(response: httpx.Response, *statuses: int) -> bool:
    """An RFC 9457 problem answer with one of these statuses."""
    return (
        response.status_code in statuses
        and response.headers["content-type"].startswith("application/problem+json")
        and "type" in response.json()
    )
