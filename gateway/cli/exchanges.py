"""``exchanges``: queueing, working and following the periodic exchanges' runs."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from gateway.calls.validation import MAX_WINDOW_DAYS, range_fault
from gateway.cli.common import DATE, _, fail, get_settings, require_schema, shown, with_state
from gateway.core.db import transaction

_CODE = re.compile(r"[0-9]{1,6}")  # no longer than a ubigeo: never a DNI (8 digits)

exchanges_app = typer.Typer(help=_("Periodic exchanges (durable jobs)."), no_args_is_help=True)


@exchanges_app.command(
    "run", help=_("Queue a run; a gateway (or `exchanges work`) carries it out.")
)
def exchanges_run(
    name: Annotated[str, typer.Argument(help=_("Exchange name from the catalog."))],
    born_from: Annotated[
        str, typer.Option(help=_("First birth date of the window."), metavar=DATE)
    ],
    born_to: Annotated[
        str,
        typer.Option(
            help=_("Last birth date: at most 366 days later, not in the future."), metavar=DATE
        ),
    ],
    ubigeo: Annotated[
        list[str] | None, typer.Option(help=_("INEI district code (repeatable)."))
    ] = None,
) -> None:
    """Queue a run; a gateway (or `exchanges work`) carries it out."""
    from datetime import date

    from gateway.districts import load_table
    from gateway.identifiers import IdentifierError, parse_date
    from gateway.jobs.starters import Starter

    settings = get_settings()
    require_schema(settings)
    districts = load_table(settings.ubigeo_file)
    codes = []
    for code in ubigeo or []:
        try:
            codes.append(districts.to_inei(code, "inei"))
        except IdentifierError as exc:
            # A district code is public (INEI's), so it is named when it looks like one.
            named = code if _CODE.fullmatch(code) else "…"
            raise fail(f"--ubigeo {named}: {shown(exc.text)}") from None
    dates = []
    for option, value in (("--born-from", born_from), ("--born-to", born_to)):
        try:
            dates.append(parse_date(value))
        except IdentifierError as exc:
            raise fail(f"{option}: {shown(exc.text)}") from None
    start, end = dates
    if end > date.today():
        raise fail(_("--born-to must not be in the future"))
    fault = range_fault(start, end)  # the API's own rule, in the options' names
    if fault == "inverted":
        raise fail(_("--born-to must not be before --born-from"))
    if fault == "too-long":
        raise fail(
            _("--born-from and --born-to may be at most {days} days apart").format(
                days=MAX_WINDOW_DAYS
            )
        )
    params = {"born_from": start.isoformat(), "born_to": end.isoformat(), "ubigeo": codes}

    async def work(state: Any) -> Any:
        async with transaction(state.sessions) as session:
            return await state.exchanges.trigger(session, name, params, Starter.command_line())

    try:
        run = with_state(settings, work)
    except Exception as exc:
        raise fail(shown(getattr(exc, "detail", None) or str(exc))) from None
    typer.echo(json.dumps(run))


@exchanges_app.command(
    "work",
    help=_("Carry out queued runs in this process (the gateway does this itself by default)."),
)
def exchanges_work(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help=_("Stop when no run is ready instead of polling."))
    ] = False,
) -> None:
    """Carry queued runs in this process (the gateway does this itself by default)."""
    settings = get_settings()
    require_schema(settings)

    async def work(state: Any) -> int:
        if until_idle:
            worked: int = await state.jobs.work_available()
            return worked + int(await state.jobs.dispatch("deliveries"))
        await state.jobs.run_forever(settings.exchanges_poll_seconds)
        return 0

    typer.echo(_("runs worked: {count}").format(count=with_state(settings, work)))


@exchanges_app.command("show", help=_("Progress of one run, as JSON."))
def exchanges_show(
    name: Annotated[str, typer.Argument()],
    run_id: Annotated[str, typer.Argument()],
) -> None:
    """Progress of one run, as JSON."""
    settings = get_settings()
    require_schema(settings)

    async def work(state: Any) -> Any:
        async with transaction(state.sessions) as session:
            return await state.exchanges.get(session, name, run_id)

    try:
        typer.echo(json.dumps(with_state(settings, work)))
    except Exception as exc:
        raise fail(shown(getattr(exc, "detail", None) or str(exc))) from None
