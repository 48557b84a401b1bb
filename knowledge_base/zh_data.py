"""Chinese question-matching data: reading the pair sets and a fixed, leak-free split.

The three pair sets under ``<data>/zh_question_matching/`` (BQ, LCQMC, ATEC+CCKS dev splits)
are the only labelled Chinese data available. The Chinese model (:mod:`knowledge_base.zh_model`)
is trained on one part of them and every figure is reported on the other part. The split is by
connected groups of sentences (two pairs sharing a sentence are in the same group, across all
three sets), so no sentence of a held-out pair was seen in training.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PAIR_FILES",
    "Pair",
    "ZhSplit",
    "data_fingerprint",
    "load_pair_sets",
    "read_pairs",
    "read_unlabelled",
    "split_pairs",
]

Pair = tuple[str, str, int]
"""``(sentence_1, sentence_2, label)``; label 1 = same meaning."""

PAIR_FILES = {
    "bq": "bq_dev.csv",
    "atec_ccks": "atec_ccks_dev.tsv",
    "lcqmc": "lcqmc_dev.tsv",
}
"""Pair set name -> file under ``<data>/zh_question_matching/``."""

UNLABELLED_FILES = ("waimai_10k.csv", "online_shopping_9_cats.csv.gz")
"""Chinese review corpora under ``<data>/sentiment/`` (their text only, no labels)."""


def read_pairs(path: Path) -> list[Pair]:
    """Read ``(text_1, text_2, label)`` rows from the BQ CSV or the LCQMC/ATEC TSV files."""
    rows: list[Pair] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="," if path.suffix == ".csv" else "\t")
        for row in reader:
            if len(row) < 3 or row[2].strip() not in {"0", "1"}:
                continue  # header or malformed line
            a, b = row[0].strip(), row[1].strip()
            if a and b:
                rows.append((a, b, int(row[2])))
    return rows


def load_pair_sets(data: Path) -> dict[str, list[Pair]]:
    """Read every pair set present under ``data/zh_question_matching`` (missing ones skipped)."""
    folder = Path(data) / "zh_question_matching"
    return {
        name: read_pairs(folder / file)
        for name, file in PAIR_FILES.items()
        if (folder / file).is_file()
    }


def read_unlabelled(data: Path, limit: int = 30_000, max_chars: int = 120) -> list[str]:
    """Review texts from ``data/sentiment`` (labels ignored), at most ``limit`` of them."""
    texts: list[str] = []
    folder = Path(data) / "sentiment"
    for name in UNLABELLED_FILES:
        path = folder / name
        if not path.is_file():
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                text = (row.get("review") or "").strip()
                if text:
                    texts.append(text[:max_chars])
    random.Random(0).shuffle(texts)
    return texts[:limit]


def data_fingerprint(data: Path, *, unlabelled: bool = True) -> str:
    """SHA-256 over the names and contents of the files the Chinese model is trained from."""
    digest = hashlib.sha256()
    files = [Path(data) / "zh_question_matching" / f for f in PAIR_FILES.values()]
    if unlabelled:
        files += [Path(data) / "sentiment" / f for f in UNLABELLED_FILES]
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


@dataclass
class ZhSplit:
    """Training and held-out pairs per set (``train[name]``, ``heldout[name]``)."""

    train: dict[str, list[Pair]]
    heldout: dict[str, list[Pair]]
    seed: int
    heldout_share: float

    def train_pairs(self) -> list[Pair]:
        """All training pairs of every set."""
        return [p for pairs in self.train.values() for p in pairs]

    def train_sentences(self) -> set[str]:
        """Every sentence occurring in a training pair."""
        return {s for a, b, _ in self.train_pairs() for s in (a, b)}


def _groups(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Union-find over sentences: sentence -> representative of its connected group."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return {s: find(s) for s in parent}


def split_pairs(
    sets: dict[str, Sequence[Pair]], *, seed: int = 13, heldout_share: float = 0.4
) -> ZhSplit:
    """Split every set into training and held-out pairs by connected groups of sentences.

    Groups are formed over all sets together (a sentence shared by two sets ties them), then
    shuffled with ``seed``; groups go to the held-out part until it holds about
    ``heldout_share`` of the pairs. Group order is sorted before shuffling, so the split
    depends only on the data and the seed.
    """
    group_of = _groups((a, b) for pairs in sets.values() for a, b, _ in pairs)
    size: dict[str, int] = {}
    for pairs in sets.values():
        for a, _, _ in pairs:
            size[group_of[a]] = size.get(group_of[a], 0) + 1
    order = sorted(size)
    random.Random(seed).shuffle(order)
    total = sum(size.values())
    heldout_groups: set[str] = set()
    taken = 0
    for group in order:
        if taken >= heldout_share * total:
            break
        heldout_groups.add(group)
        taken += size[group]
    train = {n: [p for p in ps if group_of[p[0]] not in heldout_groups] for n, ps in sets.items()}
    held = {n: [p for p in ps if group_of[p[0]] in heldout_groups] for n, ps in sets.items()}
    return ZhSplit(train=train, heldout=held, seed=seed, heldout_share=heldout_share)
