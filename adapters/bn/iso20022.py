"""ISO 20022 messages of the Banco de la Nación exchange: pain.001, pain.002, camt.054.

Builders and parsers for both sides of the wire (the bank's sandbox and the gateway's
adapter). Every document parsed here is first parsed safely (no DTD, no entities) and
validated against the schema of its own version: the official ISO 20022 definitions
shipped by the ``pain001`` and ``camt053`` packages where one exists, a stand-in from
``contracts/bn/`` otherwise (see ``contracts/bn/README.md``).

Versions read: pain.002.001.03 and .10 (status reports), camt.054.001.02 and .08 (debit
notifications). Versions written: pain.001.001.09, pain.002.001.10, camt.054.001.08.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from lxml import etree

from adapters.xml import UnsafeXmlError, parse_xml

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "bn"
PAIN001 = "pain.001.001.09"
PAIN002 = "pain.002.001.10"
CAMT054 = "camt.054.001.08"
PAIN002_VERSIONS = ("pain.002.001.03", "pain.002.001.10")
CAMT054_VERSIONS = ("camt.054.001.02", "camt.054.001.08")
BANK_CODE = "018"
CURRENCY = "PEN"

# Where each message definition comes from: (package, path inside it) for the official
# ISO 20022 XSD a package ships, (None, file in contracts/bn) for a stand-in.
SCHEMA_SOURCES: dict[str, tuple[str | None, str]] = {
    "pain.001.001.09": ("pain001", "templates/pain.001.001.09/pain.001.001.09.xsd"),
    "pain.002.001.03": ("pain001", "pain002/schemas/pain.002.001.03.xsd"),
    "pain.002.001.10": (None, "pain.002.001.10.xsd"),
    "camt.054.001.02": ("camt053", "xsd/camt.054.001.02.xsd"),
    "camt.054.001.08": ("camt053", "xsd/camt.054.001.08.xsd"),
}


class InvalidMessageError(ValueError):
    """The document is unsafe, malformed or not valid against its schema. The message
    names the element, line and rule of the first error, never a value."""


@dataclass(frozen=True)
class CreditTransfer:
    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_cci: str
    remittance: str | None = None
    currency: str = CURRENCY


@dataclass(frozen=True)
class PaymentBatch:
    """pain.001: one group with one payment information block."""

    msg_id: str
    created_at: datetime
    initiating_party: str
    payment_info_id: str
    requested_date: date
    debtor_name: str
    debtor_account: str
    transfers: tuple[CreditTransfer, ...]

    @property
    def control_sum(self) -> Decimal:
        return sum((t.amount for t in self.transfers), Decimal("0"))


@dataclass(frozen=True)
class TransactionStatus:
    """``TxInfAndSts``: ``status`` is the transaction's own ``TxSts`` (None when absent)."""

    end_to_end_id: str
    status: str | None
    reason: str | None = None
    detail: str | None = None
    accepted_at: datetime | None = None
    servicer_ref: str | None = None


@dataclass(frozen=True)
class PaymentInfoStatus:
    """``OrgnlPmtInfAndSts``: a payment information block's ``PmtInfSts`` and its
    transactions."""

    payment_info_id: str
    status: str | None = None
    reason: str | None = None
    detail: str | None = None
    transactions: tuple[TransactionStatus, ...] = ()


@dataclass(frozen=True)
class StatusReport:
    """pain.002: status of a group (``GrpSts``, optional), of each payment information
    block and of each transaction. A status given at a level applies to everything under
    it that has no status of its own (ISO 20022 pain.002 message definition report)."""

    msg_id: str
    created_at: datetime
    original_msg_id: str
    group_status: str | None
    original_count: int | None = None
    original_sum: Decimal | None = None
    group_reason: str | None = None
    group_detail: str | None = None
    payment_infos: tuple[PaymentInfoStatus, ...] = ()
    version: str = PAIN002

    def transactions(self) -> tuple[TransactionStatus, ...]:
        """Every listed transaction with its effective status: its own ``TxSts``, else
        its block's ``PmtInfSts``, else ``GrpSts`` (with that level's reason); None if no
        level gives one."""
        out = []
        for info in self.payment_infos:
            for tx in info.transactions:
                if tx.status is not None:
                    out.append(tx)
                    continue
                status, reason, detail = self._inherited(info)
                out.append(
                    TransactionStatus(
                        tx.end_to_end_id,
                        status,
                        reason,
                        detail,
                        tx.accepted_at,
                        tx.servicer_ref,
                    )
                )
        return tuple(out)

    def unlisted(self) -> tuple[str | None, str | None]:
        """(status, reason) of a transaction of the original message that the report does
        not list: the status of its only payment information block, else the group's."""
        if len(self.payment_infos) == 1:
            status, reason, _ = self._inherited(self.payment_infos[0])
            return status, reason
        return self.group_status, self.group_reason

    def _inherited(self, info: PaymentInfoStatus) -> tuple[str | None, str | None, str | None]:
        if info.status is not None:
            return info.status, info.reason, info.detail
        return self.group_status, self.group_reason, self.group_detail


@dataclass(frozen=True)
class Entry:
    """One booked camt.054 transaction (``TxDtls``) with its own amount and references.
    ``status`` is its entry's ``Sts`` (BOOK, PDNG, INFO)."""

    amount: Decimal
    credit_debit: str
    booking_date: date
    servicer_ref: str | None
    end_to_end_id: str
    msg_id: str | None = None
    payment_info_id: str | None = None
    currency: str = CURRENCY
    status: str = "BOOK"


@dataclass(frozen=True)
class Notification:
    msg_id: str
    created_at: datetime
    notification_id: str
    account: str
    entries: tuple[Entry, ...] = field(default_factory=tuple)


_VALIDATORS = threading.local()
_NAMESPACE = re.compile(r"\{[^}]*\}")
_ELEMENT = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")
_FACET = re.compile(r"\[facet '(\w+)'\]")
_ATOMIC = re.compile(r"of the (?:atomic|list|union) type '([^']+)'")


def schema_path(name: str) -> Path:
    """The XSD file of a message definition: the official one inside its package, or
    the stand-in in ``contracts/bn``. KeyError for a version not read here."""
    package, relative = SCHEMA_SOURCES[name]
    if package is None:
        return CONTRACTS / relative
    spec = importlib.util.find_spec(package)  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {package} package (official {name} schema) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def schema(name: str) -> etree.XMLSchema:
    """The named message schema, compiled by libxml2 (validation in C: a 25,000-entry
    camt.054 validates in milliseconds). One per thread: a validator keeps its last
    errors, so threads must not share one."""
    cached: dict[str, etree.XMLSchema] = _VALIDATORS.__dict__.setdefault("schemas", {})
    if name not in cached:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        cached[name] = etree.XMLSchema(etree.parse(str(schema_path(name)), parser))
    return cached[name]


def describe(error: etree._LogEntry) -> str:
    """``element (line n): rule`` of a libxml2 validation error, without the value it
    quotes: a structural error keeps its text (element names only), a value error says
    which facet or type it breaks."""
    message = _NAMESPACE.sub("", error.message)
    head = _ELEMENT.match(message)
    where = "document"
    rest = message
    if head:
        where = head.group(1) + (f"/@{head.group(2)}" if head.group(2) else "")
        rest = message[head.end() :]
    if "not expected" in rest or "Missing child element" in rest or "not allowed" in rest:
        rule = rest.rstrip(".")
    elif facet := _FACET.search(rest):
        rule = f"the value breaks the '{facet.group(1)}' facet of its type"
    elif atomic := _ATOMIC.search(rest):
        rule = f"the value is not a valid {atomic.group(1)}"
    else:
        rule = error.type_name
    return f"{where} (line {error.line}): {rule}"


def load(data: bytes, *names: str) -> tuple[etree._Element, str]:
    """Parse safely and validate against the schema of the document's own version,
    which must be one of ``names``; (root, version)."""
    try:
        root = parse_xml(data)
    except UnsafeXmlError as exc:
        raise InvalidMessageError(str(exc)) from None
    namespace = etree.QName(root).namespace or ""
    name = namespace.rsplit(":", 1)[-1]
    if name not in names or namespace != _ns(name) or etree.QName(root).localname != "Document":
        raise InvalidMessageError(f"expected a Document of {', '.join(names)}")
    validator = schema(name)
    if not validator.validate(root):
        errors: list[etree._LogEntry] = list(validator.error_log)  # type: ignore[call-overload]
        if not errors:
            raise InvalidMessageError(f"{name} does not follow its schema")
        raise InvalidMessageError(f"{name} invalid at {describe(errors[0])}")
    return root, name


def _ns(name: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{name}"


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    # A child in its parent's namespace: the parent's "{namespace}" prefix, read from its
    # tag (a QName object per element costs more than the element).
    qualified = parent.tag
    element = etree.SubElement(parent, qualified[: qualified.index("}") + 1] + tag)
    if text is not None:
        element.text = text
    return element


def _path(parent: etree._Element, *tags: str, text: str) -> etree._Element:
    for tag in tags:
        parent = _sub(parent, tag)
    parent.text = text
    return parent


def _document(name: str) -> etree._Element:
    root = etree.Element(
        f"{{{_ns(name)}}}Document",
        nsmap={None: _ns(name)},  # type: ignore[dict-item]
    )
    return root


def _serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _timestamp(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


class _Reader:
    def __init__(self, name: str) -> None:
        self.ns = {"d": _ns(name)}

    def text(self, node: etree._Element, path: str) -> str | None:
        found = node.find(path, self.ns)
        return found.text if found is not None and found.text is not None else None

    def req(self, node: etree._Element, path: str) -> str:
        value = self.text(node, path)
        if value is None:
            raise InvalidMessageError(f"missing {path}")
        return value

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return list(node.findall(path, self.ns))


# ---------------------------------------------------------------------- pain.001


def build_pain001(batch: PaymentBatch) -> bytes:
    root = _document(PAIN001)
    body = _sub(root, "CstmrCdtTrfInitn")
    header = _sub(body, "GrpHdr")
    _sub(header, "MsgId", batch.msg_id)
    _sub(header, "CreDtTm", _timestamp(batch.created_at))
    _sub(header, "NbOfTxs", str(len(batch.transfers)))
    _sub(header, "CtrlSum", _amount(batch.control_sum))
    _path(header, "InitgPty", "Nm", text=batch.initiating_party)
    info = _sub(body, "PmtInf")
    _sub(info, "PmtInfId", batch.payment_info_id)
    _sub(info, "PmtMtd", "TRF")
    _sub(info, "NbOfTxs", str(len(batch.transfers)))
    _sub(info, "CtrlSum", _amount(batch.control_sum))
    _path(info, "ReqdExctnDt", "Dt", text=batch.requested_date.isoformat())
    _path(info, "Dbtr", "Nm", text=batch.debtor_name)
    _path(info, "DbtrAcct", "Id", "Othr", "Id", text=batch.debtor_account)
    _path(info, "DbtrAgt", "FinInstnId", "Othr", "Id", text=BANK_CODE)
    for transfer in batch.transfers:
        tx = _sub(info, "CdtTrfTxInf")
        _path(tx, "PmtId", "EndToEndId", text=transfer.end_to_end_id)
        amount = _path(tx, "Amt", "InstdAmt", text=_amount(transfer.amount))
        amount.set("Ccy", transfer.currency)
        _path(tx, "CdtrAgt", "FinInstnId", "Othr", "Id", text=BANK_CODE)
        _path(tx, "Cdtr", "Nm", text=transfer.creditor_name)
        account = _sub(_sub(_sub(tx, "CdtrAcct"), "Id"), "Othr")
        _sub(account, "Id", transfer.creditor_cci)
        _path(account, "SchmeNm", "Prtry", text="CCI")
        if transfer.remittance:
            _path(tx, "RmtInf", "Ustrd", text=transfer.remittance)
    return _serialize(root)


def parse_pain001(data: bytes) -> PaymentBatch:
    root, _ = load(data, PAIN001)
    r = _Reader(PAIN001)
    body = root.find("d:CstmrCdtTrfInitn", r.ns)
    assert body is not None
    infos = r.all(body, "d:PmtInf")
    if len(infos) != 1:
        raise InvalidMessageError("the exchange carries exactly one PmtInf per message")
    info = infos[0]
    transfers = tuple(
        CreditTransfer(
            end_to_end_id=r.req(tx, "d:PmtId/d:EndToEndId"),
            amount=Decimal(r.req(tx, "d:Amt/d:InstdAmt")),
            currency=tx.find("d:Amt/d:InstdAmt", r.ns).get("Ccy", ""),  # type: ignore[union-attr]
            creditor_name=r.text(tx, "d:Cdtr/d:Nm") or "",
            creditor_cci=r.req(tx, "d:CdtrAcct/d:Id/d:Othr/d:Id"),
            remittance=r.text(tx, "d:RmtInf/d:Ustrd"),
        )
        for tx in r.all(info, "d:CdtTrfTxInf")
    )
    batch = PaymentBatch(
        msg_id=r.req(body, "d:GrpHdr/d:MsgId"),
        created_at=datetime.fromisoformat(r.req(body, "d:GrpHdr/d:CreDtTm")),
        initiating_party=r.text(body, "d:GrpHdr/d:InitgPty/d:Nm") or "",
        payment_info_id=r.req(info, "d:PmtInfId"),
        requested_date=date.fromisoformat(r.req(info, "d:ReqdExctnDt/d:Dt")),
        debtor_name=r.text(info, "d:Dbtr/d:Nm") or "",
        debtor_account=r.req(info, "d:DbtrAcct/d:Id/d:Othr/d:Id"),
        transfers=transfers,
    )
    declared = int(r.req(body, "d:GrpHdr/d:NbOfTxs"))
    if declared != len(transfers):
        raise InvalidMessageError(f"NbOfTxs says {declared}, the message holds {len(transfers)}")
    control = r.text(body, "d:GrpHdr/d:CtrlSum")
    if control is not None and Decimal(control) != batch.control_sum:
        raise InvalidMessageError("CtrlSum does not equal the sum of the amounts")
    return batch


# ---------------------------------------------------------------------- pain.002


def _reason(parent: etree._Element, code: str | None, detail: str | None) -> None:
    if code is None:
        return
    info = _sub(parent, "StsRsnInf")
    _path(info, "Rsn", "Cd", text=code)
    if detail:
        _sub(info, "AddtlInf", detail[:105])


def build_pain002(report: StatusReport) -> bytes:
    root = _document(PAIN002)
    body = _sub(root, "CstmrPmtStsRpt")
    header = _sub(body, "GrpHdr")
    _sub(header, "MsgId", report.msg_id)
    _sub(header, "CreDtTm", _timestamp(report.created_at))
    group = _sub(body, "OrgnlGrpInfAndSts")
    _sub(group, "OrgnlMsgId", report.original_msg_id)
    _sub(group, "OrgnlMsgNmId", PAIN001)
    if report.original_count is not None:
        _sub(group, "OrgnlNbOfTxs", str(report.original_count))
    if report.original_sum is not None:
        _sub(group, "OrgnlCtrlSum", _amount(report.original_sum))
    if report.group_status is not None:
        _sub(group, "GrpSts", report.group_status)
    _reason(group, report.group_reason, report.group_detail)
    for info in report.payment_infos:
        block = _sub(body, "OrgnlPmtInfAndSts")
        _sub(block, "OrgnlPmtInfId", info.payment_info_id)
        if info.status:
            _sub(block, "PmtInfSts", info.status)
        _reason(block, info.reason, info.detail)
        for tx in info.transactions:
            node = _sub(block, "TxInfAndSts")
            _sub(node, "OrgnlEndToEndId", tx.end_to_end_id)
            if tx.status:
                _sub(node, "TxSts", tx.status)
            _reason(node, tx.reason, tx.detail)
            if tx.accepted_at:
                _sub(node, "AccptncDtTm", _timestamp(tx.accepted_at))
            if tx.servicer_ref:
                _sub(node, "AcctSvcrRef", tx.servicer_ref)
    return _serialize(root)


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def parse_pain002(data: bytes) -> StatusReport:
    """A pain.002.001.03 or .10 status report, validated against its version's schema."""
    root, version = load(data, *PAIN002_VERSIONS)
    r = _Reader(version)
    body = root.find("d:CstmrPmtStsRpt", r.ns)
    assert body is not None
    group = body.find("d:OrgnlGrpInfAndSts", r.ns)
    assert group is not None
    infos = []
    for block in r.all(body, "d:OrgnlPmtInfAndSts"):
        transactions = tuple(
            TransactionStatus(
                end_to_end_id=r.text(node, "d:OrgnlEndToEndId") or "",
                status=r.text(node, "d:TxSts"),
                reason=r.text(node, "d:StsRsnInf/d:Rsn/d:Cd"),
                detail=r.text(node, "d:StsRsnInf/d:AddtlInf"),
                accepted_at=_when(r.text(node, "d:AccptncDtTm")),
                servicer_ref=r.text(node, "d:AcctSvcrRef"),
            )
            for node in r.all(block, "d:TxInfAndSts")
        )
        infos.append(
            PaymentInfoStatus(
                payment_info_id=r.req(block, "d:OrgnlPmtInfId"),
                status=r.text(block, "d:PmtInfSts"),
                reason=r.text(block, "d:StsRsnInf/d:Rsn/d:Cd"),
                detail=r.text(block, "d:StsRsnInf/d:AddtlInf"),
                transactions=transactions,
            )
        )
    count, total = r.text(group, "d:OrgnlNbOfTxs"), r.text(group, "d:OrgnlCtrlSum")
    return StatusReport(
        msg_id=r.req(body, "d:GrpHdr/d:MsgId"),
        created_at=datetime.fromisoformat(r.req(body, "d:GrpHdr/d:CreDtTm")),
        original_msg_id=r.req(group, "d:OrgnlMsgId"),
        group_status=r.text(group, "d:GrpSts"),
        original_count=int(count) if count else None,
        original_sum=Decimal(total) if total else None,
        group_reason=r.text(group, "d:StsRsnInf/d:Rsn/d:Cd"),
        group_detail=r.text(group, "d:StsRsnInf/d:AddtlInf"),
        payment_infos=tuple(infos),
        version=version,
    )


# ---------------------------------------------------------------------- camt.054


def build_camt054(notification: Notification) -> bytes:
    """camt.054.001.08, one entry (``Ntry``) per booked transaction."""
    root = _document(CAMT054)
    body = _sub(root, "BkToCstmrDbtCdtNtfctn")
    header = _sub(body, "GrpHdr")
    _sub(header, "MsgId", notification.msg_id)
    _sub(header, "CreDtTm", _timestamp(notification.created_at))
    note = _sub(body, "Ntfctn")
    _sub(note, "Id", notification.notification_id)
    _sub(note, "CreDtTm", _timestamp(notification.created_at))
    account = _sub(note, "Acct")
    _path(account, "Id", "Othr", "Id", text=notification.account)
    _sub(account, "Ccy", CURRENCY)
    for entry in notification.entries:
        node = _sub(note, "Ntry")
        if entry.servicer_ref:
            _sub(node, "NtryRef", entry.servicer_ref)
        _sub(node, "Amt", _amount(entry.amount)).set("Ccy", entry.currency)
        _sub(node, "CdtDbtInd", entry.credit_debit)
        _path(node, "Sts", "Cd", text=entry.status)
        _path(node, "BookgDt", "Dt", text=entry.booking_date.isoformat())
        _path(node, "ValDt", "Dt", text=entry.booking_date.isoformat())
        if entry.servicer_ref:
            _sub(node, "AcctSvcrRef", entry.servicer_ref)
        domain = _sub(_sub(node, "BkTxCd"), "Domn")
        _sub(domain, "Cd", "PMNT")
        family = _sub(domain, "Fmly")
        _sub(family, "Cd", "ICDT" if entry.credit_debit == "DBIT" else "RCDT")
        _sub(family, "SubFmlyCd", "DMCT")
        tx = _sub(_sub(node, "NtryDtls"), "TxDtls")
        refs = _sub(tx, "Refs")
        if entry.msg_id:
            _sub(refs, "MsgId", entry.msg_id)
        if entry.servicer_ref:
            _sub(refs, "AcctSvcrRef", entry.servicer_ref)
        if entry.payment_info_id:
            _sub(refs, "PmtInfId", entry.payment_info_id)
        _sub(refs, "EndToEndId", entry.end_to_end_id)
        _sub(tx, "Amt", _amount(entry.amount)).set("Ccy", entry.currency)
        _sub(tx, "CdtDbtInd", entry.credit_debit)
    return _serialize(root)


def _entry_rows(r: _Reader, node: etree._Element) -> list[Entry]:
    """One row per ``TxDtls`` of an entry (a batch booking carries many), each with its
    own amount: ``TxDtls/Amt`` (from .05), else ``TxDtls/AmtDtls/TxAmt/Amt``, else the
    entry's ``Amt`` when the entry holds that one transaction only."""
    status = r.text(node, "d:Sts/d:Cd") or r.text(node, "d:Sts") or ""
    indicator = r.req(node, "d:CdtDbtInd")
    booked = r.text(node, "d:BookgDt/d:Dt") or (r.text(node, "d:BookgDt/d:DtTm") or "")[:10]
    if not booked:
        raise InvalidMessageError(f"Ntry (line {node.sourceline}): no BookgDt")
    entry_amount = node.find("d:Amt", r.ns)
    assert entry_amount is not None  # required by every version's schema
    entry_ref = r.text(node, "d:AcctSvcrRef") or r.text(node, "d:NtryRef")
    batch_msg = r.text(node, "d:NtryDtls/d:Btch/d:MsgId")
    batch_info = r.text(node, "d:NtryDtls/d:Btch/d:PmtInfId")
    details = r.all(node, "d:NtryDtls/d:TxDtls")
    if not details:
        raise InvalidMessageError(f"Ntry (line {node.sourceline}): no TxDtls")
    rows = []
    for tx in details:
        amount = tx.find("d:Amt", r.ns)
        if amount is None:
            amount = tx.find("d:AmtDtls/d:TxAmt/d:Amt", r.ns)
        if amount is None:
            if len(details) > 1:
                raise InvalidMessageError(
                    f"TxDtls (line {tx.sourceline}): no amount of its own in a batch entry"
                )
            amount = entry_amount
        rows.append(
            Entry(
                amount=Decimal(amount.text or ""),
                currency=amount.get("Ccy", ""),
                credit_debit=r.text(tx, "d:CdtDbtInd") or indicator,
                booking_date=date.fromisoformat(booked),
                servicer_ref=r.text(tx, "d:Refs/d:AcctSvcrRef") or entry_ref,
                end_to_end_id=r.text(tx, "d:Refs/d:EndToEndId") or "",
                msg_id=r.text(tx, "d:Refs/d:MsgId") or batch_msg,
                payment_info_id=r.text(tx, "d:Refs/d:PmtInfId") or batch_info,
                status=status,
            )
        )
    return rows


def parse_camt054(data: bytes) -> Notification:
    """A camt.054.001.02 or .08 notification, validated against its version's schema:
    one entry per ``TxDtls`` across every ``Ntfctn`` and ``Ntry``."""
    root, version = load(data, *CAMT054_VERSIONS)
    r = _Reader(version)
    body = root.find("d:BkToCstmrDbtCdtNtfctn", r.ns)
    assert body is not None
    notes = r.all(body, "d:Ntfctn")
    entries = [
        row for note in notes for node in r.all(note, "d:Ntry") for row in _entry_rows(r, node)
    ]
    first = notes[0]
    account = r.text(first, "d:Acct/d:Id/d:Othr/d:Id") or r.text(first, "d:Acct/d:Id/d:IBAN")
    return Notification(
        msg_id=r.req(body, "d:GrpHdr/d:MsgId"),
        created_at=datetime.fromisoformat(r.req(body, "d:GrpHdr/d:CreDtTm")),
        notification_id=r.req(first, "d:Id"),
        account=account or "",
        entries=tuple(entries),
    )
