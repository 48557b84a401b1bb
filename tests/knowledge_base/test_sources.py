"""Source loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.sources import ValidationError, load_sources


def _errors(path: Path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_sources([path])
    return [str(e) for e in info.value.errors]


def test_faq_yaml_loads_variants_answers_and_tags(small_faq: Path) -> None:
    entries = load_sources([small_faq])
    assert [e.id for e in entries] == ["returns-window", "delivery-time", "points-expiry"]
    first = entries[0]
    assert len(first.questions) == 3
    assert first.answer_in("zh").startswith("自签收")
    assert first.answer_in("en").startswith("You can return")
    assert first.tags == ["returns"]
    assert first.line == 2
    assert entries[2].answer_in("zh") == entries[2].answer_in("en")


def test_duplicate_id_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "dup.yml"
    path.write_text(
        "entries:\n"
        "  - id: same\n    questions: [a]\n    answer: A\n"
        "  - id: same\n    questions: [b]\n    answer: B\n"
    )
    (error,) = _errors(path)
    assert f"{path}:5:" in error
    assert "duplicate id 'same'" in error
    assert f"{path}:2" in error  # where the first one is
    assert "fix:" in error


def test_missing_answer_and_empty_question_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(
        "entries:\n"
        "  - id: no-answer\n    questions:\n      - Where is it?\n"
        "  - id: empty-question\n    questions:\n      - ''\n      - ok?\n    answer: fine\n"
    )
    errors = _errors(path)
    assert any(f"{path}:2:" in e and "missing answer" in e for e in errors)
    assert any(f"{path}:7:" in e and "empty question" in e for e in errors)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("entries:\n  - id: x\n    questions: [a\n    answer: b: c\n")
    (error,) = _errors(path)
    assert str(path) in error and "bad YAML" in error
    assert f"{path}:4:" in error or f"{path}:5:" in error


def test_id_must_be_kebab_case(tmp_path: Path) -> None:
    path = tmp_path / "ids.yml"
    path.write_text("entries:\n  - id: Not_Kebab\n    questions: [q]\n    answer: a\n")
    (error,) = _errors(path)
    assert "kebab-case" in error and f"{path}:2:" in error


def test_csv_rows_with_one_id_are_variants(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(
        "id,question,answer\n"
        "opening-hours,When are you open?,9 to 21 every day\n"
        "opening-hours,营业时间是几点？,\n"
        "no-answer,Who are you?,\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as info:
        load_sources([path])
    (error,) = info.value.errors
    assert error.line == 4 and "missing answer" in error.message
    path.write_text(
        "id,question,answer\nopening-hours,When are you open?,9 to 21\n"
        "opening-hours,营业时间是几点？,\n",
        encoding="utf-8",
    )
    (entry,) = load_sources([path])
    assert entry.questions == ["When are you open?", "营业时间是几点？"]


def test_markdown_is_split_into_passages_with_title_and_headings(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    sentences = " ".join(f"Sentence number {i} is about sofas." for i in range(12))
    path.write_text(
        "# Care guide\n\nIntro text.\n\n## Sofas\n\n### Cleaning\n\n" + sentences + "\n\n"
        "## 床垫\n\n床垫需要定期翻转。每三个月翻转一次。不要折叠床垫。\n",
        encoding="utf-8",
    )
    entries = load_sources([path], passage_max_chars=120, overlap_sentences=1)
    assert all(e.kind == "passage" and e.title == "Care guide" for e in entries)
    sofa = [e for e in entries if e.headings == ["Sofas", "Cleaning"]]
    assert len(sofa) >= 3
    first, second = sofa[0].answer_in("en"), sofa[1].answer_in("en")
    assert first.split(". ")[-1].rstrip(".") in second  # one sentence of overlap
    mattress = [e for e in entries if e.headings == ["床垫"]]
    assert mattress and "每三个月翻转一次。" in mattress[0].answer_in("zh")
    assert mattress[0].questions[0].startswith("Care guide / 床垫: ")
