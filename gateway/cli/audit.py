"""``audit``: verifying, sealing and archiving the tamper-evident audit log."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.common import _, fail, get_catalog, get_settings, require_schema
from gateway.core.db import create_engine, session_factory
from gateway.core.limits import BIGINT_MAX

audit_app = typer.Typer(help=_("The tamper-evident audit log."), no_args_is_help=True)


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    elif report.ok and not report.events_checked:
        typer.echo(
            _(
                "audit chain intact: no sealed event in this range; not yet sealed: {unsealed}"
            ).format(unsealed=report.unsealed)
        )
    elif report.ok:
        typer.echo(
            _(
                "audit chain intact. Events checked: {events} ({first}..{last}); signed "
                "checkpoints: {checkpoints}; archives: {archives}; not yet sealed: {unsealed}"
            ).format(
                events=report.events_checked,
                first=report.first_seq,
                last=report.last_seq,
                checkpoints=report.checkpoints_checked,
                archives=report.archives_checked,
                unsealed=report.unsealed,
            )
        )
    else:
        typer.secho(
            _("audit chain BROKEN at event {seq}: {reason}").format(
                seq=report.first_broken_seq, reason=report.reason
            ),
            fg=typer.colors.RED,
            err=True,
        )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command(
    "verify",
    help=_(
        "Check every event's hash and every checkpoint's signature; exit 1 naming the first broken"
        " event. With --archive, only the archive files and the public key are needed."
    ),
)
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
    archive: Annotated[
        Path | None,
        typer.Option(help=_("Verify archive files in this directory offline instead.")),
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option(help=_("KEY_ID=BASE64URL public key (repeatable); for --archive.")),
    ] = None,
    from_seq: Annotated[
        int | None,
        typer.Option(min=1, max=BIGINT_MAX, help=_("First event to check (sequence number).")),
    ] = None,
    to_seq: Annotated[
        int | None,
        typer.Option(min=1, max=BIGINT_MAX, help=_("Last event to check (sequence number).")),
    ] = None,
) -> None:
    """Check every event hash and checkpoint signature; exit 1 naming the first broken
    event. With --archive, needs nothing but the archive files and the public key."""
    from gateway.auditing.service import RangeAfterChain, verify, verify_offline

    if archive is not None:
        from audit.verify import public_key_from_text

        keys: dict[str, Any] = {}
        for item in public_key or []:
            key_id, sep, text = item.partition("=")
            if not sep:
                raise fail(_("--public-key takes KEY_ID=BASE64URL (from GET /v1/audit/keys)"))
            try:
                keys[key_id] = public_key_from_text(text)
            except ValueError:
                raise fail(
                    _("--public-key {key_id}: not an Ed25519 public key").format(key_id=key_id)
                ) from None
        if not keys:
            raise fail(_("offline verification needs --public-key"))
        _print_report(verify_offline(archive, keys), as_json)
        return
    if from_seq is not None and to_seq is not None and to_seq < from_seq:
        raise fail(_("--to-seq must not be below --from-seq"))
    settings = get_settings()
    require_schema(settings)
    workers = min(4, os.cpu_count() or 1)
    try:
        report = verify(settings.database_url, from_seq, to_seq, workers, asked=True)
    except RangeAfterChain as exc:
        raise fail(
            _(
                "--from-seq {from_seq}: the chain's last sealed event is {head}; verify "
                "without --from-seq to check the whole chain"
            ).format(from_seq=from_seq, head=exc.head)
        ) from None
    _print_report(report, as_json)


@audit_app.command(
    "seal",
    help=_(
        "Chain every event that can be chained now and sign a checkpoint (the gateway does this "
        "continuously; useful before an archive or after an outage)."
    ),
)
def audit_seal() -> None:
    """Chain every event that can be chained now and sign a checkpoint (the gateway does
    this continuously; useful before an archive or after an outage)."""
    from audit.sealer import SealPolicy
    from gateway.auditing.checkpoint_keys import AuditKeys
    from gateway.auditing.service import AuditSealer

    settings = get_settings()
    require_schema(settings)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            sealer = AuditSealer(
                session_factory(engine),
                AuditKeys(settings.master_key_bytes),
                SealPolicy(
                    checkpoint_every=settings.audit_checkpoint_every,
                    checkpoint_seconds=0.0001,
                    gap_grace_seconds=settings.audit_gap_grace_seconds,
                ),
            )
            return await sealer.seal_now()
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    sealed = _("events sealed: {sealed} (void: {voided}); last sealed event: {head}").format(
        sealed=result.sealed, voided=result.voided, head=result.head_seq
    )
    checkpoints = (
        _("new checkpoints at events {seqs}").format(
            seqs=", ".join(str(seq) for seq in result.checkpoints)
        )
        if result.checkpoints
        else _("no new checkpoint")
    )
    typer.echo(f"{sealed}; {checkpoints}")


@audit_app.command(
    "archive",
    help=_(
        "Seal the chain up to its last checkpoint into JSONL with a signed manifest chained to the"
        " previous archive; verify it offline with `audit verify --archive`."
    ),
)
def audit_archive(
    out: Annotated[
        Path | None, typer.Option(help=_("Directory [GATEWAY_AUDIT_ARCHIVE_DIR]."))
    ] = None,
    remove: Annotated[
        bool,
        typer.Option(
            "--remove",
            help=_(
                "Archive only events past the audit retention and delete them from the database."
            ),
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    """Seal the chain up to its last checkpoint into JSONL plus a signed manifest that
    chains to the previous archive; verify it offline with `audit verify --archive`."""
    from datetime import UTC, datetime, timedelta

    from audit.events import to_us
    from gateway.auditing.service import archive

    settings = get_settings()
    require_schema(settings)
    directory = out or settings.audit_archive_dir
    older_than = None
    if remove:
        days = get_catalog(settings).data_categories["audit"].retention_days
        older_than = to_us(datetime.now(UTC) - timedelta(days=days))
    try:
        manifest = archive(
            settings.database_url,
            settings.master_key_bytes,
            directory,
            older_than_us=older_than,
            remove=remove,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    if manifest is None:
        typer.echo(json.dumps(None) if as_json else _("nothing to archive"))
        return
    if as_json:
        typer.echo(json.dumps(manifest))
        return
    typer.echo(
        (
            _("archived events {first}..{last} to {path} and removed them from the database")
            if remove
            else _("archived events {first}..{last} to {path}")
        ).format(
            first=manifest["first_seq"],
            last=manifest["last_seq"],
            path=directory / manifest["file"],
        )
    )
