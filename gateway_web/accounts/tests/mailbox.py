"""Reading what Django's file mail backend wrote: one file per message, each ending in a line of 79 dashes."""

from __future__ import annotations

import email
import re
from email.message import Message
from pathlib import Path

RESET_LINK = re.compile(r"https?://[^/\s]+/password-reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s<\"]+)")


def mails_in(directory: Path) -> list[Message]:
    if not directory.exists():
        return []
    messages = []
    for path in sorted(directory.iterdir()):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk))
    return messages


def bodies(message: Message) -> dict[str, str]:
    """Content type → decoded text of each part."""
    return {
        part.get_content_type(): part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        for part in message.walk()
        if not part.is_multipart()
    }


def reset_link(message: Message) -> tuple[str, str]:
    """(uid, token) of the link in the plain-text body."""
    match = RESET_LINK.search(bodies(message)["text/plain"])
    assert match, bodies(message)
    return match["uid"], match["token"]
