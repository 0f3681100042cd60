"""Property-based fuzzing of every operation in the committed OpenAPI contract, against a
real sandbox gateway process and its mocks, with a token holding every role and purpose:
no answer may be a 5xx, and every answer must match the contract (status, media type,
body schema).

Three runs, each on a fresh database of the backend under test:
- generated cases of each operation (``GATEWAY_FUZZ_EXAMPLES`` per operation);
- the same with one parameter or body field replaced by a boundary value: integers at
  and past 2^63, negative ones, empty and huge strings, non-ASCII digits, NUL;
- stateful sequences that follow the contract's OpenAPI links (create a consent, then
  read and revoke it; trigger a run, then read it; page through the audit trail ...).

``make soak`` asks for many more cases; each run prints its figures."""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.engine.errors import is_inconsistent_replay
from schemathesis.openapi import from_path

from tests.fixtures.database import DatabaseFactory
from tests.fixtures.serving import mock_ports, run_cli, serving

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "gateway" / "openapi.yaml"
PURPOSES = ("affiliation", "contact", "payment", "coresponsibility-verification", "audit")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "4"))
BOUNDARY_INTEGERS = (0, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30)
BOUNDARY_STRINGS = (
    "",
    "x" * 4096,
    "٦٠٥٤٢٦٠١",  # Arabic-Indic digits
    "６０５４２６０１",  # full-width digits
    "60542601\x00",
    "ÑAÑEZ D'ÁVILA",
    "1645912318906140023332825726976",
)
HUGE_BODY_STRING = "x" * 100_000
SEQUENCE_PURPOSES = (
    ("/v1/audit", "audit"),
    ("/v1/subjects", "audit"),
    ("/v1/consents", "affiliation"),
    ("/v1/newborns", "affiliation"),
    ("/v1/accounts", "payment"),
    ("/v1/payment-runs", "payment"),
)


@dataclass
class Target:
    base: str
    token: str
    figures: Counter[str]

    def headers(self, rng: random.Random) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if rng.random() < 0.8:  # mostly a real purpose, to get past the gate
            headers["X-Purpose"] = rng.choice(PURPOSES)
        return headers


@contextmanager
def fuzz_target(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Target]:
    """A sandbox gateway process on a fresh database, and a token with every grant."""
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
        started = time.monotonic()
        target = Target(served.base, token, Counter())
        yield target
        assert httpx.get(f"{served.base}/healthz").status_code == 200
        target.figures["seconds"] = round(time.monotonic() - started)


def _fuzz_each_operation(target: Target, boundary: bool) -> Counter[tuple[str, str, str]]:
    schema = from_path(str(CONTRACT))
    failures: Counter[tuple[str, str, str]] = Counter()
    rng = random.Random(2020)
    for result in schema.get_all_operations():
        operation = result.ok()
        target.figures["operations"] += 1

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: Any, data: st.DataObject) -> None:
            target.figures["cases"] += 1
            if boundary:
                _replace_one_with_a_boundary_value(case.operation, case, data)
            response = case.call(base_url=target.base, headers=target.headers(rng))
            target.figures[f"{response.status_code // 100}xx"] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            probe()
        except Exception as exc:  # noqa: BLE001 - every failing operation is reported
            failures[(operation.method.upper(), operation.path, _first_line(exc))] += 1
    return failures


def _replace_one_with_a_boundary_value(operation: Any, case: Any, data: st.DataObject) -> None:
    """One query or path parameter, or one top-level body field, gets a boundary value."""
    spots: list[tuple[str, str]] = [
        (p["in"], p["name"])
        for p in operation.definition.raw.get("parameters", [])
        if p["in"] in ("query", "path")
    ]
    if isinstance(case.body, dict):
        spots += [("body", name) for name in case.body]
    if not spots:
        return
    where, name = data.draw(st.sampled_from(spots))
    if where == "body":
        value: Any = data.draw(
            st.sampled_from((*BOUNDARY_INTEGERS, *BOUNDARY_STRINGS, HUGE_BODY_STRING))
        )
        case.body[name] = value
        return
    value = str(data.draw(st.sampled_from((*BOUNDARY_INTEGERS, *BOUNDARY_STRINGS))))
    if where == "path" and not value:  # an empty segment is another address, not this one
        value = "0"
    if where == "query":
        case.query = {**(case.query or {}), name: value}
    else:
        case.path_parameters = {**(case.path_parameters or {}), name: value}


def _report(name: str, target: Target, failures: Counter[tuple[str, str, str]]) -> None:
    figures = ", ".join(f"{k}={v}" for k, v in sorted(target.figures.items()))
    print(f"fuzzing ({name}): {figures}")
    assert target.figures["cases"] >= EXAMPLES * 20
    assert not failures, "\n".join(f"{n} x {key}" for key, n in failures.most_common())


def test_every_operation_keeps_its_contract_under_generated_input(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    with fuzz_target(databases, tmp_path) as target:
        failures = _fuzz_each_operation(target, boundary=False)
    _report("generated", target, failures)


def test_every_operation_keeps_its_contract_at_boundary_values(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    with fuzz_target(databases, tmp_path) as target:
        failures = _fuzz_each_operation(target, boundary=True)
    _report("boundary values", target, failures)


def test_linked_sequences_keep_the_contract(databases: DatabaseFactory, tmp_path: Path) -> None:
    # Disabling a client is left out: links inferred from GET /v1/clients would disable
    # the fuzzer's own client, and every later step would only show the 401 of that.
    schema = from_path(str(CONTRACT)).exclude(operation_id="disable")
    with fuzz_target(databases, tmp_path) as target:
        rng = random.Random(2021)
        seen: Counter[str] = Counter()

        class Sequences(schema.as_state_machine()):  # type: ignore[misc]
            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                # A sequence is one client's work: mostly the purpose its operations need.
                headers = target.headers(rng)
                purpose = next(
                    (p for prefix, p in SEQUENCE_PURPOSES if case.path.startswith(prefix)), None
                )
                if purpose and rng.random() < 0.9:
                    headers["X-Purpose"] = purpose
                return {"base_url": target.base, "headers": headers}

            def step(self, input: Any) -> Any:
                output = super().step(input)
                status = output.response.status_code
                target.figures["steps"] += 1
                target.figures[f"{status // 100}xx"] += 1
                seen[input.case.operation.label] += 1
                if input.transition is not None and input.is_applied:
                    target.figures["linked steps"] += 1
                    target.figures["linked steps 2xx"] += status < 300
                return output

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                case.validate_response(response, checks=CHECKS)

            def teardown(self) -> None:
                target.figures["sequences"] += 1

        # Hypothesis walks its tree of earlier draws to find new sequences; against a live
        # server whose state has moved on, a replayed prefix can draw differently (a link
        # whose response now has another status) and Hypothesis stops the run with
        # FlakyStrategyDefinition. That is about generation, not the contract: every
        # answer was checked as it came. As Schemathesis's own stateful phase does, such
        # a run ends and a fresh one takes up the remaining sequences.
        wanted = EXAMPLES * 5
        while target.figures["sequences"] < wanted:
            try:
                Sequences.run(
                    settings=settings(
                        max_examples=wanted - target.figures["sequences"],
                        stateful_step_count=6,
                        deadline=None,
                        phases=[Phase.generate],
                        database=None,
                        suppress_health_check=list(HealthCheck),
                    )
                )
            except (FlakyStrategyDefinition, AssertionError) as exc:
                # Schemathesis's own test for a replay that drew differently (a contract
                # failure that does not replay is FlakyFailure, not this).
                if not (isinstance(exc, FlakyStrategyDefinition) or is_inconsistent_replay(exc)):
                    raise
                target.figures["runs restarted"] += 1
                assert target.figures["runs restarted"] <= wanted, "generation never settles"
            else:
                break
        target.figures["operations"] = len(seen)
    print(f"fuzzing (linked sequences): {dict(sorted(target.figures.items()))}")
    # Links were followed, and some led to what the first step made (a page, a run).
    assert target.figures["linked steps"] > 0
    assert target.figures["linked steps 2xx"] > 0


def test_the_contracts_links_name_real_operations_and_parameters() -> None:
    contract = yaml.safe_load(CONTRACT.read_text())
    operations = {
        op["operationId"]: op for item in contract["paths"].values() for op in item.values()
    }
    links = [
        (source, link)
        for source, op in operations.items()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 12
    for source, link in links:
        target = operations[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link["parameters"]) <= names, (source, link)
        required = {p["name"] for p in target.get("parameters", []) if p.get("required")}
        assert {n for n in required if n not in ("X-Purpose", "Idempotency-Key")} <= set(
            link["parameters"]
        ) | {n for n in required if n in names and n.startswith("born_")}, (source, link)


def _first_line(exc: BaseException) -> str:
    """What failed, in one line: the distinct failures schemathesis names."""
    text = str(exc).strip()
    named = [line.strip("- ").strip() for line in text.splitlines() if line.startswith("- ")]
    return "; ".join(named) or text.splitlines()[0][:160]
