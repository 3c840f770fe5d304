"""The client's address: what every per-address limit keys on (django-axes, the DRF throttles, the
page forms). ``X-Forwarded-For`` is believed only from a peer in ``settings.TRUSTED_PROXIES``;
from anyone else it is the client's own claim, and rotating it used to buy unlimited password
guesses (issue 14)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, proxies: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(request: HttpRequest) -> str:
    """The peer's address, or — when the peer is a trusted proxy — the right-most address in
    ``X-Forwarded-For`` that is not itself a trusted proxy.

    Right to left, because each proxy appends the address it saw: entries left of the first
    untrusted one were written by the client and prove nothing. A hop that is not an address
    ends the walk at the last proxy that vouched for something.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    proxies = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(_address(peer), proxies):
        return peer
    client = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not _trusted(address, proxies):
            break
    return client
