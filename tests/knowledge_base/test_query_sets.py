"""Integrity of the project's own query sets, no model, no search: the development set
(WanderTrip travel agency, settings may be chosen on it) and the held-out evaluation set
(GeekTech electronics shop, never fitted on)."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from knowledge_base import Entry, load_sources
from knowledge_base.config import REPO_ROOT
from knowledge_base.evaluate import read_queries
from knowledge_base.normalize import detect_lang, normalize, to_simplified

LANGS = {"zh", "en", "mixed"}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class QuerySet:
    """A knowledge base and its labelled queries, with the sizes it promises."""

    folder: Path
    min_entries: int
    min_queries: int
    min_zh_share: float
    min_en_share: float

    @property
    def faq(self) -> Path:
        # The FAQ file itself, not the folder: the folder also holds queries.csv and README.md.
        return self.folder / "faq.yml"

    @property
    def queries(self) -> Path:
        return self.folder / "queries.csv"


SETS = {
    "travel-dev": QuerySet(
        REPO_ROOT / "knowledge_base" / "dev_sets" / "travel", 55, 240, 0.5, 0.35
    ),
    "grocery-dev": QuerySet(
        REPO_ROOT / "knowledge_base" / "dev_sets" / "grocery", 60, 250, 0.45, 0.35
    ),
    "electronics-eval": QuerySet(
        REPO_ROOT / "knowledge_base" / "eval_sets" / "electronics", 60, 250, 0.4, 0.4
    ),
}


def _key(text: str) -> str:
    """Normalised text without any whitespace: what "the same question" means here."""
    return normalize(text).replace(" ", "")


@pytest.fixture(scope="module", params=list(SETS), ids=list(SETS))
def query_set(request: pytest.FixtureRequest) -> QuerySet:
    return SETS[request.param]


@pytest.fixture(scope="module")
def entries(query_set: QuerySet) -> list[Entry]:
    return load_sources([query_set.faq])


@pytest.fixture(scope="module")
def rows(query_set: QuerySet) -> list[dict[str, str]]:
    with query_set.queries.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["query", "expected_id", "lang"]
        return [
            {key: (value or "").strip() for key, value in row.items()}
            for row in reader
            if (row["query"] or "").strip()
        ]


def test_counts(query_set: QuerySet, entries: list[Entry], rows: list[dict[str, str]]) -> None:
    assert len(entries) >= query_set.min_entries
    assert all(6 <= len(e.questions) <= 8 for e in entries)
    assert len(rows) >= query_set.min_queries
    assert sum(not r["expected_id"] for r in rows) >= 50
    langs = Counter(r["lang"] for r in rows)
    assert set(langs) <= LANGS
    assert langs["zh"] / len(rows) >= query_set.min_zh_share
    assert langs["en"] / len(rows) >= query_set.min_en_share
    assert langs["mixed"] > 0


def test_traditional_script_queries(rows: list[dict[str, str]]) -> None:
    traditional = [r for r in rows if r["lang"] == "zh" and to_simplified(r["query"]) != r["query"]]
    assert len(traditional) >= 20


def test_entries_are_bilingual_and_unique(entries: list[Entry]) -> None:
    assert len({e.id for e in entries}) == len(entries)
    for entry in entries:
        assert entry.answer.get("zh") and _CJK.search(entry.answer["zh"]), entry.id
        assert entry.answer.get("en") and not _CJK.search(entry.answer["en"]), entry.id
        assert any(detect_lang(q) == "zh" for q in entry.questions), entry.id
        assert any(detect_lang(q) == "en" for q in entry.questions), entry.id
    keys = [_key(q) for e in entries for q in e.questions]
    assert len(set(keys)) == len(keys), "the same variant appears twice"


def test_expected_ids_exist_and_cover_every_entry(
    entries: list[Entry], rows: list[dict[str, str]]
) -> None:
    ids = {e.id for e in entries}
    unknown = {r["expected_id"] for r in rows if r["expected_id"]} - ids
    assert not unknown
    langs_by_entry: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["expected_id"]:
            langs_by_entry[row["expected_id"]].append(row["lang"])
    for entry_id in ids:
        langs = langs_by_entry[entry_id]
        assert len(langs) >= 2, entry_id
        assert "en" in langs and ({"zh", "mixed"} & set(langs)), entry_id


def test_no_query_is_a_variant(entries: list[Entry], rows: list[dict[str, str]]) -> None:
    variants = {_key(q): e.id for e in entries for q in e.questions}
    copies = [(r["query"], variants[k]) for r in rows if (k := _key(r["query"])) in variants]
    assert not copies
    keys = [_key(r["query"]) for r in rows]
    assert len(set(keys)) == len(keys), "the same query appears twice"


def test_lang_column_matches_the_text(rows: list[dict[str, str]]) -> None:
    for row in rows:
        query, lang = row["query"], row["lang"]
        has_cjk, has_latin = bool(_CJK.search(query)), bool(_LATIN.search(query))
        if lang == "zh":
            assert has_cjk and detect_lang(query) == "zh", query
        elif lang == "en":
            assert not has_cjk and has_latin, query
        else:
            assert lang == "mixed" and has_cjk and has_latin, query


def test_evaluate_reads_the_set_ignoring_the_lang_column(
    query_set: QuerySet, rows: list[dict[str, str]]
) -> None:
    assert read_queries(query_set.queries) == [(r["query"], r["expected_id"]) for r in rows]
