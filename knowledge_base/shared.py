"""The index ``kb build`` wrote, loaded once per process and shared by its users.

The action server answers customers from it and the CRM bridge lets agents search it; both
call :func:`shared_index`.
"""

from __future__ import annotations

import logging
import threading

from knowledge_base.config import get_settings
from knowledge_base.kb import KnowledgeBase

log = logging.getLogger(__name__)
_lock = threading.Lock()
_loaded: KnowledgeBase | None = None


def shared_index() -> KnowledgeBase | None:
    """The loaded and warmed-up index, or ``None`` (logged) when it is missing or unreadable.

    A failed load is tried again on the next call, so building the index later needs no restart.
    """
    global _loaded
    with _lock:
        if _loaded is None:
            index = get_settings().INDEX_DIR
            try:
                _loaded = KnowledgeBase.load(index)
                _loaded.search("warm up")
            except (OSError, ValueError) as err:
                log.error("knowledge base not loaded from %s: %s; run `kb build`", index, err)
                return None
        return _loaded
