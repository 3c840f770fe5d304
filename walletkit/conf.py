"""Settings every service shares. A service's settings.py star-imports this, then adds its own.

Every value comes from the environment through one ``env`` object, with development defaults
that match ``make up``. The README lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

from walletkit.jsonlog import logging_config

env = environ.Env()
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env("WALLET_DATA_DIR", default=str(REPO_ROOT / ".data")))

SERVICE_NAME = env("SERVICE_NAME", default="unknown")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-not-secret-" + SERVICE_NAME)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

DATABASES = {"default": env.db("DATABASE_URL", default=f"postgres://postgres@127.0.0.1:54320/{SERVICE_NAME}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5

KAFKA_BOOTSTRAP_SERVERS = env("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:19092")
KAFKA_PARTITIONS = env.int("KAFKA_PARTITIONS", default=8)
KAFKA_DELIVERY_TIMEOUT_MS = env.int("KAFKA_DELIVERY_TIMEOUT_MS", default=10000)
# How long the broker may hold a consumer's fetch open when there is nothing new. Tansu rechecks
# about every half of it while holding, so this adds ≤ half of it per saga hop; shorter costs the
# broker CPU in fetch requests (measured: docs/benchmark.md, second session).
KAFKA_FETCH_WAIT_MS = env.int("KAFKA_FETCH_WAIT_MS", default=50)
# How often a consumer commits its offsets (ms): a crash replays at most this much, as duplicates.
KAFKA_COMMIT_INTERVAL_MS = env.int("KAFKA_COMMIT_INTERVAL_MS", default=500)
# A managed Kafka wants TLS and SASL; passed to every librdkafka client as they are named there.
KAFKA_SECURITY = {
    name: value
    for name, value in {
        "security.protocol": env("KAFKA_SECURITY_PROTOCOL", default=""),
        "sasl.mechanism": env("KAFKA_SASL_MECHANISM", default=""),
        "sasl.username": env("KAFKA_SASL_USERNAME", default=""),
        "sasl.password": env("KAFKA_SASL_PASSWORD", default=""),
        "ssl.ca.location": env("KAFKA_SSL_CA_LOCATION", default=""),
    }.items()
    if value
}
# The relay republishes what it sent in this many seconds when the broker forgets (decision 0006).
OUTBOX_REPUBLISH_WINDOW = env.float("OUTBOX_REPUBLISH_WINDOW", default=600.0)
OUTBOX_AMNESIA_CHECK_SECONDS = env.float("OUTBOX_AMNESIA_CHECK_SECONDS", default=3.0)
# Retention (decision 0015, walletkit/retention.py): published outbox rows and inbox rows are pruned
# after these windows; prune_delivered refuses to run unless INBOX ≥ OUTBOX + prune interval + the
# broker's topic retention (KAFKA_RETENTION_MS, also given to the topics) and OUTBOX ≥ the republish window.
KAFKA_RETENTION_MS = env.int("KAFKA_RETENTION_MS", default=7 * 24 * 3600 * 1000)
OUTBOX_RETENTION_SECONDS = env.float("OUTBOX_RETENTION_SECONDS", default=7 * 24 * 3600.0)
INBOX_RETENTION_SECONDS = env.float("INBOX_RETENTION_SECONDS", default=15 * 24 * 3600.0)
PRUNE_BATCH_SIZE = env.int("PRUNE_BATCH_SIZE", default=1000)
# A worker process (relay, consumer, sweeper, reconciler, pruner) serves /metrics on this port when
# set (compose: every worker is its own container); unset under make up, where the web page has them all.
METRICS_PORT = env.int("METRICS_PORT", default=0) or None
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:16379/0")
# The channel layer of the gateway (websockets) and of history (the pushes): walletkit.channels
# keeps idle websockets alive. All sockets of one gateway process share ONE channels-redis queue,
# which silently drops group messages beyond its capacity (default 100): a gateway lagging under
# load lost final statuses. Messages still expire after 60 s, which bounds the queue.
CHANNEL_LAYER = {
    "BACKEND": "walletkit.channels.ChannelLayer",
    "CONFIG": {"hosts": [REDIS_URL], "capacity": 20_000},
}

KEYS_DIR = DATA_DIR / "keys"
JWT_PUBLIC_KEY = env("JWT_PUBLIC_KEY", default=str(KEYS_DIR / "jwt_public.pem"))
# Service-to-service tokens (decision 0003): each service signs with its OWN private key, and a
# verifier picks the public key by the token's `svc` claim, so one service's key cannot sign as
# another. Public keys are not secret: every service may know all of them.
SERVICE_JWT_PRIVATE_KEY = env("SERVICE_JWT_PRIVATE_KEY", default=str(KEYS_DIR / f"service_{SERVICE_NAME}_private.pem"))
SERVICE_JWT_PUBLIC_KEYS = {
    "gateway": env("SERVICE_JWT_PUBLIC_KEY_GATEWAY", default=str(KEYS_DIR / "service_gateway_public.pem")),
    "transaction": env("SERVICE_JWT_PUBLIC_KEY_TRANSACTION", default=str(KEYS_DIR / "service_transaction_public.pem")),
    "wallet": env("SERVICE_JWT_PUBLIC_KEY_WALLET", default=str(KEYS_DIR / "service_wallet_public.pem")),
    "ledger": env("SERVICE_JWT_PUBLIC_KEY_LEDGER", default=str(KEYS_DIR / "service_ledger_public.pem")),
    "history": env("SERVICE_JWT_PUBLIC_KEY_HISTORY", default=str(KEYS_DIR / "service_history_public.pem")),
}

SERVICE_URLS = {
    "transaction": env("TRANSACTION_SERVICE_URL", default="http://127.0.0.1:8001"),
    "wallet": env("WALLET_SERVICE_URL", default="http://127.0.0.1:8002"),
    "ledger": env("LEDGER_SERVICE_URL", default="http://127.0.0.1:8003"),
    "history": env("HISTORY_SERVICE_URL", default="http://127.0.0.1:8004"),
}
SERVICE_HTTP_TIMEOUT = env.float("SERVICE_HTTP_TIMEOUT", default=3.0)
MAX_AMOUNT = env("MAX_AMOUNT", default="1000000000")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "walletkit.outbox",
    "walletkit.inbox",
]
MIDDLEWARE = [
    "walletkit.correlation.CorrelationIdMiddleware",
    "walletkit.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["walletkit.auth.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["walletkit.auth.IsUser"],  # a service token only where a view names its caller
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "walletkit.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}

LOGGING = logging_config(env("LOG_LEVEL", default="INFO"))
os.environ.setdefault("SERVICE_NAME", SERVICE_NAME)
