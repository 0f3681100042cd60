"""Token signing keys: rotation keeps old tokens valid, keys persist across restarts, the
private key is sealed at rest."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from gateway.app import create_app
from gateway.core.db import transaction
from gateway.settings import Settings
from gateway.state import AppState
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.tokens import parts


async def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_new_key(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    old = await get_token(["consumer"], ["contact"])
    old_kid = parts(old)[0]["kid"]
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        new_record = await state.keys.rotate(session)

    new = await get_token(["consumer"], ["contact"])
    assert parts(new)[0]["kid"] == new_record.kid != old_kid
    kids = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_record.kid} <= kids
    for token in (old, new):
        assert (await http.get("/v1/services", headers=bearer(token))).status_code == 200


async def test_keys_persist_across_restarts(settings: Settings, get_token: GetToken) -> None:
    token = await get_token(["consumer"], ["contact"])
    kid = parts(token)[0]["kid"]
    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http2:
            assert (await http2.get("/v1/services", headers=bearer(token))).status_code == 200
            jwks = (await http2.get("/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [kid]


async def test_private_signing_key_is_sealed_at_rest(app: FastAPI, get_token: GetToken) -> None:
    await get_token(["consumer"], ["contact"])
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        active = await state.keys.signing_key(session)
        from gateway.signing_keys.repository import SigningKeyRepository

        record = await SigningKeyRepository(session).get(active.kid)
    assert record is not None
    assert b"PRIVATE KEY" not in record.private_key_sealed
    assert active.key.as_pem(private=True) not in record.private_key_sealed
