"""Splitting long documents (Markdown / plain text) into overlapping passages."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from knowledge_base.normalize import detect_lang
from knowledge_base.sources import Entry

__all__ = ["split_document", "split_sentences"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@lru_cache(maxsize=2)
def _nlp(lang: str):  # noqa: ANN202 - spaCy Language
    import spacy

    nlp = spacy.blank(lang)  # zh: spaCy's default char segmenter; sentences need no words
    nlp.add_pipe("sentencizer")
    return nlp


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with spaCy's rule-based sentencizer (zh or en)."""
    text = text.strip()
    if not text:
        return []
    doc = _nlp(detect_lang(text))(text)
    return [s.text.strip() for s in doc.sents if s.text.strip()]


def _sections(text: str, title: str) -> list[tuple[list[str], str]]:
    """Return (heading path, body) pairs; the first ``#`` heading becomes the title."""
    path: list[tuple[int, str]] = []
    sections: list[tuple[list[str], str]] = []
    body: list[str] = []

    def flush() -> None:
        if "".join(body).strip():
            sections.append(([h for _, h in path], "\n".join(body)))
        body.clear()

    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            path = [(lv, h) for lv, h in path if lv < level] + [(level, match.group(2))]
        else:
            body.append(line)
    flush()
    return sections


def split_document(path: Path, *, max_chars: int = 400, overlap_sentences: int = 1) -> list[Entry]:
    """Split one document into passages by headings, then sentences, with overlap.

    Args:
        path: A Markdown or plain-text file.
        max_chars: Passages grow sentence by sentence up to about this many characters.
        overlap_sentences: Trailing sentences of a passage that start the next one.

    Returns:
        One :class:`Entry` of kind ``"passage"`` per passage, keeping title and heading path.
    """
    text = path.read_text(encoding="utf-8")
    title = path.stem
    first = next((m for m in map(_HEADING.match, text.splitlines()) if m), None)
    if first and len(first.group(1)) == 1:
        title = first.group(2)
    entries: list[Entry] = []
    for headings, body in _sections(text, title):
        heads = [h for h in headings if h != title]
        paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
        sentences = [s for p in paragraphs for s in split_sentences(" ".join(p.split("\n")))]
        start = 0
        while start < len(sentences):
            end, size = start, 0
            while end < len(sentences) and (
                end == start or size + len(sentences[end]) <= max_chars
            ):
                size += len(sentences[end])
                end += 1
            chunk = sentences[start:end]
            passage = ("" if detect_lang(" ".join(chunk)) == "zh" else " ").join(chunk)
            context = " / ".join([title, *heads])
            entries.append(
                Entry(
                    id=f"{path.stem}#{len(entries) + 1}",
                    questions=[f"{context}: {passage}"],
                    answer={"*": passage},
                    source=str(path),
                    line=1,
                    kind="passage",
                    title=title,
                    headings=heads,
                )
            )
            if end >= len(sentences):
                break
            start = max(end - overlap_sentences, start + 1)
    return entries
