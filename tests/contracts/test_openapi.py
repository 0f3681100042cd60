"""The committed OpenAPI is valid, equal to what the running gateway serves, and says
what a client generated from it needs: typed answers, patterns, problem documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from openapi_spec_validator import validate

from gateway.app import HEAD_ROUTES
from gateway.auditing.schemas import AuditEventRecord, ChainReportRecord, CheckpointRecord
from gateway.broker.schemas import (
    AccountRecord,
    HealthServiceRecord,
    IdentityVerificationRecord,
    NewbornRecord,
    PersonRecord,
    PhoneLineRecord,
    VerdictRecord,
)
from gateway.calls.answers import DOCUMENT_PATTERN, Record
from gateway.calls.validation import parse_document
from gateway.catalog.loader import load_catalog
from gateway.consent.schemas import ConsentCheckRecord, ConsentRecord
from gateway.core.problems import ProblemError
from gateway.exchanges.schemas import StagedRecord
from gateway.inbound.feeds import NOTICES
from gateway.inbound.schemas import RECEIPT_SERVICES, ReceiptRecord
from gateway.payments.schemas import PaymentRunRecord
from gateway.reminders.schemas import ReminderBatchRecord
from gateway.settings import REPO_ROOT
from gateway.subjects.schemas import DisclosureRecord
from gateway.subscriptions.schemas import NoticeRecord
from tests.fixtures.gateway import GetToken, bearer

COMMITTED = REPO_ROOT / "contracts" / "gateway" / "openapi.yaml"

# The record model of each catalog service: its fields are the catalog's ``fields``.
DISCLOSABLE: dict[str, type[Record]] = {
    "reniec.person": PersonRecord,
    "reniec.identity-verification": IdentityVerificationRecord,
    "reniec.newborns": NewbornRecord,
    "osiptel.phone-lines": PhoneLineRecord,
    "bn.account-opening": AccountRecord,
    "bn.account": AccountRecord,
    "bn.payments": PaymentRunRecord,
    "smsc.reminders": ReminderBatchRecord,
    "minsa_his.health-services": HealthServiceRecord,
    "minsa_his.coresponsibility": VerdictRecord,
    "gateway.audit-events": AuditEventRecord,
    "gateway.audit-verification": ChainReportRecord,
    "gateway.audit-checkpoints": CheckpointRecord,
    "gateway.consents": ConsentRecord,
    "gateway.consent-check": ConsentCheckRecord,
    "gateway.subject-disclosures": DisclosureRecord,
    **dict.fromkeys(RECEIPT_SERVICES, ReceiptRecord),
}


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


def _committed() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    return document


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in _committed()["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_optional_parameters_are_never_null() -> None:
    """HTTP has no null header or query value: "string or null" makes clients send the
    text ``null``."""
    for method, path, operation in _operations():
        for parameter in operation.get("parameters", []):
            text = json.dumps(parameter["schema"])
            assert '"null"' not in text, (method, path, parameter["name"])


IDENTIFIERS = {"dni", "cui", "caregiver_dni", "subject"}


def test_identifiers_carry_the_pattern_the_server_checks() -> None:
    document = _committed()
    seen = []
    for method, path, operation in _operations():
        for parameter in operation.get("parameters", []):
            if parameter["name"] in IDENTIFIERS:
                assert parameter["schema"]["pattern"] == DOCUMENT_PATTERN, (method, path)
                seen.append(parameter["name"])
    for name, schema in document["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if field in IDENTIFIERS and name.endswith(("Request", "Create")):
                assert prop["pattern"] == DOCUMENT_PATTERN, (name, field)
                seen.append(field)
            if field in ("dnis", "cuis"):
                assert prop["items"]["pattern"] == DOCUMENT_PATTERN, (name, field)
                seen.append(field)
    assert set(seen) == IDENTIFIERS | {"dnis", "cuis"}
    assert r"\d" not in COMMITTED.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("value", "in_pattern", "served"),
    [
        ("12345678", True, True),
        ("12345678-1", True, True),  # the check digit of 12345678
        ("12345678E", True, True),  # ...and its check letter
        ("12345678e", True, True),
        ("123456789", True, False),  # well formed, but 9 is not its check character
        ("12345678-L", False, False),
        ("1234567", False, False),
        ("1234567890", False, False),
        ("١٢٣٤٥٦٧٨", False, False),  # Arabic-Indic digits: digits to \d, not to the contract
    ],
)
def test_the_document_pattern_is_what_the_server_accepts(
    value: str, in_pattern: bool, served: bool
) -> None:
    """The contract's pattern is the form; the server also verifies the check character."""
    assert bool(re.fullmatch(DOCUMENT_PATTERN, value)) is in_pattern
    try:
        parse_document(value, "path.dni")
    except ProblemError:
        accepted = False
    else:
        accepted = True
    assert accepted is served


def test_every_error_answer_is_a_problem_document() -> None:
    """RFC 9457 everywhere except the token endpoint, whose errors are RFC 6749 section
    5.2 documents that OAuth client libraries parse."""
    oauth = {"application/json": {"schema": {"$ref": "#/components/schemas/TokenErrorResponse"}}}
    for method, path, operation in _operations():
        responses = operation["responses"]
        if method == "head":  # headers only: see test_head_mirrors_get_without_content
            continue
        for status, response in responses.items():
            if status[0] in "45" and path == "/v1/token" and status in ("400", "401"):
                assert response["content"] == oauth, (method, path, status)
            elif status[0] in "45":
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, (method, path, status)
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            assert {"400", "415"} <= set(responses), (method, path)
        if operation.get("security"):
            assert {"401", "403", "429"} <= set(responses), (method, path)


def test_every_answer_and_request_body_is_typed() -> None:
    document = _committed()
    for method, path, operation in _operations():
        for media in operation.get("requestBody", {}).get("content", {}).values():
            assert media.get("schema"), (method, path)
        if method == "head":
            continue
        answers = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert answers, (method, path)
        for status, response in answers.items():
            for media in response["content"].values():
                schema = _schema(document, media["schema"])
                assert schema.get("type"), (method, path, status)
                data = schema.get("properties", {}).get("data")
                if data is not None:  # an envelope: its data is a record or records
                    assert data != {}, (method, path, status)


def test_head_mirrors_get_without_content() -> None:
    """HEAD is declared where the gateway answers it (the read-only routes of
    ``gateway.app.HEAD_ROUTES``): the GET's parameters and statuses, no content."""
    paths = _committed()["paths"]
    heads = {path: item for path, item in paths.items() if "head" in item}
    # The docs pages answer HEAD too, but are not operations of the contract.
    assert set(heads) == {path for path in HEAD_ROUTES if path in paths} >= {"/healthz", "/readyz"}
    for path, item in heads.items():
        head, get = item["head"], item["get"]
        assert head.get("parameters") == get.get("parameters"), path
        assert set(head["responses"]) == set(get["responses"]), path
        assert all("content" not in response for response in head["responses"].values()), path
        assert head["operationId"] == f"{get['operationId']}_head"


def test_xml_pushes_name_their_media_types_and_xsd() -> None:
    for path, versions in (
        ("/v1/inbound/bn/payment-status", ("pain.002.001.03", "pain.002.001.10")),
        ("/v1/inbound/bn/settlements", ("camt.054.001.02", "camt.054.001.08")),
    ):
        body = _committed()["paths"][path]["post"]["requestBody"]
        assert set(body["content"]) == {"application/xml", "text/xml"}
        # The schema of each version is named where the bank's contract is documented.
        readme = REPO_ROOT / body["x-xsd"]
        assert readme.is_file()
        for version in versions:
            assert f"urn:iso:std:iso:20022:tech:xsd:{version}" in body["x-iso20022-versions"]
            assert version in readme.read_text(encoding="utf-8")
        for media in body["content"].values():
            assert media["schema"]["externalDocs"]["url"].startswith("https://")


def test_each_answer_model_holds_the_fields_the_catalog_may_disclose() -> None:
    """A field the catalog may disclose for a service is in the contract's model of that
    service's data, and the model has no other."""
    catalog = load_catalog(
        REPO_ROOT / "contracts" / "policy" / "catalog.yaml",
        REPO_ROOT / "contracts" / "policy" / "catalog.schema.json",
    )

    def fields(*services: str) -> set[str]:
        return {f for sid in services for f in catalog.services[sid].fields}

    for service, model in DISCLOSABLE.items():
        assert set(model.model_fields) == fields(service), service
    staged = [spec.service for spec in catalog.exchanges.values()]
    assert set(StagedRecord.model_fields) == fields(*staged)
    assert set(NoticeRecord.model_fields) == fields(*NOTICES.values())
    assert set(catalog.services) == set(DISCLOSABLE) | set(staged) | set(NOTICES.values())


async def test_method_not_allowed_names_every_method_of_the_path(http: httpx.AsyncClient) -> None:
    for path, item in _committed()["paths"].items():
        declared = {method.upper() for method in item}
        other = next(m for m in ("PATCH", "PUT", "DELETE") if m not in declared)
        answer = await http.request(other, path.replace("{", "x").replace("}", ""))
        assert answer.status_code == 405, (other, path)
        assert answer.headers["content-type"] == "application/problem+json"
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert allowed == declared, path


async def test_a_body_that_is_not_json_or_not_sent_as_json_is_refused_as_such(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    admin = await get_token(["admin"])
    for body in (b"{not json", b'{"name": "x"', "ñ".encode("latin-1")):
        answer = await http.post(
            "/v1/clients",
            content=body,
            headers=bearer(admin) | {"Content-Type": "application/json"},
        )
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"] == "/problems/bad-request"
        assert problem["errors"] == [{"field": "body", "message": "not valid JSON"}]

    for content_type in ("text/plain", None):
        answer = await http.post(
            "/v1/clients",
            content=b'{"name": "x", "roles": ["consumer"]}',
            headers=bearer(admin) | ({"Content-Type": content_type} if content_type else {}),
        )
        assert answer.status_code == 415, answer.text
        assert answer.json()["type"] == "/problems/unsupported-media-type"
        assert answer.json()["errors"][0]["field"] == "header.content-type"
