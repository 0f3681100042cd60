"""The core's own table: ``data_keys``, the wrapped keys of the data keyring
(``gateway.core.data_keys``). Kept apart from the keyring so the repository
(``gateway.core.repository``) and the keyring both import it without a cycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class DataKey(Base):
    """A data key sealed (``wrapped``) under the master key, with the key id as
    associated data; the newest by ``created_at`` seals new values."""

    __tablename__ = "data_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
