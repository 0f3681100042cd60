"""How request code reaches the running gateway's parts without knowing its shape.

The process's parts (settings, catalog, services) are built once by the composition root,
``gateway.state.AppState``, which imports every feature. A feature that imported it back
to type ``request.app.state.gateway`` would close a package loop through every other
feature. So request code asks for a part by its type instead, as adapters are asked from
the partner registry by their port::

    catalog = components(request).get(Catalog)
    await call.state.get(PaymentService).view(run_id)

``Components`` is the one thing a feature needs to know about the root: a ``get(kind)``
that returns the single part of that type (a class, or a ``typing.Protocol`` the root
registers a part under), and the session factory the request's transaction opens from.
A missing part is a ``LookupError`` at the first request, which the app's start-up
checks (every router is exercised by the contract tests).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


class Components(Protocol):
    """The running gateway as request code sees it."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...

    def get(self, kind: type[T]) -> T:
        """The part of type ``kind``; ``LookupError`` if the gateway holds none."""
        ...


def components(request: Request) -> Components:
    """The gateway serving ``request`` (set on ``app.state.gateway`` at start-up)."""
    found: Components = request.app.state.gateway
    return found


async def components_dependency(request: Request) -> Components:
    """``components`` as a request dependency: a coroutine, so FastAPI calls it in the
    event loop instead of handing a plain function to a worker thread on every request."""
    return components(request)


def component(kind: type[T]) -> Callable[[Request], Coroutine[Any, Any, T]]:
    """A request dependency giving the part of type ``kind``:
    ``Annotated[Catalog, Depends(component(Catalog))]``."""

    async def dependency(request: Request) -> T:
        return components(request).get(kind)

    return dependency
