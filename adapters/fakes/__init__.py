"""In-memory partners: an alternative adapter set for fast service tests and demos.

Selected like any wiring, with ``GATEWAY_ADAPTERS=adapters.fakes:register``: each port of
``gateway.partners.ports`` is answered from the sandbox population
(``GATEWAY_SANDBOX_*``, the same households the mock servers serve) without HTTP, SOAP,
retries or a circuit breaker. Documents (pain.001, pain.002, camt.054) are still real
ISO 20022, built and read by the bank adapter's own code, so that what the gateway keeps
is what it would keep against the bank.
"""

from __future__ import annotations

from adapters.fakes.partners import (
    FakeBank,
    FakeCivilRegistry,
    FakeHealthRegistry,
    FakeShortMessageCentre,
    FakeTelecomRegistry,
    register,
)

__all__ = [
    "FakeBank",
    "FakeCivilRegistry",
    "FakeHealthRegistry",
    "FakeShortMessageCentre",
    "FakeTelecomRegistry",
    "register",
]
