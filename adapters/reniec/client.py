"""RENIEC adapter: PIDE ``consultar`` through zeep, and the Padrón newborn extract.

zeep runs on an ``AsyncTransport`` built on the injected ``httpx.AsyncClient``; the WSDL
(and the schema it imports) is read from ``contracts/`` by path, so start-up needs no
network. Result codes become typed errors; a SOAP fault or a body zeep cannot read
becomes a transient error so the guard may retry the (idempotent) look-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from zeep import AsyncClient
from zeep import Settings as ZeepSettings
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from adapters.http import field, request_json, transport_error
from gateway.identifiers import parse_cui, parse_dni, parse_ubigeo
from gateway.partners.errors import (
    PartnerError,
    PartnerInvalidInput,
    PartnerMalformed,
    PartnerNotFound,
    PartnerRefused,
    PartnerUnavailable,
)
from gateway.partners.models import Newborn, NewbornPage, Person
from gateway.partners.resilience import PartnerGuard
from gateway.settings import ReniecSettings

PARTNER = "reniec"
BINDING = "{http://ws.reniec.gob.pe/}ReniecConsultaDniPortBinding"
SOAP_PATH = "/ws/ConsultaDni"


def _seconds_to_midnight() -> int:
    now = datetime.now()
    return int((24 * 3600) - (now.hour * 3600 + now.minute * 60 + now.second)) or 1


def result_error(code: str, operation: str) -> PartnerError | None:
    """The typed error for a PIDE result code, None for success."""
    if code == "0000":
        return None
    if code == "0001":
        return PartnerNotFound(
            PARTNER, operation, "0001 person is a minor: no data by this service"
        )
    if code == "0999":
        return PartnerNotFound(PARTNER, operation, "0999 not found")
    if code == "1000":
        return PartnerInvalidInput(PARTNER, operation, "1000 invalid input")
    if code == "1001":
        return PartnerRefused(PARTNER, operation, "1001 gateway credentials refused")
    if code == "1002":
        return PartnerRefused(PARTNER, operation, "1002 gateway password expired")
    if code == "1003":
        return PartnerRefused(
            PARTNER, operation, "1003 daily quota exhausted", retry_after=_seconds_to_midnight()
        )
    return PartnerMalformed(PARTNER, operation, "unknown result code")


class ReniecAdapter:
    def __init__(
        self,
        settings: ReniecSettings,
        http: httpx.AsyncClient,
        guard: PartnerGuard,
        contracts_dir: Path,
    ) -> None:
        self.settings = settings
        self.http = http
        self.guard = guard
        wsdl_http = httpx.Client()  # only for remote imports; the contract is local
        try:
            transport = AsyncTransport(client=http, wsdl_client=wsdl_http)
            client = AsyncClient(
                str(contracts_dir / settings.wsdl),
                transport=transport,
                settings=ZeepSettings(strict=True, forbid_dtd=True, forbid_entities=True),
            )
        finally:
            wsdl_http.close()
        self.service = AsyncServiceProxy(
            client, client.wsdl.bindings[BINDING], address=settings.base_url + SOAP_PATH
        )
        self._credentials = {
            "nuDniUsuario": settings.user_dni,
            "nuRucUsuario": settings.ruc,
            "password": settings.password.get_secret_value(),
        }

    async def person(self, dni: str) -> Person:
        return await self.guard.call("consultar", lambda: self._consultar(dni), idempotent=True)

    async def _consultar(self, dni: str) -> Person:
        operation = "consultar"
        try:
            result = await self.service.consultar(
                peticionConsulta={"nuDniConsulta": dni, **self._credentials}
            )
        except httpx.HTTPError as exc:
            raise transport_error(PARTNER, operation, exc) from None
        except Fault as fault:
            raise PartnerUnavailable(PARTNER, operation, "SOAP fault") from fault
        except TransportError as exc:
            raise PartnerUnavailable(PARTNER, operation, f"HTTP {exc.status_code}") from None
        except (ZeepError, etree.LxmlError, ValueError):
            raise PartnerMalformed(PARTNER, operation, "unreadable SOAP answer") from None
        code = getattr(result, "coResultado", None)
        if not isinstance(code, str):
            raise PartnerMalformed(PARTNER, operation, "answer lacks coResultado")
        error = result_error(code, operation)
        if error is not None:
            raise error
        data = result.datosPersona
        if data is None:
            raise PartnerMalformed(PARTNER, operation, "0000 without datosPersona")
        return Person(
            dni=dni,
            first_surname=data.apPrimer or "",
            second_surname=data.apSegundo or "",
            given_names=data.prenombres or "",
            address=data.direccion or "",
            marital_status=data.estadoCivil or "",
            ubigeo=data.ubigeo or "",
            restriction=data.restriccion or "",
            photo=data.foto,
        )

    async def newborns(
        self,
        ubigeos: Sequence[str],
        born_from: date,
        born_to: date,
        cursor: str | None,
        limit: int,
    ) -> NewbornPage:
        params: dict[str, Any] = {
            "desde": born_from.isoformat(),
            "hasta": born_to.isoformat(),
            "limite": limit,
            "ubigeo": list(ubigeos),
        }
        if cursor:
            params["cursor"] = cursor
        operation = "padron-extract"

        async def attempt() -> NewbornPage:
            _, body = await request_json(
                self.http,
                PARTNER,
                operation,
                "GET",
                self.settings.base_url + "/padron/nacimientos",
                params=params,
                auth=(self.settings.user_dni, self.settings.password.get_secret_value()),
            )
            rows = field(body, "filas", list, PARTNER, operation)
            following = body.get("siguiente")
            try:
                items = tuple(_newborn(row) for row in rows)
            except (KeyError, TypeError, ValueError):
                raise PartnerMalformed(PARTNER, operation, "row does not follow contract") from None
            return NewbornPage(items, str(following) if following is not None else None)

        return await self.guard.call(operation, attempt, idempotent=True)


def _newborn(row: dict[str, Any]) -> Newborn:
    """A Padrón row; its identifiers parsed like the gateway's own (a malformed one is a
    ValueError, so the page is malformed rather than pseudonymised as someone else)."""
    return Newborn(
        cui=parse_cui(str(row["nuCui"])),
        cnv=str(row["nuCnv"]),
        birth_date=datetime.strptime(row["feNacimiento"], "%d/%m/%Y").date(),
        sex=str(row["sexo"]),
        birth_weight_g=int(row["pesoNacer"]),
        health_facility=str(row["coEstablecimiento"]),
        ubigeo=parse_ubigeo(str(row["coUbigeoInei"])),
        mother_dni=parse_dni(str(row["nuDniMadre"])),
        mother_names=f"{row['prenombresMadre']} {row['apPaternoMadre']} {row['apMaternoMadre']}",
        child_names=f"{row['prenombresNino']} {row['apPaternoNino']} {row['apMaternoNino']}",
        social_programs=tuple(str(p) for p in row["programasSociales"]),
        alive={"VIVO": True, "FALLECIDO": False}[row["estadoVital"]],
    )
