"""OSIPTEL mock: mobile lines registered to an identity document (stand-in REST API).

OSIPTEL publishes no look-up API; its public "Checa tus líneas" shows, per document, each
line's modality, masked number and operator. The stand-in answers the same per
(document type, number) and unmasks numbers only for an API key whose registered
purpose allows it; ``POST /v1/lineas/consultas`` answers up to 1,000 documents at once,
for the mass contact of an operation. Contract: ``contracts/osiptel/openapi.yaml``.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from adapters.sandbox.faults import FaultInjector
from adapters.sandbox.population import ROLE_CHILD
from adapters.sandbox.responses import JSONResponse
from adapters.sandbox.settings import SandboxSettings
from gateway.identifiers import is_ascii_digits

DOCUMENT_TYPES = ("DNI", "CE", "PAS")
BATCH_LIMIT = 1000


def problem(status: int, title: str, detail: str, field: str | None = None) -> JSONResponse:
    body: dict[str, object] = {"title": title, "status": status, "detail": detail}
    if field:
        body["campo"] = field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def mask(number: str) -> str:
    return f"{number[:1]}*****{number[-3:]}"


def create_app(settings: SandboxSettings | None = None) -> ASGIApp:
    settings = settings or SandboxSettings()
    population = settings.population

    def registered(number: str, unmasked: bool) -> list[dict[str, str]]:
        found = population.lookup(number)
        lines = (
            found.household.phone_lines if found is not None and found.role != ROLE_CHILD else ()
        )
        return [
            {
                "numero": line.number if unmasked else mask(line.number),
                "modalidad": line.modality,
                "empresa": line.operator,
                "fechaActivacion": line.activated_on.isoformat(),
            }
            for line in lines
        ]

    def result(doc_type: str, number: str, unmasked: bool) -> dict[str, object]:
        return {
            "tipoDocumento": doc_type,
            "numeroDocumento": number,
            "lineas": registered(number, unmasked) if doc_type == "DNI" else [],
        }

    def malformed_dni(doc_type: str, number: str) -> bool:
        return doc_type == "DNI" and not is_ascii_digits(number, 8)

    async def lines(request: Request) -> Response:
        key = request.headers.get("x-api-key", "")
        if key not in settings.osiptel_api_keys:
            return problem(401, "no autorizado", "X-Api-Key ausente o no valida", "X-Api-Key")
        unmasked = settings.osiptel_api_keys[key]
        doc_type = request.query_params.get("tipoDocumento", "")
        number = request.query_params.get("numeroDocumento", "")
        if doc_type not in DOCUMENT_TYPES:
            return problem(
                400,
                "solicitud no valida",
                f"tipoDocumento: uno de {DOCUMENT_TYPES}",
                "tipoDocumento",
            )
        if malformed_dni(doc_type, number):
            return problem(400, "solicitud no valida", "DNI de 8 digitos", "numeroDocumento")
        return JSONResponse(result(doc_type, number, unmasked))

    async def lines_batch(request: Request) -> Response:
        """Many documents in one request (the bulk query offered to public entities)."""
        key = request.headers.get("x-api-key", "")
        if key not in settings.osiptel_api_keys:
            return problem(401, "no autorizado", "X-Api-Key ausente o no valida", "X-Api-Key")
        unmasked = settings.osiptel_api_keys[key]
        try:
            documents = json.loads(await request.body())["documentos"]
        except (ValueError, KeyError, TypeError):
            return problem(400, "solicitud no valida", "cuerpo JSON con documentos", "documentos")
        if not isinstance(documents, list) or not 1 <= len(documents) <= BATCH_LIMIT:
            return problem(
                400, "solicitud no valida", f"documentos: de 1 a {BATCH_LIMIT}", "documentos"
            )
        answers = []
        for i, doc in enumerate(documents):
            doc_type = doc.get("tipoDocumento") if isinstance(doc, dict) else None
            number = doc.get("numeroDocumento") if isinstance(doc, dict) else None
            if doc_type not in DOCUMENT_TYPES or not isinstance(number, str):
                return problem(
                    400,
                    "solicitud no valida",
                    "tipoDocumento y numeroDocumento",
                    f"documentos[{i}]",
                )
            if malformed_dni(doc_type, number):
                return problem(400, "solicitud no valida", "DNI de 8 digitos", f"documentos[{i}]")
            answers.append(result(doc_type, number, unmasked))
        return JSONResponse({"resultados": answers})

    app = Starlette(
        routes=[
            Route("/v1/lineas", lines, methods=["GET"]),
            Route("/v1/lineas/consultas", lines_batch, methods=["POST"]),
        ]
    )
    return FaultInjector(
        app,
        settings.faults.osiptel,
        lambda: problem(503, "servicio no disponible", "intente mas tarde"),
    )
