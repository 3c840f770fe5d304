"""Abuse of the running stack (OWASP ASVS level 2, where it applies): forged and replayed tokens,
other people's ids, cross-site requests, script in stored names, injection-shaped and malformed
input, brute force, headers and cookies, secrets in logs, debug pages, and what listens where.

docs/threat-model.md maps each threat to its control and to the test here that proves it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
import psutil
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.people import PASSWORD, Person
from walletkit.devstack.stack import SERVICES, Stack

REPO_ROOT = Path(__file__).resolve().parents[1]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE wallet;--",
    "%' UNION SELECT id FROM auth_user--",
    "\x00",
    "../../etc/passwd",
]
SEEN_SECRETS: set[str] = {PASSWORD}  # every token or password a test handled: none may reach a log


@pytest.fixture(scope="module")
def alice(gateway_url) -> Person:
    person = Person.sign_up(gateway_url, prefix="alice")
    SEEN_SECRETS.add(person.access)
    return person


@pytest.fixture(scope="module")
def bob(gateway_url) -> Person:
    person = Person.sign_up(gateway_url, prefix="bob")
    person.fund("25")
    SEEN_SECRETS.add(person.access)
    return person


@pytest.fixture(scope="module")
def bobs_transaction(bob) -> str:
    return bob.get("/transactions").json()["results"][0]["id"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(person: Person, **extra) -> dict:
    now = int(time.time())
    user_id = jwt.decode(person.access, options={"verify_signature": False})["user_id"]
    return {
        "token_type": "access",
        "user_id": user_id,
        "is_staff": True,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        **extra,
    }


def unsigned(claims: dict, alg: str = "none") -> str:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(claims: dict, public_pem: bytes) -> str:
    """The RS→HS confusion: a verifier that trusts the header would HMAC with its public key."""
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"


def forged_rs256(claims: dict) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return jwt.encode(claims, pem, algorithm="RS256")


def keys(stack: Stack, name: str) -> bytes:
    return (stack.config.data_dir / "keys" / name).read_bytes()


def bad_tokens(stack: Stack, person: Person) -> dict[str, str]:
    claims = claims_for(person)
    header, payload, signature = person.access.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["user_id"] = str(int(tampered["user_id"]) + 1)  # someone else
    now = int(time.time())
    service_claims = {"svc": "attacker", "aud": "internal", "iat": now, "exp": now + 60, "user_id": claims["user_id"]}
    return {
        "alg none": unsigned(claims),
        "alg None": unsigned(claims, alg="None"),
        "HS256 keyed with the public key": hs256_with_public_key(claims, keys(stack, "jwt_public.pem")),
        "RS256 signed by another key": forged_rs256(claims),
        "expired, real key": jwt.encode(claims | {"exp": now - 60}, keys(stack, "jwt_private.pem"), algorithm="RS256"),
        "refresh token as access": jwt.encode(
            claims | {"token_type": "refresh"}, keys(stack, "jwt_private.pem"), algorithm="RS256"
        ),
        "payload changed, signature kept": f"{header}.{b64(json.dumps(tampered).encode())}.{signature}",
        "service token on the public API": jwt.encode(
            service_claims, keys(stack, "service_gateway_private.pem"), algorithm="RS256"
        ),
        "garbage": "not.a.jwt",
    }


# --- Tokens ----------------------------------------------------------------------------------------


def test_forged_expired_and_confused_tokens_are_401_at_the_gateway(stack, alice, bob):
    for name, token in bad_tokens(stack, alice).items():
        for path in ("/me", "/wallets", f"/wallets/{alice.wallet_id}", "/transactions", "/activity"):
            response = alice.client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (name, path, response.status_code, response.text)
        paid = alice.client.post(
            "/transfers",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            json={"from_wallet_id": alice.wallet_id, "to_wallet_id": bob.wallet_id, "amount": "1"},
        )
        assert paid.status_code == 401, (name, paid.text)


def test_forged_tokens_are_401_at_every_internal_service_too(stack, alice):
    """Each service verifies for itself: reaching one past the gateway with a forged token gets nothing."""
    paths = {"transaction_service": "/transactions", "wallet_service": "/wallets", "history_service": "/activity"}
    tokens = bad_tokens(stack, alice)
    del tokens["service token on the public API"]  # a real service token is valid behind the gateway
    for folder, path in paths.items():
        for name, token in tokens.items():
            response = httpx.get(stack.config.url(folder) + path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (401, 403), (folder, name, response.status_code, response.text)


def test_a_rotated_refresh_token_cannot_be_used_again_nor_one_after_logout(gateway_url):
    person = Person.sign_up(gateway_url, prefix="rotate")
    first = person.client.post("/auth/token", json={"username": person.username, "password": PASSWORD}).json()
    rotated = person.client.post("/auth/token/refresh", json={"refresh": first["refresh"]})
    assert rotated.status_code == 200, rotated.text
    SEEN_SECRETS.update({first["refresh"], first["access"], *rotated.json().values()})

    replayed = person.client.post("/auth/token/refresh", json={"refresh": first["refresh"]})
    assert replayed.status_code == 401, replayed.text

    latest = rotated.json()
    out = person.client.post(
        "/auth/logout", json={"refresh": latest["refresh"]}, headers={"Authorization": f"Bearer {latest['access']}"}
    )
    assert out.status_code == 204, out.text
    after_logout = person.client.post("/auth/token/refresh", json={"refresh": latest["refresh"]})
    assert after_logout.status_code == 401, after_logout.text


def service_key_held_by(stack: Stack, folder: str) -> bytes:
    """The service private key ``folder``'s processes sign with, asked from its own settings: what an
    attacker who took over that service would hold."""
    script = (
        "import django; django.setup()\n"
        "from pathlib import Path; from django.conf import settings\n"
        "value = settings.SERVICE_JWT_PRIVATE_KEY\n"
        "print(value if value.lstrip().startswith('-----BEGIN') else Path(value).read_text())\n"
    )
    env = {**os.environ, **stack.config.service_env(folder), "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT / folder, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.encode()


def test_only_transaction_services_key_reaches_the_wallets_reserve(stack, alice):
    """T32/T33: a compromised gateway signs with its own service key — as itself or claiming to be
    transaction_service, for any audience — and is refused before any business rule runs;
    transaction_service's own key gets the wallet's business answer (422: alice cannot cover it)."""
    now = int(time.time())
    user_id = jwt.decode(alice.access, options={"verify_signature": False})["user_id"]
    reserve = {"transaction_id": str(uuid.uuid4()), "type": "WITHDRAWAL", "from_wallet_id": alice.wallet_id,
               "to_wallet_id": None, "amount": "1000000"}  # fmt: skip
    holds, expire = stack.config.url("wallet_service") + "/holds", stack.config.url("ledger_service") + "/entries"

    def token(key: bytes, svc: str, audience: str) -> dict:
        claims = {"svc": svc, "aud": audience, "iat": now, "exp": now + 60, "user_id": user_id}
        return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256')}"}

    gateway_key = service_key_held_by(stack, "gateway_web")
    for svc in ("transaction", "gateway"):
        for audience in ("internal", "wallet", "ledger"):
            response = httpx.post(holds, json=reserve, headers=token(gateway_key, svc, audience))
            assert response.status_code in (401, 403), ("reserve", svc, audience, response.status_code, response.text)
            # An invalid body: had the token passed, the ledger would answer 400 and record nothing.
            response = httpx.post(f"{expire}/{uuid.uuid4()}/expire", json={}, headers=token(gateway_key, svc, audience))
            assert response.status_code in (401, 403), ("expire", svc, audience, response.status_code, response.text)

    transaction_key = service_key_held_by(stack, "transaction_service")
    response = httpx.post(holds, json=reserve, headers=token(transaction_key, "transaction", "wallet"))
    assert (response.status_code, response.json()["code"]) == (422, "insufficient_funds"), response.text


# --- Other people's ids ----------------------------------------------------------------------------


def test_every_id_taking_endpoint_answers_404_for_someone_elses_id(alice, bob, bobs_transaction):
    theirs = bob.wallet_id
    reads = [
        f"/wallets/{theirs}",
        f"/wallets/{theirs}/history",
        f"/transactions/{bobs_transaction}",
        f"/wallets/{uuid.uuid4()}",
        f"/transactions/{uuid.uuid4()}",
    ]
    for path in reads:
        response = alice.get(path)
        assert response.status_code == 404, (path, response.text)
    writes = [
        (f"/wallets/{theirs}/deposits", {"amount": "1"}),
        (f"/wallets/{theirs}/withdrawals", {"amount": "1"}),
        ("/transfers", {"from_wallet_id": theirs, "to_wallet_id": alice.wallet_id, "amount": "1"}),
    ]
    for path, body in writes:
        response = alice.post(path, body, key=str(uuid.uuid4()))
        assert response.status_code == 404, (path, response.text)
    # Filters with someone else's wallet show nothing of theirs.
    listed = alice.get("/transactions", wallet=theirs)
    assert listed.status_code in (200, 404), listed.text
    if listed.status_code == 200:
        assert bobs_transaction not in listed.text
    assert bobs_transaction not in alice.get("/activity").text
    assert bob.balance() == 25 and bob.wallet()["held"] == "0.0000"  # nothing moved


# --- Injection-shaped, oversized and malformed input ----------------------------------------------


def test_injection_shaped_filters_and_ids_are_400_or_404_never_500_nor_anyone_elses_data(alice, bob, bobs_transaction):
    lists = ["/transactions", "/activity", f"/wallets/{alice.wallet_id}/history"]
    filters = ["status", "type", "since", "until", "cursor", "limit", "wallet", "changed_since"]
    for path in lists:
        for name in filters:
            for value in INJECTIONS:
                response = alice.get(path, **{name: value})
                assert response.status_code in (200, 400), (path, name, value, response.status_code, response.text)
                assert response.headers["content-type"].startswith("application/json")
                # (bob's wallet id may show: alice's own refused attempts on it are hers to see)
                assert bobs_transaction not in response.text, (path, name, value, response.text[:600])
    for value in INJECTIONS:
        for template in ("/wallets/{}", "/wallets/{}/history", "/transactions/{}"):
            response = alice.get(template.format(httpx.URL(value).path if value != "\x00" else "%00"))
            assert response.status_code in (400, 404), (template, value, response.status_code)
            assert response.headers["content-type"].startswith("application/json"), response.text[:200]


def test_injection_shaped_amounts_and_keys_change_nothing(alice, bob):
    for value in INJECTIONS:
        response = alice.post(f"/wallets/{alice.wallet_id}/deposits", {"amount": value}, key=str(uuid.uuid4()))
        assert response.status_code == 400, response.text
    odd_key = "'; DROP TABLE transaction;--"
    first = alice.post(f"/wallets/{alice.wallet_id}/deposits", {"amount": "2"}, key=odd_key)
    again = alice.post(f"/wallets/{alice.wallet_id}/deposits", {"amount": "2"}, key=odd_key)
    assert first.status_code == 202 and again.json()["id"] == first.json()["id"]  # just a key, stored as text
    assert alice.wait_final(first.json()["id"])["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"{" * 2000 + b"}" * 2000, "application/json", 400),
        (b'{"amount": "1"', "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'"just a string"', "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        (b'{"amount": 1e999999}', "application/json", 400),
        (b'{"amount": "1"}', "text/plain", 415),
        (b"amount=1", "application/x-www-form-urlencoded", 415),
        (json.dumps({"amount": "1", "pad": "x" * 200_000}).encode(), "application/json", 413),
    ],
)
def test_malformed_and_oversized_bodies_are_json_errors_never_500(alice, bob, body, content_type, expected):
    for path in (f"/wallets/{alice.wallet_id}/deposits", "/transfers", "/wallets", "/auth/register", "/auth/token"):
        headers = {**alice.headers, "Content-Type": content_type, "Idempotency-Key": str(uuid.uuid4())}
        response = alice.client.post(path, content=body, headers=headers)
        assert response.status_code == expected, (path, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/json"), (path, response.text[:300])
        assert set(response.json()) >= {"code", "detail"}


# --- Browsers: CSRF, stored script, redirects, headers, cookies -----------------------------------


def page_login(gateway_url: str, person: Person) -> httpx.Client:
    browser = httpx.Client(base_url=gateway_url, timeout=30)
    form = browser.get("/login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    signed_in = browser.post(
        "/login",
        data={"csrfmiddlewaretoken": token, "username": person.username, "password": PASSWORD},
        headers={"Referer": gateway_url + "/login"},
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    SEEN_SECRETS.update(value for name, value in browser.cookies.items() if "token" in name)
    return browser


def test_form_posts_without_the_csrf_token_are_refused(gateway_url, alice, bob):
    browser = page_login(gateway_url, alice)
    before = alice.balance()
    posts = [
        ("/transfer", {"from_wallet": alice.wallet_id, "to_wallet": bob.wallet_id, "amount": "1"}),
        ("/wallets/open", {"currency": "EUR", "name": "csrf"}),
        (f"/wallets/{alice.wallet_id}/deposit", {"amount": "1"}),
        ("/logout", {}),
    ]
    for path, data in posts:
        response = browser.post(path, data=data, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, (path, response.status_code)
    assert alice.balance() == before and len(alice.wallets()) == 1
    assert browser.get("/").status_code == 200  # still signed in: the forged logout did nothing


def test_the_api_ignores_the_browser_cookies(gateway_url, alice, bob):
    """Cookie auth is for pages (CSRF-protected); the API is bearer-only, so a cross-site request
    carrying the cookies authenticates nobody."""
    browser = page_login(gateway_url, alice)
    for method, path, body in [
        ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/wallets", None),
        (
            "POST",
            "/api/v1/transfers",
            {"from_wallet_id": alice.wallet_id, "to_wallet_id": bob.wallet_id, "amount": "1"},
        ),
    ]:
        response = browser.request(method, path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == 401, (path, response.text)


def test_script_in_stored_names_is_json_in_the_api_and_escaped_in_pages(gateway_url, alice):
    refused = alice.client.post(
        "/auth/register", json={"username": XSS, "email": "x@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 400, refused.text
    opened = alice.post("/wallets", {"currency": "EUR", "name": XSS[:60]})
    assert opened.status_code == 201, opened.text
    assert opened.headers["content-type"].startswith("application/json")
    browser = page_login(gateway_url, alice)
    for path in ("/", f"/wallets/{opened.json()['id']}", "/transfer"):
        page = browser.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
    reflected = httpx.get(gateway_url + "/login", params={"next": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in reflected.text


def test_login_never_redirects_off_site(gateway_url, alice):
    browser = httpx.Client(base_url=gateway_url, timeout=30)
    form = browser.get("/login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    for target in ("https://evil.example/", "//evil.example", "javascript:alert(1)"):
        response = browser.post(
            "/login",
            data={"csrfmiddlewaretoken": token, "username": alice.username, "password": PASSWORD, "next": target},
        )
        assert response.status_code == 302
        assert "evil.example" not in response.headers["location"] and "javascript" not in response.headers["location"]
    SEEN_SECRETS.update(value for name, value in browser.cookies.items() if "token" in name)


def test_security_headers_on_pages_and_api(gateway_url, alice):
    page = httpx.get(gateway_url + "/login")
    csp = page.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp, csp
    assert page.headers.get("x-frame-options") == "DENY"
    for response in (page, alice.get("/wallets"), httpx.get(gateway_url + "/api/v1/nope")):
        assert response.headers.get("x-content-type-options") == "nosniff"
        assert response.headers.get("referrer-policy") in (
            "same-origin",
            "strict-origin-when-cross-origin",
            "no-referrer",
        )
    assert "server" not in {k.lower() for k in alice.get("/wallets").headers if k.lower() == "x-powered-by"}


def test_hsts_is_sent_behind_https_by_nginx(stack):
    """TLS ends at nginx in production (decision 0004), which must send HSTS on every HTTPS answer
    and redirect plain HTTP; the gateway's own HSTS is off on purpose (.env.example says why)."""
    nginx = (REPO_ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r'add_header\s+Strict-Transport-Security\s+"max-age=(\d{7,})[^"]*"\s+always', nginx), nginx
    assert re.search(r"return\s+30[178]\s+https://", nginx)


def test_nginx_tells_the_gateway_the_real_client_address_on_every_proxied_location():
    """The gateway trusts X-Forwarded-For from nginx alone (TRUSTED_PROXIES = compose's edge network),
    so nginx must overwrite it with the address it saw — in every location: nginx drops the
    server-level proxy_set_header lines in a location that sets any of its own, which left `/`
    without X-Forwarded-For, X-Forwarded-Proto and Host."""
    nginx = (REPO_ROOT / "deploy" / "nginx.conf").read_text()
    server = nginx[nginx.index("listen 443") :]
    outside = re.sub(r"^\s*location\b[^{]*\{[^}]*\}", "", server, flags=re.M)
    needed = ["X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme", "Host $host"]
    for location, block in re.findall(r"^\s*location\s+([^{]+?)\s*\{([^}]*)\}", server, flags=re.M):
        if "proxy_pass" not in block:
            continue
        headers = block if "proxy_set_header" in block else outside
        missing = [
            header for header in needed if not re.search(r"proxy_set_header\s+" + re.escape(header) + ";", headers)
        ]
        assert missing == [], (location, missing)
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    assert re.search(r"TRUSTED_PROXIES: \$\{EDGE_SUBNET", compose) and "--proxy-headers" not in compose


def test_auth_cookies_are_httponly_samesite_and_secure_in_production(gateway_url, alice):
    browser = httpx.Client(base_url=gateway_url, timeout=30)
    form = browser.get("/login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    response = browser.post(
        "/login", data={"csrfmiddlewaretoken": token, "username": alice.username, "password": PASSWORD}
    )
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    for name in ("access_token", "refresh_token"):
        assert "httponly" in cookies[name] and "samesite=lax" in cookies[name], cookies
        SEEN_SECRETS.add(browser.cookies[name])
    env_example = (REPO_ROOT / ".env.example").read_text()
    assert re.search(r"^SECURE_COOKIES=true$", env_example, re.M)  # Secure behind TLS
    assert re.search(r"^DJANGO_DEBUG=false$", env_example, re.M)


# --- Brute force ------------------------------------------------------------------------------------


def test_repeated_wrong_passwords_lock_the_login_even_for_the_right_one(gateway_url):
    person = Person.sign_up(gateway_url, prefix="brute")
    statuses = []
    for attempt in range(10):
        response = person.client.post("/auth/token", json={"username": person.username, "password": f"wrong-{attempt}"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401} and len(statuses) <= 6, statuses
    locked = person.client.post("/auth/token", json={"username": person.username, "password": PASSWORD})
    assert locked.status_code == 429, locked.text
    assert "access" not in locked.text


def guesses_until_refused(client: httpx.Client, username: str, *, attempts: int, headers=lambda n: {}) -> list:
    statuses = []
    for n in range(attempts):
        response = client.post("/auth/token", json={"username": username, "password": f"wrong-{n}"}, headers=headers(n))
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["code"] == "locked_out", response.text
            break
    return statuses


def test_a_new_x_forwarded_for_per_guess_does_not_escape_the_lockout(gateway_url):
    """Issue 14, as measured: 30 guesses each with another X-Forwarded-For were all 401 and the right
    password then 200 — the gateway's server (daphne then) with --proxy-headers believed the header from anyone."""
    person = Person.sign_up(gateway_url, prefix="spoof")
    statuses = guesses_until_refused(
        person.client, person.username, attempts=30, headers=lambda n: {"X-Forwarded-For": f"198.51.100.{n + 1}"}
    )
    assert statuses[-1] == 429 and len(statuses) <= 6, statuses
    locked = person.client.post(
        "/auth/token",
        json={"username": person.username, "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.200"},
    )
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out", locked.text
    assert "access" not in locked.text


def test_guesses_from_ever_new_real_addresses_still_lock_the_username(gateway_url):
    """Rotating the real source address (127.0.0.x: one loopback address per guess) escapes axes'
    username + address lockout; the per-username limit (LOGIN_USERNAME_FAILURE_LIMIT, 20) does not."""
    person = Person.sign_up(gateway_url, prefix="rotate-ip")
    statuses = []
    for n in range(30):
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{n + 10}")
        with httpx.Client(base_url=gateway_url + "/api/v1", transport=transport, timeout=30) as client:
            statuses += guesses_until_refused(client, person.username, attempts=1)
        if statuses[-1] == 429:
            break
    assert statuses == [401] * 20 + [429], statuses
    with httpx.Client(
        base_url=gateway_url + "/api/v1", transport=httpx.HTTPTransport(local_address="127.0.0.99"), timeout=30
    ) as fresh:
        locked = fresh.post("/auth/token", json={"username": person.username, "password": PASSWORD})
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out", locked.text


# --- Debug pages, listening sockets, secrets in logs ------------------------------------------------


def test_no_debug_pages_anywhere(stack):
    for folder in SERVICES:
        base = stack.config.url(folder)
        for response in (
            httpx.get(base + "/no/such/page"),
            httpx.get(base + "/no/such/page", headers={"Host": "evil.example"}),
            httpx.post(base + "/internal/outbox/republish", content=b"{", headers={"Content-Type": "application/json"}),
        ):
            assert response.status_code in (400, 401, 403, 404), (folder, response.status_code)
            for leak in ("Traceback", "DEBUG = True", "URLconf", "settings.py", "SECRET_KEY"):
                assert leak not in response.text, (folder, leak)


def test_every_server_and_service_listens_on_loopback_only(stack):
    listening = []
    for name, pid in stack.supervisor.pids().items():
        try:
            parent = psutil.Process(pid)
            processes = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in processes:
            try:
                sockets = process.net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
            listening += [(name, s.laddr.ip, s.laddr.port) for s in sockets if s.status == psutil.CONN_LISTEN]
    assert {name for name, *_ in listening} >= {"gateway-web", "wallet-web", "infra-postgres", "infra-broker"}
    exposed = [entry for entry in listening if entry[1] not in ("127.0.0.1", "::1")]
    assert exposed == [], exposed


def test_zz_no_password_token_or_key_in_any_log(stack):
    """Runs last in this module: everything the tests above sent must be absent from every log."""
    private_keys = [
        line
        for path in sorted((stack.config.data_dir / "keys").glob("*_private.pem"))
        for line in path.read_text().splitlines()[1:4]
        if line and not line.startswith("-----")
    ]
    needles = [secret for secret in SEEN_SECRETS if secret] + private_keys
    assert len(needles) > 5
    leaks = []
    for log in (stack.config.data_dir / "logs").glob("*.log"):
        text = log.read_text(errors="replace")
        leaks += [f"{log.name}: {needle[:12]}…" for needle in needles if needle in text]
        leaks += [f"{log.name}: bearer header" for _ in re.findall(r"Bearer ey[\w-]+\.", text)][:1]
    assert leaks == [], leaks
