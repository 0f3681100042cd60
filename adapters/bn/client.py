"""Banco de la Nación adapter: Cuenta DNI opening and look-up.

Opening is made idempotent by the ``X-Request-Id`` the bank deduplicates on: the gateway
derives it from the caller's idempotency key, so a retried or repeated opening returns
the first account instead of opening a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from adapters.http import request_json
from gateway.partners.errors import PartnerMalformed
from gateway.partners.models import Account
from gateway.partners.resilience import PartnerGuard
from gateway.settings import BankSettings

PARTNER = "bn"


def _account(body: dict[str, Any], operation: str, newly_opened: bool) -> Account:
    try:
        return Account(
            dni=str(body["numeroDocumento"]),
            account_number=str(body["numeroCuenta"]),
            cci=str(body["cci"]),
            status=str(body["estado"]),
            opened_at=datetime.fromisoformat(body["fechaApertura"]),
            newly_opened=newly_opened,
        )
    except (KeyError, TypeError, ValueError):
        raise PartnerMalformed(PARTNER, operation, "account does not follow contract") from None


class BankAdapter:
    def __init__(
        self, settings: BankSettings, http: httpx.AsyncClient, guard: PartnerGuard
    ) -> None:
        self.base = settings.base_url
        self.headers = {"X-Api-Key": settings.api_key.get_secret_value()}
        self.http = http
        self.guard = guard

    async def open_account(self, dni: str, check_digit: str | None, request_id: str) -> Account:
        operation = "open-account"
        body: dict[str, str] = {"tipoDocumento": "DNI", "numeroDocumento": dni}
        if check_digit is not None:
            body["digitoVerificacion"] = check_digit

        async def attempt() -> Account:
            status, answer = await request_json(
                self.http,
                PARTNER,
                operation,
                "POST",
                f"{self.base}/cuentas/v1/aperturas",
                ok=(200, 201),
                json=body,
                headers=self.headers | {"X-Request-Id": request_id},
            )
            return _account(answer, operation, newly_opened=status == 201)

        # Safe to retry: the bank deduplicates on X-Request-Id.
        return await self.guard.call(operation, attempt, idempotent=True)

    async def account(self, dni: str) -> Account:
        operation = "account-by-dni"

        async def attempt() -> Account:
            _, answer = await request_json(
                self.http,
                PARTNER,
                operation,
                "GET",
                f"{self.base}/cuentas/v1/cuentas/{dni}",
                headers=self.headers,
            )
            return _account(answer, operation, newly_opened=False)

        return await self.guard.call(operation, attempt, idempotent=True)
