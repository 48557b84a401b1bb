"""Fixtures for the bridge: migrated databases (SQLite and PostgreSQL) and an app client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.core.config import Settings
from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.sentiment import SentimentScorer, ensure_model
from tests.utils.databases import database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty CRM database of each supported kind."""
    with database(request.param, tmp_path) as url:
        upgrade(url)
        yield url


@pytest.fixture
def sessions(database_url) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def sentiment_scorer() -> SentimentScorer:
    """The bridge's real sentiment models (trained into the shared var/ on first use)."""
    settings = Settings()
    return SentimentScorer.load(
        ensure_model(settings.sentiment_model_dir, settings.SENTIMENT_DATA_DIR)
    )


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Embedded-mode settings in a temporary var dir (SQLite), migrated."""
    settings = Settings(VAR_DIR=tmp_path, EVENTS_SOURCE="none")
    upgrade(settings.database_url)
    return settings


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client
