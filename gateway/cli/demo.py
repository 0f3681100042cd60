"""``demo``: the DU 095-2020 operation played by the programme (:mod:`program`) against a
gateway: a running one (``--gateway URL``, with a credentials file), or a sandbox
gateway and the four partner mocks started in this process and sized to
``--households``. Either way the programme receives its registers as files: those of
``--registers``, or those the sandbox writes (:mod:`adapters.sandbox.registers`)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.sandbox.faults import FAULT_PROFILES
from adapters.sandbox.registers import DISTRICTS_FILE, RNH_FILE
from gateway.cli.common import (
    DATE,
    DEMO_REPORT_FILE,
    SANDBOX_CLIENTS_FILE,
    _,
    fail,
    process_runner,
    var_dir,
)
from gateway.core.i18n import N_, gettext, locale_from_environment
from gateway.identifiers import parse_date

if TYPE_CHECKING:
    from program.operation import Results


def demo(
    households: Annotated[
        int,
        typer.Option(
            min=1,
            max=2_000_000,
            help=_(
                "Synthetic households (population size); with --gateway, the cap on the "
                "newborns read (the most recent)."
            ),
        ),
    ] = 2_000,
    seed: Annotated[int, typer.Option(help=_("Seed of the population and of the calls."))] = 2020,
    faults: Annotated[
        str, typer.Option(help=_("Partner fault profile of the sandbox: none, flaky or slow."))
    ] = "none",
    gateway: Annotated[
        str | None,
        typer.Option(help=_("A running gateway's URL; without it one is started in-process.")),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(
            help=_(
                "Client credentials per role, for --gateway [GATEWAY_VAR_DIR/"
                "sandbox-clients.json; GATEWAY_VAR_DIR as the gateway's, from the "
                "environment or var/run.env, else var]."
            )
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help=_("Where to write the HTML report [GATEWAY_VAR_DIR/demo-report.html].")),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help=_("Calls in flight."))] = 16,
    as_of: Annotated[
        str,
        typer.Option(
            help=_("The operation's date (the sandbox's is 2021-03-01)."),
            metavar=DATE,
        ),
    ] = "2021-03-01",
    registers: Annotated[
        Path | None,
        typer.Option(
            help=_(
                "The programme's rnh.csv and districts.csv, for --gateway "
                "[GATEWAY_SANDBOX_*: written from the sandbox population]."
            )
        ),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option(
            help=_(
                "Language of the summary and the report: es or en (by default the shell's, "
                "Spanish when none is set)."
            )
        ),
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option(
            help=_(
                "Write the run's figures as JSON here, with the published ones beside "
                "them under 'published'."
            )
        ),
    ] = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national",
            help=_(
                "Size the in-process sandbox so that the decree's 442,618 households are "
                "eligible (adapters/sandbox/calibration.toml), instead of --households; use "
                "with GATEWAY_UBIGEO_FILE pointing at the real district table."
            ),
        ),
    ] = False,
) -> None:
    """Play the DU 095-2020 operation end to end through the gateway's public API:
    newborns, eligibility, phone affiliation with consent, accounts, the first transfer,
    health verdicts and the semáforo, the second transfer, the audit check."""
    lang = lang or locale_from_environment()
    if lang not in ("es", "en"):
        raise fail(_("--lang must be es or en"))
    if faults not in FAULT_PROFILES:
        raise fail(
            _("--faults must be one of {profiles}").format(profiles=", ".join(FAULT_PROFILES))
        )
    if gateway and faults != "none":
        raise fail(_("--faults applies to the in-process sandbox; set faults on your mocks"))
    try:
        day = parse_date(as_of)
    except ValueError:
        raise fail(_("--as-of must be a date YYYY-MM-DD")) from None
    if national:
        if gateway:
            raise fail(_("--national sizes the in-process sandbox; size your mocks instead"))
        households = _national_size(seed)
    # The files the sandbox gateway wrote in its var directory, as the commands beside
    # it read it (the environment, then var/run.env).
    var = var_dir()
    credentials = credentials or var / SANDBOX_CLIENTS_FILE
    report = report or var / DEMO_REPORT_FILE
    if gateway and not credentials.exists():
        raise fail(
            _("{path}: no such file (start the gateway in sandbox mode first)").format(
                path=credentials
            )
        )
    if gateway:
        from program.client import load_credentials

        try:
            load_credentials(credentials)
        except ValueError:
            raise fail(
                _("{path}: not a readable file of client credentials").format(path=credentials)
            ) from None
    # The report's directory, before the run rather than after it.
    try:
        report.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(
            _("{path}: cannot be written ({reason})").format(
                path=report, reason=exc.strerror or type(exc).__name__
            )
        ) from None
    if registers is not None:
        if not gateway:
            raise fail(
                _("--registers applies with --gateway; the in-process sandbox writes its own")
            )
        missing = [f for f in (RNH_FILE, DISTRICTS_FILE) if not (registers / f).is_file()]
        if missing:
            raise fail(_("{path}: no {files}").format(path=registers, files=", ".join(missing)))
    if gateway:
        results = _against(
            gateway, credentials, registers, report, households, seed, concurrency, day, lang
        )
    else:
        results = _in_process(report, households, seed, faults, concurrency, day, lang)
    if summary is not None:
        from program.demo import write_summary

        written = write_summary(results, summary)
        # In the run's language, as the report's line before it.
        typer.echo(gettext("Summary written to {path}", lang).format(path=written.resolve()))
    if not results.audit.get("ok"):
        raise typer.Exit(1)


#: How a fault profile other than "none" is named to a person (the option's values stay).
FAULT_LABELS = {
    "flaky": N_("flaky, about 30% of calls fail"),
    "slow": N_("slow, about 40 ms more per call"),
}


def _national_size(seed: int) -> int:
    """The population whose expected eligible households are the decree's target, on
    the district table the sandbox reads (``GATEWAY_UBIGEO_FILE``)."""
    from adapters.sandbox.districts import load_districts
    from adapters.sandbox.population import Population
    from adapters.sandbox.settings import SandboxSettings

    return Population.for_target(load_districts(SandboxSettings().ubigeo_file), seed=seed).size


def _against(
    url: str,
    credentials: Path,
    registers: Path | None,
    report: Path,
    households: int,
    seed: int,
    concurrency: int,
    as_of: date,
    lang: str,
) -> Results:
    """The programme against a running gateway, with the register files in
    ``registers``, or else those the sandbox writes from the running mocks' population
    (the same ``GATEWAY_SANDBOX_*`` variables)."""
    from adapters.sandbox.registers import write_registers
    from adapters.sandbox.settings import SandboxSettings
    from program.client import GatewayProblem
    from program.demo import run_demo
    from program.registers import RegisterFileError

    with tempfile.TemporaryDirectory(prefix="juntos-registers-") as tmp:
        if registers is None:
            registers = write_registers(SandboxSettings().population, Path(tmp)).directory
        try:
            return run_demo(
                gateway_url=url,
                credentials=credentials,
                registers=registers,
                report=report,
                seed=seed,
                households=households,
                concurrency=concurrency,
                as_of=as_of,
                locale=lang,
            )
        except RegisterFileError as exc:
            raise fail(str(exc)) from None
        except GatewayProblem as exc:  # e.g. credentials of another gateway's database
            raise fail(
                _("the gateway at {url} refused the programme's calls: {problem}").format(
                    url=url, problem=exc
                )
            ) from None


def _in_process(
    report: Path,
    households: int,
    seed: int,
    faults: str,
    concurrency: int,
    as_of: date,
    lang: str,
) -> Results:
    """The programme against a sandbox gateway and mocks started in this process."""
    from rich.console import Console

    from gateway.cli.sandbox import in_process_gateway
    from program.demo import play_live, present

    console = Console()
    label = gettext(FAULT_LABELS[faults], lang) if faults in FAULT_LABELS else None

    async def main() -> Results:
        with tempfile.TemporaryDirectory(prefix="juntos-demo-") as tmp:
            # The gateway and the mocks share this process and its output: only their
            # warnings and errors are printed (the default level), between the steps' lines.
            async with in_process_gateway(households, seed, faults, Path(tmp)) as box:
                headline = (
                    gettext(
                        "Sandbox gateway at {url} with {households:,} synthetic households "
                        "(partner faults: {faults})",
                        lang,
                    )
                    if label
                    else gettext(
                        "Sandbox gateway at {url} with {households:,} synthetic households",
                        lang,
                    )
                ).format(url=box.url, households=households, faults=label)
                return await play_live(
                    box.url,
                    box.credentials,
                    box.registers,
                    headline=headline,
                    seed=seed,
                    limit=None,
                    concurrency=concurrency,
                    as_of=as_of,
                    console=console,
                    locale=lang,
                )

    with process_runner() as runner:
        results = runner.run(main())
    present(results, report, seed=seed, faults=label, console=console, locale=lang)
    return results
