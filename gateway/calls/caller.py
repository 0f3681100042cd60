"""What every consumer request carries: who calls (token), for what (``X-Purpose``), on
whose behalf (``X-User-Id``), and the path and header parameters several features share.

``Caller`` is the request dependency an endpoint takes to open an ``audited_call``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from gateway.auth.dependencies import CurrentPrincipal, Principal, require_role
from gateway.calls.answers import DOCUMENT_SCHEMA
from gateway.calls.audited import Call
from gateway.core.web import components

PURPOSE_PATTERN = r"^[a-z][a-z0-9-]{0,63}$"
USER_ID_PATTERN = r"^[A-Za-z0-9._@:-]{1,64}$"
Purpose = Annotated[
    str,
    Header(
        alias="X-Purpose",
        pattern=PURPOSE_PATTERN,
        description="The purpose of this call, from the catalog (e.g. affiliation).",
    ),
]
UserId = Annotated[
    str | None,
    Header(
        alias="X-User-Id",
        pattern=USER_ID_PATTERN,
        description="The official acting through the calling system, for the audit log.",
    ),
]
Admin = Annotated[Principal, Depends(require_role("admin"))]
Dni = Annotated[
    str,
    Path(
        description="DNI, 8 digits, optionally with its check character.",
        json_schema_extra=DOCUMENT_SCHEMA,
    ),
]
Cui = Annotated[
    str,
    Path(
        description="CUI of the child, 8 digits, optionally with its check character.",
        json_schema_extra=DOCUMENT_SCHEMA,
    ),
]


async def _call(
    request: Request,
    principal: CurrentPrincipal,
    purpose: Purpose,
    user_id: UserId = None,
) -> Call:
    # ``components`` read here, not as a dependency: see ``current_principal``.
    return Call(request, components(request), principal, purpose, user_id)


Caller = Annotated[Call, Depends(_call)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._:-]{8,255}$",
        description="Repeating a POST with the same key and body returns the first answer.",
    ),
]
