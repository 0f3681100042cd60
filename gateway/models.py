"""Imports every ORM model so the metadata is complete for migrations and tests."""

from __future__ import annotations

from sqlalchemy import Table


def load_all() -> None:
    import gateway.clients.models  # noqa: F401
    import gateway.consent.models  # noqa: F401
    import gateway.console.models  # noqa: F401
    import gateway.core.models  # noqa: F401
    import gateway.exchanges.models  # noqa: F401
    import gateway.idempotency.models  # noqa: F401
    import gateway.inbound.models  # noqa: F401
    import gateway.partners.tables  # noqa: F401
    import gateway.payments.models  # noqa: F401
    import gateway.ratelimit.models  # noqa: F401
    import gateway.reminders.models  # noqa: F401
    import gateway.signing_keys.models  # noqa: F401
    import gateway.subscriptions.models  # noqa: F401


def all_tables() -> list[Table]:
    """Every table the migrations create, the gateway's and the audit library's."""
    from audit.store import metadata as audit_metadata
    from gateway.core.db import Base

    load_all()
    return [*Base.metadata.sorted_tables, *audit_metadata.sorted_tables]
