"""Keyset-pagination cursors: an opaque token for the last row of a page, ``(time, id)``.

Every service lists newest first on ``(time, id)`` (a page never skips or repeats a row under
inserts); the cursor carries that key, URL-safe and unpadded. Decoding refuses anything this API did
not make — including a time without a zone, which would compare wrongly against stored times.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID


class InvalidCursor(ValueError):
    """Not a cursor this API returned (the caller answers 400)."""


def cursor_encode(moment: datetime, row_id: UUID) -> str:
    raw = json.dumps({"t": moment.isoformat(), "id": str(row_id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(data["t"])
        if moment.tzinfo is None:
            raise ValueError("a time without a zone")
        return moment, UUID(data["id"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise InvalidCursor("The cursor is not one this API returned.") from None
