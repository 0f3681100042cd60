"""The committed OpenAPI is valid and equal to what the running gateway serves."""

from __future__ import annotations

import httpx
import yaml
from openapi_spec_validator import validate

from gateway.settings import REPO_ROOT

COMMITTED = REPO_ROOT / "contracts" / "gateway" / "openapi.yaml"


def test_committed_openapi_is_valid() -> None:
    validate(yaml.safe_load(COMMITTED.read_text(encoding="utf-8")))


async def test_served_openapi_equals_committed(http: httpx.AsyncClient) -> None:
    served = (await http.get("/openapi.json")).json()
    committed = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert served == committed, "contract drift: run `make contract` and review the diff"


PUBLIC = {
    "/v1/token",  # where tokens come from
    "/v1/audit/keys",  # public keys, so anyone can verify checkpoints and archives
}


async def test_every_v1_operation_requires_bearer_except_token(http: httpx.AsyncClient) -> None:
    served = (await http.get("/openapi.json")).json()
    for path, item in served["paths"].items():
        if not path.startswith("/v1/") or path in PUBLIC:
            continue
        for method, operation in item.items():
            assert operation.get("security") == [{"bearer": []}], (method, path)
            unauthenticated = await http.request(
                method.upper(), path.replace("{", "x").replace("}", "")
            )
            assert unauthenticated.status_code == 401, (method, path)
