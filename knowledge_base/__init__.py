"""Bilingual (Chinese + English) knowledge base: hybrid BM25 + dense retrieval with decisions."""

from __future__ import annotations

from knowledge_base.config import Settings, get_settings
from knowledge_base.kb import Hit, KnowledgeBase, SearchResult, build_if_changed
from knowledge_base.sources import Entry, SourceError, ValidationError, load_sources

__all__ = [
    "Entry",
    "Hit",
    "KnowledgeBase",
    "SearchResult",
    "Settings",
    "SourceError",
    "ValidationError",
    "build_if_changed",
    "get_settings",
    "load_sources",
]
