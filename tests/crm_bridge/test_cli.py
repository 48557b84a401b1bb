from __future__ import annotations

import sqlite3

import pytest

from crm_bridge.cli import main


def test_seed_demo_fills_an_empty_crm_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CSA_VAR_DIR", str(tmp_path))
    assert main(["seed-demo"]) == 0
    out = capsys.readouterr().out
    assert "Seeded the demo shop: 10 customers" in out
    logins = (tmp_path / "secrets" / "demo_agents.txt").read_text().split()
    assert logins[0] == "admin" and logins[1] in out
    assert (tmp_path / "secrets" / "demo_agents.txt").stat().st_mode & 0o077 == 0
    with sqlite3.connect(tmp_path / "crm.db") as db:
        stages = {r[0] for r in db.execute("SELECT lifecycle_stage FROM customers")}
        tiers = {r[0] for r in db.execute("SELECT tier FROM customers")}
        statuses = {r[0] for r in db.execute("SELECT status FROM orders")}
        hashes = [r[0] for r in db.execute("SELECT password_hash FROM agents")]
    assert stages == {"prospect", "new", "active", "at_risk", "churned"}
    assert tiers == {"regular", "silver", "gold", "platinum", "diamond"}
    assert {"pending_payment", "paid", "shipped", "delivered", "cancelled", "refunded"} <= statuses
    assert all(h.startswith("$argon2") for h in hashes)
    with pytest.raises(SystemExit, match="already has data"):
        main(["seed-demo"])


def test_migrate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CSA_VAR_DIR", str(tmp_path))
    assert main(["migrate"]) == 0
    assert "newest schema" in capsys.readouterr().out
