from __future__ import annotations

import sqlite3

from crm_bridge import __version__


def test_health_reports_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}


def test_migrations_reach_head(settings):
    with sqlite3.connect(settings.VAR_DIR / "crm.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
