from __future__ import annotations

import pytest

from adapters.sandbox.settings import SandboxSettings


@pytest.fixture
def sandbox() -> SandboxSettings:
    """Default sandbox (10,000 households, bundled districts), no faults."""
    return SandboxSettings(_env_file=None)  # type: ignore[call-arg]
