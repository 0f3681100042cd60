"""The sandbox partners' JSON answers, written by orjson.

The bytes are those of Starlette's ``JSONResponse`` (UTF-8, no spaces, ``ensure_ascii``
off), as a partner's JSON API sends; a national run's look-ups answer hundreds of
thousands of records, and the standard library's encoder was the mocks' largest cost
after the synthetic households themselves. Unlike the standard encoder, a float that is
not a number is written as ``null`` instead of raising (JSON has no NaN, RFC 8259 §6).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as StarletteJSONResponse


class JSONResponse(StarletteJSONResponse):
    """Starlette's ``JSONResponse`` (same constructor, media type and headers), its body
    serialised by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
