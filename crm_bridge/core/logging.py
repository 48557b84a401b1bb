"""Log configuration of the bridge: one line per record, personal data masked everywhere.

Access lines name the path only: query strings can carry what must not reach a log (tokens,
chat-platform ids, session ids), so they are cut from every access line.
"""

from __future__ import annotations

import logging
from typing import Any


class NoQueryStringFilter(logging.Filter):
    """Cut the query string from the paths uvicorn logs (``GET /path?x=1`` → ``GET /path``).

    Access lines (``uvicorn.access``) and WebSocket lines (``uvicorn.error``:
    ``"WebSocket /path?…" [accepted]``) both pass the path as an argument.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite path arguments; never drop the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


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
        "filters": {
            "pii": {"()": "crm_bridge.core.pii.PiiMaskingFilter"},
            "no_query": {"()": "crm_bridge.core.logging.NoQueryStringFilter"},
        },
        "formatters": {
            "line": {"format": "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"}
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {
                "handlers": ["default"],
                "level": level,
                "propagate": False,
                "filters": ["no_query"],
            },
            "uvicorn.access": {
                "handlers": ["default"],
                "level": level,
                "propagate": False,
                "filters": ["no_query"],
            },
            # httpx logs every request URL at INFO; Rasa's API token travels in the query.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }
