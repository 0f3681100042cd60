"""MINSA HIS adapter: a child's health services over the stand-in REST API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import httpx

from adapters.http import field, request_json
from adapters.minsa_his.settings import HisSettings
from gateway.partners.errors import PartnerMalformed
from gateway.partners.models import ExtractPage, HealthHistory, HealthService
from gateway.partners.resilience import PartnerGuard

PARTNER = "minsa_his"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _history(body: dict[str, Any], operation: str) -> HealthHistory:
    try:
        services = tuple(
            HealthService(
                appointment_id=str(r["Id_Cita"]),
                service_date=date.fromisoformat(r["Fecha_Atencion"]),
                facility=str(r["Id_Establecimiento"]),
                item_code=str(r["Codigo_Item"]),
                diagnosis_type=str(r["Tipo_Diagnostico"]),
                lab_value=str(r["Valor_Lab"]),
                age_value=int(r["Edad_Reg"]),
                age_unit=str(r["Tipo_Edad"]),
                weight=_number(r.get("Peso")),
                height=_number(r.get("Talla")),
                hemoglobin=_number(r.get("Hemoglobina")),
            )
            for r in field(body, "atenciones", list, PARTNER, operation)
        )
        born = date.fromisoformat(field(body, "Fecha_Nacimiento", str, PARTNER, operation))
    except (KeyError, TypeError, ValueError):
        raise PartnerMalformed(PARTNER, operation, "row does not follow contract") from None
    return HealthHistory(born, services)


class HisAdapter:
    def __init__(self, settings: HisSettings, http: httpx.AsyncClient, guard: PartnerGuard) -> None:
        self.base = settings.base_url
        self.headers = {"X-Api-Key": settings.api_key.get_secret_value()}
        self.http = http
        self.guard = guard

    async def health_history(self, cui: str) -> HealthHistory:
        operation = "records-by-patient"

        async def attempt() -> HealthHistory:
            _, body = await request_json(
                self.http,
                PARTNER,
                operation,
                "GET",
                f"{self.base}/his/v1/pacientes/{cui}/atenciones",
                headers=self.headers,
            )
            return _history(body, operation)

        return await self.guard.call(operation, attempt, idempotent=True)

    async def health_histories(self, cuis: Sequence[str]) -> list[HealthHistory | None]:
        operation = "records-by-patients"

        async def attempt() -> list[HealthHistory | None]:
            _, body = await request_json(
                self.http,
                PARTNER,
                operation,
                "POST",
                f"{self.base}/his/v1/pacientes/atenciones",
                json={"documentos": list(cuis)},
                headers=self.headers,
            )
            patients = field(body, "pacientes", list, PARTNER, operation)
            try:
                if [str(p["Id_Paciente"]) for p in patients] != list(cuis):
                    raise PartnerMalformed(PARTNER, operation, "patients do not match the request")
                return [_history(p, operation) if p["encontrado"] else None for p in patients]
            except (KeyError, TypeError):
                raise PartnerMalformed(
                    PARTNER, operation, "patient does not follow contract"
                ) from None

        return await self.guard.call(operation, attempt, idempotent=True)

    async def records_extract(
        self, service_from: date, service_to: date, cursor: str | None, limit: int
    ) -> ExtractPage:
        operation = "records-extract"
        params = {
            "desde": service_from.isoformat(),
            "hasta": service_to.isoformat(),
            "limite": str(limit),
        }
        if cursor:
            params["cursor"] = cursor

        async def attempt() -> ExtractPage:
            _, body = await request_json(
                self.http,
                PARTNER,
                operation,
                "GET",
                f"{self.base}/his/v1/atenciones",
                params=params,
                headers=self.headers,
            )
            try:
                rows = tuple(
                    {
                        "cui": str(r["Id_Paciente"]),
                        "appointment_id": str(r["Id_Cita"]),
                        "service_date": date.fromisoformat(r["Fecha_Atencion"]).isoformat(),
                        "facility": str(r["Id_Establecimiento"]),
                        "item_code": str(r["Codigo_Item"]),
                        "lab_value": str(r["Valor_Lab"]),
                    }
                    for r in field(body, "atenciones", list, PARTNER, operation)
                )
            except (KeyError, TypeError, ValueError):
                raise PartnerMalformed(PARTNER, operation, "row does not follow contract") from None
            following = body.get("siguiente")
            if following is not None and not isinstance(following, str):
                raise PartnerMalformed(PARTNER, operation, "siguiente is not a cursor")
            return ExtractPage(rows, following)

        return await self.guard.call(operation, attempt, idempotent=True)
