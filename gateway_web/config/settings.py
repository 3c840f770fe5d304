"""Settings of gateway_web: the shared ones from walletkit.conf, plus users, JWT issuing, pages and websockets."""

import os

os.environ.setdefault("SERVICE_NAME", "gateway")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS, KEYS_DIR, MIDDLEWARE, REDIS_URL, REPO_ROOT, env  # noqa: E402

INSTALLED_APPS = [
    "daphne",
    *INSTALLED_APPS,
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "accounts",
    "api",
    "live",
]
MIDDLEWARE = [
    *MIDDLEWARE,
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ASGI_APPLICATION = "config.asgi.application"

# Channels: Redis, never the in-memory layer — history_service pushes from other processes.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

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
JWT_PRIVATE_KEY = env("JWT_PRIVATE_KEY", default=str(KEYS_DIR / "jwt_private.pem"))
DEFAULT_CURRENCY = env("DEFAULT_CURRENCY", default="USD")
# Browsers carry the access/refresh tokens in these HttpOnly cookies (never readable by JS).
JWT_ACCESS_COOKIE = "access_token"
JWT_REFRESH_COOKIE = "refresh_token"
