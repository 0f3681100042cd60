"""The gateway's ESME against the sandbox SMSC over real SMPP 3.4 on TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry

from adapters.smsc import smpp
from adapters.smsc.client import SmscAdapter
from adapters.smsc.faults import SmscFaults
from adapters.smsc.mock import SmscMock
from gateway.partners.errors import PartnerRefused
from gateway.partners.health import PartnerHealth
from gateway.partners.models import DeliveryReport, MobileOriginated, SmsEvent
from gateway.partners.resilience import PartnerGuard
from tests.fixtures.smsc import smsc_settings

PHONE = "987654321"


def adapter(port: int, **overrides: object) -> SmscAdapter:
    settings = smsc_settings(port, **overrides)
    return SmscAdapter(settings, PartnerGuard("smsc", settings, PartnerHealth(CollectorRegistry())))


@pytest.fixture
async def esme(smsc: tuple[SmscMock, int]) -> AsyncIterator[tuple[SmscAdapter, list[SmsEvent]]]:
    client = adapter(smsc[1])
    events: list[SmsEvent] = []

    async def keep(event: SmsEvent) -> None:
        events.append(event)

    client.listen(keep)
    try:
        yield client, events
    finally:
        await client.aclose()


async def until(check: object, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if callable(check) and check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached in time")


async def test_submit_returns_the_message_id_its_receipt_names(
    smsc: tuple[SmscMock, int], esme: tuple[SmscAdapter, list[SmsEvent]]
) -> None:
    mock, _ = smsc
    client, events = esme
    mock.configure(SmscFaults(receipt_delay_ms=300))  # pending long enough to be read
    message_id = await client.submit(PHONE, "JUNTOS: prueba", resend=False)
    assert mock.messages[message_id].destination == "51" + PHONE
    assert mock.messages[message_id].text == "JUNTOS: prueba"
    assert mock.state_of(message_id) == "ENROUTE"
    await until(lambda: events)
    report = events[0]
    assert isinstance(report, DeliveryReport)
    assert (report.message_id, report.outcome, report.status) == (
        message_id,
        "delivered",
        "DELIVRD",
    )
    # Once delivered only its state is kept, not the number or the text.
    await until(lambda: mock.state_of(message_id) == "DELIVRD")
    assert message_id not in mock.messages
    assert mock.message_ids() == {message_id}


async def test_failed_and_expired_receipts_are_told_apart(
    smsc: tuple[SmscMock, int], esme: tuple[SmscAdapter, list[SmsEvent]]
) -> None:
    mock, _ = smsc
    client, events = esme
    mock.configure(SmscFaults(receipt_delay_ms=5, undelivered_rate=1.0))
    failed = await client.submit(PHONE, "uno", resend=False)
    await until(lambda: len(events) == 1)
    mock.configure(SmscFaults(receipt_delay_ms=5, expired_rate=1.0))
    expired = await client.submit("912345678", "dos", resend=False)
    await until(lambda: len(events) == 2)
    outcomes = {e.message_id: e.outcome for e in events if isinstance(e, DeliveryReport)}
    assert outcomes == {failed: "failed", expired: "expired"}


async def test_throttling_is_retried_and_each_message_delivered_once(
    smsc: tuple[SmscMock, int], esme: tuple[SmscAdapter, list[SmsEvent]]
) -> None:
    mock, _ = smsc
    client, events = esme
    mock.configure(SmscFaults(receipt_delay_ms=5, throttle_rate=0.5, seed=3))
    phones = [f"9{n:08d}" for n in range(20)]
    ids = [await client.submit(p, "hola", resend=False) for p in phones]
    assert mock.counts["throttled"] > 0
    assert len(set(ids)) == 20
    await until(lambda: len(events) == 20)
    assert all(mock.delivered["51" + p] == 1 for p in phones)


async def test_a_submission_lost_on_a_dropped_link_is_not_delivered_twice(
    smsc: tuple[SmscMock, int], esme: tuple[SmscAdapter, list[SmsEvent]]
) -> None:
    mock, _ = smsc
    client, _ = esme
    # Accepted, then the connection cut before the answer: the ESME cannot know.
    mock.configure(SmscFaults(receipt_delay_ms=300, drop_rate=1.0))
    task = asyncio.create_task(client.submit(PHONE, "hola", resend=False))
    await until(lambda: mock.counts["dropped"] >= 1)
    mock.configure(SmscFaults(receipt_delay_ms=300))
    message_id = await task
    assert mock.counts["replaced"] >= 1
    await until(lambda: mock.state_of(message_id) == "DELIVRD")
    assert mock.delivered["51" + PHONE] == 1
    assert mock.counts["accepted"] == 1


async def test_a_refused_bind_is_a_refusal_not_retried(smsc: tuple[SmscMock, int]) -> None:
    mock, port = smsc
    mock.configure(SmscFaults(refuse_bind=True))
    client = adapter(port)
    with pytest.raises(PartnerRefused) as refused:
        await client.submit(PHONE, "hola", resend=False)
    assert PHONE not in str(refused.value)
    assert mock.counts["binds_refused"] == 1
    assert not await client.keep_bound()
    wrong = adapter(port, password="wrong")
    mock.configure(SmscFaults())
    with pytest.raises(PartnerRefused):
        await wrong.submit(PHONE, "hola", resend=False)


async def test_a_reply_from_a_phone_arrives_as_mobile_originated(
    smsc: tuple[SmscMock, int], esme: tuple[SmscAdapter, list[SmsEvent]]
) -> None:
    mock, _ = smsc
    client, events = esme
    assert await client.keep_bound()
    mock.mobile_originated(PHONE, "BAJA")
    await until(lambda: events)
    assert events == [MobileOriginated(PHONE, "BAJA")]


async def test_an_event_not_stored_is_delivered_again(smsc: tuple[SmscMock, int]) -> None:
    mock, port = smsc
    client = adapter(port)
    calls: list[SmsEvent] = []

    async def flaky(event: SmsEvent) -> None:
        calls.append(event)
        if len(calls) < 3:
            raise RuntimeError("database away")

    client.listen(flaky)
    try:
        await client.submit(PHONE, "hola", resend=False)
        await until(lambda: mock.counts["deliver_sm_acked"] == 1)
        assert len(calls) == 3
        assert mock.counts["deliver_sm_refused"] == 2
        assert mock.counts["deliver_sm_again"] == 2  # what an operator sees of the retries
    finally:
        await client.aclose()


def test_receipt_text_reads_back() -> None:
    receipt = smpp.Receipt(
        "0000000042", "UNDELIV", "001", datetime(2020, 11, 2, 9, 30), datetime(2020, 11, 2, 9, 31)
    )
    text = smpp.receipt_text(receipt)
    assert text.startswith(
        "id:0000000042 sub:001 dlvrd:000 submit date:2011020930 done date:2011020931 "
        "stat:UNDELIV err:001"
    )
    assert smpp.parse_receipt(text) == receipt
    assert smpp.parse_receipt("BAJA") is None


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("0002290000", datetime(2000, 2, 29, 0, 0)),  # a leap day
        ("6812312359", datetime(2068, 12, 31, 23, 59)),  # %y: 00-68 are 20YY ...
        ("6901010000", datetime(1969, 1, 1, 0, 0)),  # ... and 69-99 are 19YY
    ],
)
def test_receipt_dates_read_as_smpp_writes_them(digits: str, expected: datetime) -> None:
    text = f"id:7 sub:001 dlvrd:001 submit date:{digits} done date:{digits} stat:DELIVRD err:000"
    receipt = smpp.parse_receipt(text)
    assert receipt is not None
    assert (receipt.submitted_at, receipt.done_at) == (expected, expected)
    assert expected == datetime.strptime(digits, "%y%m%d%H%M")


@pytest.mark.parametrize("digits", ["2013010000", "2002300000", "2011022460", "2011020961"])
def test_a_receipt_with_a_date_that_does_not_exist_is_not_read(digits: str) -> None:
    # Month 13, 30 February, hour 24, minute 61: not a receipt the gateway can keep.
    text = f"id:7 sub:001 dlvrd:001 submit date:{digits} done date:2011020931 stat:DELIVRD err:000"
    assert smpp.parse_receipt(text) is None


def test_long_or_accented_text_is_segmented() -> None:
    parts, coding, esm_class = smpp.encode_text("a" * 161)
    assert (len(parts), coding, esm_class & 0x40) == (2, smpp.DATA_CODING_DEFAULT, 0x40)
    parts, coding, _ = smpp.encode_text("atención")
    assert coding == smpp.DATA_CODING_UCS2
    assert len(parts) == 1
