"""``partners``: the gateway's own credentials at partner agencies."""

from __future__ import annotations

from typing import Any

import typer

from gateway.cli.common import _, fail, get_settings, require_schema, with_state

partners_app = typer.Typer(help=_("Partner agencies: credentials."), no_args_is_help=True)
reniec_app = typer.Typer(help=_("RENIEC (PIDE ReniecConsultaDni)."), no_args_is_help=True)
partners_app.add_typer(reniec_app, name="reniec")


@reniec_app.command(
    "renew-credential",
    help=_("Renew the gateway's RENIEC password (actualizarcredencial), the answer to code 1002."),
)
def reniec_renew_credential() -> None:
    """Renew the gateway's RENIEC password (actualizarcredencial), the answer to 1002.

    A new password is made up, RENIEC replaces the one in force with it, and it is
    stored sealed; running gateways use it from their next call. It is never shown."""
    import getpass
    import uuid

    from gateway.partners.credentials import Actor
    from gateway.partners.errors import PartnerError

    settings = get_settings()
    require_schema(settings)

    async def work(state: Any) -> Any:
        adapter = state.partners.credentials.get("reniec")
        if adapter is None:
            raise fail(_("the configured adapters do not renew a RENIEC credential"))
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):  # no account name in this environment
            operator = "unknown"
        actor = Actor(request_id=f"cli:{uuid.uuid4()}", user_id=f"cli:{operator}")
        try:
            return await state.credentials.renew(adapter, actor)
        except PartnerError as exc:
            raise fail(_("RENIEC refused the renewal: {cause}").format(cause=exc.detail)) from None

    renewal = with_state(settings, work)
    typer.echo(
        _("RENIEC credential renewed at {at} (stored sealed)").format(
            at=renewal.renewed_at.isoformat()
        )
    )
