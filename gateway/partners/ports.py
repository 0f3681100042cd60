"""One Protocol per partner capability; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from gateway.partners.models import (
    Account,
    CardDeliveryPage,
    ExtractPage,
    HealthHistory,
    NewbornPage,
    OpeningRefused,
    Outcome,
    PaymentReport,
    Person,
    PhoneLine,
    SettledPayment,
    SmsEvent,
    Transfer,
)

# Reads the partner credential stored by the gateway (None: none stored, use the
# configured one).
CredentialSource = Callable[[], Awaitable[str | None]]


@runtime_checkable
class RenewableCredential(Protocol):
    """A partner credential the gateway renews itself through the partner's own
    operation (RENIEC: ``actualizarcredencial``, the answer to ``1002``)."""

    partner: str
    credential_source: CredentialSource | None

    async def renew_credential(self, new_secret: str) -> None:
        """Replace the credential in force by ``new_secret`` at the partner and use it
        from then on; a PartnerError (not retried) when the partner refuses."""
        ...


@runtime_checkable
class CivilRegistry(Protocol):
    """RENIEC: identities and the newborn extract."""

    async def person(self, dni: str) -> Person: ...

    async def newborns(
        self,
        ubigeos: Sequence[str],
        born_from: date,
        born_to: date,
        cursor: str | None,
        limit: int,
    ) -> NewbornPage: ...


@runtime_checkable
class TelecomRegistry(Protocol):
    """OSIPTEL: mobile lines registered to a document."""

    async def phone_lines(self, dni: str) -> list[PhoneLine]: ...

    async def phone_lines_many(self, dnis: Sequence[str]) -> list[list[PhoneLine]]:
        """The lines of each document, in the order asked (one request for them all)."""
        ...


@runtime_checkable
class Bank(Protocol):
    """Banco de la Nación: Cuenta DNI accounts."""

    async def open_account(self, dni: str, check_digit: str | None, request_id: str) -> Account: ...

    async def open_accounts(
        self, holders: Sequence[tuple[str, str | None]], request_id: str
    ) -> list[Account | OpeningRefused]:
        """Mass opening of (DNI, check digit) holders in one request, deduplicated by
        the bank on ``request_id``; each holder's account or refusal, in order."""
        ...

    async def account(self, dni: str) -> Account: ...

    async def card_deliveries(
        self, delivered_from: date, delivered_to: date, cursor: str | None, limit: int
    ) -> CardDeliveryPage:
        """Debit cards handed to their holders with a delivery date in the range
        (inclusive), at most ``limit`` from ``cursor`` (None: the first), and the cursor
        of the next part (None at the end)."""
        ...

    def payment_document(
        self, msg_id: str, created_at: datetime, requested_date: date, transfers: Sequence[Transfer]
    ) -> bytes:
        """The bank's payment-initiation document (pain.001) for these transfers; the
        gateway keeps the exact bytes so that a resend is byte-identical."""
        ...

    async def submit_payments(self, document: bytes) -> PaymentReport:
        """Submit a pain.001 document; the bank answers its pain.002 status report and
        returns the original report for a resend of the same MsgId and content."""
        ...

    def outcome(self, status: str | None) -> Outcome:
        """What a status code of the bank's reports means for a transfer: ``paid``,
        ``rejected`` or ``pending`` (also for None: no status)."""
        ...

    def invalid_status(self, status: object) -> str | None:
        """None when ``status`` is a status code of the bank's reports, else what a code
        looks like (never the value): the bank, not the core, knows its codes."""
        ...

    def read_payment_report(self, document: bytes) -> PaymentReport:
        """A pain.002 (001.03 or 001.10) pushed by the bank; ValueError naming the
        element, line and rule of the first error (never a value) if invalid."""
        ...

    def read_settlements(self, document: bytes) -> list[SettledPayment]:
        """The booked debits of a camt.054 (001.02 or 001.08) pushed by the bank, one per
        transaction with its own amount; ValueError naming the first error if invalid."""
        ...

    async def settled_payments(self, msg_ids: Sequence[str] = ()) -> list[SettledPayment]:
        """The debits booked on the programme's account (camt.054); with ``msg_ids``, only
        those of these payment messages (at most 200)."""
        ...


@runtime_checkable
class HealthRegistry(Protocol):
    """MINSA HIS: health services given to a child."""

    async def health_history(self, cui: str) -> HealthHistory: ...

    async def health_histories(self, cuis: Sequence[str]) -> list[HealthHistory | None]:
        """The history of each child, in the order asked (None: HIS has no such
        patient), in one request."""
        ...

    async def records_extract(
        self, service_from: date, service_to: date, cursor: str | None, limit: int
    ) -> ExtractPage:
        """Every service registered in a date range (rows: cui, appointment_id,
        service_date, facility, item_code, lab_value), paged."""
        ...


# Receives what the SMS centre sends back (receipts and replies); an exception means
# "not stored": the adapter then asks the SMSC to send it again later.
SmsEventHandler = Callable[[SmsEvent], Awaitable[None]]


class UnknownMessage(Exception):  # noqa: N818 - a fact the SMSC is told, not a bug
    """Raised by an :data:`SmsEventHandler` for a receipt of a message id not stored
    (yet): expected when the receipt overtakes the record of its submission. The SMSC is
    asked to deliver it again later (SMPP 3.4 §5.1.3, ``ESME_RX_T_APPN``)."""


@runtime_checkable
class ShortMessageCentre(Protocol):
    """The operator's SMS centre (SMPP 3.4): text messages to mobile phones."""

    async def submit(self, phone: str, text: str, *, resend: bool) -> str:
        """Submit ``text`` to the national mobile number ``phone``; the SMSC's message id
        (of the first part, for a concatenated message), which its delivery receipt
        names. ``resend``: an earlier submission of this message may have reached the
        SMSC unanswered; it is then sent so that the SMSC replaces a copy still pending
        rather than delivering a second one. Throttling and a lost link are retried
        within the call; PartnerError when the SMSC refuses the message or the bind."""
        ...

    def listen(self, handler: SmsEventHandler) -> None:
        """Hand every delivery receipt and mobile-originated message to ``handler``;
        the SMSC's delivery is acknowledged only after the handler returned."""
        ...

    async def keep_bound(self) -> bool:
        """Bind now when no bind is open (receipts and replies only arrive on one);
        whether a bind is open afterwards. Never raises for a refused bind."""
        ...
