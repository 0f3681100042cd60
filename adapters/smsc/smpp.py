"""SMPP 3.4 on an asyncio stream: PDUs, framing, delivery receipts and GSM 03.38 text.

Both ends of the link use this module: the gateway's ESME (``adapters.smsc.client``) and
the sandbox SMSC (``adapters.smsc.mock``). The PDUs themselves are encoded and decoded
by ``smpplib`` (its ``command`` classes cover every SMPP 3.4 operation used here, with
their TLVs, and its ``gsm`` module the GSM 03.38 default alphabet and the concatenation
header). ``smpplib``'s own client is a blocking socket loop, which would need a thread
per bind inside an asyncio gateway, so only its codec is used: the transport is an
``asyncio`` stream, read a whole PDU at a time by its ``command_length`` (SMPP 3.4
§3.2). ``aiosmpplib`` was the asyncio alternative, but it is a client only (no SMSC end,
which the mock needs) and queues messages through its own broker, where the gateway
needs each ``submit_sm_resp`` answered to the call that sent it.

Delivery receipts follow SMPP 3.4 Appendix B: the short message of a ``deliver_sm``
whose ``esm_class`` has bit 2 set (0x04) reads
``id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
stat:DDDDDDD err:E text:...``; ``stat`` is one of ``DELIVRD EXPIRED DELETED UNDELIV
ACCEPTD UNKNOWN REJECTD``.
"""

from __future__ import annotations

import asyncio
import functools
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import smpplib.consts as consts
import smpplib.gsm as gsm
import smpplib.smpp as codec

#: Command status codes used here (SMPP 3.4 §5.1.3).
ESME_ROK: int = consts.SMPP_ESME_ROK
ESME_RBINDFAIL: int = consts.SMPP_ESME_RBINDFAIL
ESME_RINVPASWD: int = consts.SMPP_ESME_RINVPASWD
ESME_RTHROTTLED: int = consts.SMPP_ESME_RTHROTTLED
ESME_RSYSERR: int = consts.SMPP_ESME_RSYSERR
ESME_RX_T_APPN = 0x00000064  # ESME receiver temporary app error: redeliver later
ESME_RINVDSTADR: int = consts.SMPP_ESME_RINVDSTADR

#: ``esm_class`` bit of a delivery receipt in a ``deliver_sm`` (SMPP 3.4 §5.2.12).
ESM_DELIVERY_RECEIPT = 0x04
#: ``data_coding`` of the GSM 03.38 default alphabet (SMSC default) and of UCS-2.
DATA_CODING_DEFAULT: int = consts.SMPP_ENCODING_DEFAULT
DATA_CODING_UCS2: int = consts.SMPP_ENCODING_ISO10646
#: The largest PDU either end accepts: a submit_sm is under 300 bytes.
MAX_PDU_BYTES = 4096


class PduError(Exception):
    """A PDU that cannot be read (length out of bounds, unknown command)."""


class _Sequence:
    """smpplib asks its client for sequence numbers; here each end keeps its own and
    sets ``sequence`` on the PDU itself."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_NO_CLIENT = _Sequence()


def encode(command: str, sequence: int, status: int = ESME_ROK, **fields: Any) -> bytes:
    """The bytes of one PDU (header and body) of ``command`` (``submit_sm``,
    ``deliver_sm_resp``...) with these SMPP 3.4 fields."""
    pdu = codec.make_pdu(command, client=_NO_CLIENT, status=status, **fields)
    pdu.sequence = sequence
    data: bytes = pdu.generate()
    return data


def decode(data: bytes) -> Any:
    """The smpplib command of these bytes; its string fields are ``bytes``."""
    try:
        return codec.parse_pdu(data, client=_NO_CLIENT)
    except Exception as exc:  # smpplib raises its own and struct errors alike
        raise PduError(type(exc).__name__) from None


async def read_pdu(reader: asyncio.StreamReader) -> Any:
    """Read one whole PDU; ``asyncio.IncompleteReadError`` when the peer closed."""
    header = await reader.readexactly(4)
    (length,) = struct.unpack(">L", header)
    if not 16 <= length <= MAX_PDU_BYTES:
        raise PduError("command_length out of bounds")
    return decode(header + await reader.readexactly(length - 4))


def text(value: Any) -> str:
    """A C-octet string field as text ('' when absent)."""
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


@functools.lru_cache(maxsize=64)
def encode_text(message: str) -> tuple[tuple[bytes, ...], int, int]:
    """The short message(s) for ``message``: GSM 03.38 when every character is in the
    default alphabet, else UCS-2; one part up to 160 septets (70 UCS-2 characters),
    else concatenated parts with a user data header. Returns (parts, data_coding,
    esm_class).

    Remembered for the last 64 texts: a month's reminders share a handful of texts, and
    encoding one costs more than the rest of its ``submit_sm``. A long text's parts keep
    the concatenation reference drawn the first time; a handset joins parts by sender
    and reference, so the same reference on other phones mixes nothing."""
    parts, coding, esm_class = gsm.make_parts(message)
    return tuple(parts), int(coding), int(esm_class)


def decode_text(short_message: bytes, data_coding: int) -> str:
    """The text of a short message in the default alphabet or UCS-2."""
    if data_coding == DATA_CODING_UCS2:
        return short_message.decode("utf-16-be")
    out = []
    escape = False
    for byte in short_message:
        if byte == 0x1B:
            escape = True
            continue
        out.append(gsm.GSM_CHARACTER_TABLE[byte + 0x80 if escape else byte])
        escape = False
    return "".join(out)


def gsm_septets(message: str) -> int | None:
    """How many GSM 03.38 septets ``message`` takes, or None when it needs UCS-2."""
    try:
        return len(gsm.gsm_encode(message))
    except UnicodeError:
        return None


# -- delivery receipts (SMPP 3.4 Appendix B) -------------------------------------------

RECEIPT_STATES = ("DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD")
_RECEIPT = re.compile(
    r"id:(?P<id>\S+) sub:(?P<sub>\d+) dlvrd:(?P<dlvrd>\d+) "
    r"submit date:(?P<submit>\d{10}) done date:(?P<done>\d{10}) "
    r"stat:(?P<stat>[A-Z]{7}) err:(?P<err>\w+)"
)


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt: the SMSC's message id, its final state (one of
    :data:`RECEIPT_STATES`), the network error code, when it was submitted and done."""

    message_id: str
    state: str
    error: str
    submitted_at: datetime
    done_at: datetime


def receipt_text(receipt: Receipt) -> str:
    """The receipt's short message as SMPP 3.4 Appendix B writes it."""
    delivered = 1 if receipt.state == "DELIVRD" else 0
    return (
        f"id:{receipt.message_id} sub:001 dlvrd:{delivered:03d} "
        f"submit date:{receipt.submitted_at:%y%m%d%H%M} done date:{receipt.done_at:%y%m%d%H%M} "
        f"stat:{receipt.state} err:{receipt.error} text:"
    )


def parse_receipt(short_message: str) -> Receipt | None:
    """The receipt in a ``deliver_sm``'s text, or None when it is not one (no receipt
    fields, an unknown ``stat``, or a date that does not exist)."""
    found = _RECEIPT.search(short_message)
    if found is None or found["stat"] not in RECEIPT_STATES:
        return None
    try:
        submitted, done = _date(found["submit"]), _date(found["done"])
    except ValueError:
        return None
    return Receipt(found["id"], found["stat"], found["err"], submitted, done)


def _date(digits: str) -> datetime:
    """A receipt's YYMMDDhhmm (ten digits, as the pattern matched), 20YY assumed as
    ``strptime``'s ``%y`` would for 00-68; ValueError for an impossible date."""
    yy, mm, dd, hh, mi = (int(digits[i : i + 2]) for i in range(0, 10, 2))
    return datetime(2000 + yy if yy < 69 else 1900 + yy, mm, dd, hh, mi)
