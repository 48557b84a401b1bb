"""Reading the public corpora and labelled CSV files, and the fixed evaluation splits."""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sklearn.model_selection import train_test_split

LABELS = ("negative", "neutral", "positive")
SEED = 13
ZH_TEST_SIZE = 0.1
EN_TEST_SIZE = 0.2
WAIMAI_FILE = "waimai_10k.csv"
SHOPPING_FILE = "online_shopping_9_cats.csv.gz"
AIRLINE_FILE = "airline_tweets_dev.csv"
QUESTIONS_DIR = "zh_question_matching"
NEUTRAL_ROWS = 15000

_LABEL_ALIASES = {
    "negative": "negative",
    "neutral": "neutral",
    "positive": "positive",
    "0": "negative",
    "1": "positive",
}


class SentimentDataError(ValueError):
    """A data file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Example:
    """One labelled text.

    Attributes:
        text: The message or review.
        label: ``"negative"``, ``"neutral"`` or ``"positive"``.
        domain: Where it comes from (``"waimai"``, an online-shopping category, ``"airline"``).
    """

    text: str
    label: str
    domain: str = ""


def normalise_label(value: str) -> str:
    """Map a label as written in a file to one of :data:`LABELS`.

    Args:
        value: ``negative``/``neutral``/``positive`` (any case) or ``0``/``1``.

    Returns:
        The canonical label.

    Raises:
        KeyError: For any other value.
    """
    return _LABEL_ALIASES[value.strip().lower()]


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _read_rows(path: Path, required: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` of a CSV file after checking its header."""
    if not path.is_file():
        raise SentimentDataError(f"{path}: file not found")
    try:
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [name for name in required if name not in header]
            if missing:
                raise SentimentDataError(
                    f"{path}: missing column(s) {', '.join(missing)}; "
                    f"expected a header with {', '.join(required)}, found {header or 'no header'}"
                )
            for row in reader:
                yield reader.line_num, row
    except UnicodeDecodeError as exc:
        raise SentimentDataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except (csv.Error, OSError, EOFError) as exc:
        raise SentimentDataError(f"{path}: unreadable CSV ({exc})") from exc


def read_labelled_csv(path: Path) -> list[Example]:
    """Read an evaluation file with columns ``text,label``.

    Args:
        path: CSV file (UTF-8, header line ``text,label``; other columns are ignored).

    Returns:
        The examples, labels normalised.

    Raises:
        SentimentDataError: If the file is missing, not UTF-8, lacks a column, has an empty
            text or an unknown label, or holds no rows. The message names the file and line.
    """
    path = Path(path)
    examples = []
    for line, row in _read_rows(path, ("text", "label")):
        text = (row.get("text") or "").strip()
        raw = row.get("label") or ""
        if not text:
            raise SentimentDataError(f"{path}: line {line}: empty text")
        try:
            label = normalise_label(raw)
        except KeyError:
            raise SentimentDataError(
                f"{path}: line {line}: unknown label {raw!r} "
                "(expected negative, neutral, positive, 0 or 1)"
            ) from None
        examples.append(Example(text, label))
    if not examples:
        raise SentimentDataError(f"{path}: no data rows")
    return examples


def write_labelled_csv(path: Path, examples: Iterable[Example]) -> None:
    """Write examples as ``text,label`` CSV (the format :func:`read_labelled_csv` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((ex.text, ex.label) for ex in examples)


def load_zh_reviews(data_dir: Path) -> list[Example]:
    """Load the Chinese review corpora (food delivery and online shopping, binary labels).

    Args:
        data_dir: Folder holding ``waimai_10k.csv`` and ``online_shopping_9_cats.csv.gz``.

    Returns:
        Examples with domain ``"waimai"`` or the shopping category (``"书籍"``, ``"手机"``, …).
    """
    data_dir = Path(data_dir)
    examples = []
    path = data_dir / WAIMAI_FILE
    for line, row in _read_rows(path, ("label", "review")):
        examples.extend(_review(path, line, row, "waimai"))
    path = data_dir / SHOPPING_FILE
    for line, row in _read_rows(path, ("cat", "label", "review")):
        examples.extend(_review(path, line, row, row["cat"]))
    return examples


def _review(path: Path, line: int, row: dict[str, str], domain: str) -> list[Example]:
    text = (row.get("review") or "").replace("\ufeff", "").strip()
    if not text:
        return []
    try:
        label = normalise_label(row.get("label") or "")
    except KeyError:
        raise SentimentDataError(f"{path}: line {line}: unknown label {row['label']!r}") from None
    return [Example(text, label, domain)]


def load_en_tweets(data_dir: Path) -> list[Example]:
    """Load the English airline customer-service tweets (three classes).

    Args:
        data_dir: Folder holding ``airline_tweets_dev.csv``.

    Returns:
        Examples with domain ``"airline"``.
    """
    path = Path(data_dir) / AIRLINE_FILE
    examples = []
    for line, row in _read_rows(path, ("text", "sentiment")):
        text = (row.get("text") or "").strip()
        if not text:
            continue
        try:
            label = normalise_label(row.get("sentiment") or "")
        except KeyError:
            raise SentimentDataError(
                f"{path}: line {line}: unknown sentiment {row['sentiment']!r}"
            ) from None
        examples.append(Example(text, label, "airline"))
    return examples


def default_neutral_dir(data_dir: Path) -> Path:
    """Return the folder of the Chinese question corpora next to the sentiment corpora."""
    return Path(data_dir).parent / QUESTIONS_DIR


def load_zh_neutral(question_dir: Path, limit: int = NEUTRAL_ROWS) -> list[Example]:
    """Load Chinese customer-service questions as examples of the neutral class.

    The review corpora have no neutral class, and a review model reads a plain question such
    as "请问怎么退货" as a complaint. The question-matching corpora (BQ and ATEC/CCKS: bank and
    payment customer service; LCQMC: general questions) supply what neutral chat looks like.
    Both sentences of every pair are used, deduplicated, and a fixed random sample is kept.

    Args:
        question_dir: Folder holding ``bq_dev.csv``, ``atec_ccks_dev.tsv``, ``lcqmc_dev.tsv``.
        limit: Number of sentences to keep (seeded sample).

    Returns:
        Examples labelled ``"neutral"`` with domain ``"questions"``.
    """
    question_dir = Path(question_dir)
    sentences: dict[str, None] = {}
    for _, row in _read_rows(question_dir / "bq_dev.csv", ("sentence1", "sentence2")):
        sentences.update(dict.fromkeys((row["sentence1"], row["sentence2"])))
    for name in ("atec_ccks_dev.tsv", "lcqmc_dev.tsv"):
        path = question_dir / name
        if not path.is_file():
            raise SentimentDataError(f"{path}: file not found")
        with path.open(encoding="utf-8-sig") as handle:
            for line in handle:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 2 and fields[:2] != ["text_1", "text_2"]:
                    sentences.update(dict.fromkeys(fields[:2]))
    texts = sorted(text.strip() for text in sentences if text and text.strip())
    random.Random(SEED).shuffle(texts)
    return [Example(text, "neutral", "questions") for text in texts[:limit]]


def split_neutral(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """Return the fixed (train, test) split of the neutral questions (10 %, seed)."""
    train, test = train_test_split(list(examples), test_size=ZH_TEST_SIZE, random_state=SEED)
    return train, test


def split_zh(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """Return the fixed (train, test) split of the Chinese reviews.

    10 % held out with seed :data:`SEED`, stratified by source (delivery/shopping) and label.
    """
    strata = [f"{ex.domain == 'waimai'}-{ex.label}" for ex in examples]
    train, test = train_test_split(
        list(examples), test_size=ZH_TEST_SIZE, random_state=SEED, stratify=strata
    )
    return train, test


def split_en(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """Return the fixed (train, test) split of the airline tweets (20 %, seed, by label)."""
    train, test = train_test_split(
        list(examples),
        test_size=EN_TEST_SIZE,
        random_state=SEED,
        stratify=[ex.label for ex in examples],
    )
    return train, test


def split_held_out_domain(
    examples: Sequence[Example], domain: str
) -> tuple[list[Example], list[Example]]:
    """Return (all other domains, this domain): the cross-domain split."""
    train = [ex for ex in examples if ex.domain != domain]
    test = [ex for ex in examples if ex.domain == domain]
    if not test:
        raise ValueError(f"no examples of domain {domain!r}")
    return train, test
