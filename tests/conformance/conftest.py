"""The conformance tests run on the gateway wired to the four mocks (real HTTP on
loopback ports), as the broker tests do: the fixtures are plugins
(``tests/fixtures/``); only this directory's ``settings`` override stays here."""

from __future__ import annotations

import pytest

from gateway.settings import Settings
from tests.fixtures.partners import Mocks, aimed_at_mocks


@pytest.fixture
def settings(settings: Settings, mocks: Mocks, request: pytest.FixtureRequest) -> Settings:
    """Partner settings aimed at the mocks (see :func:`aimed_at_mocks`)."""
    return aimed_at_mocks(settings, mocks, request)
