"""The DU 095-2020 operation for a whole cohort: wall time per step, records/s, peak memory.

Starts the four mocks (``juntos-gateway mocks``, a population of ``--households``) and
the gateway (``juntos-gateway serve --no-mocks --workers N``) as separate processes, on
a fresh SQLite file and on a scratch PostgreSQL database, and plays the operation of
``program.operation`` against each through the public API. Prints, per database and
step, wall time, records and records/s; then the peak resident memory of the programme,
of each gateway process and of the mocks; and the households affiliated per second (a
ratio against the cheapest authenticated call, measured in the same run). The population
is the calibrated one (``adapters/sandbox/calibration.toml``): by default sized so that
the decree's 442,618 households are eligible, with the ineligible ones on top (about
583,000 households on the real district table, ``GATEWAY_UBIGEO_FILE``); ``--households
N`` sets its size instead, and then the bench also prints the time the national one
would take at the same rate.

The run's figures are printed beside the published ones, and written as JSON with
``--summary PATH`` (the shape of ``juntos-gateway demo --summary``; one file per
database, suffixed with its name).

Usage: .venv/bin/python -m bench.cohort [--households N] [--seed 2020] [--gateway-workers 2]
       [--concurrency 32] [--summary PATH] [--postgres URL | --no-postgres] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adapters.sandbox.districts import load_districts  # noqa: E402
from adapters.sandbox.population import Population  # noqa: E402
from adapters.sandbox.registers import write_registers  # noqa: E402
from adapters.sandbox.settings import SandboxSettings  # noqa: E402
from bench._harness import add_database_options, databases, sandbox_processes  # noqa: E402
from bench._machine import describe  # noqa: E402
from program.client import GatewayClient, load_credentials, run  # noqa: E402
from program.demo import QuietProgress, play, write_summary  # noqa: E402
from program.operation import Results  # noqa: E402
from program.published import PUBLISHED  # noqa: E402
from program.registers import FileRegisters  # noqa: E402

NATIONAL = PUBLISHED["eligible"]


def peak_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def is_worker(pid: int) -> bool:
    """Whether a child of ``serve --workers N`` is one of its workers."""
    return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


async def bare_calls(gateway: str, credentials: Path, args: argparse.Namespace) -> float:
    """Baseline of the same run: the cheapest authenticated call, at the same
    concurrency and through the same client, for five seconds."""
    async with GatewayClient(gateway, load_credentials(credentials), args.concurrency) as gw:
        await gw.call("consumer", "GET", "/v1/services")
        done = 0
        deadline = time.perf_counter() + 5.0

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await gw.call("consumer", "GET", "/v1/services")
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(args.concurrency)))
        return done / (time.perf_counter() - started)


#: Counts that do not grow with the population: shown unscaled on a reduced run, without
#: a difference (a reduced population cannot reach every district).
UNSCALED = frozenset({"districts_covered"})


def published_beside(results: Results) -> None:
    """The run's figures beside the published ones (counts: relative difference;
    shares: difference in points). On a reduced run (fewer than 99% of the decree's
    eligible households), each published count is first scaled by the run's share of
    them, so the difference says how the run's proportions compare, not its size;
    ``eligible`` is then the scale itself, and the districts covered do not scale: neither
    has a difference."""
    run = results.summary()
    scale = run["eligible"] / PUBLISHED["eligible"]
    reduced = scale < 0.99
    rows = [
        ("eligible", "eligible", None),
        ("households affiliated", "households_affiliated", None),
        ("first transfer paid", "first_transfer_paid", None),
        ("accounts opened (new)", "accounts_opened", None),
        ("cards delivered", "cards_delivered", None),
        ("transfers paid", "transfers", None),
        ("transferred (S/)", "transferred_soles", None),
        ("compliant households %", "compliant_households_pct", "compliant_households_pct"),
        (
            "very-high-priority children %",
            "very_high_priority_children_pct",
            "very_high_priority_children_pct",
        ),
        ("SMS reminders sent", "sms_sent", None),
        ("  in November 2020", "sms_sent_november", None),
        ("  in December 2020", "sms_sent_december", None),
        ("districts covered", "districts_covered", None),
    ]
    by_month = run["sms_sent_by_month"]
    run["sms_sent_november"] = by_month.get("2020-11", 0)
    run["sms_sent_december"] = by_month.get("2020-12", 0)
    if reduced:
        print(
            f"a reduced run: {100 * scale:.2f}% of the decree's eligible households; "
            "published counts are scaled by that share, except the districts covered"
        )
    heading = "published, scaled" if reduced else "published"
    print(f"{'figure':<32}{heading:>18}{'this run':>14}{'difference':>12}")
    for label, key, published_key in rows:
        mine = run[key]
        if published_key:
            published = PUBLISHED[published_key]
            print(f"{label:<32}{published:>18,}{mine:>14,.2f}{mine - published:>+11.2f}p")
            continue
        published = PUBLISHED[key] * (scale if reduced and key not in UNSCALED else 1)
        if reduced and (key == "eligible" or key in UNSCALED):
            print(f"{label:<32}{published:>18,.0f}{mine:>14,}{'—':>12}")
            continue
        change = 100 * (mine / published - 1) if published else 0.0
        print(f"{label:<32}{published:>18,.0f}{mine:>14,}{change:>+11.2f}%")


def run_backend(name: str, database_url: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        with sandbox_processes(
            var,
            database_url,
            args.gateway_workers,
            sandbox_size=str(args.households),
            sandbox_seed=str(args.seed),
            exchanges_poll_seconds="0.2",
        ) as box:
            gateway, server, mocks = box.gateway, box.server, box.mocks
            sandbox = SandboxSettings(seed=args.seed, size=args.households)
            # The programme's registers reach it as the files the sandbox writes.
            written = write_registers(sandbox.population, var / "registers")
            registers = FileRegisters.read(written.directory)
            print(f"\n== {name}: a population of {args.households:,} households ==", flush=True)
            baseline = run(bare_calls(gateway, var / "sandbox-clients.json", args))
            print(f"  baseline: {baseline:,.0f} authenticated calls/s (GET /v1/services)")
            started = time.perf_counter()
            results = run(
                play(
                    gateway,
                    var / "sandbox-clients.json",
                    registers,
                    QuietProgress(locale="en"),
                    seed=args.seed,
                    limit=None,
                    concurrency=args.concurrency,
                    as_of=date(2021, 3, 1),
                )
            )
            wall = time.perf_counter() - started
            # The supervisor (``serve --workers N``) first, then its workers (not
            # multiprocessing's resource tracker, its other child).
            workers = [p for p in children(server.pid) if is_worker(p)]
            gateway_peaks = [peak_mib(p) for p in (server.pid, *workers)]
            mocks_peak = peak_mib(mocks.pid)
    program_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    published_beside(results)
    if args.summary is not None:
        path = args.summary.with_name(f"{args.summary.stem}-{name}{args.summary.suffix}")
        print(f"summary written to {write_summary(results, path)}")
    print("steps (side by side ones overlap: their seconds add up to more than the total)")
    print(f"{'step':<18}{'seconds':>9}{'records':>10}{'records/s':>11}")
    for s in results.steps:
        rate = "—" if s.measured_rate is None else f"{s.measured_rate:,.0f}"
        print(f"{s.name:<18}{s.seconds:>9.1f}{s.records:>10,}{rate:>11}")
    affiliated = results.funnel["affiliated"]
    per_second = affiliated / wall if wall else 0.0
    print(
        f"total {wall:.1f} s; {results.funnel['newborns']:,} newborns, "
        f"{results.funnel['eligible']:,} eligible, {affiliated:,} affiliated, "
        f"T1 paid {results.payments.get('T1', {}).get('paid', 0):,}, "
        f"T2 paid {results.payments.get('T2', {}).get('paid', 0):,}; "
        f"{results.calls:,} gateway calls; "
        f"audit chain {'intact' if results.audit.get('ok') else 'BROKEN'} "
        f"({results.audit.get('events_checked', 0):,} events)"
    )
    processes = (
        f"supervisor {gateway_peaks[0]:.0f} and workers "
        + ", ".join(f"{p:.0f}" for p in gateway_peaks[1:])
        if len(gateway_peaks) > 1
        else f"{gateway_peaks[0]:.0f}"
    )
    print(
        f"peak resident memory (MiB): programme {program_peak:.0f}, gateway {processes}, "
        f"mocks {mocks_peak:.0f}"
    )
    if per_second:
        # Against the baseline: one household through the whole operation costs as much
        # gateway time as 1/ratio of the cheapest authenticated calls.
        print(
            f"{per_second:,.1f} households affiliated per second end to end "
            f"({per_second / baseline:.2f}x the baseline's calls per second)"
        )
        if results.funnel["eligible"] >= 0.99 * NATIONAL:
            print(f"the national cohort of {NATIONAL:,} households ran in {wall / 60:.1f} min")
        else:
            print(
                f"the national cohort of {NATIONAL:,} would take "
                f"{NATIONAL / per_second / 60:,.0f} min at this rate"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--households",
        type=int,
        default=None,
        help="population size [sized for the decree's 442,618 eligible households]",
    )
    parser.add_argument(
        "--summary",
        type=Path,
        default=None,
        help="write the figures as JSON, one file per database: PATH's name suffixed "
        "-SQLite or -PostgreSQL",
    )
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--gateway-workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    add_database_options(parser)
    args = parser.parse_args()
    if args.households is None:
        districts = load_districts(SandboxSettings().ubigeo_file)
        args.households = Population.for_target(districts, seed=args.seed).size
    print(f"machine: {describe()}")
    print(
        f"{args.gateway_workers} gateway worker(s) under a supervisor, the mocks in one "
        "more process, the programme in "
        f"this one, {args.concurrency} calls in flight"
    )
    for name, url in databases(args, "cohort"):
        run_backend(name, url, args)


if __name__ == "__main__":
    main()
