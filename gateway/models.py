"""Imports every ORM model so the metadata is complete for migrations and tests."""

from __future__ import annotations


def load_all() -> None:
    import gateway.clients.models  # noqa: F401
    import gateway.keys.models  # noqa: F401
