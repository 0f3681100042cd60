"""Fixtures that build real objects: a migrated database (SQLite file or a fresh
PostgreSQL database per run), a real app with its lifespan, real clients and tokens, the
partner mocks on loopback ports and the in-process fake partners.

They live in ``tests/fixtures/`` as plugins; tests import types and helpers from there.
"""

from collections.abc import Iterator

import pytest
import structlog

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.gateway",
    "tests.fixtures.partners",
    "tests.fixtures.smsc",
    "tests.fixtures.browser",
]


@pytest.fixture(autouse=True)
def _logging_reset() -> Iterator[None]:
    """Each test starts with the log lines as no code had configured them: a test that
    configures logging (the demo, a sandbox gateway at WARNING) does not silence the
    lines a later test reads."""
    yield
    structlog.reset_defaults()
