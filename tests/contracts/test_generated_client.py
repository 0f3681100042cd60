"""A Python client generated from the committed contract works against a running gateway.

openapi-python-client generates a client from ``contracts/gateway/openapi.yaml`` (with
``contracts/gateway/openapi-python-client.yaml``) without a warning, so no operation is
left out; then a real ``serve`` process in sandbox mode, with the partner mocks, answers a
look-up, a batch and a push made through that client, and the answers parse into the
contract's typed models.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml

from gateway.settings import REPO_ROOT
from tests.fixtures.database import DatabaseFactory
from tests.fixtures.serving import mock_ports, run_cli, serving

CONTRACT = REPO_ROOT / "contracts" / "gateway" / "openapi.yaml"
CONFIG = REPO_ROOT / "contracts" / "gateway" / "openapi-python-client.yaml"
PACKAGE = "juntos_gateway_client"


def _operations() -> int:
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    return sum(len(item) for item in document["paths"].values())


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The generated package, imported from a temporary directory, and the generator's
    output."""
    where = tmp_path_factory.mktemp("client")
    bin_dir = str(Path(sys.executable).parent)  # its post-generation hooks run ruff
    result = subprocess.run(
        [
            str(Path(bin_dir) / "openapi-python-client"),
            "generate",
            "--path",
            str(CONTRACT),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
        ],
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_generation_has_no_warning_and_covers_every_operation(
    generated: tuple[ModuleType, str],
) -> None:
    package, output = generated
    assert "warning" not in output.lower(), output
    assert "skipping" not in output.lower(), output
    modules = [
        path
        for path in (Path(package.__file__).parent / "api").rglob("*.py")
        if path.name != "__init__.py"
    ]
    assert len(modules) == _operations()


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_lookup_batch_and_push_through_the_generated_client(
    generated: tuple[ModuleType, str], databases: DatabaseFactory, tmp_path: Path
) -> None:
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_LOG_LEVEL": "WARNING",
        **mock_ports(),
    }
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    sample = json.loads(
        run_cli(["population", "sample", "--count", "20", "--json"], env, tmp_path).stdout
    )["households"]
    adults = [h for h in sample if h["mother_birth_date"] < "2000-01-01"]
    client_module = _module("client")
    models = _module("models")
    file_type = _module("types").File
    get_person = _module("api.consumer.get_person")
    phone_line_lookups = _module("api.batches.phone_line_lookups")
    push_births = _module("api.inbound.push_births")

    with serving(env, tmp_path) as served, ExitStack() as clients:
        seeded = json.loads((tmp_path / "var" / "sandbox-clients.json").read_text())["clients"]

        def client_for(role: str) -> Any:
            credentials = next(c for c in seeded if c["role"] == role)
            token = httpx.post(
                f"{served.base}/v1/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": credentials["client_id"],
                    "client_secret": credentials["client_secret"],
                },
            ).json()["access_token"]
            return clients.enter_context(
                client_module.AuthenticatedClient(
                    base_url=served.base, token=token, timeout=httpx.Timeout(15)
                )
            )

        consumer, partner = client_for("consumer"), client_for("partner")

        # A look-up: the person, typed by the envelope of reniec.person.
        mother = adults[0]["mother_dni"]
        person = get_person.sync_detailed(mother, client=consumer, x_purpose="affiliation")
        assert person.status_code == 200, person.content
        assert isinstance(person.parsed, models.PersonAnswer)
        assert person.parsed.service == "reniec.person"
        assert person.parsed.data.dni == mother
        assert isinstance(person.parsed.data.first_surname, str)
        # The purpose affiliation is not given the photo: absent, not null.
        assert "photo" not in person.parsed.data.to_dict()

        # An error is a typed problem document.
        refused = get_person.sync_detailed("1234", client=consumer, x_purpose="affiliation")
        assert refused.status_code == 422
        assert isinstance(refused.parsed, models.Problem)
        assert refused.parsed.type_ == "/problems/validation-error"

        # A batch: the lines of several caregivers, one entry each, in order.
        dnis = [h["mother_dni"] for h in sample if h["phone_lines"]][:3]
        lookups = phone_line_lookups.sync_detailed(
            client=consumer,
            body=models.PhoneLineLookups(dnis=dnis),
            x_purpose="contact",
            x_user_id="agent.0042",
        )
        assert lookups.status_code == 200, lookups.content
        assert isinstance(lookups.parsed, models.PhoneLineLookupsAnswer)
        assert [entry.dni for entry in lookups.parsed.data] == dnis
        lines = [line for entry in lookups.parsed.data for line in entry.lines]
        assert len(lines) >= len(dnis)
        assert all(isinstance(line.number, str) and line.operator for line in lines)

        # A push: RENIEC's births as CSV, received with a signed receipt.
        header = "cui,cnv,birth_date,sex,ubigeo_reniec,mother_dni\n"
        rows = "".join(
            f"{h['child_cui']},{1000000000 + i},{h['child_birth_date']},F,"
            f"{h['district']['reniec']},{h['mother_dni']}\n"
            for i, h in enumerate(sample[:5])
        )
        pushed = push_births.sync_detailed(
            client=partner,
            body=file_type(payload=io.BytesIO((header + rows).encode()), mime_type="text/csv"),
            x_message_id="births-0001",
            x_purpose="affiliation",
        )
        assert pushed.status_code == 201, pushed.content
        assert isinstance(pushed.parsed, models.ReceiptAnswer)
        receipt = pushed.parsed.data
        assert (receipt.rows_accepted, receipt.rows_rejected) == (5, 0), receipt.to_dict()
        assert receipt.receipt.count(".") == 2  # a compact JWS
        assert receipt.replayed is False
