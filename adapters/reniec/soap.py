"""The ``consultar`` exchange of PIDE ``ReniecConsultaDni``, compiled once from its WSDL.

zeep reads the contract (``contracts/reniec/consulta-dni.wsdl`` and the schema it
imports); :meth:`ConsultarExchange.from_binding` takes from the zeep-loaded binding what
a call needs: the SOAPAction, the request wrapper's qualified name and its one
unqualified child, the order of that child's four fields, and the names the answer
declares. Each call then renders its envelope from that template (the four values
escaped as XML text) and reads the answer with lxml through the safe parser of
:mod:`adapters.xml` (no DTD, no entity), looking only at the elements the contract
declares. The results and typed errors are those zeep's lenient reading gives
(``tests/adapters/reniec/test_soap_agreement.py`` feeds the same bytes to both):

- a 200 answer that is not well-formed XML (or declares a DTD): :class:`PartnerMalformed`
  (transient: cut in transit);
- a SOAP 1.1 fault, or any non-200 answer: ``faultcode`` ending in ``Client`` is
  :class:`PartnerContractMismatch` (permanent), anything else :class:`PartnerUnavailable`;
  a non-200 answer without content or not XML is :class:`PartnerUnavailable`;
- no ``Envelope``/``Body``/wrapper/``return``/``coResultado``, an unknown code,
  ``0000`` without a named ``datosPersona``, a DTD in an error answer:
  :class:`PartnerContractMismatch`;
- result codes through :func:`result_error`.

As zeep's lenient reading does: the Body's first element is taken as the answer wrapper;
below it, elements are matched by local name (the first of each name), in any order;
undeclared elements are ignored at any depth, comments too; an empty or ``xsi:nil``
element reads as absent; a ``foto`` that is not base64 reads as no photo; the answer's
encoding is the one its XML declaration names (ISO-8859-1 included). Where zeep's path
raised an untyped exception (a non-XML error page, an empty ``Body``) this reader gives
:class:`PartnerUnavailable` and :class:`PartnerContractMismatch`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from adapters.xml import UnsafeXmlError, parse_xml
from gateway.partners.errors import (
    PartnerContractMismatch,
    PartnerError,
    PartnerMalformed,
    PartnerUnavailable,
)
from gateway.partners.models import Person

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OPERATION = "consultar"
_ENVELOPE, _BODY, _FAULT = (f"{{{SOAP_ENV}}}{name}" for name in ("Envelope", "Body", "Fault"))
# Characters XML 1.0 cannot carry (zeep/lxml refuse them with a ValueError).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _names(element: Any) -> tuple[str, ...]:
    """Names of the child elements a zeep element's complex type declares, in order."""
    return tuple(name for name, _ in element.type.elements)


def _child(element: Any, name: str) -> Any:
    return dict(element.type.elements)[name]


def _children(parent: etree._Element) -> dict[str, etree._Element]:
    """``parent``'s child elements by local name, the first of each name (zeep's lenient
    reading matches on the local name alone, whatever the namespace)."""
    found: dict[str, etree._Element] = {}
    for child in parent:
        tag = child.tag
        if isinstance(tag, str):
            found.setdefault(tag.rpartition("}")[2], child)
    return found


def _text(element: etree._Element | None) -> str | None:
    """Text of a simple element; None when absent or empty (so when ``xsi:nil``: no
    element of the answer is declared nillable, and zeep reads the text regardless)."""
    return None if element is None else element.text


@dataclass(frozen=True)
class ConsultarExchange:
    """Request template and answer reader for ``consultar``, as the WSDL declares them."""

    soap_action: str
    request: etree.QName
    argument: str
    fields: tuple[str, ...]
    result: str
    person: str
    person_fields: frozenset[str]
    result_error: Callable[[str, str], PartnerError | None]

    @classmethod
    def from_binding(
        cls, binding: Any, result_error: Callable[[str, str], PartnerError | None]
    ) -> ConsultarExchange:
        """Compile from the zeep ``Soap11Binding`` of ``ReniecConsultaDniPortBinding``.

        Raises ValueError when the binding's ``consultar`` is not the document/literal
        wrapped shape (one child, holding the four request fields) this reader expects."""
        operation = binding.get(OPERATION)
        request = operation.input.body
        response = operation.output.body
        [argument] = _names(request)
        [result] = _names(response)
        answer = _child(response, result)
        fields = _names(_child(request, argument))
        if set(fields) != {"nuDniConsulta", "nuDniUsuario", "nuRucUsuario", "password"}:
            raise ValueError("consultar request fields differ from the contract's")
        if not {"coResultado", "datosPersona"} <= set(_names(answer)):
            raise ValueError("consultar answer lacks coResultado or datosPersona")
        person = _child(answer, "datosPersona")
        return cls(
            soap_action=operation.soapaction,
            request=etree.QName(request.qname),
            argument=argument,
            fields=fields,
            result=result,
            person="datosPersona",
            person_fields=frozenset(_names(person)),
            result_error=result_error,
        )

    # -- request ----------------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers of a SOAP 1.1 call, as zeep sends them."""
        return {"SOAPAction": f'"{self.soap_action}"', "Content-Type": "text/xml; charset=utf-8"}

    def envelope(self, values: Mapping[str, str]) -> bytes:
        """The UTF-8 SOAP 1.1 envelope for ``values`` (the four request fields by name).

        Raises ValueError for a value XML cannot carry."""
        parts = [
            "<?xml version='1.0' encoding='utf-8'?>"
            f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body>'
            f'<ns0:{self.request.localname} xmlns:ns0="{self.request.namespace}">'
            f"<{self.argument}>"
        ]
        for name in self.fields:
            value = values[name]
            if _NOT_XML.search(value):
                raise ValueError("value not representable in XML")
            parts.append(f"<{name}>{escape(value)}</{name}>")
        parts.append(
            f"</{self.argument}></ns0:{self.request.localname}></soap-env:Body></soap-env:Envelope>"
        )
        return "".join(parts).encode()

    # -- answer -----------------------------------------------------------------------

    def read(self, dni: str, status: int, content: bytes) -> Person:
        """The person in a ``consultarResponse`` answered with HTTP ``status``.

        Raises the typed errors listed in the module docstring."""
        op = OPERATION
        if status in (201, 202) and not content:
            raise PartnerContractMismatch("reniec", op, "answer lacks coResultado")
        if status != 200 and not content:
            raise PartnerUnavailable("reniec", op, f"HTTP {status}")
        try:
            root = parse_xml(content)
        except UnsafeXmlError:
            if status == 200:
                raise PartnerMalformed("reniec", op, "answer is not well-formed XML") from None
            if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
                raise PartnerContractMismatch(
                    "reniec", op, "answer does not follow the contract"
                ) from None
            # zeep reads error answers in recovery mode: whatever else they hold, a fault.
            raise PartnerUnavailable("reniec", op, "SOAP fault") from None
        body = next(root.iterchildren(_BODY), None)
        fault = next(body.iterchildren(_FAULT), None) if body is not None else None
        if status != 200 or fault is not None:
            code = fault.findtext("faultcode") if fault is not None else None
            if (code or "").endswith("Client"):
                raise PartnerContractMismatch(
                    "reniec", op, "SOAP client fault: request not understood"
                )
            raise PartnerUnavailable("reniec", op, "SOAP fault")
        # zeep reads the Body's first element as the answer wrapper, whatever its name.
        wrapper = (
            next(body.iterchildren("*"), None)
            if root.tag == _ENVELOPE and body is not None
            else None
        )
        if wrapper is None:
            raise PartnerContractMismatch("reniec", op, "answer does not follow the contract")
        answer = _children(wrapper).get(self.result)
        fields = _children(answer) if answer is not None else {}
        code = _text(fields.get("coResultado"))
        if code is None or not code.strip():
            raise PartnerContractMismatch("reniec", op, "answer lacks coResultado")
        error = self.result_error(code.strip(), op)
        if error is not None:
            raise error
        data = fields.get(self.person)
        values = {} if data is None else self._person(data)
        if not (values.get("apPrimer") or values.get("prenombres")):
            raise PartnerContractMismatch("reniec", op, "0000 without datosPersona")
        foto = values.get("foto")
        try:
            photo = base64.b64decode(foto) if foto else None
        except (binascii.Error, ValueError):
            photo = None  # as zeep: a simple value it cannot convert reads as absent
        return Person(
            dni=dni,
            first_surname=values.get("apPrimer") or "",
            second_surname=values.get("apSegundo") or "",
            given_names=values.get("prenombres") or "",
            address=values.get("direccion") or "",
            marital_status=values.get("estadoCivil") or "",
            place_name=values.get("ubigeo") or "",
            restriction=values.get("restriccion") or "",
            photo=photo,
        )

    def _person(self, data: etree._Element) -> dict[str, str | None]:
        children = _children(data)
        return {name: _text(children.get(name)) for name in self.person_fields}
