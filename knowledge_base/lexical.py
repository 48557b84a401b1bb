"""Lexical retrieval: BM25 (bm25s) over tokens from an injectable tokenizer."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge_base.tokens import TokenizerFn

__all__ = ["LexicalIndex"]


class LexicalIndex:
    """BM25 over pre-tokenised documents, with a query-normalised score.

    The raw BM25 score depends on the query's length; :meth:`scores` also returns it divided
    by the query's total IDF mass (unknown query tokens count with the largest IDF), which is
    about 1 for a document holding every query token once and 0 for none: a score usable
    against a threshold.
    """

    def __init__(
        self, docs_ids: list[list[int]], vocab: dict[str, int], k1: float = 1.2, b: float = 0.75
    ) -> None:
        import bm25s
        from bm25s.tokenization import Tokenized

        self.vocab = vocab
        self.docs_ids = docs_ids
        self.k1, self.b = k1, b
        n = len(docs_ids)
        df = Counter(t for doc in docs_ids for t in set(doc))
        self.idf = np.zeros(len(vocab) + 1, dtype=np.float32)
        for tid, count in df.items():
            self.idf[tid] = math.log(1 + (n - count + 0.5) / (count + 0.5))
        self.max_idf = math.log(1 + (n + 0.5) / 0.5)
        self.retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        vocab_full = dict(vocab)
        vocab_full.setdefault("", len(vocab))  # bm25s wants an empty token for empty docs
        self.retriever.index(
            Tokenized(ids=[d or [vocab_full[""]] for d in docs_ids], vocab=vocab_full),
            show_progress=False,
        )

    @classmethod
    def build(cls, texts: Sequence[str], tokenizer: TokenizerFn) -> LexicalIndex:
        """Tokenise and index ``texts``."""
        vocab: dict[str, int] = {}
        docs = [[vocab.setdefault(t, len(vocab)) for t in tokenizer(text)] for text in texts]
        return cls(docs, vocab)

    def __len__(self) -> int:
        return len(self.docs_ids)

    def scores(self, tokens: Sequence[str]) -> tuple[np.ndarray, float]:
        """Return BM25 scores of every document and the query's IDF mass (normaliser)."""
        unique = list(dict.fromkeys(tokens))
        known = [self.vocab[t] for t in unique if t in self.vocab]
        mass = float(sum(self.idf[t] for t in known) + self.max_idf * (len(unique) - len(known)))
        if not known:
            return np.zeros(len(self), dtype=np.float32), max(mass, 1e-9)
        return self.retriever.get_scores_from_ids(known), max(mass, 1e-9)

    def pair_score(self, query: Sequence[str], doc: Sequence[str]) -> float:
        """Query-normalised BM25 of ``query`` tokens against any token list.

        Uses this index's IDF and average length; meant for scoring sentence pairs.
        """
        if not hasattr(self, "_avgdl"):
            self._avgdl = max(1.0, sum(map(len, self.docs_ids)) / max(1, len(self.docs_ids)))
        unique = list(dict.fromkeys(query))
        counts = Counter(doc)
        norm = self.k1 * (1 - self.b + self.b * len(doc) / self._avgdl)
        score = mass = 0.0
        for token in unique:
            tid = self.vocab.get(token)
            idf = float(self.idf[tid]) if tid is not None else self.max_idf
            mass += idf
            tf = counts.get(token, 0)
            if tf:
                score += idf * tf * (self.k1 + 1) / (tf + norm)
        return score / mass if mass else 0.0

    def save(self, directory: Path, name: str = "lexical") -> None:
        """Write ``<name>.json`` (vocabulary and token ids) into ``directory``."""
        data = {"k1": self.k1, "b": self.b, "vocab": list(self.vocab), "docs": self.docs_ids}
        (directory / f"{name}.json").write_text(json.dumps(data, separators=(",", ":")))

    @classmethod
    def load(cls, directory: Path, name: str = "lexical") -> LexicalIndex:
        """Read an index written by :meth:`save` (BM25 matrices are rebuilt, in milliseconds)."""
        data = json.loads((directory / f"{name}.json").read_text())
        vocab = {t: i for i, t in enumerate(data["vocab"])}
        return cls(data["docs"], vocab, k1=data["k1"], b=data["b"])
