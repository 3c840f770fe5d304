"""The client address every rate limit and lockout keys on: X-Forwarded-For counts only from a trusted proxy."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from api.addresses import client_address
from api.throttling import ScopedThrottle


def request_from(peer: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(request_from("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_name_another_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request_from("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_a_trusted_proxy_forwards_the_real_client_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request_from("10.1.2.3", "198.51.100.1")) == "198.51.100.1"


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client prepended a lie; the proxy appended the truth
        ("6.6.6.6, 198.51.100.1, 10.9.9.9", "198.51.100.1"),  # two trusted hops
        ("not-an-address, 198.51.100.1", "198.51.100.1"),
        ("198.51.100.1, not-an-address", "10.1.2.3"),  # garbage where the proxy should have written: keep the proxy
        ("", "10.1.2.3"),
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_right_most_address_not_a_trusted_proxy_is_the_client(settings, forwarded_for, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request_from("10.1.2.3", forwarded_for)) == expected


def test_axes_and_the_throttles_use_the_same_address(settings):
    settings.TRUSTED_PROXIES = []
    spoofed = request_from("203.0.113.9", "198.51.100.1")
    assert django_settings.AXES_CLIENT_IP_CALLABLE == "api.addresses.client_address"
    assert ScopedThrottle().get_ident(spoofed) == "203.0.113.9"
