"""Settings of gateway_web: the shared ones from walletkit.conf, plus users, JWT issuing, pages and websockets."""

import os
from datetime import timedelta

os.environ.setdefault("SERVICE_NAME", "gateway")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import (  # noqa: E402
    CHANNEL_LAYER,
    DATA_DIR,
    INSTALLED_APPS,
    JWT_PUBLIC_KEY,
    KEYS_DIR,
    MIDDLEWARE,
    REDIS_URL,
    REPO_ROOT,
    REST_FRAMEWORK,
    env,
)

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "api",
    "live",
    "django_htmx",
    "pages",
]
MIDDLEWARE = [
    "api.middleware.RequestSizeLimitMiddleware",
    *MIDDLEWARE,
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Pages: the JWT cookies (after AuthenticationMiddleware, whose session user it replaces), CSP.
    "pages.cookies.TokenCookieMiddleware",
    "pages.security.ContentSecurityPolicyMiddleware",
    # Last, so it sees the flag django-axes sets on a locked-out login and answers for it.
    "axes.middleware.AxesMiddleware",
]
ASGI_APPLICATION = "config.asgi.application"
# Threads serving HTTP in the gateway process (config/asgi.py); each keeps its database and Redis connections.
GATEWAY_HTTP_THREADS = env.int("GATEWAY_HTTP_THREADS", default=16)

# Channels: Redis, never the in-memory layer — history_service pushes from other processes.
CHANNEL_LAYERS = {"default": CHANNEL_LAYER}
# One Redis client per process (config/cache.py), not one per request.
CACHES = {"default": {"BACKEND": "config.cache.ProcessRedisCache", "LOCATION": REDIS_URL}}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [REPO_ROOT / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
STATICFILES_DIRS = [REPO_ROOT / "frontend" / "static"]
STATIC_ROOT = DATA_DIR / "static"
# Without nginx in front (make up, tests) the gateway serves static files itself.
SERVE_STATIC = env.bool("SERVE_STATIC", default=True)
JWT_PRIVATE_KEY = env("JWT_PRIVATE_KEY", default=str(KEYS_DIR / "jwt_private.pem"))
DEFAULT_CURRENCY = env("DEFAULT_CURRENCY", default="USD")
# Browsers carry the access/refresh tokens in these HttpOnly cookies (never readable by JS).
JWT_ACCESS_COOKIE = "access_token"
JWT_REFRESH_COOKIE = "refresh_token"

# --- Users and passwords -------------------------------------------------------------------
# Axes first: it refuses a locked-out username+IP before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "api.errors.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_CLIENT_IP_CALLABLE = "api.addresses.client_address"
# Failures for one username from ANY address within the cool-off before it is locked (429
# locked_out, even for the right password): rotating addresses escapes the username+IP lockout
# above, not this one. Larger than AXES_FAILURE_LIMIT so that one address cannot lock a stranger
# out (guesses axes already refused are not counted); docs/threat-model.md T21 has the trade-off.
LOGIN_USERNAME_FAILURE_LIMIT = env.int("LOGIN_USERNAME_FAILURE_LIMIT", default=20)

# Two-factor sign-in (django-otp, accounts.two_factor). The name authenticator apps show.
OTP_TOTP_ISSUER = env("TWO_FACTOR_ISSUER", default="Wallet")
# django-otp's own per-device back-off is off: a wrong code counts as a failed login in the two
# lockouts above instead (shared by every gateway process, and the same rule as for passwords),
# and its silent refusal of a right code during the back-off would read as a wrong code.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# Seconds a password reset link works (Django's token generator; it also stops working once used,
# or once the password changed in any other way).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)

# Proxies (addresses or CIDRs) whose X-Forwarded-For is believed (api.addresses.client_address).
# Empty: the peer's own address is the client's, whatever headers it sends (the dev stack, tests).
# In compose: nginx's network, and nginx writes the address it saw.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])


# --- Mail (password reset links) --------------------------------------------------------------
# EMAIL_URL in django-environ's form; production: smtp+tls://user:password@smtp.example.com:587
# (smtp+ssl:// for port 465). Unset: Django's file backend, one file per message under
# <WALLET_DATA_DIR>/mail/ (.data/mail/ under make up) — nothing leaves the machine.
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update({k: v for k, v in env.email_url("EMAIL_URL").items() if k.startswith("EMAIL_")})
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Wallet <wallet@localhost>")
# A mail server that hangs must not hold a request (and its thread) for long.
EMAIL_TIMEOUT = 10


# --- JWT (issued here, RS256; every service verifies with the public key) ------------------
def _pem(value: str) -> str:
    """PEM text, or the content of the PEM file at ``value``; empty until the keys exist (first run)."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    try:
        with open(value) as pem:
            return pem.read()
    except FileNotFoundError:
        return ""


SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "SIGNING_KEY": _pem(JWT_PRIVATE_KEY),
    "VERIFYING_KEY": _pem(JWT_PUBLIC_KEY),
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_SECONDS", default=10 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_SECONDS", default=24 * 60 * 60)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.TokenObtainSerializer",
}

# --- REST API ---------------------------------------------------------------------------------
# Per scope: "auth" (register, token, refresh, logout, reset confirm) per IP, password change per
# user; "money" (deposits, withdrawals, transfers) per user; "password_reset" (reset mails asked
# for) counted twice, per IP and per email address. Read on every request, so the benchmark and
# tests can change them.
THROTTLE_RATES = {
    "auth": env("THROTTLE_AUTH", default="20/min"),
    "money": env("THROTTLE_MONEY", default="120/min"),
    "password_reset": env("THROTTLE_PASSWORD_RESET", default="5/hour"),
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.GatewayBearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.IsUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Digital wallet API",
    "DESCRIPTION": "Wallets, deposits, withdrawals and transfers. Amounts are decimal strings; ids are UUIDs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "PREPROCESSING_HOOKS": ["api.schema.public_endpoints_only"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TransactionTypeEnum": ["DEPOSIT", "WITHDRAWAL", "TRANSFER", "REFUND"],
        "TransactionStatusEnum": ["INITIATED", "RESERVED", "SUCCESS", "FAILED"],
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Transport security ---------------------------------------------------------------------
# nginx terminates TLS in production and says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
JWT_COOKIE_SECURE = SESSION_COOKIE_SECURE
LOGIN_URL = "/login"
