"""The answers of the gateway as its OpenAPI contract describes them.

Brokered answers are an envelope (``service``, ``purpose``, ``legal_basis``, ``data``):
``data`` carries only the fields the policy catalog (``contracts/policy/catalog.yaml``)
allows for the declared purpose. Each record model below lists the union of the fields
the catalog may disclose for its service, every one optional, so that a client
generated from the contract reads any purpose's projection; a test keeps each model
equal to the catalog's ``fields`` of its service.

Routes answer with ready JSON (already projected and digested for the audit log): these
models document the answers, they are not used to serialise them.

This module holds what every feature's answers share (the envelope, the record base,
the identifier schemas); each feature's answer models are in its ``schemas.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, create_model

# What the gateway accepts as a DNI or CUI: 8 digits, optionally followed by the check
# character (a digit or a letter A-K, either case), with or without a hyphen; the
# server verifies the check character (``gateway.calls.validation``).
DOCUMENT_PATTERN = r"^[0-9]{8}(-?[0-9A-Ka-k])?$"


DOCUMENT_SCHEMA: dict[str, Any] = {"pattern": DOCUMENT_PATTERN}


PERIOD_SCHEMA: dict[str, Any] = {"pattern": r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"}


UBIGEO_SCHEMA: dict[str, Any] = {"pattern": r"^[0-9]{6}$"}


class Record(BaseModel):
    """A projected record: any field may be absent, as the purpose decides."""


class EnvelopeBase(BaseModel):
    """Every brokered answer: which service, for which purpose, on which legal basis."""

    service: str = Field(description="The catalog service that answered.")
    purpose: str = Field(description="The purpose declared in X-Purpose.")
    legal_basis: str = Field(description="The catalog's legal basis for this disclosure.")


def envelope(name: str, data: Any, doc: str, **extra: Any) -> type[EnvelopeBase]:
    """An answer envelope named ``name`` whose ``data`` is of type ``data``; ``extra``
    adds fields as ``create_model`` takes them (``(type, default)``)."""
    model: type[EnvelopeBase] = create_model(
        name, __base__=EnvelopeBase, __doc__=doc, data=(data, ...), **extra
    )
    return model


NEXT_CURSOR: Any = (str | None, Field(default=None, description="Ask again with this cursor."))


PERIOD: Any = (str | None, Field(default=None, description="The month judged, YYYY-MM."))


def documented(model: Any, description: str, status: int = 200) -> dict[int | str, Any]:
    """A ``responses`` entry documenting ``model`` as the answer of ``status``."""
    return {status: {"model": model, "description": description}}
