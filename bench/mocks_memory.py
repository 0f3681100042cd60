"""Peak memory of the mocks process at national size: the state the agencies keep.

Builds the sandbox as ``juntos-gateway mocks`` does (the settings' population, the four
agencies' apps and the SMS centre), then plays the state-building part of the national
operation through the mocks' own interfaces: account openings in batches of 1,000
(ASGI), the card-delivery extract, the first and second transfers as pain.001 batches
of 500 with their camt.054 notifications (one per ``--lotes`` messages), and the SMS
reminders over SMPP on a loopback port with every receipt acknowledged. Prints the
process's resident memory (VmRSS) and peak (VmHWM) after each step; ``--trace`` adds
tracemalloc's top allocation sites (it slows the run and adds its own memory, so peak
figures are only comparable without it).

Usage: GATEWAY_UBIGEO_FILE=../shared/data/ubigeo_distrito.csv \\
       .venv/bin/python -m bench.mocks_memory [--holders 442618] [--sms 656000] [--lotes 4]
       [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time
import tracemalloc
from array import array
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from starlette.types import ASGIApp

from adapters.bn.cci import account_for, cci_for
from adapters.bn.iso20022 import CreditTransfer, PaymentBatch, build_pain001
from adapters.sandbox.population import Population
from adapters.sandbox.server import _FACTORIES, smsc_mock
from adapters.sandbox.settings import SandboxSettings
from adapters.smsc import smpp
from bench._machine import describe


def memory() -> str:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return f"RSS {fields['VmRSS']:7.1f} MiB, peak {fields['VmHWM']:7.1f} MiB"


def report(step: str, started: float, trace: bool) -> None:
    gc.collect()
    print(f"{step:<44} {memory()}  ({time.perf_counter() - started:6.1f} s)", flush=True)
    if trace:
        snapshot = tracemalloc.take_snapshot()
        for stat in snapshot.statistics("lineno")[:8]:
            frame = stat.traceback[0]
            print(
                f"    {stat.size / 2**20:8.1f} MiB {stat.count:>9,} blocks  "
                f"{Path(frame.filename).name}:{frame.lineno}"
            )


def _payee(population: Population, index: int) -> tuple[str, str]:
    """The DNI and CCI of the account of household ``index``'s mother."""
    dni = population.identifier(index, 0)
    district = population.districts[population.district_index(index)]
    return dni, cci_for(district.inei_code, account_for(dni))


async def bank_steps(
    app: ASGIApp, settings: SandboxSettings, holders: int, lotes: int, trace: bool, t0: float
) -> None:
    population = settings.population
    headers = {"X-Api-Key": settings.bn_api_key}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bn") as http:
        # The households whose mother has an account: 4 bytes each, so that what this
        # script keeps stays out of the figures (the programme keeps it elsewhere).
        accounts = array("l")
        for start in range(0, holders, 1000):
            batch = range(start, min(start + 1000, holders))
            items = [
                {"tipoDocumento": "DNI", "numeroDocumento": population.identifier(i, 0)}
                for i in batch
            ]
            answer = await http.post(
                "/cuentas/v1/aperturas/lotes",
                json={"aperturas": items},
                headers=headers | {"X-Request-Id": f"open-{start:08d}"},
            )
            for i, result in zip(batch, answer.json()["resultados"], strict=True):
                if "cuenta" in result:
                    accounts.append(i)
        report(f"bank: {len(accounts):,} accounts answered", t0, trace)
        offset: str | None = "0"
        delivered = 0
        while offset is not None:
            page = await http.get(
                "/cuentas/v1/tarjetas/entregas",
                params={"fechaDesde": "2000-01-01", "fechaHasta": "2100-01-01", "desde": offset},
                headers=headers,
            )
            delivered += page.text.count("\n") - 1
            offset = page.headers.get("X-Siguiente")
        report(f"bank: card-delivery extract ({delivered:,} lines)", t0, trace)

        def payee(index: int) -> tuple[str, str]:
            return _payee(population, index)

        for run, share in (("T1", 1), ("T2", 2)):
            payees = accounts[::share]
            msg_ids = []
            for chunk, start in enumerate(range(0, len(payees), 500)):
                msg_id = f"J{run}BENCHMEMORY{chunk:06d}"
                document = PaymentBatch(
                    msg_id=msg_id,
                    created_at=datetime.now(UTC),
                    initiating_party="JUNTOS",
                    payment_info_id=f"{msg_id}-1",
                    requested_date=date(2020, 12, 1),
                    debtor_name="PROGRAMA JUNTOS",
                    debtor_account=settings.bn_debtor_account,
                    transfers=tuple(
                        CreditTransfer(
                            end_to_end_id=f"{run}-{dni}",
                            amount=Decimal("200.00"),
                            creditor_name="TITULAR",
                            creditor_cci=cci,
                        )
                        for dni, cci in map(payee, payees[start : start + 500])
                    ),
                )
                answer = await http.post(
                    "/pagos/v1/lotes",
                    content=build_pain001(document),
                    headers=headers | {"Content-Type": "application/xml"},
                )
                answer.raise_for_status()
                msg_ids.append(msg_id)
            for start in range(0, len(msg_ids), lotes):
                notified = await http.get(
                    "/pagos/v1/notificaciones",
                    params={"lotes": ",".join(msg_ids[start : start + lotes])},
                    headers=headers,
                )
                notified.raise_for_status()
            report(f"bank: {run} paid ({len(payees):,} transfers)", t0, trace)


async def sms_steps(settings: SandboxSettings, count: int, trace: bool, t0: float) -> None:
    """``count`` reminders over SMPP, a window of 200 in flight, each receipt acked."""
    smsc = smsc_mock(settings)
    server = await smsc.start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    population = settings.population
    window = asyncio.Semaphore(200)
    receipts = 0
    done = asyncio.Event()

    async def read() -> None:
        nonlocal receipts
        while True:
            pdu = await smpp.read_pdu(reader)
            if pdu.command == "submit_sm_resp":
                window.release()
            elif pdu.command == "deliver_sm":
                writer.write(smpp.encode("deliver_sm_resp", pdu.sequence))
                receipts += 1
                if receipts == count:
                    done.set()

    writer.write(
        smpp.encode(
            "bind_transceiver",
            1,
            system_id=settings.smsc_system_id,
            password=settings.smsc_password,
        )
    )
    await smpp.read_pdu(reader)
    reading = asyncio.ensure_future(read())
    # One phone per household of the first ``count * 2 // 3`` (two rounds for a third).
    phones = max(1, count * 2 // 3)
    for n in range(count):
        await window.acquire()
        phone = f"519{population.identifier(n % phones, 0)}"
        writer.write(
            smpp.encode(
                "submit_sm",
                n + 2,
                service_type="JNTS",
                source_addr="JUNTOS",
                source_addr_ton=5,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=phone,
                registered_delivery=1,
                short_message=b"JUNTOS: recuerde llevar a su nino o nina a su control CRED.",
            )
        )
        if n % 1000 == 0:
            await writer.drain()
    await asyncio.wait_for(done.wait(), 600)
    report(f"smsc: {count:,} messages, receipts acked", t0, trace)
    print(f"    states {json.dumps(smsc.states())}")
    reading.cancel()
    writer.close()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=442_618)
    parser.add_argument("--sms", type=int, default=656_000)
    # A payment run of the operation is a roll of 25,000 transfers, 50 messages of 500,
    # reconciled with one camt.054 for its 50 messages (the gateway asks for up to 200).
    parser.add_argument(
        "--lotes",
        type=int,
        default=4,
        help="payment messages (MsgIds) per camt.054 query: the gateway asks for 4 (2,000 "
        "transfers)",
    )
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    if args.trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    print(f"machine: {describe()}")
    report("interpreter and imports", t0, args.trace)
    probe = SandboxSettings(seed=args.seed)
    size = Population.for_target(probe.population.districts, seed=args.seed).size
    settings = SandboxSettings(seed=args.seed, size=size)
    # Kept to the end, as the mocks process keeps them.
    apps = {name: _FACTORIES[name](settings) for name in ("reniec", "osiptel", "bn", "minsa_his")}
    report(f"population of {size:,} and the apps", t0, args.trace)
    asyncio.run(bank_steps(apps["bn"], settings, args.holders, args.lotes, args.trace, t0))
    asyncio.run(sms_steps(settings, args.sms, args.trace, t0))
    print(f"{'end':<44} {memory()}", flush=True)
    del apps
    os._exit(0)  # the SMS centre's sessions and tasks end with the process, as in `mocks`


if __name__ == "__main__":
    main()
