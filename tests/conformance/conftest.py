"""The conformance tests run on the gateway wired to the four mocks (real HTTP on
loopback ports), as the broker tests do."""

from tests.gateway.broker.conftest import consented, consumer, mocks, settings

__all__ = ["consented", "consumer", "mocks", "settings"]
