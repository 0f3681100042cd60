"""Keyed pseudonyms for identifiers (HMAC-SHA256), so records can be found by person
without the person's number being stored or logged."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Where a staged or pushed record names a person: the child's CUI, a holder's DNI, the
# mother's DNI.
RECORD_SUBJECTS = (("cui", "cui"), ("dni", "dni"), ("dni", "mother_dni"))


class Pseudonymizer:
    def __init__(self, master_key: bytes) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"juntos-gateway/pseudonyms"
        ).derive(master_key)

    def of(self, kind: str, number: str) -> str:
        """The pseudonym of a DNI or CUI (``kind`` is ``dni`` or ``cui``)."""
        return hmac.new(self._key, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()

    def of_record(self, record: Mapping[str, Any]) -> list[str]:
        """The pseudonyms of every person a record names (see RECORD_SUBJECTS)."""
        return [
            self.of(kind, str(record[field]))
            for kind, field in RECORD_SUBJECTS
            if record.get(field)
        ]

    def digest(self, data: bytes) -> str:
        """A keyed digest of a document holding personal data (not reversible by
        guessing the few values it could hold, unlike a bare SHA-256)."""
        return hmac.new(self._key, b"digest:" + data, hashlib.sha256).hexdigest()
