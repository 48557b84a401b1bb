"""Fixtures for the bridge: a migrated SQLite database in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade


@pytest.fixture
def settings(tmp_path) -> Settings:
    settings = Settings(VAR_DIR=tmp_path)
    upgrade(settings.database_url)
    return settings


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client
