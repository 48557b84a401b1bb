from __future__ import annotations

from crm_bridge import __version__


def test_health_reports_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "version": __version__,
        "ingestion": "off",
        "console_fanout": "local",
    }
