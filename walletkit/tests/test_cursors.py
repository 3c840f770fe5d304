"""The one keyset cursor every list uses: it round-trips, and refuses what this API did not make."""

import base64
import uuid
from datetime import UTC, datetime

import pytest

from walletkit.cursors import InvalidCursor, cursor_decode, cursor_encode


def test_a_cursor_round_trips_the_time_and_the_id():
    moment, row_id = datetime(2026, 11, 28, 12, 30, 15, 123456, tzinfo=UTC), uuid.uuid4()
    assert cursor_decode(cursor_encode(moment, row_id)) == (moment, row_id)


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        _token("[1, 2]"),
        _token('{"t": "2026-11-28T12:00:00", "id": "' + str(uuid.uuid4()) + '"}'),  # a time without a zone
        _token('{"t": "2026-11-28T12:00:00+00:00", "id": "nope"}'),
        _token('{"id": "' + str(uuid.uuid4()) + '"}'),
    ],
)
def test_anything_else_is_an_invalid_cursor(cursor):
    with pytest.raises(InvalidCursor):
        cursor_decode(cursor)
