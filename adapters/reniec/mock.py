"""RENIEC mock: PIDE ``consultar`` over SOAP 1.1 and the Padrón newborn extract.

Answers from the synthetic population. SOAP envelopes are parsed with DTDs and entities
disabled; result codes follow ``contracts/reniec/consulta-dni.xsd``. Credentials and the
daily quota are checked per official (``nuDniUsuario``), in that order: input, then
credentials, then password expiry, then quota, as the real service reports them.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from adapters.sandbox.faults import FaultInjector
from adapters.sandbox.population import ROLE_CHILD, Person, Population
from adapters.sandbox.settings import SandboxSettings
from adapters.xml import UnsafeXmlError, parse_xml
from gateway.identifiers import is_ascii_digits

NS = "http://ws.reniec.gob.pe/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "reniec"
PHOTO_B64 = base64.b64encode((Path(__file__).parent / "sample-photo.jpg").read_bytes()).decode()
SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
PAGE_LIMIT = 1000
SCAN_LIMIT = 20_000

RESULTS = {
    "0000": "CONSULTA EXITOSA",
    "0001": "EL DNI CONSULTADO CORRESPONDE A UN MENOR DE EDAD",
    "0999": "NO SE ENCONTRO INFORMACION PARA EL DNI CONSULTADO",
    "1000": "DATOS DE ENTRADA NO VALIDOS",
    "1001": "CREDENCIALES DE USUARIO NO VALIDAS",
    "1002": "LA CONTRASEÑA DEL USUARIO HA CADUCADO",
    "1003": "SE HA EXCEDIDO EL LIMITE DE CONSULTAS DIARIAS",
}


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


def _result(code: str, persona: str = "") -> Response:
    body = (
        f'<ns2:consultarResponse xmlns:ns2="{NS}"><return>'
        f"<coResultado>{code}</coResultado><deResultado>{escape(RESULTS[code])}</deResultado>"
        f"{persona}</return></ns2:consultarResponse>"
    )
    return Response(_envelope(body), media_type=SOAP_CONTENT_TYPE)


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class ReniecMock:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.population: Population = settings.population
        self.users = {u.dni: u for u in settings.reniec_users}
        self.usage: Counter[tuple[str, date]] = Counter()

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

    async def consultar(self, request: Request) -> Response:
        try:
            root = parse_xml(await request.body())
        except UnsafeXmlError as exc:
            return soap_fault("Client", str(exc))
        peticion = root.find(f"{{{SOAP_NS}}}Body/{{{NS}}}consultar/peticionConsulta")
        if peticion is None:
            return soap_fault("Client", "expected consultar/peticionConsulta in the SOAP body")
        fields = {child.tag: (child.text or "").strip() for child in peticion}
        consulted = fields.get("nuDniConsulta", "")
        official = fields.get("nuDniUsuario", "")
        if not is_ascii_digits(consulted, 8):
            return _result("1000")
        user = self.users.get(official)
        if (
            user is None
            or user.ruc != fields.get("nuRucUsuario")
            or user.password != fields.get("password")
        ):
            return _result("1001")
        if user.password_expired:
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

    # ------------------------------------------------------------------ Padrón extract

    def _official(self, request: Request) -> str | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            dni, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user = self.users.get(dni)
        if user is None or user.password != password or user.password_expired:
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
            Route("/ws/ConsultaDni", mock.consultar, methods=["POST"]),
            Route("/ws/consulta-dni.xsd", mock.xsd, methods=["GET"]),
            Route("/padron/nacimientos", mock.newborns, methods=["GET"]),
        ]
    )
    return FaultInjector(
        app,
        settings.faults.reniec,
        lambda: soap_fault("Server", "servicio no disponible temporalmente"),
    )
