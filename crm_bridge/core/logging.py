"""Log configuration of the bridge: one line per record, personal data masked everywhere."""

from __future__ import annotations

from typing import Any


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the app and uvicorn."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "line",
        "filters": ["pii"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"pii": {"()": "crm_bridge.core.pii.PiiMaskingFilter"}},
        "formatters": {
            "line": {"format": "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"}
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
            # httpx logs every request URL at INFO; Rasa's API token travels in the query.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
