"""RENIEC adapter: PIDE ``ReniecConsultaDni``, and the Padrón newborn extract.

zeep reads the WSDL (and the schema it imports) from ``contracts/`` by path, so start-up
needs no network. ``consultar``, the real-time look-up, runs on a template compiled from
the zeep-loaded binding at construction (:mod:`adapters.reniec.soap`: the envelope
rendered per call, the answer read with lxml, with zeep's results and errors);
``actualizarcredencial`` (rare) goes through zeep on an ``AsyncTransport`` built on the
injected ``httpx.AsyncClient``. Requests are what the published WSDL makes of them:
``<consultar><arg0>…</arg0></consultar>`` with ``SOAPAction: "consultar"``.

Answers are read leniently, as the WSDL's own clients read them: elements the contract
does not declare, at any depth and in any place, are ignored. What the gateway needs is
still required: an answer without ``coResultado``, or ``0000`` without ``datosPersona``,
breaks the contract (:class:`PartnerContractMismatch`, permanent: not retried, not held
against the partner by the breaker). A body cut short in transit (not well-formed XML)
is :class:`PartnerMalformed`, transient. Result codes become typed errors.

The credential (``password``) is the configured one until a renewal through
``actualizarcredencial`` replaces it; the gateway stores the renewed one sealed and
hands it to the adapter through ``credential_source``. On ``1001``/``1002`` the adapter
reads the store again and, if another process renewed meanwhile, tries once more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
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

from adapters.http import field, request_json, send, transport_error
from adapters.reniec.settings import ReniecSettings
from adapters.reniec.soap import ConsultarExchange
from adapters.xml import UnsafeXmlError, parse_xml
from gateway.identifiers import parse_cui, parse_dni, parse_ubigeo
from gateway.partners.errors import (
    PartnerContractMismatch,
    PartnerError,
    PartnerInvalidInput,
    PartnerMalformed,
    PartnerNotFound,
    PartnerRefused,
    PartnerUnavailable,
)
from gateway.partners.models import Newborn, NewbornPage, Person
from gateway.partners.ports import CredentialSource
from gateway.partners.resilience import PartnerGuard

# zeep's transport logs whole envelopes at DEBUG: the password and the DNI asked for.
logging.getLogger("zeep.transports").setLevel(logging.INFO)

PARTNER = "reniec"
BINDING = "{http://ws.reniec.gob.pe/}ReniecConsultaDniPortBinding"
SOAP_PATH = "/ws/ConsultaDni"


class CredentialRefused(PartnerRefused):
    """``1001`` (credentials refused) or ``1002`` (password expired)."""


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
        return CredentialRefused(PARTNER, operation, "1001 gateway credentials refused")
    if code == "1002":
        return CredentialRefused(PARTNER, operation, "1002 gateway password expired")
    if code == "1003":
        return PartnerRefused(
            PARTNER, operation, "1003 daily quota exhausted", retry_after=_seconds_to_midnight()
        )
    return PartnerContractMismatch(PARTNER, operation, "unknown result code")


class _WellFormedTransport(AsyncTransport):
    """zeep's transport, refusing a 200 answer that is not well-formed XML (or declares
    a DTD) before zeep's lenient parsing could make something of it."""

    async def post_xml(self, address: str, envelope: Any, headers: Any) -> Any:
        response = await super().post_xml(address, envelope, headers)
        if response.status_code == 200:
            try:
                parse_xml(response.content)
            except UnsafeXmlError:
                operation = str(headers.get("SOAPAction", "")).strip('"') or "soap"
                raise PartnerMalformed(
                    PARTNER, operation, "answer is not well-formed XML"
                ) from None
        return response


def _unwrap(result: Any) -> Any:
    """The ``return`` element. zeep hands it over unwrapped, except when the wrapper also
    carries undeclared elements: then it hands the wrapper over."""
    if result is None or hasattr(result, "coResultado"):
        return result
    try:
        return result["return"]
    except (KeyError, TypeError, AttributeError):
        return result


def _result_code(result: Any, operation: str) -> str:
    code = getattr(result, "coResultado", None)
    if not isinstance(code, str) or not code.strip():
        raise PartnerContractMismatch(PARTNER, operation, "answer lacks coResultado")
    return code.strip()


class ReniecAdapter:
    """``CivilRegistry`` and ``RenewableCredential`` for RENIEC (PIDE ReniecConsultaDni)."""

    partner = PARTNER

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
            transport = _WellFormedTransport(client=http, wsdl_client=wsdl_http)
            client = AsyncClient(
                str(contracts_dir / settings.wsdl),
                transport=transport,
                # Lenient as the WSDL's generated clients are: undeclared elements are
                # skipped wherever they stand. Well-formedness is checked by the transport.
                settings=ZeepSettings(
                    strict=False,
                    xsd_ignore_sequence_order=True,
                    forbid_dtd=True,
                    forbid_entities=True,
                    forbid_external=True,
                ),
            )
        finally:
            wsdl_http.close()
        binding = client.wsdl.bindings[BINDING]
        self.address = settings.base_url + SOAP_PATH
        self.service = AsyncServiceProxy(client, binding, address=self.address)
        # The hot path: consultar's envelope and answer, compiled from the WSDL once.
        self.consultar = ConsultarExchange.from_binding(binding, result_error)
        self.credential_source: CredentialSource | None = None
        self._password = settings.password.get_secret_value()
        self._loaded = False
        self._lock = asyncio.Lock()

    # -- credential -------------------------------------------------------------------

    async def _credential(self) -> str:
        if not self._loaded and self.credential_source is not None:
            await self._reload()
        return self._password

    async def _reload(self) -> str:
        """Read the stored credential (if any) and use it; the credential in force."""
        if self.credential_source is None:
            return self._password
        async with self._lock:
            stored = await self.credential_source()
            self._loaded = True
            if stored is not None:
                self._password = stored
        return self._password

    async def renew_credential(self, new_secret: str) -> None:
        """Replace the credential in force by ``new_secret`` at RENIEC
        (``actualizarcredencial``) and use it from now on.

        Not retried (a replayed renewal would be refused with ``1001``). Raises
        :class:`CredentialRefused` when RENIEC refuses the credential in force,
        :class:`PartnerInvalidInput` (``1000``) when it refuses the new one."""
        operation = "actualizarcredencial"
        current = await self._credential()

        async def attempt() -> None:
            result = await self._call(
                operation,
                self.service.actualizarcredencial,
                arg0={
                    "credencialAnterior": current,
                    "credencialNueva": new_secret,
                    "nuDni": self.settings.user_dni,
                    "nuRuc": self.settings.ruc,
                },
            )
            error = result_error(_result_code(_unwrap(result), operation), operation)
            if error is not None:
                raise error

        await self.guard.call(operation, attempt, idempotent=False)
        self._password = new_secret
        self._loaded = True

    # -- consultar --------------------------------------------------------------------

    async def _call(
        self, operation: str, method: Callable[..., Awaitable[Any]], **kwargs: Any
    ) -> Any:
        try:
            return await method(**kwargs)
        except PartnerError:
            raise
        except httpx.HTTPError as exc:
            raise transport_error(PARTNER, operation, exc) from None
        except Fault as fault:
            if str(fault.code or "").endswith("Client"):
                # RENIEC did not understand the request: asking again will not help.
                raise PartnerContractMismatch(
                    PARTNER, operation, "SOAP client fault: request not understood"
                ) from None
            raise PartnerUnavailable(PARTNER, operation, "SOAP fault") from None
        except TransportError as exc:
            raise PartnerUnavailable(PARTNER, operation, f"HTTP {exc.status_code}") from None
        except (ZeepError, etree.LxmlError, ValueError):
            raise PartnerContractMismatch(
                PARTNER, operation, "answer does not follow the contract"
            ) from None

    async def person(self, dni: str) -> Person:
        """The person holding ``dni`` (8 digits), from ``consultar``.

        Raises PartnerNotFound (0999, and 0001 for a minor), PartnerInvalidInput (1000),
        CredentialRefused (1001, 1002), PartnerRefused with ``retry_after`` (1003),
        PartnerContractMismatch, or the guard's transport errors."""
        return await self.guard.call("consultar", lambda: self._consultar(dni), idempotent=True)

    async def _consultar(self, dni: str) -> Person:
        password = await self._credential()
        try:
            return await self._consultar_as(dni, password)
        except CredentialRefused:
            # Another process may have renewed the credential since this one read it.
            renewed = await self._reload()
            if renewed == password:
                raise
            return await self._consultar_as(dni, renewed)

    async def _consultar_as(self, dni: str, password: str) -> Person:
        values = {
            "nuDniConsulta": dni,
            "nuDniUsuario": self.settings.user_dni,
            "nuRucUsuario": self.settings.ruc,
            "password": password,
        }
        try:
            envelope = self.consultar.envelope(values)
        except ValueError:
            raise PartnerContractMismatch(
                PARTNER, "consultar", "answer does not follow the contract"
            ) from None
        response = await send(
            self.http,
            PARTNER,
            "consultar",
            "POST",
            self.address,
            content=envelope,
            headers=self.consultar.headers,
        )
        return self.consultar.read(dni, response.status_code, response.content)

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
                auth=(self.settings.user_dni, await self._credential()),
            )
            rows = field(body, "filas", list, PARTNER, operation)
            following = body.get("siguiente")
            try:
                items = tuple(_newborn(row) for row in rows)
            except (KeyError, TypeError, ValueError):
                raise PartnerContractMismatch(
                    PARTNER, operation, "row does not follow contract"
                ) from None
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
