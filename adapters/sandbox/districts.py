"""Districts (ubigeo) for the sandbox population: the gateway's district table.

The table, its loader and its file format live in :mod:`gateway.districts`, so the
gateway (which converts RENIEC codes to INEI codes) and the mocks read one table the
same way; this module keeps the sandbox's import path.
"""

from __future__ import annotations

from gateway.districts import (
    BUNDLED,
    POVERTY_THRESHOLD,
    REQUIRED_COLUMNS,
    District,
    DistrictFileError,
    load_districts,
)

__all__ = [
    "BUNDLED",
    "POVERTY_THRESHOLD",
    "REQUIRED_COLUMNS",
    "District",
    "DistrictFileError",
    "load_districts",
]
