"""Build, search, atomic save, load and rebuild-skip with an injected fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base.config import Settings
from knowledge_base.kb import KnowledgeBase, build_if_changed
from knowledge_base.sources import ValidationError, load_sources
from tests.knowledge_base.conftest import FakeEmbedder


def test_build_search_with_injected_embedder_and_tokenizer(
    small_faq: Path, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    calls: list[str] = []

    def tokenizer(text: str) -> list[str]:
        calls.append(text)
        return text.lower().split()

    kb = KnowledgeBase.build(
        load_sources([small_faq]), settings=settings, embedder=fake_embedder, tokenizer=tokenizer
    )
    result = kb.search("how long does delivery take", k=2)
    assert calls and result.hits[0].id == "delivery-time"
    assert len(result.hits) == 2
    assert result.hits[0].score >= result.hits[1].score
    assert kb.manifest["model"] == "fake-trigram" and kb.manifest["dimensions"] == 64


def test_build_accepts_plain_dicts(fake_embedder: FakeEmbedder, settings: Settings) -> None:
    kb = KnowledgeBase.build(
        [{"id": "a", "questions": ["opening hours"], "answer": "9-21"}],
        settings=settings,
        embedder=fake_embedder,
    )
    assert kb.search("opening hours").hits[0].answer == "9-21"


def test_save_is_atomic_and_load_round_trips(
    tmp_path: Path, small_faq: Path, fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    kb = KnowledgeBase.build(load_sources([small_faq]), settings=settings, embedder=fake_embedder)
    out = tmp_path / "index"
    kb.save(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["entries"] == 3 and manifest["counts"]["variants"] == 9
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    loaded = KnowledgeBase.load(out, settings=settings, embedder=fake_embedder)
    query = "积分会过期吗"
    assert loaded.search(query).to_dict() == kb.search(query).to_dict()


def test_failed_save_leaves_previous_index_untouched(
    tmp_path: Path,
    small_faq: Path,
    fake_embedder: FakeEmbedder,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kb = KnowledgeBase.build(load_sources([small_faq]), settings=settings, embedder=fake_embedder)
    out = tmp_path / "index"
    kb.save(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(kb.dense, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        kb.save(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_rebuild_only_when_sources_or_model_change(
    tmp_path: Path, small_faq: Path, settings: Settings
) -> None:
    out = tmp_path / "index"
    kb, built = build_if_changed([small_faq], out, settings=settings, embedder=FakeEmbedder())
    assert built and kb is not None
    assert build_if_changed([small_faq], out, settings=settings, embedder=FakeEmbedder()) == (
        None,
        False,
    )
    _, built = build_if_changed(
        [small_faq], out, settings=settings, embedder=FakeEmbedder(version="v2")
    )
    assert built
    small_faq.write_text(small_faq.read_text().replace("30天内", "14天内"), encoding="utf-8")
    _, built = build_if_changed(
        [small_faq], out, settings=settings, embedder=FakeEmbedder(version="v2")
    )
    assert built


def test_invalid_sources_write_nothing(tmp_path: Path, small_faq: Path, settings: Settings) -> None:
    out = tmp_path / "index"
    build_if_changed([small_faq], out, settings=settings, embedder=FakeEmbedder())
    before = (out / "manifest.json").read_text()
    small_faq.write_text(small_faq.read_text() + "  - id: returns-window\n    questions: [x]\n")
    with pytest.raises(ValidationError):
        build_if_changed([small_faq], out, settings=settings, embedder=FakeEmbedder())
    assert (out / "manifest.json").read_text() == before
    fresh = tmp_path / "fresh"
    with pytest.raises(ValidationError):
        build_if_changed([small_faq], fresh, settings=settings, embedder=FakeEmbedder())
    assert not fresh.exists()


def test_approximate_index_above_threshold(small_faq: Path, fake_embedder: FakeEmbedder) -> None:
    settings = Settings(USE_TUNED=False, APPROX_MIN_SIZE=5)
    kb = KnowledgeBase.build(load_sources([small_faq]), settings=settings, embedder=fake_embedder)
    assert kb.manifest["index_type"] == "hnsw"
    assert kb.search("Do my points expire?").hits[0].id == "points-expiry"
