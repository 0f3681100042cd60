"""RENIEC mock: PIDE ``ReniecConsultaDni`` over SOAP 1.1 and the Padrón newborn extract.

Answers from the synthetic population, following ``contracts/reniec/consulta-dni.wsdl``:
the wrapper ``consultar`` (or ``actualizarcredencial``) in ``http://ws.reniec.gob.pe/``
holds one unqualified ``arg0``; the answer is ``<operation>Response/return``. This is
what clients generated from the WSDL send (JAX-WS, PHP SoapClient, suds, zeep). A
``SOAPAction`` header, when sent, must name the operation of the body. Unknown child
elements of ``arg0`` are ignored, as JAXB ignores them.

SOAP envelopes are parsed with DTDs and entities disabled. Credentials and the daily
quota are checked per official (``nuDniUsuario``), in that order: input, then
credentials, then password expiry, then quota, as the real service reports them.
``actualizarcredencial`` replaces an official's password (an expired one included):
from then on the old one gets ``1001`` and the new one works. An official's password is
expired on demand with ``POST /_admin/credentials/{dni}/expire`` (it then gets ``1002``
until renewed), or from the start with ``password_expired`` in the sandbox settings.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from adapters.sandbox.faults import FaultInjector
from adapters.sandbox.population import ROLE_CHILD, Person, Population
from adapters.sandbox.responses import JSONResponse
from adapters.sandbox.settings import SandboxSettings
from adapters.xml import UnsafeXmlError, parse_xml
from gateway.identifiers import is_ascii_digits

NS = "http://ws.reniec.gob.pe/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "reniec"
PHOTO_B64 = base64.b64encode((Path(__file__).parent / "sample-photo.jpg").read_bytes()).decode()
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
PAGE_LIMIT = 1000
SCAN_LIMIT = 20_000
MIN_PASSWORD_LENGTH = 8

RESULTS = {
    "0000": "CONSULTA EXITOSA",
    "0001": "EL DNI CONSULTADO CORRESPONDE A UN MENOR DE EDAD",
    "0999": "NO SE ENCONTRO INFORMACION PARA EL DNI CONSULTADO",
    "1000": "DATOS DE ENTRADA NO VALIDOS",
    "1001": "CREDENCIALES DE USUARIO NO VALIDAS",
    "1002": "LA CONTRASEÑA DEL USUARIO HA CADUCADO",
    "1003": "SE HA EXCEDIDO EL LIMITE DE CONSULTAS DIARIAS",
}
RENEWED = "CREDENCIAL ACTUALIZADA"


def _envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<S:Envelope xmlns:S="{SOAP_NS}"><S:Body>{body}</S:Body></S:Envelope>'
    ).encode()


def soap_fault(code: str, message: str, status: int = 500) -> Response:
    body = (
        f"<S:Fault><faultcode>S:{code}</faultcode>"
        f"<faultstring>{escape(message)}</faultstring></S:Fault>"
    )
    return Response(_envelope(body), status_code=status, media_type=SOAP_CONTENT_TYPE)


def _answer(operation: str, code: str, description: str, extra: str = "") -> Response:
    body = (
        f'<ns2:{operation}Response xmlns:ns2="{NS}"><return>'
        f"<coResultado>{code}</coResultado><deResultado>{escape(description)}</deResultado>"
        f"{extra}</return></ns2:{operation}Response>"
    )
    return Response(_envelope(body), media_type=SOAP_CONTENT_TYPE)


def _result(code: str, persona: str = "") -> Response:
    return _answer("consultar", code, RESULTS[code], persona)


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class ReniecMock:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.population: Population = settings.population
        self.users = {u.dni: u for u in settings.reniec_users}
        # Live credential state, changed by actualizarcredencial and the admin route.
        self.passwords = {u.dni: u.password for u in settings.reniec_users}
        self.expired = {u.dni for u in settings.reniec_users if u.password_expired}
        self.usage: Counter[tuple[str, date]] = Counter()
        self.operations: dict[str, Callable[[dict[str, str]], Awaitable[Response]]] = {
            "consultar": self._consultar,
            "actualizarcredencial": self._actualizarcredencial,
        }

    # ------------------------------------------------------------------ SOAP

    async def wsdl(self, request: Request) -> Response:
        if "wsdl" not in request.query_params:
            return soap_fault("Client", "POST a SOAP 1.1 envelope, or GET ?wsdl", 405)
        text = (CONTRACTS / "consulta-dni.wsdl").read_text(encoding="utf-8")
        address = str(request.url.replace(query=""))
        text = text.replace("http://127.0.0.1:8101/ws/ConsultaDni", escape(address))
        return Response(text, media_type="text/xml; charset=utf-8")

    async def xsd(self, _: Request) -> Response:
        return Response(
            (CONTRACTS / "consulta-dni.xsd").read_bytes(), media_type="text/xml; charset=utf-8"
        )

    async def soap(self, request: Request) -> Response:
        """Dispatch a SOAP 1.1 request on the wrapper element of its body."""
        try:
            root = parse_xml(await request.body())
        except UnsafeXmlError as exc:
            return soap_fault("Client", str(exc))
        body = root.find(f"{{{SOAP_NS}}}Body")
        wrapper = next(iter(body), None) if body is not None else None
        if wrapper is None or not isinstance(wrapper.tag, str):
            return soap_fault("Client", "the SOAP body holds no operation element")
        name = etree.QName(wrapper)
        handler = self.operations.get(name.localname) if name.namespace == NS else None
        if handler is None:
            return soap_fault("Client", f"unknown operation {{{name.namespace}}}{name.localname}")
        action = request.headers.get("soapaction")
        if action is not None and action.strip().strip('"') != name.localname:
            return soap_fault("Client", f"SOAPAction does not name the operation {name.localname}")
        children = [c for c in wrapper if isinstance(c.tag, str)]
        args = [c for c in children if c.tag == "arg0"]
        if len(args) != len(children) or len(args) > 1:
            # An element other than arg0 (peticionConsulta, or a qualified arg0) is a
            # request shaped by another description than the published WSDL.
            return soap_fault("Client", f"expected {name.localname}/arg0, once and unqualified")
        fields: dict[str, str] = {}
        if args and args[0].get(XSI_NIL) not in ("true", "1"):
            fields = {
                child.tag: (child.text or "").strip()
                for child in args[0]
                if isinstance(child.tag, str) and child.get(XSI_NIL) not in ("true", "1")
            }
        return await handler(fields)

    def _credentials_ok(self, dni: str, ruc: str | None, password: str | None) -> bool:
        user = self.users.get(dni)
        return user is not None and user.ruc == ruc and self.passwords.get(dni) == password

    async def _consultar(self, fields: dict[str, str]) -> Response:
        consulted = fields.get("nuDniConsulta", "")
        official = fields.get("nuDniUsuario", "")
        if not is_ascii_digits(consulted, 8):
            return _result("1000")
        if not self._credentials_ok(official, fields.get("nuRucUsuario"), fields.get("password")):
            return _result("1001")
        if official in self.expired:
            return _result("1002")
        today = date.today()
        if self.usage[(official, today)] >= self.settings.reniec_daily_quota:
            return _result("1003")
        self.usage[(official, today)] += 1
        found = self.population.lookup(consulted)
        if found is None:
            return _result("0999")
        household, role = found.household, found.role
        person = household.person(role)
        if role == ROLE_CHILD or not isinstance(person, Person):
            return _result("0001")
        if _age(person.birth_date, self.population.as_of) < 18:
            return _result("0001")
        persona = (
            "<datosPersona>"
            f"<apPrimer>{escape(person.first_surname)}</apPrimer>"
            f"<apSegundo>{escape(person.second_surname)}</apSegundo>"
            f"<direccion>{escape(household.address)}</direccion>"
            f"<estadoCivil>{person.marital_status}</estadoCivil>"
            f"<foto>{PHOTO_B64}</foto>"
            f"<prenombres>{escape(person.given_names)}</prenombres>"
            f"<restriccion>{person.restriction}</restriccion>"
            f"<ubigeo>{escape(household.district.reniec_label)}</ubigeo>"
            "</datosPersona>"
        )
        return _result("0000", persona)

    async def _actualizarcredencial(self, fields: dict[str, str]) -> Response:
        operation = "actualizarcredencial"
        dni, ruc = fields.get("nuDni", ""), fields.get("nuRuc", "")
        old, new = fields.get("credencialAnterior", ""), fields.get("credencialNueva", "")
        if len(dni) != 8 or not dni.isdigit() or len(ruc) != 11 or not ruc.isdigit():
            return _answer(operation, "1000", RESULTS["1000"])
        if not self._credentials_ok(dni, ruc, old):
            return _answer(operation, "1001", RESULTS["1001"])
        if len(new) < MIN_PASSWORD_LENGTH or new == old:
            return _answer(operation, "1000", RESULTS["1000"])
        self.passwords[dni] = new
        self.expired.discard(dni)
        return _answer(operation, "0000", RENEWED)

    async def expire(self, request: Request) -> Response:
        """Sandbox control: the official's password expires now (``1002`` until renewed)."""
        dni = request.path_params["dni"]
        if dni not in self.users:
            return _problem(404, "no hay usuario con ese DNI", "dni")
        self.expired.add(dni)
        return JSONResponse({"nuDni": dni, "caducada": True})

    # ------------------------------------------------------------------ Padrón extract

    def _official(self, request: Request) -> str | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            dni, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if dni not in self.users or self.passwords.get(dni) != password or dni in self.expired:
            return None
        return dni

    async def newborns(self, request: Request) -> Response:
        if self._official(request) is None:
            return _problem(401, "credenciales no validas", "authorization")
        q = request.query_params
        try:
            born_from = datetime.strptime(q.get("desde", ""), "%Y-%m-%d").date()
        except ValueError:
            return _problem(400, "desde debe ser una fecha YYYY-MM-DD", "desde")
        try:
            born_to = datetime.strptime(q.get("hasta", ""), "%Y-%m-%d").date()
        except ValueError:
            return _problem(400, "hasta debe ser una fecha YYYY-MM-DD", "hasta")
        if born_to < born_from:
            return _problem(400, "hasta es anterior a desde", "hasta")
        ubigeos = q.getlist("ubigeo")
        if any(not is_ascii_digits(u, 6) for u in ubigeos):
            return _problem(400, "ubigeo debe tener 6 digitos", "ubigeo")
        try:
            cursor = int(q.get("cursor", "0"))
            limit = min(int(q.get("limite", str(PAGE_LIMIT))), PAGE_LIMIT)
        except ValueError:
            return _problem(400, "cursor y limite son enteros", "cursor")
        if cursor < 0 or limit < 1:
            return _problem(400, "cursor y limite deben ser positivos", "cursor")
        rows: list[dict[str, object]] = []
        following: int | None = None
        # A page looks at SCAN_LIMIT households at most, so that one request never keeps
        # the partner busy for long; it may then hold fewer rows than asked.
        scan_end = min(cursor + SCAN_LIMIT, self.population.size)
        for index in self.population.newborns(
            born_from, born_to, ubigeos, start=cursor, stop=scan_end
        ):
            if len(rows) == limit:
                following = index
                break
            rows.append(padron_row(self.population, index))
        else:
            if scan_end < self.population.size:
                following = scan_end
        return JSONResponse({"filas": rows, "siguiente": following})


def padron_row(population: Population, index: int) -> dict[str, object]:
    """One Padrón Nominal "precotejo" row (stand-in layout, see the contract)."""
    h = population.household(index)
    c, m = h.child, h.mother
    head = h.father or m
    return {
        "nuCui": c.cui,
        "nuCnv": c.cnv,
        "apPaternoNino": c.first_surname,
        "apMaternoNino": c.second_surname,
        "prenombresNino": c.given_names,
        "sexo": c.sex,
        "feNacimiento": c.birth_date.strftime("%d/%m/%Y"),
        "pesoNacer": c.birth_weight_g,
        "tallaNacer": c.length_cm,
        "semanasGestacion": c.gestation_weeks,
        "nuDniJefeHogar": head.dni,
        "relacionJefeHogar": "PADRE" if h.father else "MADRE",
        "nuDniMadre": m.dni,
        "apPaternoMadre": m.first_surname,
        "apMaternoMadre": m.second_surname,
        "prenombresMadre": m.given_names,
        "gradoInstruccionMadre": m.education,
        "lenguaMadre": m.language,
        "coUbigeoInei": h.district.inei,
        "coCentroPoblado": h.populated_centre,
        "coEstablecimiento": c.health_facility,
        "tipoSeguro": c.insurance,
        "programasSociales": ["JUNTOS"] if h.in_juntos else [],
        "estadoVital": "FALLECIDO" if c.deceased else "VIVO",
    }


def _problem(status: int, detail: str, field: str) -> JSONResponse:
    return JSONResponse(
        {"title": "solicitud no valida", "status": status, "detail": detail, "campo": field},
        status_code=status,
        media_type="application/problem+json",
    )


def create_app(settings: SandboxSettings | None = None) -> ASGIApp:
    settings = settings or SandboxSettings()
    mock = ReniecMock(settings)
    app = Starlette(
        routes=[
            Route("/ws/ConsultaDni", mock.wsdl, methods=["GET"]),
            Route("/ws/ConsultaDni", mock.soap, methods=["POST"]),
            Route("/ws/consulta-dni.xsd", mock.xsd, methods=["GET"]),
            Route("/padron/nacimientos", mock.newborns, methods=["GET"]),
            Route("/_admin/credentials/{dni}/expire", mock.expire, methods=["POST"]),
        ]
    )
    return FaultInjector(
        app,
        settings.faults.reniec,
        lambda: soap_fault("Server", "servicio no disponible temporalmente"),
    )
