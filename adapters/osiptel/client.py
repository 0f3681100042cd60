"""OSIPTEL adapter: mobile lines by DNI over the stand-in REST API."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from adapters.http import field, request_json
from adapters.osiptel.settings import OsiptelSettings
from gateway.partners.errors import PartnerMalformed
from gateway.partners.models import PhoneLine
from gateway.partners.resilience import PartnerGuard

PARTNER = "osiptel"


class OsiptelAdapter:
    def __init__(
        self, settings: OsiptelSettings, http: httpx.AsyncClient, guard: PartnerGuard
    ) -> None:
        self.url = settings.base_url + "/v1/lineas"
        self.headers = {"X-Api-Key": settings.api_key.get_secret_value()}
        self.http = http
        self.guard = guard

    async def phone_lines(self, dni: str) -> list[PhoneLine]:
        operation = "lines-by-document"

        async def attempt() -> list[PhoneLine]:
            _, body = await request_json(
                self.http,
                PARTNER,
                operation,
                "GET",
                self.url,
                params={"tipoDocumento": "DNI", "numeroDocumento": dni},
                headers=self.headers,
            )
            return _lines(field(body, "lineas", list, PARTNER, operation), operation)

        return await self.guard.call(operation, attempt, idempotent=True)

    async def phone_lines_many(self, dnis: Sequence[str]) -> list[list[PhoneLine]]:
        operation = "lines-by-documents"

        async def attempt() -> list[list[PhoneLine]]:
            _, body = await request_json(
                self.http,
                PARTNER,
                operation,
                "POST",
                self.url + "/consultas",
                json={
                    "documentos": [{"tipoDocumento": "DNI", "numeroDocumento": dni} for dni in dnis]
                },
                headers=self.headers,
            )
            results = field(body, "resultados", list, PARTNER, operation)
            try:
                answered = [str(r["numeroDocumento"]) for r in results]
                lines = [_lines(r["lineas"], operation) for r in results]
            except (KeyError, TypeError):
                raise PartnerMalformed(
                    PARTNER, operation, "result does not follow contract"
                ) from None
            if answered != list(dnis):
                raise PartnerMalformed(PARTNER, operation, "results do not match the documents")
            return lines

        return await self.guard.call(operation, attempt, idempotent=True)


def _lines(raw: object, operation: str) -> list[PhoneLine]:
    try:
        return [
            PhoneLine(
                number=str(line["numero"]),
                operator=str(line["empresa"]),
                modality=str(line["modalidad"]),
            )
            for line in raw  # type: ignore[attr-defined]
        ]
    except (KeyError, TypeError):
        raise PartnerMalformed(PARTNER, operation, "line does not follow contract") from None
