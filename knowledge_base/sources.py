"""Loading and validating knowledge sources: FAQ YAML, FAQ CSV and long documents."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = [
    "Entry",
    "SourceError",
    "ValidationError",
    "iter_source_files",
    "load_sources",
]

FAQ_SUFFIXES = (".yml", ".yaml")
CSV_SUFFIXES = (".csv",)
DOC_SUFFIXES = (".md", ".markdown", ".txt")
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass
class Entry:
    """One answerable unit: an FAQ entry (several question variants) or a document passage.

    Attributes:
        id: Unique id (kebab-case for FAQ entries; ``<doc-stem>#<n>`` for passages).
        questions: Texts matched against queries (question variants, or the passage text).
        answer: Answer text per language (``"zh"``/``"en"``) or ``{"*": text}``.
        tags: Free tags.
        source: File the entry came from.
        line: 1-based line of the entry in its file.
        kind: ``"faq"`` or ``"passage"``.
        title: Document title (passages only).
        headings: Heading path inside the document (passages only).
    """

    id: str
    questions: list[str]
    answer: dict[str, str]
    tags: list[str] = field(default_factory=list)
    source: str = ""
    line: int = 0
    kind: str = "faq"
    title: str = ""
    headings: list[str] = field(default_factory=list)

    def answer_in(self, lang: str) -> str:
        """Return the answer in ``lang``, falling back to any other language given."""
        if lang in self.answer:
            return self.answer[lang]
        if "*" in self.answer:
            return self.answer["*"]
        return next(iter(self.answer.values()), "")

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict."""
        return {
            "id": self.id,
            "questions": self.questions,
            "answer": self.answer,
            "tags": self.tags,
            "source": self.source,
            "line": self.line,
            "kind": self.kind,
            "title": self.title,
            "headings": self.headings,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Entry:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass
class SourceError:
    """One problem found in a source file, with where it is and how to fix it."""

    path: str
    line: int
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message} (fix: {self.fix})"


class ValidationError(ValueError):
    """Raised when sources are invalid; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[SourceError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} problem(s) in knowledge sources:\n{lines}")


def iter_source_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into the sorted list of source files they hold."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in FAQ_SUFFIXES + CSV_SUFFIXES + DOC_SUFFIXES
            )
        else:
            files.append(path)
    return files


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _scalar_text(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return str(node.value)
    return None


def _load_yaml(path: Path, errors: list[SourceError]) -> list[Entry]:
    name = str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        errors.append(
            SourceError(name, line, f"bad YAML: {exc.problem or exc}", "correct the YAML syntax")
        )
        return []
    if not isinstance(root, yaml.MappingNode) or "entries" not in _mapping(root):
        errors.append(
            SourceError(name, 1, "no top-level 'entries' list", "start the file with 'entries:'")
        )
        return []
    _, seq = _mapping(root)["entries"]
    if not isinstance(seq, yaml.SequenceNode):
        errors.append(SourceError(name, _line(seq), "'entries' is not a list", "use '- id: …'"))
        return []
    entries: list[Entry] = []
    for item in seq.value:
        line = _line(item)
        if not isinstance(item, yaml.MappingNode):
            errors.append(SourceError(name, line, "entry is not a mapping", "use 'id:', …"))
            continue
        fields = _mapping(item)
        entry_id = _scalar_text(fields["id"][1]) if "id" in fields else None
        if not entry_id:
            errors.append(SourceError(name, line, "entry without id", "add 'id: some-kebab-id'"))
            continue
        questions: list[str] = []
        qnode = fields.get("questions", (None, None))[1]
        if qnode is None or not isinstance(qnode, yaml.SequenceNode) or not qnode.value:
            errors.append(
                SourceError(
                    name, line, f"entry '{entry_id}' has no questions", "add a 'questions:' list"
                )
            )
        else:
            for q in qnode.value:
                text = _scalar_text(q)
                if not text or not text.strip():
                    errors.append(
                        SourceError(
                            name,
                            _line(q),
                            f"empty question in entry '{entry_id}'",
                            "write the question text or delete the line",
                        )
                    )
                else:
                    questions.append(text.strip())
        answer: dict[str, str] = {}
        anode = fields.get("answer", (None, None))[1]
        if isinstance(anode, yaml.MappingNode):
            for lang, (_, v) in _mapping(anode).items():
                text = _scalar_text(v)
                if text and text.strip():
                    answer[lang] = text.strip()
        elif anode is not None and (text := _scalar_text(anode)) and text.strip():
            answer["*"] = text.strip()
        if not answer:
            errors.append(
                SourceError(
                    name,
                    _line(anode) if anode is not None else line,
                    f"missing answer in entry '{entry_id}'",
                    "add 'answer:' with a text, or 'zh:' and 'en:' texts",
                )
            )
        tags: list[str] = []
        tnode = fields.get("tags", (None, None))[1]
        if isinstance(tnode, yaml.SequenceNode):
            tags = [str(t.value) for t in tnode.value if isinstance(t, yaml.ScalarNode)]
        entries.append(Entry(entry_id, questions, answer, tags, name, line))
    return entries


def _load_csv(path: Path, errors: list[SourceError]) -> list[Entry]:
    name = str(path)
    by_id: dict[str, Entry] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        if not {"id", "question", "answer"} <= set(header):
            errors.append(
                SourceError(name, 1, f"header is {header}", "use the columns 'id,question,answer'")
            )
            return []
        for row in reader:
            line = reader.line_num
            entry_id = (row.get("id") or "").strip()
            question = (row.get("question") or "").strip()
            answer = (row.get("answer") or "").strip()
            if not entry_id:
                errors.append(SourceError(name, line, "row without id", "fill the 'id' column"))
                continue
            if not question:
                errors.append(
                    SourceError(
                        name, line, f"empty question for '{entry_id}'", "fill the 'question' column"
                    )
                )
            entry = by_id.get(entry_id)
            if entry is None:
                if not answer:
                    errors.append(
                        SourceError(
                            name,
                            line,
                            f"missing answer for '{entry_id}'",
                            "fill the 'answer' column on the first row of the id",
                        )
                    )
                entry = Entry(entry_id, [], {"*": answer} if answer else {}, [], name, line)
                by_id[entry_id] = entry
            if question:
                entry.questions.append(question)
    return list(by_id.values())


def load_sources(
    paths: Iterable[str | Path],
    *,
    passage_max_chars: int = 400,
    overlap_sentences: int = 1,
) -> list[Entry]:
    """Load and validate every source; return their entries or raise :class:`ValidationError`.

    Args:
        paths: Files or folders (FAQ ``.yml``/``.yaml``, ``.csv``, ``.md``/``.txt``).
        passage_max_chars: Target size of document passages.
        overlap_sentences: Sentences repeated between consecutive passages.

    Raises:
        ValidationError: With all problems found (file, line, fix); nothing is returned then.
    """
    from knowledge_base.chunking import split_document

    errors: list[SourceError] = []
    entries: list[Entry] = []
    files = iter_source_files(paths)
    if not files:
        raise ValidationError([SourceError(str(list(paths)), 0, "no sources", "name files")])
    for path in files:
        suffix = path.suffix.lower()
        if not path.is_file():
            errors.append(SourceError(str(path), 0, "file not found", "check the path"))
        elif suffix in FAQ_SUFFIXES:
            entries.extend(_load_yaml(path, errors))
        elif suffix in CSV_SUFFIXES:
            entries.extend(_load_csv(path, errors))
        elif suffix in DOC_SUFFIXES:
            entries.extend(
                split_document(
                    path, max_chars=passage_max_chars, overlap_sentences=overlap_sentences
                )
            )
        else:
            errors.append(
                SourceError(str(path), 0, f"unknown source type '{suffix}'", "use .yml/.csv/.md")
            )
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.kind == "faq" and not _ID_RE.match(entry.id):
            errors.append(
                SourceError(
                    entry.source,
                    entry.line,
                    f"id '{entry.id}' is not kebab-case",
                    "use lower-case words joined by '-'",
                )
            )
        if entry.id in seen:
            first = seen[entry.id]
            errors.append(
                SourceError(
                    entry.source,
                    entry.line,
                    f"duplicate id '{entry.id}' (first at {first.source}:{first.line})",
                    "give each entry its own id, or merge the two entries",
                )
            )
        else:
            seen[entry.id] = entry
    if errors:
        raise ValidationError(errors)
    return entries
