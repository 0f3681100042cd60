"""The gateway wired to the mocks on loopback ports (the broker tests' fixtures)."""

from tests.gateway.broker.conftest import consumer, mocks, settings

__all__ = ["consumer", "mocks", "settings"]
