"""MINSA HIS mock: health services registered per patient, and the bulk extract.

One row per service item per visit, with HIS field names. Patients are found by CUI or
DNI, one at a time or up to 1,000 in one request; the extract lists every row registered
in a date range, paged by an opaque cursor (household index and row offset).
Contract: ``contracts/minsa_his/openapi.yaml``.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from adapters.sandbox.faults import FaultInjector
from adapters.sandbox.population import HealthRecord, Population
from adapters.sandbox.responses import JSONResponse
from adapters.sandbox.settings import SandboxSettings
from gateway.identifiers import is_ascii_digits

PAGE_LIMIT = 5000
BATCH_LIMIT = 1000
SCAN_LIMIT = 20_000


def problem(status: int, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, object] = {"title": "solicitud no valida", "status": status, "detail": detail}
    if field:
        body["campo"] = field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def his_row(record: HealthRecord) -> dict[str, object]:
    return {
        "Id_Cita": record.appointment_id,
        "Fecha_Atencion": record.service_date.isoformat(),
        "Id_Establecimiento": record.facility,
        "Id_Paciente": record.patient_id,
        "Edad_Reg": record.age_value,
        "Tipo_Edad": record.age_unit,
        "Codigo_Item": record.item_code,
        "Tipo_Diagnostico": record.diagnosis_type,
        "Valor_Lab": record.lab_value,
        "Peso": record.weight_kg,
        "Talla": record.height_cm,
        "Hemoglobina": record.hemoglobin,
    }


def _date(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None


def create_app(settings: SandboxSettings | None = None) -> ASGIApp:
    settings = settings or SandboxSettings()
    population: Population = settings.population

    def authorised(request: Request) -> bool:
        return request.headers.get("x-api-key") == settings.his_api_key

    def patient(document: str, index: int) -> dict[str, object]:
        return {
            "Id_Paciente": document,
            "Fecha_Nacimiento": population.birth_date(index).isoformat(),
            "atenciones": [his_row(r) for r in population.health_records_of(index)],
        }

    async def by_patient(request: Request) -> Response:
        if not authorised(request):
            return problem(401, "X-Api-Key ausente o no valida", "X-Api-Key")
        document = request.path_params["documento"]
        if not is_ascii_digits(document, 8):
            return problem(400, "documento: CUI o DNI de 8 digitos", "documento")
        index = population.child_index(document)
        if index is None:
            return problem(404, "paciente sin registros en HIS")
        return JSONResponse(patient(document, index))

    async def by_patients(request: Request) -> Response:
        """The services of many patients in one request (the bulk query for a period's
        co-responsibility verification); an unknown patient is answered as not found."""
        if not authorised(request):
            return problem(401, "X-Api-Key ausente o no valida", "X-Api-Key")
        try:
            documents = json.loads(await request.body())["documentos"]
        except (ValueError, KeyError, TypeError):
            return problem(400, "cuerpo JSON con documentos", "documentos")
        if not isinstance(documents, list) or not 1 <= len(documents) <= BATCH_LIMIT:
            return problem(400, f"documentos: de 1 a {BATCH_LIMIT}", "documentos")
        patients: list[dict[str, object]] = []
        for i, document in enumerate(documents):
            if not isinstance(document, str) or not is_ascii_digits(document, 8):
                return problem(400, "documento: CUI o DNI de 8 digitos", f"documentos[{i}]")
            index = population.child_index(document)
            if index is None:
                patients.append({"Id_Paciente": document, "encontrado": False})
                continue
            patients.append({"encontrado": True, **patient(document, index)})
        return JSONResponse({"pacientes": patients})

    async def extract(request: Request) -> Response:
        if not authorised(request):
            return problem(401, "X-Api-Key ausente o no valida", "X-Api-Key")
        q = request.query_params
        start, end = _date(q.get("desde", "")), _date(q.get("hasta", ""))
        if start is None:
            return problem(400, "desde: fecha YYYY-MM-DD", "desde")
        if end is None or end < start:
            return problem(400, "hasta: fecha YYYY-MM-DD no anterior a desde", "hasta")
        try:
            index, offset = (int(p) for p in q.get("cursor", "0.0").split("."))
            limit = min(int(q.get("limite", str(PAGE_LIMIT))), PAGE_LIMIT)
        except ValueError:
            return problem(400, "cursor o limite no validos", "cursor")
        if index < 0 or offset < 0 or limit < 1:
            return problem(400, "cursor o limite no validos", "cursor")
        rows: list[dict[str, object]] = []
        following = None
        # A page looks at SCAN_LIMIT households at most, so that one request never keeps
        # the partner busy for long; it may then hold fewer rows than asked.
        stop = min(population.size, index + SCAN_LIMIT)
        while index < stop:
            if population.may_have_services(index, start, end):
                records = population.health_records_of(index)
                in_range = [r for r in records if start <= r.service_date <= end]
                for position in range(offset, len(in_range)):
                    if len(rows) == limit:
                        following = f"{index}.{position}"
                        break
                    rows.append(his_row(in_range[position]))
                if following:
                    break
            index, offset = index + 1, 0
        if following is None and index < population.size:
            following = f"{index}.0"
        return JSONResponse({"atenciones": rows, "siguiente": following})

    app = Starlette(
        routes=[
            Route("/his/v1/pacientes/{documento}/atenciones", by_patient, methods=["GET"]),
            Route("/his/v1/pacientes/atenciones", by_patients, methods=["POST"]),
            Route("/his/v1/atenciones", extract, methods=["GET"]),
        ]
    )
    return FaultInjector(
        app, settings.faults.minsa_his, lambda: problem(503, "servicio no disponible")
    )
