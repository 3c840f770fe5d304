"""JSON log lines, each carrying the service name and the correlation id."""

from __future__ import annotations

import logging
import os

from pythonjsonlogger.json import JsonFormatter

from walletkit.correlation import _current


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _current.get()
        record.service = os.environ.get("SERVICE_NAME", "")
        return True


def logging_config(level: str = "INFO") -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {
            "json": {
                "()": JsonFormatter,
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(correlation_id)s",
                "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # uvicorn (the gateway's server) configures its own plain-text handlers; JSON lines here instead.
            "uvicorn": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
            "django.channels.server": {"level": "WARNING"},
            # A line per service-to-service call is noise (and CPU on every payment); failures still log.
            "httpx": {"level": "WARNING"},
        },
    }
