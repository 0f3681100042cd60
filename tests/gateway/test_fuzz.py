"""Property-based fuzzing of every operation in the committed OpenAPI contract, against a
real sandbox gateway process and its mocks, with a token holding every role and purpose:
no answer may be a 5xx, and every answer must match the contract (status, media type,
body schema). ``GATEWAY_FUZZ_EXAMPLES`` cases per operation (``make soak`` asks for
many more)."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.openapi import from_path

from tests.conftest import DatabaseFactory
from tests.gateway.test_serve import mock_ports, run_cli, serving

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "gateway" / "openapi.yaml"
PURPOSES = ("affiliation", "contact", "payment", "coresponsibility-verification", "audit")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_keeps_its_contract_under_generated_input(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    examples = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "4"))
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "0",
        "GATEWAY_LOG_LEVEL": "WARNING",
        **mock_ports(),
    }
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    created = run_cli(
        [
            "clients", "create", "--name", "fuzzer",
            *[a for role in ("consumer", "partner", "auditor", "admin") for a in ("--role", role)],
            *[a for purpose in PURPOSES for a in ("--purpose", purpose)],
            "--json",
        ],
        env,
        tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    schema = from_path(str(CONTRACT))
    failures: Counter[tuple[str, str, str]] = Counter()
    cases = 0
    rng = random.Random(2020)
    with serving(env, tmp_path) as served:
        token = httpx.post(
            f"{served.base}/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
            timeout=10,
        ).json()["access_token"]
        with httpx.Client(base_url=served.base, timeout=30) as http:
            for result in schema.get_all_operations():
                operation = result.ok()

                @given(case=operation.as_strategy())
                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def probe(case: object) -> None:
                    nonlocal cases
                    cases += 1
                    headers = {"Authorization": f"Bearer {token}"}
                    if rng.random() < 0.8:  # mostly a real purpose, to get past the gate
                        headers["X-Purpose"] = rng.choice(PURPOSES)
                    response = case.call(base_url=served.base, headers=headers)  # type: ignore[attr-defined]
                    case.validate_response(response, checks=CHECKS)  # type: ignore[attr-defined]

                try:
                    probe()
                except Exception as exc:  # noqa: BLE001 - every failing operation is reported
                    failures[(operation.method.upper(), operation.path, _first_line(exc))] += 1
            assert http.get("/healthz").status_code == 200
    print(f"fuzzing: {cases} generated cases over the contract's operations")
    assert cases >= examples * 20
    assert not failures, "\n".join(f"{n} x {key}" for key, n in failures.most_common())


def _first_line(exc: BaseException) -> str:
    """What failed, in one line: the distinct failures schemathesis names."""
    text = str(exc).strip()
    named = [line.strip("- ").strip() for line in text.splitlines() if line.startswith("- ")]
    return "; ".join(named) or text.splitlines()[0][:160]
