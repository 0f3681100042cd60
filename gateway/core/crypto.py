"""Sealing of secrets stored in the database under the master key.

Secret material the gateway must keep (token signing keys today) never reaches the
database in clear: it is sealed with AES-256-GCM under a key derived from the master key
for one purpose, bound to the record it belongs to by associated data.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value cannot be opened: wrong master key or altered record."""


class SecretBox:
    def __init__(self, master_key: bytes, purpose: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"juntos-gateway/{purpose}".encode(),
        ).derive(master_key)
        self._aead = AESGCM(derived)

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
        except InvalidTag:
            raise SealError("sealed value does not open under this master key") from None
