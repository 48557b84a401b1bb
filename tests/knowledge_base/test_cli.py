"""The ``kb`` command line, called through ``main([...])``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base.cli import main


@pytest.fixture(autouse=True)
def _no_tuned_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSA_KB_USE_TUNED", "false")


def test_build_search_eval(
    tmp_path: Path, small_faq: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "index"
    assert main(["build", str(small_faq), "--out", str(out), "--no-progress"]) == 0
    assert "3 entries" in capsys.readouterr().out
    assert main(["build", str(small_faq), "--out", str(out), "--no-progress"]) == 0
    assert "up to date" in capsys.readouterr().out

    assert main(["search", "--index", str(out), "--json", "Do my points expire?"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hits"][0]["id"] == "points-expiry"
    assert data["decision"] in {"answer", "clarify", "none"}

    assert main(["search", "--index", str(out), "--lang", "zh", "When will it arrive?"]) == 0
    text = capsys.readouterr().out
    assert "delivery-time" in text and "工作日" in text

    queries = tmp_path / "q.csv"
    queries.write_text(
        "query,expected_id\nhow long is delivery,delivery-time\n退货政策,returns-window\n"
        "who won the match,\n",
        encoding="utf-8",
    )
    assert main(["eval", "--index", str(out), "--queries", str(queries)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("top1=") and "p95_ms=" in last and "oos_reject=" in last
    assert main(["eval", "--index", str(out), "--queries", str(queries), "--json"]) == 0
    assert "mrr5" in capsys.readouterr().out


def test_build_reports_validation_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("entries:\n  - id: a\n    questions: [q]\n")
    assert main(["build", str(bad), "--out", str(tmp_path / "index")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "missing answer" in err
    assert not (tmp_path / "index").exists()


def test_search_without_index_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--index", str(tmp_path / "none"), "hello"]) == 1
    assert "kb build" in capsys.readouterr().err


def test_fit_confidence_names_missing_sets_and_writes_nothing(
    tmp_path: Path, small_faq: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "confidence.json"
    missing = tmp_path / "queries.csv"
    args = ["fit-confidence", "--set", str(small_faq), str(missing), "--out", str(out)]
    assert main(args) == 2
    assert str(missing) in capsys.readouterr().err
    assert not out.exists()
