"""Fixtures that build real objects: a migrated database (SQLite file or a fresh
PostgreSQL database per run), a real app with its lifespan, real clients and tokens, the
partner mocks on loopback ports and the in-process fake partners.

They live in ``tests/fixtures/`` as plugins; tests import types and helpers from there.
"""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.gateway",
    "tests.fixtures.partners",
    "tests.fixtures.smsc",
    "tests.fixtures.browser",
]
