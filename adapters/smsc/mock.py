"""The sandbox SMSC: the SMSC end of SMPP 3.4, with faults, and a small admin API.

It binds transceivers whose ``system_id`` and ``password`` match its settings, answers
``submit_sm`` with a message id, and after ``receipt_delay_ms`` ends each message
DELIVRD (or UNDELIV / EXPIRED, as the faults say) and sends its delivery receipt as a
``deliver_sm`` (SMPP 3.4 Appendix B text) to a bound transceiver of the same account,
again and again until one answers ``deliver_sm_resp`` with ESME_ROK, as an SMSC stores
and forwards receipts. A ``submit_sm`` with ``replace_if_present_flag`` replaces the
message still pending for the same sender, destination and ``service_type`` and keeps
its message id (no second delivery). Replies typed on a phone (``POST /_admin/mo``)
reach the programme the same way, as a ``deliver_sm`` without the receipt bit.

The admin API, on its own HTTP port (``GATEWAY_SANDBOX_SMSC_ADMIN_PORT``):
``GET``/``PUT /_admin/faults`` (:class:`adapters.smsc.faults.SmscFaults`, with counts:
``submit_sm``, ``accepted``, ``throttled``, ``dropped``, ``deliver_sm_acked``,
``deliver_sm_refused``, ``deliver_sm_again`` (queued to be sent again), binds...),
``POST /_admin/mo`` (``{"phone": "9XXXXXXXX", "text": "BAJA"}``), ``GET
/_admin/messages`` (counts by state; never a number or a text).

A message is kept whole (addresses, text) only while it is pending; once its receipt is
due only its final state is kept, one byte per message id, so that the national
operation's 660,000 reminders cost the mock under a megabyte once delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.sandbox.responses import JSONResponse
from adapters.smsc import smpp
from adapters.smsc.faults import SmscFaults

#: deliver_sm sent and not yet acknowledged, at most, on each bound session: an SMSC's
#: window of outstanding requests (SMPP 3.4 section 2.7, a window per session), so that
#: receipts flow at the pace the messages were accepted rather than one round trip at a
#: time, and an ESME with N binds gets N windows' worth.
FORWARD_WINDOW = 64
#: Receipts being forwarded at once over every session: full windows for up to 8 binds.
FORWARDERS = 8 * FORWARD_WINDOW

#: Final states, by their code in :attr:`SmscMock._states` (0: still pending).
STATES = ("ENROUTE", "DELIVRD", "UNDELIV", "EXPIRED")


@dataclass(slots=True)
class Message:
    message_id: str
    source: str
    destination: str
    service_type: str
    text: str
    submitted_at: datetime


@dataclass
class _Session:
    writer: asyncio.StreamWriter
    system_id: str
    waiting: dict[int, asyncio.Future[int]] = field(default_factory=dict)
    window: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(FORWARD_WINDOW))


class _MobileOriginated(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(pattern=r"^\d{9,15}$")
    text: str = Field(min_length=1, max_length=160)


class SmscMock:
    """One SMS centre: its accounts, messages, the deliver_sm it still owes."""

    def __init__(
        self,
        system_id: str,
        password: str,
        faults: SmscFaults | None = None,
        country_code: str = "51",
    ) -> None:
        self.accounts = {system_id: password}
        self.country_code = country_code
        # Messages still pending (their receipt not yet due), by message id.
        self.messages: dict[str, Message] = {}
        # The state of every message issued: STATES' index, at message id number - 1.
        self._states = bytearray()
        self.pending: dict[tuple[str, str, str], str] = {}
        # Messages delivered, by destination: what each phone received.
        self.delivered: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._sequence = itertools.count(1)
        self._turns = itertools.count()  # receipts go to the bound sessions in turn
        self._retries: dict[tuple[str, int, str, str, int], int] = {}
        self._sessions: list[_Session] = []
        self._outbox: asyncio.Queue[tuple[str, int, str, str, int]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.configure(faults or SmscFaults())

    def configure(self, faults: SmscFaults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)

    @property
    def outbox(self) -> asyncio.Queue[tuple[str, int, str, str, int]]:
        if self._outbox is None:
            self._outbox = asyncio.Queue()
        return self._outbox

    # -- SMPP ------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Listen for ESMEs on ``host:port`` (0: any free port) and forward what is
        owed to them; close the returned server and call :meth:`stop` to end."""
        for _ in range(FORWARDERS):
            self._spawn(self._forward())
        return await asyncio.start_server(self._serve, host, port)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in self._sessions:
            session.writer.close()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session: _Session | None = None
        try:
            while True:
                pdu = await smpp.read_pdu(reader)
                if pdu.is_response():
                    if session is not None and pdu.command == "deliver_sm_resp":
                        future = session.waiting.pop(pdu.sequence, None)
                        if future is not None and not future.done():
                            future.set_result(pdu.status)
                    continue
                if pdu.command in ("bind_transceiver", "bind_transmitter", "bind_receiver"):
                    session = self._bind(pdu, writer)
                    if session is None:
                        break
                elif session is None:
                    # Anything before a bind: ESME_RINVBNDSTS (incorrect bind status).
                    writer.write(smpp.encode("generic_nack", pdu.sequence, status=0x04))
                elif pdu.command == "submit_sm":
                    if not self._submit(pdu, writer):
                        break  # the fault: accepted, then the link cut unanswered
                elif pdu.command == "enquire_link":
                    writer.write(smpp.encode("enquire_link_resp", pdu.sequence))
                elif pdu.command == "unbind":
                    writer.write(smpp.encode("unbind_resp", pdu.sequence))
                    break
                else:
                    writer.write(smpp.encode("generic_nack", pdu.sequence, status=0x03))
                await writer.drain()
        except (asyncio.IncompleteReadError, OSError, smpp.PduError):
            pass
        finally:
            if session is not None:
                self._sessions.remove(session)
                for future in session.waiting.values():
                    if not future.done():
                        future.set_result(smpp.ESME_RSYSERR)
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()

    def _bind(self, pdu: Any, writer: asyncio.StreamWriter) -> _Session | None:
        system_id = smpp.text(pdu.system_id)
        resp = pdu.command + "_resp"
        if self.faults.refuse_bind:
            self.counts["binds_refused"] += 1
            writer.write(smpp.encode(resp, pdu.sequence, status=smpp.ESME_RBINDFAIL))
            return None
        if self.accounts.get(system_id) != smpp.text(pdu.password):
            self.counts["binds_refused"] += 1
            writer.write(smpp.encode(resp, pdu.sequence, status=smpp.ESME_RINVPASWD))
            return None
        self.counts["binds"] += 1
        writer.write(smpp.encode(resp, pdu.sequence, system_id="JUNTOS-SMSC"))
        session = _Session(writer, system_id)
        self._sessions.append(session)
        return session

    def _submit(self, pdu: Any, writer: asyncio.StreamWriter) -> bool:
        self.counts["submit_sm"] += 1
        draw = self._rng.random()
        if draw < self.faults.throttle_rate:
            self.counts["throttled"] += 1
            writer.write(smpp.encode("submit_sm_resp", pdu.sequence, status=smpp.ESME_RTHROTTLED))
            return True
        destination = smpp.text(pdu.destination_addr)
        if not destination.isdigit():
            writer.write(smpp.encode("submit_sm_resp", pdu.sequence, status=smpp.ESME_RINVDSTADR))
            return True
        key = (smpp.text(pdu.source_addr), destination, smpp.text(pdu.service_type))
        text = smpp.decode_text(pdu.short_message or b"", pdu.data_coding or 0)
        replaced = self.pending.get(key) if pdu.replace_if_present_flag else None
        if replaced is not None:
            self.counts["replaced"] += 1
            self.messages[replaced].text = text
            message_id = replaced
        else:
            self.counts["accepted"] += 1
            message_id = f"{next(self._ids):010d}"
            self._states.append(0)
            self.messages[message_id] = Message(
                message_id, key[0], destination, key[2], text, datetime.now()
            )
            self.pending[key] = message_id
            if self.faults.receipts:
                self._spawn(self._finish(message_id, self.faults.receipt_delay_ms / 1000))
        if draw < self.faults.throttle_rate + self.faults.drop_rate:
            self.counts["dropped"] += 1
            return False
        writer.write(smpp.encode("submit_sm_resp", pdu.sequence, message_id=message_id))
        return True

    async def _finish(self, message_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        message = self.messages.pop(message_id)
        draw = self._rng.random()
        if draw < self.faults.undelivered_rate:
            state, error = "UNDELIV", "001"
        elif draw < self.faults.undelivered_rate + self.faults.expired_rate:
            state, error = "EXPIRED", "000"
        else:
            state, error = "DELIVRD", "000"
            self.delivered[message.destination] += 1
        self._states[int(message_id) - 1] = STATES.index(state)
        key = (message.source, message.destination, message.service_type)
        if self.pending.get(key) == message_id:
            del self.pending[key]
        receipt = smpp.Receipt(message_id, state, error, message.submitted_at, datetime.now())
        body = smpp.receipt_text(receipt).encode("ascii")
        # A receipt goes from the phone to the sender: the addresses are swapped.
        self.outbox.put_nowait(
            (message.destination, 0, message.source, body.decode(), smpp.ESM_DELIVERY_RECEIPT)
        )

    def mobile_originated(self, phone: str, text: str, to: str = "JUNTOS") -> None:
        """A reply typed on ``phone`` (national number) to the sender id ``to``."""
        self.counts["mobile_originated"] += 1
        self.outbox.put_nowait((self.country_code + phone, 0, to, text, 0))

    async def _forward(self) -> None:
        """Send owed deliver_sm, one at a time, to bound sessions until one acknowledges
        it (:data:`FORWARDERS` of these run at once, at most :data:`FORWARD_WINDOW` on a
        session)."""
        while True:
            item = await self.outbox.get()
            if await self._deliver(item):
                self._retries.pop(item, None)
                continue
            # Refused or unanswered: queued again later, backing off as an SMSC's retry
            # schedule does (a receipt the ESME cannot store yet comes back after 0.05,
            # 0.1, 0.2 ... at most 2 s), without holding a place of the window meanwhile.
            tries = self._retries.get(item, 0) + 1
            self._retries[item] = tries
            self.counts["deliver_sm_again"] += 1
            pause = min(2.0, 0.05 * 2 ** (tries - 1))
            asyncio.get_running_loop().call_later(pause, self.outbox.put_nowait, item)

    async def _deliver(self, item: tuple[str, int, str, str, int]) -> bool:
        source, _, destination, body, esm_class = item
        if not self._sessions:
            return False
        session = self._sessions[next(self._turns) % len(self._sessions)]
        async with session.window:
            if session not in self._sessions:  # unbound while this waited for the window
                return False
            if esm_class & smpp.ESM_DELIVERY_RECEIPT:
                # A receipt's text (SMPP 3.4 Appendix B) is letters, digits, spaces and
                # colons, the same octets in ASCII and in the GSM 03.38 default alphabet;
                # each is unique (its message id), so encoding it through the text cache
                # would only evict the texts that repeat.
                parts: tuple[bytes, ...] = (body.encode("ascii"),)
                coding = smpp.DATA_CODING_DEFAULT
            else:
                parts, coding, _ = smpp.encode_text(body)
            sequence = next(self._sequence)
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            session.waiting[sequence] = future
            try:
                session.writer.write(
                    smpp.encode(
                        "deliver_sm",
                        sequence,
                        source_addr_ton=1,
                        source_addr_npi=1,
                        source_addr=source,
                        dest_addr_ton=5,
                        destination_addr=destination,
                        esm_class=esm_class,
                        data_coding=coding,
                        short_message=parts[0],
                    )
                )
                await session.writer.drain()
                status = await asyncio.wait_for(future, 5.0)
            except (TimeoutError, OSError):
                return False
            finally:
                session.waiting.pop(sequence, None)
        self.counts["deliver_sm_acked" if status == smpp.ESME_ROK else "deliver_sm_refused"] += 1
        return status == smpp.ESME_ROK

    # -- the admin API ---------------------------------------------------------------

    def states(self) -> dict[str, int]:
        """Messages issued, by state (``ENROUTE`` while pending)."""
        counts = {state: self._states.count(code) for code, state in enumerate(STATES)}
        return {state: n for state, n in counts.items() if n}

    def state_of(self, message_id: str) -> str | None:
        """The state of a message this SMSC issued, or None for an id it never issued."""
        number = int(message_id) if message_id.isdigit() else 0
        return STATES[self._states[number - 1]] if 0 < number <= len(self._states) else None

    def message_ids(self) -> set[str]:
        """Every message id this SMSC issued."""
        return {f"{n:010d}" for n in range(1, len(self._states) + 1)}

    def admin_app(self) -> Starlette:
        async def faults(request: Request) -> Response:
            if request.method == "PUT":
                try:
                    self.configure(SmscFaults.model_validate_json(await request.body() or b"{}"))
                except ValidationError as exc:
                    return JSONResponse(
                        {
                            "title": "invalid fault configuration",
                            "detail": str(exc).splitlines()[0],
                        },
                        status_code=422,
                        media_type="application/problem+json",
                    )
            return JSONResponse({"config": self.faults.model_dump(), "counts": dict(self.counts)})

        async def mobile_originated(request: Request) -> Response:
            try:
                mo = _MobileOriginated.model_validate_json(await request.body())
            except ValidationError:
                return JSONResponse(
                    {"title": "invalid message", "detail": "expected phone (digits) and text"},
                    status_code=422,
                    media_type="application/problem+json",
                )
            self.mobile_originated(mo.phone, mo.text)
            return JSONResponse({"queued": True}, status_code=202)

        async def messages(request: Request) -> Response:
            return JSONResponse({"states": self.states(), "counts": dict(self.counts)})

        return Starlette(
            routes=[
                Route("/_admin/faults", faults, methods=["GET", "PUT"]),
                Route("/_admin/mo", mobile_originated, methods=["POST"]),
                Route("/_admin/messages", messages, methods=["GET"]),
            ]
        )
