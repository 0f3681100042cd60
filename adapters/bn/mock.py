"""Banco de la Nación mock: Cuenta DNI opening and ISO 20022 bulk payments.

Accounts (stand-in REST, ``contracts/bn/openapi.yaml``) are opened per DNI, idempotent by
the ``X-Request-Id`` of the request: the same id with the same body returns the first
answer, the same id with another body is refused. Holders must be adults known to the
registry and alive.

Payments take a pain.001 and answer a pain.002. The ledger protects against paying
twice the way payment switches do: a resend of a known MsgId with identical content
returns the original report; with different content it is refused (DU01); a transfer
whose EndToEndId was already settled is rejected (AM05). Settled transfers appear as
booked debits in camt.054 notifications, for reconciliation.

A caregiver who already held a Cuenta DNI before the operation (the population's
``holds_cuenta_dni``) gets her existing account back from an opening (200, not 201): the
bank opens no second account. The holder of a newly opened account who collects her debit
card (``card_pickup``) appears in the card-delivery extract
(``GET /cuentas/v1/tarjetas/entregas``, CSV, ``adapters.bn.deliveries``), dated the day
of her opening: the sandbox compresses the operation's months.

``status_detail`` chooses how a report is shaped when every transfer of a batch ends
alike, as banks do: ``transaction`` lists each transfer; ``group`` gives only the group
status (``GrpSts``, with the common reason); ``payment-info`` gives only the payment
information block's status (``PmtInfSts``). A mixed batch always lists each transfer.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from adapters.bn.cci import account_for, cci_for, holder_of, is_valid_cci
from adapters.bn.deliveries import MAX_ROWS, MEDIA_TYPE, NEXT_HEADER, write_extract
from adapters.bn.iso20022 import (
    BANK_CODE,
    CURRENCY,
    CreditTransfer,
    Entry,
    InvalidMessageError,
    Notification,
    PaymentBatch,
    PaymentInfoStatus,
    StatusReport,
    TransactionStatus,
    build_camt054,
    build_pain002,
    parse_pain001,
)
from adapters.sandbox.faults import FaultInjector
from adapters.sandbox.population import (
    ROLE_CHILD,
    ROLE_MOTHER,
    Household,
    Lookup,
    Person,
    check_digit,
)
from adapters.sandbox.responses import JSONResponse
from adapters.sandbox.settings import SandboxSettings
from gateway.identifiers import is_ascii_digits
from gateway.partners.models import CardDelivery

XML = "application/xml"
# When the caregivers who already held a Cuenta DNI opened it (before the operation).
EXISTING_OPENED_AT = datetime(2019, 6, 1, 9, 0, tzinfo=UTC)
OPENING_BATCH_LIMIT = 1000
NOTIFICATION_BATCH_LIMIT = 200


def problem(status: int, code: str, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, object] = {"title": code, "status": status, "codigo": code, "detail": detail}
    if field:
        body["campo"] = field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@dataclass(slots=True)
class Account:
    """A Cuenta DNI. Its number and CCI follow from the holder's DNI and district
    (:mod:`adapters.bn.cci`), so they are computed when asked rather than kept."""

    dni: str
    ubigeo: str  # INEI code of the holder's district: the CCI's office
    opened_at: datetime
    closed: bool = False  # the bank closes the account of a holder it learns has died

    @property
    def number(self) -> str:
        return account_for(self.dni)

    @property
    def cci(self) -> str:
        return cci_for(self.ubigeo, account_for(self.dni))

    def as_json(self) -> dict[str, str]:
        return {
            "numeroDocumento": self.dni,
            "numeroCuenta": self.number,
            "cci": self.cci,
            "estado": "ACTIVA",
            "fechaApertura": self.opened_at.isoformat(),
        }


@dataclass(slots=True)
class Settled:
    msg_id: str
    payment_info_id: str
    amount: Decimal
    booked: date
    servicer_ref: str


def _pack(body: bytes) -> bytes:
    """A kept answer, compressed: XML and JSON answers shrink about tenfold."""
    return zlib.compress(body, 1)


def _unpack(packed: bytes) -> bytes:
    return zlib.decompress(packed)


class BankMock:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.population = settings.population
        self.accounts: dict[str, Account] = {}
        # The answers kept to be given again, compressed (:func:`_pack`): a national
        # run's reports list some 660,000 transfers, its openings 440,000 accounts.
        self.opening_requests: dict[str, tuple[str, int, bytes]] = {}
        self.reports: dict[str, tuple[str, bytes]] = {}
        self.ledger: dict[str, Settled] = {}
        self.by_batch: dict[str, list[str]] = {}  # MsgId -> EndToEndIds it settled
        self._amounts: dict[Decimal, Decimal] = {}
        self._instants: dict[datetime, datetime] = {}
        self._days: dict[date, date] = {}
        self.balance = Decimal(str(settings.bn_debtor_balance))
        self.sequence = 0
        self.status_detail = "transaction"  # or "group", "payment-info"
        self.deliveries: list[CardDelivery] = []
        self._deliveries_sorted = True

    def authorised(self, request: Request) -> bool:
        return request.headers.get("x-api-key") == self.settings.bn_api_key

    # ------------------------------------------------------------------ accounts

    async def open_account(self, request: Request) -> Response:
        return await self._once(request, self._open)

    async def open_accounts(self, request: Request) -> Response:
        """Mass opening (stand-in for the bank's file of openings): up to 1,000 holders in
        one request, each answered on its own; idempotent by X-Request-Id like a single
        opening, and a holder who already has an account gets it back."""
        return await self._once(request, self._open_batch)

    async def _once(
        self, request: Request, handle: Callable[[bytes], tuple[int, bytes]]
    ) -> Response:
        """Answer an opening request once per X-Request-Id: the same id and body answer
        the first result again, the same id with another body is refused."""
        if not self.authorised(request):
            return problem(401, "NO_AUTORIZADO", "X-Api-Key ausente o no valida", "X-Api-Key")
        request_id = request.headers.get("x-request-id", "")
        if not 1 <= len(request_id) <= 64:
            return problem(400, "SOLICITUD_INVALIDA", "X-Request-Id es obligatorio", "X-Request-Id")
        raw = await request.body()
        digest = hashlib.sha256(raw).hexdigest()
        known = self.opening_requests.get(request_id)
        if known is not None and known[0] != digest:
            return problem(
                409,
                "SOLICITUD_MODIFICADA",
                "X-Request-Id ya usado con otro contenido",
                "X-Request-Id",
            )
        if known is None:
            status, body = handle(raw)
            self.opening_requests[request_id] = (digest, status, _pack(body))
        else:
            status, body = known[1], _unpack(known[2])
        media = "application/json" if status < 400 else "application/problem+json"
        return Response(body, status_code=status, media_type=media)

    def _open_batch(self, raw: bytes) -> tuple[int, bytes]:
        def refuse(detail: str) -> tuple[int, bytes]:
            return 400, bytes(problem(400, "SOLICITUD_INVALIDA", detail, "aperturas").body)

        try:
            items = json.loads(raw)["aperturas"]
        except (ValueError, KeyError, TypeError):
            return refuse("cuerpo JSON con aperturas")
        if not isinstance(items, list) or not 1 <= len(items) <= OPENING_BATCH_LIMIT:
            return refuse(f"aperturas: de 1 a {OPENING_BATCH_LIMIT}")
        results = []
        for item in items:
            status, answer = self._open_one(item)
            outcome = "cuenta" if status < 400 else "error"
            results.append({"estadoApertura": status, outcome: answer})
        return 200, orjson.dumps({"resultados": results})

    def _open(self, raw: bytes) -> tuple[int, bytes]:
        try:
            data = json.loads(raw)
        except ValueError:
            return 400, bytes(
                problem(400, "SOLICITUD_INVALIDA", "el cuerpo no es JSON", "body").body
            )
        status, answer = self._open_one(data)
        if status >= 400:
            refused = problem(status, answer["codigo"], answer["detail"], answer["campo"])
            return status, bytes(refused.body)
        return status, orjson.dumps(answer)

    def _open_one(self, data: object) -> tuple[int, dict[str, str]]:
        def refuse(status: int, code: str, detail: str, field: str) -> tuple[int, dict[str, str]]:
            return status, {"codigo": code, "detail": detail, "campo": field}

        if not isinstance(data, dict) or data.get("tipoDocumento") != "DNI":
            return refuse(400, "SOLICITUD_INVALIDA", "tipoDocumento debe ser DNI", "tipoDocumento")
        dni = str(data.get("numeroDocumento", ""))
        if not is_ascii_digits(dni, 8):
            return refuse(422, "DOCUMENTO_INVALIDO", "DNI de 8 digitos", "numeroDocumento")
        declared = data.get("digitoVerificacion")
        if declared is not None and str(declared) != check_digit(dni):
            return refuse(
                422, "DOCUMENTO_INVALIDO", "digito de verificacion incorrecto", "digitoVerificacion"
            )
        found = self.population.lookup(dni)
        person = found.household.person(found.role) if found else None
        if found is None or found.role == ROLE_CHILD or not isinstance(person, Person):
            return refuse(422, "DOCUMENTO_INVALIDO", "DNI no registrado", "numeroDocumento")
        if person.deceased:
            return refuse(
                422, "TITULAR_FALLECIDO", "el titular figura como fallecido", "numeroDocumento"
            )
        existing = self._account(dni, found)
        if existing is not None:
            return 200, existing.as_json()
        household = found.household
        opened_at = datetime.now(UTC).replace(microsecond=0)
        account = self._keep(dni, household, opened_at)
        if found.role == ROLE_MOTHER and household.card_pickup:
            self.deliveries.append(CardDelivery(dni, account.number, opened_at.date()))
            self._deliveries_sorted = False
        return 201, account.as_json()

    def _keep(self, dni: str, household: Household, opened_at: datetime) -> Account:
        # Accounts opened in the same second share one timestamp object.
        opened_at = self._instants.setdefault(opened_at, opened_at)
        account = Account(dni, household.district.inei_code, opened_at)
        self.accounts[dni] = account
        return account

    def _account(self, dni: str, found: Lookup | None = None) -> Account | None:
        """The account of ``dni``: one opened here, or the Cuenta DNI a caregiver held
        before the operation (kept on first sight). ``found``: the population's look-up
        of ``dni`` when the caller holds it already (each look-up draws the household
        again from the seed)."""
        account = self.accounts.get(dni)
        if account is not None:
            return account
        found = found or self.population.lookup(dni)
        if found is None or found.role != ROLE_MOTHER or not found.household.holds_cuenta_dni:
            return None
        if found.household.mother.deceased:
            return None  # the bank closed it when the death was registered
        return self._keep(dni, found.household, EXISTING_OPENED_AT)

    async def card_deliveries(self, request: Request) -> Response:
        """The card-delivery extract for ``fechaDesde``..``fechaHasta`` (inclusive), from
        line ``desde`` (0-based), at most ``cantidad`` lines."""
        if not self.authorised(request):
            return problem(401, "NO_AUTORIZADO", "X-Api-Key ausente o no valida", "X-Api-Key")
        q = request.query_params
        try:
            first = date.fromisoformat(q.get("fechaDesde", ""))
        except ValueError:
            return problem(400, "SOLICITUD_INVALIDA", "fechaDesde: YYYY-MM-DD", "fechaDesde")
        try:
            last = date.fromisoformat(q.get("fechaHasta", ""))
        except ValueError:
            return problem(400, "SOLICITUD_INVALIDA", "fechaHasta: YYYY-MM-DD", "fechaHasta")
        offset, size = q.get("desde", "0"), q.get("cantidad", str(MAX_ROWS))
        if not is_ascii_digits(offset):
            return problem(400, "SOLICITUD_INVALIDA", "desde: entero >= 0", "desde")
        if not is_ascii_digits(size) or not 1 <= int(size) <= MAX_ROWS:
            return problem(400, "SOLICITUD_INVALIDA", f"cantidad: de 1 a {MAX_ROWS}", "cantidad")
        if not self._deliveries_sorted:
            self.deliveries.sort(key=lambda d: (d.delivered_on, d.account_number))
            self._deliveries_sorted = True
        rows = [d for d in self.deliveries if first <= d.delivered_on <= last]
        start, stop = int(offset), int(offset) + int(size)
        headers = {NEXT_HEADER: str(stop)} if stop < len(rows) else {}
        return Response(write_extract(rows[start:stop]), media_type=MEDIA_TYPE, headers=headers)

    async def get_account(self, request: Request) -> Response:
        if not self.authorised(request):
            return problem(401, "NO_AUTORIZADO", "X-Api-Key ausente o no valida", "X-Api-Key")
        account = self._account(request.path_params["dni"])
        if account is None:
            return problem(404, "CUENTA_NO_EXISTE", "no hay cuenta para este documento")
        return JSONResponse(account.as_json())

    # ------------------------------------------------------------------ payments

    def _next_ref(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}{datetime.now(UTC):%Y%m%d}{self.sequence:010d}"

    async def submit_batch(self, request: Request) -> Response:
        if not self.authorised(request):
            return problem(401, "NO_AUTORIZADO", "X-Api-Key ausente o no valida", "X-Api-Key")
        raw = await request.body()
        try:
            batch = parse_pain001(raw)
        except InvalidMessageError as exc:
            return problem(400, "FF01", str(exc), "body")
        digest = hashlib.sha256(raw).hexdigest()
        known = self.reports.get(batch.msg_id)
        now = datetime.now(UTC)
        if known is not None:
            if known[0] == digest:
                return Response(_unpack(known[1]), media_type=XML)
            refused = StatusReport(
                msg_id=self._next_ref("RJ"),
                created_at=now,
                original_msg_id=batch.msg_id,
                group_status="RJCT",
                group_reason="DU01",
                group_detail="MsgId ya recibido con contenido distinto",
            )
            return Response(build_pain002(refused), status_code=409, media_type=XML)
        statuses = [
            self._settle(batch.msg_id, batch.payment_info_id, t, now) for t in batch.transfers
        ]
        report = self._report(batch.msg_id, batch, statuses, now)
        body = build_pain002(report)
        self.reports[batch.msg_id] = (digest, _pack(body))
        return Response(body, media_type=XML)

    def _report(
        self, msg_id: str, batch: PaymentBatch, statuses: list[TransactionStatus], now: datetime
    ) -> StatusReport:
        accepted = sum(1 for s in statuses if s.status == "ACSC")
        group = "ACSC" if accepted == len(statuses) else "RJCT" if not accepted else "PART"
        reasons = {s.reason for s in statuses}
        uniform = group != "PART" and len(reasons) == 1 and self.status_detail != "transaction"
        reason = next(iter(reasons)) if uniform else None
        info: tuple[PaymentInfoStatus, ...] = ()  # group: no block at all
        if not uniform:
            info = (PaymentInfoStatus(batch.payment_info_id, group, transactions=tuple(statuses)),)
        elif self.status_detail == "payment-info":
            info = (PaymentInfoStatus(batch.payment_info_id, group, reason),)
        return StatusReport(
            msg_id=self._next_ref("ST"),
            created_at=now,
            original_msg_id=msg_id,
            original_count=len(batch.transfers),
            original_sum=batch.control_sum,
            group_status=None if uniform and self.status_detail == "payment-info" else group,
            group_reason=reason if uniform and self.status_detail == "group" else None,
            payment_infos=info,
        )

    def _settle(
        self, msg_id: str, info_id: str, transfer: CreditTransfer, now: datetime
    ) -> TransactionStatus:
        e2e = transfer.end_to_end_id

        def reject(code: str, detail: str) -> TransactionStatus:
            return TransactionStatus(e2e, "RJCT", code, detail)

        if e2e in self.ledger:
            return reject("AM05", "EndToEndId ya abonado")
        if transfer.currency != CURRENCY:
            return reject("AM03", "moneda no permitida")
        if transfer.amount <= 0:
            return reject("AM01", "importe cero o negativo")
        if not is_valid_cci(transfer.creditor_cci) or transfer.creditor_cci[:3] != BANK_CODE:
            return reject("AC01", "CCI no valido")
        # The account number inside the CCI names its holder: no index by CCI is kept.
        holder = holder_of(transfer.creditor_cci[6:18])
        account = self.accounts.get(holder) if holder is not None else None
        if account is None or account.cci != transfer.creditor_cci:
            return reject("AC01", "cuenta inexistente")
        if account.closed:
            return reject("AC04", "cuenta cerrada")
        if transfer.amount > self.balance:
            return reject("AM04", "fondos insuficientes")
        self.balance -= transfer.amount
        ref = self._next_ref("AB")
        # Amounts and booking days repeat across transfers: one object each (ISO 20022
        # messages write an amount with two decimals, so equal amounts read alike).
        amount = self._amounts.setdefault(transfer.amount, transfer.amount)
        booked = self._days.setdefault(now.date(), now.date())
        self.ledger[e2e] = Settled(msg_id, info_id, amount, booked, ref)
        self.by_batch.setdefault(msg_id, []).append(e2e)
        return TransactionStatus(e2e, "ACSC", accepted_at=now, servicer_ref=ref)

    async def batch_status(self, request: Request) -> Response:
        if not self.authorised(request):
            return problem(401, "NO_AUTORIZADO", "X-Api-Key ausente o no valida", "X-Api-Key")
        known = self.reports.get(request.path_params["msg_id"])
        if known is None:
            return problem(404, "LOTE_NO_EXISTE", "MsgId desconocido")
        return Response(_unpack(known[1]), media_type=XML)

    async def notifications(self, request: Request) -> Response:
        if not self.authorised(request):
            return problem(401, "NO_AUTORIZADO", "X-Api-Key ausente o no valida", "X-Api-Key")
        day = request.query_params.get("fecha")
        try:
            wanted = date.fromisoformat(day) if day else None
        except ValueError:
            return problem(400, "SOLICITUD_INVALIDA", "fecha: YYYY-MM-DD", "fecha")
        batches = [b for b in request.query_params.get("lotes", "").split(",") if b]
        if len(batches) > NOTIFICATION_BATCH_LIMIT:
            return problem(
                400, "SOLICITUD_INVALIDA", f"lotes: hasta {NOTIFICATION_BATCH_LIMIT}", "lotes"
            )
        settled = (
            ((e2e, self.ledger[e2e]) for b in batches for e2e in self.by_batch.get(b, ()))
            if batches
            else self.ledger.items()
        )
        entries = tuple(
            Entry(
                amount=s.amount,
                credit_debit="DBIT",
                booking_date=s.booked,
                servicer_ref=s.servicer_ref,
                end_to_end_id=e2e,
                msg_id=s.msg_id,
                payment_info_id=s.payment_info_id,
            )
            for e2e, s in settled
            if wanted is None or s.booked == wanted
        )
        now = datetime.now(UTC)
        account_tail = self.settings.bn_debtor_account[-8:]
        notification = Notification(
            msg_id=self._next_ref("NT"),
            created_at=now,
            notification_id=f"{account_tail}-{(wanted or now.date()):%Y%m%d}",
            account=self.settings.bn_debtor_account,
            entries=entries,
        )
        return Response(build_camt054(notification), media_type=XML)


def create_app(settings: SandboxSettings | None = None) -> ASGIApp:
    settings = settings or SandboxSettings()
    bank = BankMock(settings)
    app = Starlette(
        routes=[
            Route("/cuentas/v1/aperturas", bank.open_account, methods=["POST"]),
            Route("/cuentas/v1/aperturas/lotes", bank.open_accounts, methods=["POST"]),
            Route("/cuentas/v1/cuentas/{dni}", bank.get_account, methods=["GET"]),
            Route("/cuentas/v1/tarjetas/entregas", bank.card_deliveries, methods=["GET"]),
            Route("/pagos/v1/lotes", bank.submit_batch, methods=["POST"]),
            Route("/pagos/v1/lotes/{msg_id}", bank.batch_status, methods=["GET"]),
            Route("/pagos/v1/notificaciones", bank.notifications, methods=["GET"]),
        ]
    )
    app.state.bank = bank
    return FaultInjector(
        app,
        settings.faults.bn,
        lambda: problem(503, "SERVICIO_NO_DISPONIBLE", "intente mas tarde"),
    )
