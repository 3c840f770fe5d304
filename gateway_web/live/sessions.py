"""Ending a user's live connections from sync code (logout)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from walletkit.channels import SESSION_END, user_group_name

log = logging.getLogger(__name__)


def user_sockets_close(*, user_id: int) -> None:
    """Every websocket of the user, in every gateway process, closes with 4401 (the consumer joins
    the user's group). Best effort: with the channel layer down the sockets still close when their
    access token expires, and the logout itself has already happened."""
    try:
        async_to_sync(get_channel_layer().group_send)(user_group_name(user_id), {"type": SESSION_END})
    except Exception:  # noqa: BLE001 — Redis trouble must not turn a done logout into a 500
        log.warning("could not close the websockets of user %s", user_id, exc_info=True)
