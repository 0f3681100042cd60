"""The four partners answered in process from a sandbox population.

Each fake follows its mock server's rules where the gateway can tell the difference
(who is found, who is a minor, which accounts exist, which transfers are accepted) and
raises the same typed errors the real adapter would map (``PartnerNotFound``,
``PartnerInvalidInput``); it knows no faults, quotas or credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime

import httpx

from adapters.bn.cci import account_for, cci_for
from adapters.bn.client import BankAdapter
from adapters.bn.iso20022 import (
    PaymentInfoStatus,
    StatusReport,
    TransactionStatus,
    build_pain002,
    parse_pain001,
)
from adapters.bn.mock import EXISTING_OPENED_AT
from adapters.bn.settings import BankSettings
from adapters.minsa_his.client import _history as history_from_body
from adapters.minsa_his.mock import his_row
from adapters.reniec.client import _newborn as newborn_from_row
from adapters.reniec.mock import padron_row
from adapters.sandbox.population import ROLE_CHILD, ROLE_MOTHER, Lookup, Person, Population
from adapters.sandbox.settings import SandboxSettings
from gateway.partners.errors import PartnerInvalidInput, PartnerNotFound
from gateway.partners.models import (
    Account,
    CardDelivery,
    CardDeliveryPage,
    DeliveryReport,
    ExtractPage,
    HealthHistory,
    Newborn,
    NewbornPage,
    OpeningRefused,
    PaymentReport,
    PhoneLine,
    SettledPayment,
)
from gateway.partners.models import Person as CanonicalPerson
from gateway.partners.ports import (
    Bank,
    CivilRegistry,
    HealthRegistry,
    ShortMessageCentre,
    SmsEventHandler,
    TelecomRegistry,
)
from gateway.partners.registry import PartnerRegistry
from gateway.partners.resilience import PartnerGuard
from gateway.settings import Settings

ADULT_DAYS = 18 * 365


def _adult(population: Population, found: Lookup | None) -> Person | None:
    if found is None or found.role == ROLE_CHILD:
        return None
    person = found.household.person(found.role)
    if not isinstance(person, Person):
        return None
    return person if (population.as_of - person.birth_date).days >= ADULT_DAYS else None


class FakeCivilRegistry:
    """RENIEC: adults by DNI (a minor or a child's CUI is not found), newborns by scan.

    Padrón rows and HIS rows are the mock servers' own, read by the real adapters'
    mapping, so a fake answer is the answer the adapter would have produced."""

    def __init__(self, population: Population) -> None:
        self.population = population

    async def person(self, dni: str) -> CanonicalPerson:
        found = self.population.lookup(dni)
        person = _adult(self.population, found)
        if found is None or person is None:
            raise PartnerNotFound("reniec", "consultar", "no such adult")
        return CanonicalPerson(
            dni=person.dni,
            first_surname=person.first_surname,
            second_surname=person.second_surname,
            given_names=person.given_names,
            address=found.household.address,
            marital_status=person.marital_status,
            place_name=found.household.district.reniec_label,
            restriction=person.restriction,
            photo=None,
        )

    async def newborns(
        self,
        ubigeos: Sequence[str],
        born_from: date,
        born_to: date,
        cursor: str | None,
        limit: int,
    ) -> NewbornPage:
        start = int(cursor or 0)
        items: list[Newborn] = []
        following: str | None = None
        for index in self.population.newborns(born_from, born_to, ubigeos, start=start):
            if len(items) == limit:
                following = str(index)
                break
            items.append(newborn_from_row(padron_row(self.population, index)))
        return NewbornPage(tuple(items), following)


class FakeTelecomRegistry:
    """OSIPTEL: the lines of an adult's household (none for a child or an unknown DNI)."""

    def __init__(self, population: Population) -> None:
        self.population = population

    async def phone_lines(self, dni: str) -> list[PhoneLine]:
        found = self.population.lookup(dni)
        if found is None or found.role == ROLE_CHILD:
            return []
        return [
            PhoneLine(line.number, line.operator, line.modality)
            for line in found.household.phone_lines
        ]

    async def phone_lines_many(self, dnis: Sequence[str]) -> list[list[PhoneLine]]:
        return [await self.phone_lines(dni) for dni in dnis]


class FakeHealthRegistry:
    """MINSA HIS: a child's services by CUI (or DNI), and the extract over a date range."""

    def __init__(self, population: Population) -> None:
        self.population = population

    def _history(self, cui: str) -> HealthHistory | None:
        index = self.population.child_index(cui)
        if index is None:
            return None
        records = self.population.health_records_of(index)
        body = {
            "Fecha_Nacimiento": self.population.birth_date(index).isoformat(),
            "atenciones": [his_row(r) for r in records],
        }
        return history_from_body(body, "records-by-patient")

    async def health_history(self, cui: str) -> HealthHistory:
        history = self._history(cui)
        if history is None:
            raise PartnerNotFound("minsa_his", "records-by-patient", "no such patient")
        return history

    async def health_histories(self, cuis: Sequence[str]) -> list[HealthHistory | None]:
        return [self._history(cui) for cui in cuis]

    async def records_extract(
        self, service_from: date, service_to: date, cursor: str | None, limit: int
    ) -> ExtractPage:
        index, offset = (int(p) for p in (cursor or "0.0").split("."))
        rows: list[dict[str, object]] = []
        while index < self.population.size:
            if self.population.may_have_services(index, service_from, service_to):
                records = self.population.health_records_of(index)
                in_range = [r for r in records if service_from <= r.service_date <= service_to]
                for position in range(offset, len(in_range)):
                    if len(rows) == limit:
                        return ExtractPage(tuple(rows), f"{index}.{position}")
                    row = his_row(in_range[position])
                    rows.append(
                        {
                            "cui": row["Id_Paciente"],
                            "appointment_id": row["Id_Cita"],
                            "service_date": row["Fecha_Atencion"],
                            "facility": row["Id_Establecimiento"],
                            "item_code": row["Codigo_Item"],
                            "lab_value": row["Valor_Lab"],
                        }
                    )
            index, offset = index + 1, 0
        return ExtractPage(tuple(rows), None)


def _refuse_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError("the fake bank sends nothing over the network")


class FakeBank(BankAdapter):
    """Banco de la Nación: Cuenta DNI accounts for living adults, and a ledger.

    The payment documents are the real adapter's (this class inherits its
    ``payment_document``, ``read_payment_report`` and ``read_settlements``); a transfer
    is accepted (``ACSC``) when its CCI is an open account and its EndToEndId has not
    been paid, else rejected (``AC01``, ``AM05``); a resent MsgId with the same content
    gets its first report back."""

    def __init__(
        self, population: Population, settings: BankSettings, registry: PartnerRegistry
    ) -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(_refuse_network))
        registry.on_close(http.aclose)
        super().__init__(settings, http, PartnerGuard("bn", settings, registry.health))
        self.population = population
        self.accounts: dict[str, Account] = {}
        self.by_cci: dict[str, Account] = {}
        self.reports: dict[str, tuple[str, bytes]] = {}
        self.ledger: dict[str, SettledPayment] = {}
        self.deliveries: list[CardDelivery] = []

    def _open(self, dni: str, check_digit: str | None) -> Account:
        found = self.population.lookup(dni)
        person = _adult(self.population, found)
        if found is None or person is None:
            raise PartnerInvalidInput("bn", "open-account", "HTTP 422 DOCUMENTO_INVALIDO")
        if check_digit is not None and check_digit != person.check_digit:
            raise PartnerInvalidInput("bn", "open-account", "HTTP 422 DOCUMENTO_INVALIDO")
        if person.deceased:
            raise PartnerInvalidInput("bn", "open-account", "HTTP 422 TITULAR_FALLECIDO")
        existing = self.accounts.get(dni)
        if existing is not None:
            return Account(**{**existing.__dict__, "newly_opened": False})
        household = found.household
        held = found.role == ROLE_MOTHER and household.holds_cuenta_dni
        number = account_for(dni)
        account = Account(
            dni=dni,
            account_number=number,
            cci=cci_for(household.district.inei_code, number),
            status="ACTIVA",
            opened_at=EXISTING_OPENED_AT if held else datetime.now(UTC).replace(microsecond=0),
            newly_opened=not held,
        )
        self.accounts[dni] = account
        self.by_cci[account.cci] = account
        if not held and found.role == ROLE_MOTHER and household.card_pickup:
            self.deliveries.append(CardDelivery(dni, number, account.opened_at.date()))
        return account

    async def card_deliveries(
        self, delivered_from: date, delivered_to: date, cursor: str | None, limit: int
    ) -> CardDeliveryPage:
        rows = sorted(
            (d for d in self.deliveries if delivered_from <= d.delivered_on <= delivered_to),
            key=lambda d: (d.delivered_on, d.account_number),
        )
        start = int(cursor) if cursor and cursor.isdigit() else 0
        stop = start + limit
        return CardDeliveryPage(tuple(rows[start:stop]), str(stop) if stop < len(rows) else None)

    async def open_account(self, dni: str, check_digit: str | None, request_id: str) -> Account:
        return self._open(dni, check_digit)

    async def open_accounts(
        self, holders: Sequence[tuple[str, str | None]], request_id: str
    ) -> list[Account | OpeningRefused]:
        out: list[Account | OpeningRefused] = []
        for dni, check_digit in holders:
            try:
                out.append(self._open(dni, check_digit))
            except PartnerInvalidInput as exc:
                out.append(OpeningRefused(422, exc.detail.rsplit(" ", 1)[-1]))
        return out

    async def account(self, dni: str) -> Account:
        existing = self.accounts.get(dni)
        if existing is None:
            raise PartnerNotFound("bn", "account-by-dni", "HTTP 404 CUENTA_NO_EXISTE")
        return Account(**{**existing.__dict__, "newly_opened": False})

    async def submit_payments(self, document: bytes) -> PaymentReport:
        batch = parse_pain001(document)
        digest = hashlib.sha256(document).hexdigest()
        known = self.reports.get(batch.msg_id)
        if known is not None and known[0] == digest:
            return self.read_payment_report(known[1])
        now = datetime.now(UTC)
        statuses = []
        for t in batch.transfers:
            if t.end_to_end_id in self.ledger:
                statuses.append(TransactionStatus(t.end_to_end_id, "RJCT", "AM05"))
            elif t.creditor_cci not in self.by_cci:
                statuses.append(TransactionStatus(t.end_to_end_id, "RJCT", "AC01"))
            else:
                self.ledger[t.end_to_end_id] = SettledPayment(
                    t.end_to_end_id, f"{t.amount:.2f}", now.date(), batch.msg_id
                )
                statuses.append(TransactionStatus(t.end_to_end_id, "ACSC", accepted_at=now))
        report = build_pain002(
            StatusReport(
                msg_id=f"ST{batch.msg_id}"[:35],
                created_at=now,
                original_msg_id=batch.msg_id,
                group_status=None,
                payment_infos=(
                    PaymentInfoStatus(batch.payment_info_id, transactions=tuple(statuses)),
                ),
            )
        )
        self.reports[batch.msg_id] = (digest, report)
        return self.read_payment_report(report)

    async def settled_payments(self, msg_ids: Sequence[str] = ()) -> list[SettledPayment]:
        return [s for s in self.ledger.values() if not msg_ids or s.msg_id in msg_ids]


class FakeShortMessageCentre:
    """Accepts every message with the next message id and reports it delivered at once,
    through the same handler the SMPP adapter feeds (no bind, no network)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self._handler: SmsEventHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def listen(self, handler: SmsEventHandler) -> None:
        self._handler = handler

    async def keep_bound(self) -> bool:
        return True

    async def submit(self, phone: str, text: str, *, resend: bool) -> str:
        self.sent.append((phone, text))
        message_id = f"{len(self.sent):010d}"
        if self._handler is not None:
            report = DeliveryReport(message_id, "delivered", "DELIVRD", "000", datetime.now(UTC))
            task = asyncio.create_task(self._report(report))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return message_id

    async def _report(self, report: DeliveryReport) -> None:
        assert self._handler is not None
        for _ in range(50):  # until the submission's outcome is stored, as an SMSC would
            try:
                await self._handler(report)
                return
            except Exception:
                await asyncio.sleep(0.05)


def register(registry: PartnerRegistry, settings: Settings) -> None:
    """Registers the fakes on the population of ``SandboxSettings()`` (read from
    ``GATEWAY_SANDBOX_*``); the bank's documents use ``settings.partners.bn``."""
    population = SandboxSettings().population
    registry.register(CivilRegistry, FakeCivilRegistry(population))
    registry.register(TelecomRegistry, FakeTelecomRegistry(population))
    registry.register(HealthRegistry, FakeHealthRegistry(population))
    registry.register(Bank, FakeBank(population, settings.partners.bn, registry))
    registry.register(ShortMessageCentre, FakeShortMessageCentre())
