"""Banco de la Nación adapter: Cuenta DNI opening and look-up, ISO 20022 payments, and
the card-delivery extract (a CSV stand-in, ``adapters.bn.deliveries``).

Opening is made idempotent by the ``X-Request-Id`` the bank deduplicates on: the gateway
derives it from the caller's idempotency key, so a retried or repeated opening returns
the first account instead of opening a second one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx

from adapters.bn.deliveries import MAX_ROWS, NEXT_HEADER, ExtractError, read_extract
from adapters.bn.iso20022 import (
    CreditTransfer,
    InvalidMessageError,
    PaymentBatch,
    build_pain001,
    parse_camt054,
    parse_pain002,
)
from adapters.bn.settings import BankSettings
from adapters.http import request_json, send, status_error
from gateway.partners.errors import PartnerMalformed
from gateway.partners.models import (
    Account,
    CardDeliveryPage,
    OpeningRefused,
    Outcome,
    PaymentReport,
    PaymentStatus,
    SettledPayment,
    Transfer,
)
from gateway.partners.resilience import PartnerGuard

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


SETTLED = ("ACSC", "ACSP")
# ISO 20022 ExternalPaymentTransactionStatus1Code values are four capital letters.
STATUS_CODE = re.compile(r"[A-Z]{4}")


class BankAdapter:
    def __init__(
        self, settings: BankSettings, http: httpx.AsyncClient, guard: PartnerGuard
    ) -> None:
        self.base = settings.base_url
        self.settings = settings
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

    async def open_accounts(
        self, holders: Sequence[tuple[str, str | None]], request_id: str
    ) -> list[Account | OpeningRefused]:
        operation = "open-accounts"
        items = []
        for dni, check_digit in holders:
            item = {"tipoDocumento": "DNI", "numeroDocumento": dni}
            if check_digit is not None:
                item["digitoVerificacion"] = check_digit
            items.append(item)

        async def attempt() -> list[Account | OpeningRefused]:
            _, answer = await request_json(
                self.http,
                PARTNER,
                operation,
                "POST",
                f"{self.base}/cuentas/v1/aperturas/lotes",
                json={"aperturas": items},
                headers=self.headers | {"X-Request-Id": request_id},
            )
            results = answer.get("resultados")
            if not isinstance(results, list) or len(results) != len(items):
                raise PartnerMalformed(PARTNER, operation, "results do not match the holders")
            out: list[Account | OpeningRefused] = []
            for result in results:
                status = result.get("estadoApertura") if isinstance(result, dict) else None
                if status in (200, 201) and isinstance(result.get("cuenta"), dict):
                    out.append(_account(result["cuenta"], operation, newly_opened=status == 201))
                elif isinstance(status, int) and isinstance(result.get("error"), dict):
                    out.append(OpeningRefused(status, str(result["error"].get("codigo", ""))))
                else:
                    raise PartnerMalformed(PARTNER, operation, "result does not follow contract")
            return out

        # Safe to retry: the bank deduplicates the whole batch on X-Request-Id.
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

    async def card_deliveries(
        self, delivered_from: date, delivered_to: date, cursor: str | None, limit: int
    ) -> CardDeliveryPage:
        operation = "card-deliveries"
        offset = cursor if cursor is not None and cursor.isdigit() else "0"
        params = {
            "fechaDesde": delivered_from.isoformat(),
            "fechaHasta": delivered_to.isoformat(),
            "desde": offset,
            "cantidad": str(min(max(limit, 1), MAX_ROWS)),
        }

        async def attempt() -> CardDeliveryPage:
            response = await send(
                self.http,
                PARTNER,
                operation,
                "GET",
                f"{self.base}/cuentas/v1/tarjetas/entregas",
                params=params,
                headers=self.headers,
            )
            if response.status_code != 200:
                raise status_error(PARTNER, operation, response)
            try:
                items = read_extract(response.text)
            except (ExtractError, UnicodeDecodeError):
                raise PartnerMalformed(PARTNER, operation, "the extract is not valid") from None
            following = response.headers.get(NEXT_HEADER)
            if following is not None and not following.isdigit():
                raise PartnerMalformed(PARTNER, operation, "X-Siguiente is not an offset")
            return CardDeliveryPage(tuple(items), following)

        return await self.guard.call(operation, attempt, idempotent=True)

    def payment_document(
        self, msg_id: str, created_at: datetime, requested_date: date, transfers: Sequence[Transfer]
    ) -> bytes:
        return build_pain001(
            PaymentBatch(
                msg_id=msg_id,
                created_at=created_at,
                initiating_party=self.settings.initiating_party,
                payment_info_id=f"{msg_id}-1",
                requested_date=requested_date,
                debtor_name=self.settings.debtor_name,
                debtor_account=self.settings.debtor_account,
                transfers=tuple(
                    CreditTransfer(
                        end_to_end_id=t.end_to_end_id,
                        amount=Decimal(t.amount),
                        creditor_name=t.creditor_name,
                        creditor_cci=t.creditor_cci,
                    )
                    for t in transfers
                ),
            )
        )

    def outcome(self, status: str | None) -> Outcome:
        """ISO 20022 ExternalPaymentTransactionStatus1Code: ACSC (settlement completed)
        and ACSP (settlement in process, accepted) pay, RJCT rejects, anything else
        (PDNG, ACTC, ...) or no status leaves the transfer pending."""
        if status in SETTLED:
            return "paid"
        if status == "RJCT":
            return "rejected"
        return "pending"

    def invalid_status(self, status: object) -> str | None:
        if isinstance(status, str) and STATUS_CODE.fullmatch(status):
            return None
        return "an ISO 20022 status code (ACSC, RJCT, PDNG, ...)"

    def read_payment_report(self, document: bytes) -> PaymentReport:
        try:
            report = parse_pain002(document)
        except InvalidMessageError as exc:
            raise ValueError(str(exc)) from None  # element, line and rule; no value
        unlisted_status, unlisted_reason = report.unlisted()
        return PaymentReport(
            original_msg_id=report.original_msg_id,
            group_status=report.group_status,
            group_reason=report.group_reason,
            transactions=tuple(
                PaymentStatus(t.end_to_end_id, t.status, t.reason) for t in report.transactions()
            ),
            unlisted_status=unlisted_status,
            unlisted_reason=unlisted_reason,
        )

    def read_settlements(self, document: bytes) -> list[SettledPayment]:
        try:
            notification = parse_camt054(document)
        except InvalidMessageError as exc:
            raise ValueError(str(exc)) from None  # element, line and rule; no value
        return [
            SettledPayment(e.end_to_end_id, str(e.amount), e.booking_date, e.msg_id)
            for e in notification.entries
            if e.credit_debit == "DBIT" and e.status == "BOOK"
        ]

    async def submit_payments(self, document: bytes) -> PaymentReport:
        operation = "pain.001"

        async def attempt() -> PaymentReport:
            response = await send(
                self.http,
                PARTNER,
                operation,
                "POST",
                f"{self.base}/pagos/v1/lotes",
                content=document,
                headers=self.headers | {"Content-Type": "application/xml"},
            )
            if response.status_code != 200:
                raise status_error(PARTNER, operation, response)
            try:
                return self.read_payment_report(response.content)
            except ValueError:
                raise PartnerMalformed(PARTNER, operation, "the pain.002 is not valid") from None

        # Safe to retry: the bank answers a resent MsgId with the same content by its
        # original report, and refuses an EndToEndId it has already paid.
        return await self.guard.call(operation, attempt, idempotent=True)

    async def settled_payments(self, msg_ids: Sequence[str] = ()) -> list[SettledPayment]:
        operation = "camt.054"
        params = {"lotes": ",".join(msg_ids)} if msg_ids else {}

        async def attempt() -> list[SettledPayment]:
            response = await send(
                self.http,
                PARTNER,
                operation,
                "GET",
                f"{self.base}/pagos/v1/notificaciones",
                params=params,
                headers=self.headers,
            )
            if response.status_code != 200:
                raise status_error(PARTNER, operation, response)
            try:
                return self.read_settlements(response.content)
            except ValueError:
                raise PartnerMalformed(PARTNER, operation, "the camt.054 is not valid") from None

        return await self.guard.call(operation, attempt, idempotent=True)
