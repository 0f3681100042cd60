"""Bounded input: every body has a limit suited to its operation, refused with 413 before
it is parsed (before it is read at all when ``Content-Length`` says too much); every
integer parameter is bounded and refused with 422 naming it. Against a real server
process, a 50 MB body leaves its memory where it was."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from gateway.core.limits import BIGINT_MAX, DEFAULT_BODY_BYTES, LIMIT_EXTENSION
from tests.fixtures.database import DatabaseFactory
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.serving import mock_ports, run_cli, serving
from tests.fixtures.support import is_problem

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "gateway" / "openapi.yaml"
MB = 1024 * 1024


def _operations_with_bodies() -> Iterator[tuple[str, int, str]]:
    """(path, limit, media type) of every operation whose contract takes a body."""
    schema = yaml.safe_load(CONTRACT.read_text())
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert method == "post", path
                media = next(iter(operation["requestBody"]["content"]))
                yield path, operation[LIMIT_EXTENSION], media


def test_every_operation_with_a_body_has_a_limit_suited_to_it() -> None:
    limits = {path: limit for path, limit, _ in _operations_with_bodies()}
    assert len(limits) >= 18
    # Single records: small. Batches of 1,000 entries: room for them, no more.
    for path in ("/v1/token", "/v1/accounts", "/v1/consents", "/v1/identity-verifications"):
        assert limits[path] == DEFAULT_BODY_BYTES
    for path in ("/v1/phone-line-lookups", "/v1/coresponsibility-verdicts"):
        assert 1000 * len('"60542601-3",') < limits[path] <= 128 * 1024
    assert limits["/v1/account-openings"] <= 256 * 1024
    assert limits["/v1/consent-batches"] <= 4 * MB
    assert all(limit > 0 for limit in limits.values())


def _fill(path: str) -> str:
    return path.replace("{consent_id}", "c-1").replace("{name}", "reniec-newborns")


async def _chunks(size: int) -> AsyncIterator[bytes]:
    block = b" " * (64 * 1024)
    sent = 0
    while sent < size:
        yield block
        sent += len(block)


async def test_a_body_over_its_limit_is_refused_with_413_before_it_is_parsed(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    token = bearer(
        await get_token(
            ["consumer", "partner", "admin"],
            ["affiliation", "contact", "payment", "coresponsibility-verification"],
        )
    )
    for path, limit, media in _operations_with_bodies():
        if limit > 32 * MB:  # streamed pushes and payment rolls: shown by the XML ones
            continue
        headers = token | {
            "Content-Type": media,
            "X-Message-Id": "m-1",
            "Idempotency-Key": "k-1",
            "X-Purpose": "payment",
        }
        # Declared too large: refused on the header, nothing of it read.
        declared = await http.post(_fill(path), content=b"{" * (limit + 1), headers=headers)
        assert is_problem(declared, 413), (path, declared.status_code, declared.text)
        assert declared.json()["type"] == "/problems/payload-too-large"
        assert declared.json()["errors"] == [
            {"field": "body", "message": f"larger than {limit} bytes"}
        ]
        # Refused before the router ran, and still naming the operation (by its template).
        assert declared.json()["instance"] == path
        # Chunked, without a length: counted as it streams.
        streamed = await http.post(_fill(path), content=_chunks(limit + 64 * 1024), headers=headers)
        assert is_problem(streamed, 413), (path, streamed.status_code, streamed.text)
        assert str(limit) in streamed.json()["detail"]
        assert streamed.json()["instance"] == path


async def test_a_body_refused_before_routing_is_counted_under_its_operation(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    """Metrics and the access log name the operation a refused body was sent to, by its
    template (an identifier in the path stays out), not ``<unmatched>``."""
    token = bearer(await get_token(["consumer"], ["contact"]))
    template = "/v1/consents/{consent_id}/revocation"
    limit = next(limit for path, limit, _ in _operations_with_bodies() if path == template)
    refused = await http.post(
        "/v1/consents/45612378/revocation",
        content=b"{" * (limit + 1),
        headers=token | {"Content-Type": "application/json", "X-Purpose": "contact"},
    )
    assert is_problem(refused, 413), refused.text
    text = (await http.get("/metrics")).text
    assert f'method="POST",route="{template}",status="413"}} 1.0' in text
    assert 'route="<unmatched>",status="413"' not in text
    assert "45612378" not in text


async def test_a_full_batch_fits_its_limit(http: httpx.AsyncClient, get_token: GetToken) -> None:
    token = bearer(await get_token(["consumer"], ["contact", "coresponsibility-verification"]))
    dnis = [f"{60000000 + n}-{n % 10}" for n in range(1000)]
    body = json.dumps({"dnis": dnis}, indent=2).encode()
    answer = await http.post(
        "/v1/phone-line-lookups",
        content=body,
        headers=token | {"Content-Type": "application/json", "X-Purpose": "contact"},
    )
    assert answer.status_code != 413
    too_many = json.dumps({"dnis": [*dnis, "60542601"]}).encode()
    refused = await http.post(
        "/v1/phone-line-lookups",
        content=too_many,
        headers=token | {"Content-Type": "application/json", "X-Purpose": "contact"},
    )
    assert is_problem(refused, 422)
    assert refused.json()["errors"][0]["field"] == "body.dnis"


PAST = (str(BIGINT_MAX + 1), "1645912318906140023332825726976", "-1", "٦٠٥", "１２")


async def test_integer_parameters_out_of_range_are_422_naming_the_field(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    auditor = bearer(await get_token(["auditor"], ["audit"])) | {"X-Purpose": "audit"}
    admin = bearer(await get_token(["admin"], ["audit"]))
    consumer = bearer(await get_token(["consumer"], ["affiliation"]))
    cases = [
        ("/v1/audit/verify?from_seq={}", "query.from_seq", auditor),
        ("/v1/audit/verify?to_seq={}", "query.to_seq", auditor),
        ("/v1/audit/events?cursor={}", "query.cursor", auditor),
        ("/v1/audit/checkpoints?cursor={}", "query.cursor", auditor),
        ("/v1/subjects/60542601/disclosures?cursor={}", "query.cursor", auditor),
        ("/v1/audit/events?limit={}", "query.limit", auditor),
        ("/v1/exchanges/reniec-newborns/runs/r-1/records?chunk={}", "query.chunk", admin),
        ("/v1/subscriptions/s-1/deliveries?limit={}", "query.limit", consumer),
        (
            "/v1/newborns?born_from=2020-01-01&born_to=2020-02-01&cursor={}",
            "query.cursor",
            consumer | {"X-Purpose": "affiliation"},
        ),
    ]
    for template, field, headers in cases:
        for value in PAST:
            answer = await http.get(template.format(value), headers=headers)
            assert is_problem(answer, 422), (template, value, answer.status_code)
            assert field in [e["field"] for e in answer.json()["errors"]], (template, value)
    for action in ("ack", "retry"):
        for value in PAST:
            answer = await http.post(
                f"/v1/subscriptions/s-1/deliveries/{value}/{action}",
                headers=consumer | {"X-Purpose": "affiliation"},
            )
            assert is_problem(answer, 422), (action, value, answer.status_code)
            assert [e["field"] for e in answer.json()["errors"]] == ["path.delivery_id"]
    # The largest value that fits is read, and refused as past the chain's end.
    edge = await http.get(f"/v1/audit/verify?from_seq={BIGINT_MAX}", headers=auditor)
    assert is_problem(edge, 422), edge.text
    assert edge.json()["errors"][0]["message"].startswith("after the chain's last sealed event")


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _post_raw(base: str, path: str, headers: dict[str, str], body_size: int) -> bytes:
    """Send a POST of ``body_size`` bytes over a plain socket, as fast as the server
    takes it, and return the status line of the answer (the server may answer and close
    before the body is through)."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        chunked = "Content-Length" not in headers
        if chunked:
            head += "Transfer-Encoding: chunked\r\n"
        sock.sendall((head + "\r\n").encode())
        block = b'["' + b"6" * (1024 * 1024 - 4) + b'",'
        sent = 0
        try:
            while sent < body_size:
                sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
        return answer.split(b"\r\n", 1)[0]


def test_a_50_mb_body_is_refused_without_the_server_growing(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_LOG_LEVEL": "WARNING",
        **mock_ports(),
    }
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    created = run_cli(
        ["clients", "create", "--name", "big", "--role", "consumer", "--purpose", "contact",
         "--json"],
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
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Purpose": "contact",
            "Content-Type": "application/json",
        }
        before = _rss_bytes(served.pid)
        for length in (True, False):  # declared, then chunked
            sent = headers | ({"Content-Length": str(50 * MB)} if length else {})
            status = _post_raw(served.base, "/v1/phone-line-lookups", sent, 50 * MB)
            assert status.startswith(b"HTTP/1.1 413"), status
        grown = _rss_bytes(served.pid) - before
        assert httpx.get(f"{served.base}/healthz").status_code == 200
    assert grown < 20 * MB, f"the server grew by {grown // MB} MB"


async def test_a_json_body_that_is_not_utf8_is_not_json(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    admin = bearer(await get_token(["admin"]))
    answer = await http.post(
        "/v1/clients",
        content=b"+V\xff\xfe\xfdR",
        headers=admin | {"Content-Type": "application/json"},
    )
    # RFC 8259 §8.1: JSON exchanged between systems is UTF-8; other bytes are not JSON.
    assert is_problem(answer, 400), answer.text
    assert answer.json()["errors"] == [{"field": "body", "message": "not valid JSON"}]


async def test_a_control_character_in_a_path_or_query_parameter_is_refused(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    admin = bearer(await get_token(["admin"], ["audit"]))
    for url, field in (
        ("/v1/clients/60542601%00/disable", "path.client_id"),
        ("/v1/audit/events?service=a%00b", "query.service"),
        ("/v1/subscriptions/s%0A1", "path.subscription_id"),
    ):
        answer = await http.request(
            "POST" if url.endswith("disable") else "GET",
            url,
            headers=admin | {"X-Purpose": "audit"},
        )
        assert is_problem(answer, 422), (url, answer.status_code, answer.text)
        assert {"field": field, "message": "control characters are not allowed"} in (
            answer.json()["errors"]
        ), url


async def test_the_token_endpoint_refuses_a_large_body_without_letting_it_be_cached(
    http: httpx.AsyncClient,
) -> None:
    """RFC 6749 §5.1: every answer of the token endpoint is ``no-store``, the 413 too."""
    answer = await http.post(
        "/v1/token",
        content=b"grant_type=client_credentials&padding=" + b"x" * (64 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert is_problem(answer, 413), answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"
