"""The bench's "published vs this run" table: a reduced run is compared by its
proportions (published counts scaled by its share of the decree's eligible households),
not by its size."""

from __future__ import annotations

import re

import pytest

from bench.cohort import published_beside
from program.published import PUBLISHED
from tests.program.test_report import operation_results


def test_a_reduced_run_compares_scaled_counts(capsys: pytest.CaptureFixture[str]) -> None:
    results = operation_results()
    summary = results.summary()
    scale = summary["eligible"] / PUBLISHED["eligible"]
    published_beside(results)
    out = capsys.readouterr().out
    assert f"a reduced run: {100 * scale:.2f}% of the decree's eligible households" in out
    rows = {
        m["label"].strip(): m
        for m in re.finditer(r"(?m)^(?P<label>\S.{0,31}?) {2,}(?P<rest>.+)$", out)
    }
    eligible = rows["eligible"]["rest"].split()
    assert eligible == [f"{summary['eligible']:,}", f"{summary['eligible']:,}", "—"]
    affiliated = rows["households affiliated"]["rest"].split()
    expected = PUBLISHED["households_affiliated"] * scale
    assert affiliated[0] == f"{expected:,.0f}"
    assert affiliated[2] == f"{100 * (summary['households_affiliated'] / expected - 1):+.2f}%"
    # A count that does not grow with the population is shown unscaled, no difference.
    districts = rows["districts covered"]["rest"].split()
    assert districts == [
        f"{PUBLISHED['districts_covered']:,}",
        f"{summary['districts_covered']:,}",
        "—",
    ]
    # Shares compare directly, in points.
    assert rows["compliant households %"]["rest"].split()[0] == "50"
