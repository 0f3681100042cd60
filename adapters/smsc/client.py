"""The gateway's ESME: one SMPP 3.4 transceiver bind to the operator's SMSC.

One bind per gateway process, opened at the first submission (or by
:meth:`SmscAdapter.keep_bound`) and kept: it carries the ``submit_sm`` of reminders and,
the other way, the ``deliver_sm`` of delivery receipts and of replies typed on phones
("BAJA"), each answered with ``deliver_sm_resp`` only after the gateway stored it (an
error answer, ``ESME_RX_T_APPN``, asks the SMSC to deliver it again later). Requests
and responses are matched by ``sequence_number``; several submissions may wait on the
bind at once.

Throughput: submissions are paced to ``messages_per_second`` (every part of a
concatenated message counts), the window the operator grants the bind, so the SMSC
seldom needs to throttle; when it does (``ESME_RTHROTTLED``), the message is submitted
again after a backoff (tenacity), as is one whose bind was lost. A resend may follow a
``submit_sm`` the SMSC accepted without its answer arriving, so every resend sets
``replace_if_present_flag``: the SMSC replaces a copy still pending for the same
sender, destination and ``service_type`` instead of delivering a second one (SMPP 3.4
§5.2.18).

Errors (``gateway.partners.errors``; details name the operation and the command
status, never a number or a text):

    PartnerRefused      bind refused (ESME_RBINDFAIL, ESME_RINVPASWD), a message refused
    PartnerInvalidInput destination refused (ESME_RINVDSTADR)
    PartnerUnavailable  transient: connection refused or lost, system error
    └── SmscThrottled   transient: ESME_RTHROTTLED
    PartnerTimeout      transient: no response within ``read_timeout_seconds``
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from typing import Any

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from adapters.smsc import smpp
from adapters.smsc.settings import SmscSettings
from gateway.partners.errors import (
    PartnerError,
    PartnerInvalidInput,
    PartnerRefused,
    PartnerTimeout,
    PartnerUnavailable,
)
from gateway.partners.models import (
    DeliveryReport,
    MessageOutcome,
    MobileOriginated,
    SmsEvent,
)
from gateway.partners.ports import SmsEventHandler, UnknownMessage
from gateway.partners.resilience import PartnerGuard

log = structlog.get_logger("adapters.smsc")

PARTNER = "smsc"
#: Receipt ``stat`` (SMPP 3.4 Appendix B) to the outcome the gateway keeps; ACCEPTD is
#: not final and is only acknowledged.
OUTCOMES: dict[str, MessageOutcome] = {
    "DELIVRD": "delivered",
    "EXPIRED": "expired",
    "UNDELIV": "failed",
    "REJECTD": "failed",
    "DELETED": "failed",
    "UNKNOWN": "failed",
}
_TON_INTERNATIONAL, _TON_ALPHANUMERIC, _NPI_ISDN = 1, 5, 1
#: Receipts and replies handed to the handler at once (it may store them together).
STORING = 512


class SmscThrottled(PartnerUnavailable):
    """The SMSC answered ESME_RTHROTTLED: over the bind's window, try again later."""


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, PartnerError) and exc.transient


class _Link:
    """One open bind: the stream, the requests waiting for their response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def fail_all(self) -> None:
        self.closed = True
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionResetError())
        self.waiting.clear()


class SmscAdapter:
    """:class:`gateway.partners.ports.ShortMessageCentre` over SMPP 3.4."""

    partner = PARTNER

    def __init__(self, settings: SmscSettings, guard: PartnerGuard) -> None:
        self.settings = settings
        self.guard = guard
        self._link: _Link | None = None
        self._binding = asyncio.Lock()
        self._pacing = asyncio.Lock()
        self._next_slot = 0.0
        self._sequence = itertools.count(1)
        self._handler: SmsEventHandler | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._storing: set[asyncio.Task[None]] = set()
        self._store_slots = asyncio.Semaphore(STORING)

    # -- the port ----------------------------------------------------------------------

    def listen(self, handler: SmsEventHandler) -> None:
        self._handler = handler

    async def keep_bound(self) -> bool:
        try:
            await self._bound()
        except PartnerError as exc:
            log.warning("smsc bind failed", error=exc.slug, detail=exc.detail)
            return False
        return True

    async def submit(self, phone: str, text: str, *, resend: bool) -> str:
        if not phone.isdigit():
            raise PartnerInvalidInput(PARTNER, "submit_sm", "destination is not a number")
        parts, coding, esm_class = smpp.encode_text(text)

        async def attempt(replace: bool) -> str:
            return await self.guard.call(
                "submit_sm",
                functools.partial(self._submit, phone, parts, coding, esm_class, replace),
                idempotent=False,  # retried here, as a replacing resend
            )

        # The first attempt goes out directly: nearly every submission needs no other,
        # and a retrying loop built per message costs more than the submission itself.
        try:
            return await attempt(resend)
        except PartnerError as exc:
            if not _transient(exc) or self.settings.retries < 1:
                raise
        initial = max(self.settings.backoff_initial_seconds, 1 / 1000)
        ceiling = max(self.settings.backoff_max_seconds, 1 / self.settings.messages_per_second)
        await asyncio.sleep(min(initial, ceiling))
        message_id = ""
        async for retry in AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.settings.retries),
            wait=wait_exponential(multiplier=initial * 2, max=ceiling),
            reraise=True,
        ):
            with retry:
                message_id = await attempt(True)  # a resend replaces a copy still held
        return message_id

    async def aclose(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        link, self._link = self._link, None
        if link is not None and not link.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request(link, "unbind"), 1.0)
            await self._close(link)
        # Events being stored finish (the SMSC sends again those it was not told of).
        if self._storing:
            _, late = await asyncio.wait(set(self._storing), timeout=5)
            for task in late:
                task.cancel()

    # -- the link ----------------------------------------------------------------------

    async def _bound(self) -> _Link:
        link = self._link
        if link is not None and not link.closed:
            return link
        async with self._binding:
            if self._link is not None and not self._link.closed:
                return self._link
            self._link = await self._bind()
            if self._keepalive is None or self._keepalive.done():
                self._keepalive = asyncio.create_task(self._enquire_links())
            return self._link

    async def _bind(self) -> _Link:
        host, port = self.settings.address()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.settings.connect_timeout_seconds
            )
        except TimeoutError:
            raise PartnerTimeout(PARTNER, "bind_transceiver", "no connection") from None
        except OSError:
            raise PartnerUnavailable(PARTNER, "bind_transceiver", "connection refused") from None
        link = _Link(reader, writer)
        writer.write(
            smpp.encode(
                "bind_transceiver",
                next(self._sequence),
                system_id=self.settings.system_id,
                password=self.settings.password.get_secret_value(),
                system_type=self.settings.system_type,
                interface_version=0x34,
                addr_ton=0,
                addr_npi=0,
                address_range="",
            )
        )
        try:
            await writer.drain()
            answer = await asyncio.wait_for(
                smpp.read_pdu(reader), self.settings.read_timeout_seconds
            )
        except TimeoutError:
            await self._close(link)
            raise PartnerTimeout(PARTNER, "bind_transceiver", "no bind response") from None
        except (OSError, asyncio.IncompleteReadError, smpp.PduError):
            await self._close(link)
            raise PartnerUnavailable(PARTNER, "bind_transceiver", "link lost") from None
        if answer.status != smpp.ESME_ROK or answer.command != "bind_transceiver_resp":
            await self._close(link)
            raise PartnerRefused(
                PARTNER, "bind_transceiver", f"bind refused (status 0x{answer.status:08X})"
            )
        link.task = asyncio.create_task(self._read(link))
        return link

    async def _close(self, link: _Link) -> None:
        link.fail_all()
        link.writer.close()
        with contextlib.suppress(Exception):
            await link.writer.wait_closed()

    async def _enquire_links(self) -> None:
        """Keep an idle bind alive (SMSCs close a silent one)."""
        while True:
            await asyncio.sleep(self.settings.enquire_link_seconds)
            link = self._link
            if link is None or link.closed:
                continue
            try:
                await self._request(link, "enquire_link")
            except (PartnerError, OSError):
                await self._close(link)

    async def _request(self, link: _Link, command: str, **fields: Any) -> Any:
        sequence = next(self._sequence)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.waiting[sequence] = future
        try:
            link.writer.write(smpp.encode(command, sequence, **fields))
            await link.writer.drain()
            return await asyncio.wait_for(future, self.settings.read_timeout_seconds)
        except TimeoutError:
            # The answer may still come, or the SMSC may have dropped the request: the
            # bind's state is unknown, so it is closed and the next call binds again.
            await self._close(link)
            raise PartnerTimeout(PARTNER, command, "no response") from None
        except (OSError, ConnectionResetError):
            await self._close(link)
            raise PartnerUnavailable(PARTNER, command, "link lost") from None
        finally:
            link.waiting.pop(sequence, None)
            if future.done() and not future.cancelled():
                # Failed by the link's end after this request gave up on it (a write that
                # failed first): read here, or asyncio reports it as never retrieved.
                future.exception()

    async def _read(self, link: _Link) -> None:
        """Answers to our requests, and the SMSC's own requests, until the link ends."""
        try:
            while True:
                pdu = await smpp.read_pdu(link.reader)
                if pdu.is_response():
                    future = link.waiting.get(pdu.sequence)
                    if future is not None and not future.done():
                        future.set_result(pdu)
                elif pdu.command == "deliver_sm":
                    # Stored beside the reading, so that responses to our submissions
                    # are not held behind the database.
                    task = asyncio.create_task(self._acknowledge(link, pdu))
                    self._storing.add(task)
                    task.add_done_callback(self._storing.discard)
                elif pdu.command == "enquire_link":
                    link.writer.write(smpp.encode("enquire_link_resp", pdu.sequence))
                elif pdu.command == "unbind":
                    link.writer.write(smpp.encode("unbind_resp", pdu.sequence))
                    break
                else:
                    link.writer.write(smpp.encode("generic_nack", pdu.sequence, status=0x00000003))
        except (asyncio.IncompleteReadError, OSError, smpp.PduError):
            pass
        finally:
            link.fail_all()
            link.writer.close()

    async def _acknowledge(self, link: _Link, pdu: Any) -> None:
        async with self._store_slots:
            status = await self._delivered(pdu)
        if not link.closed:
            link.writer.write(
                smpp.encode("deliver_sm_resp", pdu.sequence, status=status, message_id="")
            )

    async def _delivered(self, pdu: Any) -> int:
        """Hand a deliver_sm to the handler; the command status to answer it with."""
        event = self._event(pdu)
        if event is None:
            return smpp.ESME_ROK  # an intermediate receipt (ACCEPTD): nothing to keep
        if self._handler is None:
            return smpp.ESME_RX_T_APPN
        try:
            await self._handler(event)
        except UnknownMessage:  # the receipt overtook its submission's record: expected
            log.info("sms event early, asked again later")
            return smpp.ESME_RX_T_APPN
        except Exception as exc:  # the type only: a text may quote a number
            log.warning("sms event not stored", error=type(exc).__name__)
            return smpp.ESME_RX_T_APPN
        return smpp.ESME_ROK

    def _event(self, pdu: Any) -> SmsEvent | None:
        body = smpp.decode_text(pdu.short_message or b"", pdu.data_coding or 0)
        if (pdu.esm_class or 0) & smpp.ESM_DELIVERY_RECEIPT:
            receipt = smpp.parse_receipt(body)
            if receipt is None or receipt.state not in OUTCOMES:
                return None
            return DeliveryReport(
                receipt.message_id,
                OUTCOMES[receipt.state],
                receipt.state,
                receipt.error,
                receipt.done_at,
            )
        source = smpp.text(pdu.source_addr)
        country = self.settings.country_code
        phone = source[len(country) :] if source.startswith(country) else source
        return MobileOriginated(phone, body)

    # -- submission --------------------------------------------------------------------

    async def _pace(self) -> None:
        """Wait for the next slot of the operator's window (messages per second)."""
        async with self._pacing:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1 / self.settings.messages_per_second
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _submit(
        self, phone: str, parts: tuple[bytes, ...], coding: int, esm_class: int, replace: bool
    ) -> str:
        link = await self._bound()
        message_id = ""
        for short_message in parts:
            await self._pace()
            answer = await self._request(
                link,
                "submit_sm",
                service_type=self.settings.service_type,
                source_addr_ton=_TON_ALPHANUMERIC,
                source_addr_npi=0,
                source_addr=self.settings.source_addr,
                dest_addr_ton=_TON_INTERNATIONAL,
                dest_addr_npi=_NPI_ISDN,
                destination_addr=self.settings.country_code + phone,
                esm_class=esm_class,
                registered_delivery=1,  # a receipt on final outcome, success or failure
                replace_if_present_flag=1 if replace else 0,
                data_coding=coding,
                short_message=short_message,
            )
            self._check(answer.status)
            message_id = message_id or smpp.text(answer.message_id)
        if not message_id:
            raise PartnerRefused(PARTNER, "submit_sm", "no message id in the response")
        return message_id

    @staticmethod
    def _check(status: int) -> None:
        if status == smpp.ESME_ROK:
            return
        detail = f"command status 0x{status:08X}"
        if status == smpp.ESME_RTHROTTLED:
            raise SmscThrottled(PARTNER, "submit_sm", detail)
        if status == smpp.ESME_RINVDSTADR:
            raise PartnerInvalidInput(PARTNER, "submit_sm", detail)
        if status == smpp.ESME_RSYSERR:
            raise PartnerUnavailable(PARTNER, "submit_sm", detail)
        raise PartnerRefused(PARTNER, "submit_sm", detail)
