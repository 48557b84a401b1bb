"""A Chinese semantic signal trained by the project on top of a pretrained multilingual encoder.

``kb train-zh`` adapts it to the Chinese question-matching pairs (training part of a fixed
split, see :mod:`knowledge_base.zh_data`):

* **Sentence vectors.** Each sentence gets (a) the vector of a small n-gram encoder trained here
  (TF-IDF-weighted sum of embeddings of its character 1–3-grams and jieba words, started from
  an LSA factorisation and trained contrastively in torch) and (b) the vector of the packaged
  multilingual encoder (USE multilingual v3, :mod:`knowledge_base.encoders`), plus that vector
  passed through a residual linear **adapter** trained contrastively on the same pairs. The
  retrieval vector is both side by side, so its cosine is a weighted sum of the n-gram cosine
  and the adapted cosine (weight chosen on the training folds).
* **Pair scorer.** Gradient boosting (scikit-learn ``HistGradientBoostingClassifier``, exported
  to numpy arrays) over cheap features of a (query, candidate) pair: the n-gram cosine, the
  multilingual cosine, the adapted cosine, a logistic-regression **head** over the
  element-wise product and absolute difference of the two multilingual vectors, topic
  coordinates of both encoders, IDF-weighted coverage both ways, TF-IDF cosine,
  character/word Jaccard, longest common substring and subsequence, edit distance, lengths,
  and digit, negation and question-word mismatches. Every learned feature of its training
  rows comes from models trained on the other folds (cross-fitting), so the trees learn how
  far each holds on unseen sentences. It answers "do these two sentences mean the same?".
* **Reranker.** The same kind of trees over the same features (but the topic coordinates,
  which would not carry over to another domain) plus each feature's margin over the best
  candidate of another entry, trained on candidate lists as retrieval meets them: every
  training sentence's labelled partners, its nearest training sentences (by the fold's
  retrieval vector and by multilingual + TF-IDF similarity, seen and unseen by the fold's
  models, as an index holds both) and more distant ones. Its probability that a candidate is
  the one reranks the best candidates of Chinese queries; it never prefers a candidate for
  being farther by an encoder or for a smaller margin (monotonic constraints). Candidates
  sharing no character with the query (English variants, or paraphrases in other words),
  which the training lists hardly hold, get a semantic reranker's probability instead (the
  multilingual features and their margins only, monotonic in each).

At search time everything is numpy. The multilingual vector of a text is computed once (in a
batch for indexed texts, cached); callers that already have it (the knowledge base encodes
every query with the same encoder) pass it in and nothing is encoded twice.

Everything is saved atomically into one folder (``ZH_MODEL_DIR``, default ``var/kb-zh``) with a
manifest holding the hash of the inputs (data, hyper-parameters, version and the multilingual
encoder's fingerprint); the knowledge base uses it for Chinese queries when it is present,
current and ``USE_ZH_MODEL`` is true.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from knowledge_base.normalize import for_embedding, normalize
from knowledge_base.tokens import _jieba

__all__ = [
    "FEATURE_NAMES",
    "ZH_MODEL_VERSION",
    "PreparedText",
    "TreeEnsemble",
    "UseAdapter",
    "ZhEncoder",
    "ZhModel",
    "load_zh_model",
    "pair_features",
    "prepare",
    "sentence_features",
    "shared_multilingual",
    "train_zh_model",
]

ZH_MODEL_VERSION = "zh-ngram-use-gbm/v4"
"""Changes whenever features or training change (part of the training-input hash)."""

DEFAULT_MULTILINGUAL = "use-multilingual-v3"
"""The packaged encoder the model is adapted to (see :mod:`knowledge_base.encoders`)."""

_log = logging.getLogger(__name__)

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z]+|[0-9]+")
_DIGITS = re.compile(r"[0-9]+|[零一二三四五六七八九十百千万两]+")
_NEGATIONS = ("不", "没", "无", "未", "别", "非", "否")
_QUESTION_WORDS = (
    "什么", "怎么", "为什么", "为啥", "哪", "多少", "几", "谁", "如何", "是否", "能否",
    "可以", "吗", "多久", "何时", "怎样", "区别", "意思",
)  # fmt: skip


def sentence_features(text: str) -> list[str]:
    """Features of a sentence: character 1–3-grams of Chinese runs, jieba words, other words.

    The text is normalised first (NFKC, case, traditional -> simplified, punctuation).
    """
    feats: list[str] = []
    for run in _CJK_RUN.findall(normalize(text)):
        if run.isascii():
            feats.append("e:" + run)
            continue
        feats.extend("1:" + ch for ch in run)
        feats.extend("2:" + run[i : i + 2] for i in range(len(run) - 1))
        feats.extend("3:" + run[i : i + 3] for i in range(len(run) - 2))
        feats.extend("w:" + w for w in _jieba().lcut(run) if len(w) > 1)
    return feats


@lru_cache(maxsize=4)
def shared_multilingual(name: str):  # noqa: ANN201 - an encoders.py encoder
    """One packaged multilingual encoder per name and process (weights load on first use)."""
    from knowledge_base.encoders import multilingual_encoder

    return multilingual_encoder(name)


def _installed_fingerprint(name: str) -> str | None:
    """Fingerprint of the installed encoder ``name``, ``None`` when it is not installed."""
    try:
        return shared_multilingual(name).fingerprint()
    except (RuntimeError, ValueError):
        return None


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


@dataclass
class PreparedText:
    """What the pair features need of one sentence (computed once per sentence)."""

    text: str
    feats: Counter
    words: set[str]
    chars: set[str]
    bigrams: set[str]
    digits: set[str]
    negations: int
    qwords: frozenset[str]
    ngram: np.ndarray = field(repr=False)
    """The n-gram encoder's vector (unit length, or zeros when no feature is known)."""
    use: np.ndarray = field(repr=False)
    """The multilingual encoder's vector (unit length)."""
    adapted: np.ndarray = field(repr=False)
    """The adapter's output for :attr:`use` (unit length)."""
    topics: np.ndarray = field(repr=False)
    """Coordinates of :attr:`use` on the training sentences' principal axes."""
    vector: np.ndarray = field(repr=False)
    """Retrieval vector: ``[√w·ngram, √(1−w)·adapted]``, its dot product a weighted cosine."""
    weights: dict[str, float] = field(default_factory=dict, repr=False)
    norm: float = 1.0


def _lcs_substring(a: str, b: str) -> int:
    """Length of the longest common substring."""
    if not a or not b:
        return 0
    best = 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, 1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


def _lcs_and_edit(a: str, b: str) -> tuple[int, int]:
    """Longest common subsequence length and Levenshtein distance (bit-parallel).

    LCS after Hyyrö (2004), edit distance after Myers (1999): one pass over ``b`` with
    Python integers as bit vectors over ``a``.
    """
    if not a or not b:
        return 0, len(a) + len(b)
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    last = 1 << (len(a) - 1)
    lcs_v = full
    pv, mv, dist = full, 0, len(a)
    for ch in b:
        eq = masks.get(ch, 0)
        u = lcs_v & eq
        lcs_v = ((lcs_v + u) | (lcs_v - u)) & full
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & last:
            dist += 1
        elif mh & last:
            dist -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return len(a) - bin(lcs_v).count("1"), dist


class ZhEncoder:
    """TF-IDF-weighted sum of n-gram embeddings, L2-normalised (numpy at search time).

    Args:
        vocab: Feature -> row of ``emb``.
        idf: IDF of each feature (``len(vocab)`` values).
        emb: Embedding table, ``(len(vocab), dim)`` float32.
    """

    def __init__(self, vocab: dict[str, int], idf: np.ndarray, emb: np.ndarray) -> None:
        self.vocab = vocab
        self.idf = idf.astype(np.float32)
        self.emb = np.ascontiguousarray(emb, dtype=np.float32)
        self.max_idf = float(self.idf.max()) if len(self.idf) else 1.0

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        return int(self.emb.shape[1])

    def weights(self, feats: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Known feature ids and their L2-normalised sublinear TF-IDF weights."""
        counts = Counter(f for f in feats if f in self.vocab)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = np.fromiter((self.vocab[f] for f in counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter((1 + math.log(c) for c in counts.values()), np.float32, len(counts))
        w = tf * self.idf[ids]
        return ids, w / max(float(np.linalg.norm(w)), 1e-9)

    def encode_features(self, feats: Sequence[str]) -> np.ndarray:
        """Vector of one sentence's features."""
        ids, w = self.weights(feats)
        if not len(ids):
            return np.zeros(self.dim, dtype=np.float32)
        vector = w @ self.emb[ids]
        return vector / max(float(np.linalg.norm(vector)), 1e-9)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (zeros for no known feature)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.encode_features(sentence_features(text))
        return out


class UseAdapter:
    """What the model learned on top of the multilingual encoder's vectors (numpy).

    Args:
        residual: ``(d, d)``; the adapted vector of ``u`` is ``unit(u + u @ residual)``,
            trained contrastively on the training pairs (zeros = the encoder unchanged).
        head: ``(2d,)`` weights of a logistic regression over ``[u * v, |u - v|]`` (the
            element-wise product and absolute difference of a pair's vectors).
        head_bias: Its intercept.
        mean: ``(d,)`` mean vector of the training sentences.
        components: ``(d, k)`` their principal axes (topic coordinates).
        ngram_weight: Share ``w`` of the n-gram cosine in the retrieval vector's cosine.
    """

    def __init__(
        self,
        residual: np.ndarray,
        head: np.ndarray,
        head_bias: float,
        mean: np.ndarray,
        components: np.ndarray,
        ngram_weight: float = 0.5,
    ) -> None:
        self.residual = np.ascontiguousarray(residual, dtype=np.float32)
        self.head = np.asarray(head, dtype=np.float32)
        self.head_bias = float(head_bias)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.components = np.ascontiguousarray(components, dtype=np.float32)
        self.ngram_weight = float(ngram_weight)

    @property
    def dim(self) -> int:
        """Dimension of the multilingual vectors."""
        return int(self.residual.shape[0])

    def adapt(self, vectors: np.ndarray) -> np.ndarray:
        """Adapted unit vectors of multilingual vectors (one row each)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        return _unit(vectors + vectors @ self.residual)

    def topics(self, vectors: np.ndarray) -> np.ndarray:
        """Topic coordinates of multilingual vectors."""
        return (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.components

    def head_logit(self, u: np.ndarray, v: np.ndarray) -> float:
        """The head's logit for a pair of multilingual vectors (symmetric)."""
        d = self.dim
        return float(self.head[:d] @ (u * v) + self.head[d:] @ np.abs(u - v) + self.head_bias)

    def retrieval_vector(self, ngram: np.ndarray, adapted: np.ndarray) -> np.ndarray:
        """``[√w·ngram, √(1−w)·adapted]``: dot products are ``w·cos + (1−w)·cos_adapted``."""
        w = self.ngram_weight
        return np.concatenate([math.sqrt(w) * ngram, math.sqrt(1 - w) * adapted], axis=-1)

    def save(self, path: Path) -> None:
        """Write the arrays to ``path`` (``.npz``)."""
        np.savez(
            path, residual=self.residual, head=self.head, head_bias=np.asarray([self.head_bias]),
            mean=self.mean, components=self.components,
            ngram_weight=np.asarray([self.ngram_weight]),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> UseAdapter:
        """Read arrays written by :meth:`save`."""
        with np.load(path) as data:
            return cls(
                data["residual"], data["head"], float(data["head_bias"][0]), data["mean"],
                data["components"], float(data["ngram_weight"][0]),
            )  # fmt: skip


def prepare(
    text: str, encoder: ZhEncoder, adapter: UseAdapter, use_vector: np.ndarray
) -> PreparedText:
    """Pre-compute what :func:`pair_features` needs of ``text``.

    Args:
        text: The sentence.
        encoder: The n-gram encoder.
        adapter: The adapter of the multilingual vectors.
        use_vector: The multilingual encoder's vector of ``for_embedding(text)``.
    """
    feats = sentence_features(text)
    counts = Counter(feats)
    plain = "".join(_CJK_RUN.findall(normalize(text)))
    weights = {}
    for f, c in counts.items():
        idf = float(encoder.idf[encoder.vocab[f]]) if f in encoder.vocab else encoder.max_idf
        weights[f] = (1 + math.log(c)) * idf
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    use = _unit(np.asarray(use_vector, dtype=np.float32).reshape(-1))
    if len(use) != adapter.dim:
        raise ValueError(
            f"multilingual vector of dimension {len(use)}, the model expects {adapter.dim}"
        )
    ngram = encoder.encode_features(feats)
    adapted = adapter.adapt(use[None, :])[0]
    return PreparedText(
        text=plain,
        feats=counts,
        words={f for f in counts if f.startswith(("w:", "e:"))},
        chars={f for f in counts if f.startswith("1:")},
        bigrams={f for f in counts if f.startswith("2:")},
        digits=set(_DIGITS.findall(plain)),
        negations=sum(plain.count(n) for n in _NEGATIONS),
        qwords=frozenset(q for q in _QUESTION_WORDS if q in plain),
        ngram=ngram,
        use=use,
        adapted=adapted,
        topics=adapter.topics(use[None, :])[0],
        vector=adapter.retrieval_vector(ngram, adapted),
        weights=weights,
        norm=norm,
    )


N_TOPICS = 8
"""Topic coordinates per encoder among the pair features."""

FEATURE_NAMES = (
    "cosine", "tfidf_cosine", "cover_ab", "cover_ba", "cover_min", "char_jaccard",
    "bigram_jaccard", "word_jaccard", "missing_a_max_idf", "missing_b_max_idf", "lcsubstr_min",
    "lcsubstr_max", "lcsubseq_max", "edit_ratio", "len_a", "len_b", "len_ratio", "len_diff",
    "digits_differ", "has_digits", "negation_differ", "qwords_differ", "qwords_shared",
    *(f"topic_{i}" for i in range(N_TOPICS)),
    "use_cosine", "adapted_cosine", "use_head",
    *(f"use_topic_{i}" for i in range(N_TOPICS)),
)  # fmt: skip
"""Names of the pair features, in order (``cosine``: the n-gram encoder's)."""


def _jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def pair_features(a: PreparedText, b: PreparedText, adapter: UseAdapter) -> list[float]:
    """Features of a sentence pair (see :data:`FEATURE_NAMES`); symmetric ones are symmetric."""
    shared = a.weights.keys() & b.weights.keys()
    dot = sum(a.weights[f] * b.weights[f] for f in shared)
    mass_a = sum(a.weights.values()) or 1.0
    mass_b = sum(b.weights.values()) or 1.0
    cover_ab = sum(a.weights[f] for f in shared) / mass_a
    cover_ba = sum(b.weights[f] for f in shared) / mass_b
    missing_a = max((a.weights[f] for f in a.words - b.words), default=0.0)
    missing_b = max((b.weights[f] for f in b.words - a.words), default=0.0)
    la, lb = len(a.text), len(b.text)
    short, long = max(1, min(la, lb)), max(1, la, lb)
    sub = _lcs_substring(a.text, b.text)
    seq, edit = _lcs_and_edit(a.text, b.text)
    return [
        float(a.ngram @ b.ngram),
        dot / (a.norm * b.norm),
        cover_ab,
        cover_ba,
        min(cover_ab, cover_ba),
        _jaccard(a.chars, b.chars),
        _jaccard(a.bigrams, b.bigrams),
        _jaccard(a.words, b.words),
        missing_a,
        missing_b,
        sub / short,
        sub / long,
        seq / long,
        edit / long,
        float(la),
        float(lb),
        short / long,
        float(abs(la - lb)),
        float(a.digits != b.digits),
        float(bool(a.digits or b.digits)),
        float((a.negations % 2) != (b.negations % 2)),
        float(len(a.qwords ^ b.qwords)),
        float(len(a.qwords & b.qwords)),
        *(0.5 * (a.ngram[:N_TOPICS] + b.ngram[:N_TOPICS])).tolist(),
        float(a.use @ b.use),
        float(a.adapted @ b.adapted),
        adapter.head_logit(a.use, b.use),
        *(0.5 * (a.topics + b.topics)).tolist(),
    ]


LIST_FEATURES = (
    "cosine", "tfidf_cosine", "cover_min", "use_cosine", "adapted_cosine", "use_head",
    "lcsubseq_max", "edit_ratio",
)  # fmt: skip
"""Pair features the reranker also sees relative to the other candidates of the query."""

_RERANK_COLUMNS = [i for i, n in enumerate(FEATURE_NAMES) if "topic_" not in n]
_LIST_COLUMNS = [FEATURE_NAMES.index(n) for n in LIST_FEATURES]

RERANK_FEATURE_NAMES = (
    *(FEATURE_NAMES[i] for i in _RERANK_COLUMNS),
    *(f"{n}_margin" for n in LIST_FEATURES),
)
"""The reranker's inputs: :data:`FEATURE_NAMES` but the topic coordinates (which tell the
training sets' topics apart and would not carry over to a knowledge base of another
domain), then for each of :data:`LIST_FEATURES` the candidate's value minus the best value
among the query's candidates of other entries (0 when there are none)."""


SEMANTIC_FEATURES = ("use_cosine", "adapted_cosine", "use_head")
"""What the semantic reranker reads (with their margins). It scores the candidates that share
no character with the query (English variants of a Chinese query, or Chinese paraphrases in
other words): the training lists hardly hold such candidates, so what the lexical features
would say of them is an extrapolation."""

_SEMANTIC_COLUMNS = [
    RERANK_FEATURE_NAMES.index(n)
    for n in (*SEMANTIC_FEATURES, *(f"{c}_margin" for c in SEMANTIC_FEATURES))
]
_MORE_ALIKE = (
    "cosine", "tfidf_cosine", "cover_ab", "cover_ba", "cover_min", "char_jaccard",
    "bigram_jaccard", "word_jaccard", "lcsubstr_min", "lcsubstr_max", "lcsubseq_max",
    "use_cosine", "adapted_cosine", "use_head",
)  # fmt: skip
_LESS_ALIKE = (
    "missing_a_max_idf", "missing_b_max_idf", "edit_ratio", "digits_differ", "negation_differ",
    "qwords_differ",
)  # fmt: skip


_ENCODER_SIMILARITIES = ("cosine", "use_cosine", "adapted_cosine", "use_head")


def _monotonic(names: Sequence[str], mode: str) -> list[int] | None:
    """Monotonic constraints of the reranker (+1: never less likely when more alike, -1, 0).

    ``mode``: ``"all"`` (every similarity feature and margin), ``"relative"`` (the encoders'
    similarities and every margin), ``"none"``.
    """
    if mode == "none":
        return None
    out = []
    for name in names:
        base = name.removesuffix("_margin")
        sign = 1 if base in _MORE_ALIKE else -1 if base in _LESS_ALIKE else 0
        if mode == "relative" and not (name.endswith("_margin") or base in _ENCODER_SIMILARITIES):
            sign = 0
        out.append(sign)
    return out


def list_features(rows: np.ndarray, groups: Sequence[object] | None = None) -> np.ndarray:
    """The reranker's inputs (:data:`RERANK_FEATURE_NAMES`) for one query's candidates.

    A candidate's margin is its value minus the best value among the candidates of other
    groups.

    Args:
        rows: :func:`pair_features` of the query and each candidate.
        groups: The group of each candidate (its entry: variants of one entry do not compete
            with each other); default: each candidate its own group.
    """
    rows = np.asarray(rows, dtype=np.float32)
    values = rows[:, _LIST_COLUMNS]
    margins = np.zeros_like(values)
    keys = np.arange(len(rows)) if groups is None else np.unique(groups, return_inverse=True)[1]
    for key in np.unique(keys):
        inside = keys == key
        if not inside.all():
            margins[inside] = values[inside] - values[~inside].max(axis=0)
    return np.hstack([rows[:, _RERANK_COLUMNS], margins])


class TreeEnsemble:
    """A fitted binary ``HistGradientBoostingClassifier`` as flat numpy arrays.

    Predicts the same probabilities with every tree walked at once (vectorised over rows and
    trees): well under a millisecond for a query's candidates, with no OpenMP thread pool
    (which, on a busy 2-core machine, made scikit-learn's own predict take up to seconds).

    Args:
        feature, threshold, left, right, value, is_leaf: One entry per node of all trees.
        roots: Index of each tree's root node.
        baseline: The model's initial raw prediction (log-odds).
    """

    def __init__(
        self,
        feature: np.ndarray,
        threshold: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        value: np.ndarray,
        is_leaf: np.ndarray,
        roots: np.ndarray,
        baseline: float,
    ) -> None:
        self.feature = feature.astype(np.int64)
        self.threshold = threshold.astype(np.float64)
        self.left = left.astype(np.int64)
        self.right = right.astype(np.int64)
        self.value = value.astype(np.float64)
        self.is_leaf = is_leaf.astype(bool)
        self.roots = roots.astype(np.int64)
        self.baseline = float(baseline)

    @classmethod
    def from_sklearn(cls, model: object) -> TreeEnsemble:
        """Convert a fitted binary ``HistGradientBoostingClassifier``."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("f", "t", "l", "r", "v", "leaf")}
        roots, offset = [], 0
        for (predictor,) in model._predictors:  # noqa: SLF001 - the fitted trees
            nodes = predictor.nodes
            roots.append(offset)
            parts["f"].append(nodes["feature_idx"])
            parts["t"].append(nodes["num_threshold"])
            parts["l"].append(nodes["left"].astype(np.int64) + offset)
            parts["r"].append(nodes["right"].astype(np.int64) + offset)
            parts["v"].append(nodes["value"])
            parts["leaf"].append(nodes["is_leaf"])
            offset += len(nodes)
        baseline = float(np.ravel(model._baseline_prediction)[0])  # noqa: SLF001
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        return cls(
            cat["f"], cat["t"], cat["l"], cat["r"], cat["v"], cat["leaf"], np.asarray(roots),
            baseline,
        )  # fmt: skip

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """``(n, 2)`` class probabilities, as scikit-learn's ``predict_proba``."""
        rows = np.asarray(rows, dtype=np.float64)
        n_rows, n_trees = len(rows), len(self.roots)
        node = np.tile(self.roots, n_rows)  # (row, tree) flattened
        flat = rows.ravel()
        base = np.repeat(np.arange(n_rows) * rows.shape[1], n_trees)
        todo = np.arange(len(node))
        while len(todo):  # walk the (row, tree) paths not yet at a leaf, one level a time
            current = node[todo]
            inner = ~self.is_leaf[current]
            todo, current = todo[inner], current[inner]
            go_left = flat[base[todo] + self.feature[current]] <= self.threshold[current]
            node[todo] = np.where(go_left, self.left[current], self.right[current])
        raw = self.baseline + self.value[node].reshape(n_rows, n_trees).sum(axis=1)
        positive = 1.0 / (1.0 + np.exp(-raw))
        return np.stack([1 - positive, positive], axis=1)

    def save(self, path: Path) -> None:
        """Write the arrays to ``path`` (``.npz``)."""
        np.savez(
            path, feature=self.feature, threshold=self.threshold, left=self.left,
            right=self.right, value=self.value, is_leaf=self.is_leaf, roots=self.roots,
            baseline=np.asarray([self.baseline]),
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> TreeEnsemble:
        """Read arrays written by :meth:`save`."""
        with np.load(path) as data:
            return cls(
                data["feature"], data["threshold"], data["left"], data["right"], data["value"],
                data["is_leaf"], data["roots"], float(data["baseline"][0]),
            )  # fmt: skip


class ZhModel:
    """The trained Chinese model: n-gram encoder, multilingual adapter, pair scorers, manifest.

    Args:
        encoder: The n-gram sentence encoder.
        adapter: What was learned on the multilingual encoder's vectors (:class:`UseAdapter`).
        scorer: The pair scorer over :func:`pair_features` (a :class:`TreeEnsemble`), fitted
            on the labelled pairs: "do these two sentences mean the same?".
        reranker: Over :data:`RERANK_FEATURE_NAMES` of candidate lists (labelled partners,
            nearest and more distant training sentences): "is this candidate the one?".
        semantic: The same over the multilingual features only (:data:`SEMANTIC_FEATURES`),
            for candidates sharing no character with the query.
        manifest: What was trained from what (inputs hash, encoder, split, figures).
        path: Folder it was loaded from (``None`` when trained in memory).
        multilingual: The multilingual encoder (default: the packaged one named in the
            manifest, shared per process and loaded on first use).
    """

    def __init__(
        self,
        encoder: ZhEncoder,
        adapter: UseAdapter,
        scorer: TreeEnsemble,
        reranker: TreeEnsemble,
        semantic: TreeEnsemble,
        manifest: dict,
        path: Path | None = None,
        multilingual: object | None = None,
    ) -> None:
        self.encoder = encoder
        self.adapter = adapter
        self.scorer = scorer
        self.reranker = reranker
        self.semantic = semantic
        self.manifest = manifest
        self.path = path
        self._multilingual = multilingual
        self._prepared: dict[str, PreparedText] = {}

    @property
    def multilingual(self):  # noqa: ANN201 - an Embedder
        """The multilingual encoder whose vectors the model was trained on."""
        if self._multilingual is None:
            self._multilingual = shared_multilingual(self.multilingual_name)
        return self._multilingual

    @property
    def multilingual_name(self) -> str:
        """Name of the multilingual encoder (``use-multilingual-v3``)."""
        return self.manifest.get("multilingual", {}).get("name", DEFAULT_MULTILINGUAL)

    @property
    def multilingual_fingerprint(self) -> str:
        """Fingerprint of the multilingual encoder the model was trained with.

        A caller's vectors may be passed to :meth:`prepared` / :meth:`encode` when its encoder
        has the same fingerprint.
        """
        return self.manifest.get("multilingual", {}).get("fingerprint", "")

    @property
    def dim(self) -> int:
        """Dimension of the retrieval vectors (:meth:`encode`)."""
        return self.encoder.dim + self.adapter.dim

    def fingerprint(self) -> str:
        """Identifies this model (version, inputs hash, creation time): changes on retraining."""
        inputs = self.manifest.get("inputs_hash", "")[:16]
        return f"{ZH_MODEL_VERSION}@{inputs}@{self.manifest.get('created_at', '')}"

    def multilingual_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The multilingual encoder's unit vectors of ``for_embedding(text)`` (one batch)."""
        if not texts:
            return np.zeros((0, self.adapter.dim), dtype=np.float32)
        return _unit(self.multilingual.encode([for_embedding(t) for t in texts]))

    def prepare_many(
        self, texts: Sequence[str], use_vectors: np.ndarray | None = None
    ) -> list[PreparedText]:
        """Cached :func:`prepare` of several texts.

        The missing multilingual vectors are computed in one batch unless given
        (``use_vectors``: one row per text, from the encoder of
        :attr:`multilingual_fingerprint`).
        """
        found = {t: self._prepared[t] for t in texts if t in self._prepared}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            if use_vectors is not None:
                row = {t: i for i, t in enumerate(texts)}
                vectors = np.asarray(use_vectors)[[row[t] for t in missing]]
            else:
                vectors = self.multilingual_vectors(missing)
            for text, vector in zip(missing, vectors, strict=True):
                found[text] = prepare(text, self.encoder, self.adapter, vector)
                if len(self._prepared) < 200_000:
                    self._prepared[text] = found[text]
        return [found[t] for t in texts]

    def prepared(self, text: str, use_vector: np.ndarray | None = None) -> PreparedText:
        """Cached :func:`prepare` (indexed variants are prepared once).

        Args:
            text: The sentence (a query or a candidate).
            use_vector: Its multilingual vector when the caller has it (the knowledge base
                encodes each query with the same encoder); else it is computed here.
        """
        item = self._prepared.get(text)
        if item is None:
            if use_vector is None:
                use_vector = self.multilingual_vectors([text])[0]
            item = prepare(text, self.encoder, self.adapter, use_vector)
            if len(self._prepared) < 200_000:
                self._prepared[text] = item
        return item

    def encode(self, texts: Sequence[str], use_vectors: np.ndarray | None = None) -> np.ndarray:
        """Retrieval vectors (see :attr:`PreparedText.vector`), one row per text."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, item in enumerate(self.prepare_many(texts, use_vectors)):
            out[i] = item.vector
        return out

    def score_pairs(
        self,
        query: str | PreparedText,
        candidates: Sequence[str],
        groups: Sequence[object] | None = None,
    ) -> np.ndarray:
        """Reranker probability that each candidate is the match of ``query``.

        Args:
            query: The query (or its :meth:`prepared` form).
            candidates: The candidates to rerank (a query's best variants).
            groups: The entry of each candidate: the reranker compares a candidate with the
                best candidates of other entries (default: every candidate its own entry).
        """
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        q = query if isinstance(query, PreparedText) else self.prepared(query)
        prepared = self.prepare_many(candidates)
        rows = np.asarray([pair_features(q, c, self.adapter) for c in prepared], np.float32)
        x = list_features(rows, groups)
        lexical = np.asarray([bool(q.chars & c.chars) for c in prepared])
        probs = np.zeros(len(prepared), dtype=np.float64)
        if lexical.any():
            probs[lexical] = self.reranker.predict_proba(x[lexical])[:, 1]
        if not lexical.all():
            other = x[~lexical][:, _SEMANTIC_COLUMNS]
            probs[~lexical] = self.semantic.predict_proba(other)[:, 1]
        return probs.astype(np.float32)

    def pair_scores(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Symmetric pair probabilities (mean of both directions), one per pair."""
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        texts = list(dict.fromkeys(s for a, b in pairs for s in (a, b)))
        prepared = dict(zip(texts, self.prepare_many(texts), strict=True))
        rows = []
        for a, b in pairs:
            pa, pb = prepared[a], prepared[b]
            rows += [pair_features(pa, pb, self.adapter), pair_features(pb, pa, self.adapter)]
        probs = self.scorer.predict_proba(np.asarray(rows, dtype=np.float32))[:, 1]
        return probs.reshape(-1, 2).mean(axis=1)

    def pair_score(self, a: str, b: str) -> float:
        """Symmetric pair probability (mean of both directions)."""
        return float(self.pair_scores([(a, b)])[0])

    # ------------------------------------------------------------------ save / load
    def save(self, out: str | Path) -> Path:
        """Write the model into ``out`` atomically (temporary sibling folder, then rename)."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            np.save(tmp / "embeddings.npy", self.encoder.emb.astype(np.float16))
            np.save(tmp / "idf.npy", self.encoder.idf)
            (tmp / "vocab.json").write_text(
                json.dumps(list(self.encoder.vocab), ensure_ascii=False)
            )
            self.adapter.save(tmp / "adapter.npz")
            self.scorer.save(tmp / "scorer.npz")
            self.reranker.save(tmp / "reranker.npz")
            self.semantic.save(tmp / "semantic.npz")
            (tmp / "manifest.json").write_text(
                json.dumps(self.manifest, ensure_ascii=False, indent=2)
            )
            for attempt in range(3):  # another process may swap in its copy meanwhile
                old = None
                if out.exists():
                    old = out.with_name(f".{out.name}.old-{os.getpid()}-{attempt}")
                    os.replace(out, old)
                try:
                    os.replace(tmp, out)
                except OSError:
                    if attempt == 2:
                        raise
                    continue
                finally:
                    if old is not None:
                        shutil.rmtree(old, ignore_errors=True)
                break
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = out
        return out

    @classmethod
    def load(cls, directory: str | Path, *, multilingual: object | None = None) -> ZhModel:
        """Read a model written by :meth:`save`.

        Args:
            directory: The model folder.
            multilingual: The multilingual encoder (default: the packaged one the manifest
                names); its fingerprint must be the one the model was trained with.

        Raises:
            ValueError: When the folder holds another version, or the encoder differs.
        """
        directory = Path(directory)
        manifest = json.loads((directory / "manifest.json").read_text())
        if manifest.get("version") != ZH_MODEL_VERSION:
            raise ValueError(
                f"{directory} holds a Chinese model of version {manifest.get('version')}, "
                f"expected {ZH_MODEL_VERSION} (run 'kb train-zh')"
            )
        expected = manifest.get("multilingual", {})
        if multilingual is None:
            found = _installed_fingerprint(expected.get("name", DEFAULT_MULTILINGUAL))
        else:
            found = multilingual.fingerprint()
        if found != expected.get("fingerprint"):
            raise ValueError(
                f"{directory} was trained with the multilingual encoder "
                f"{expected.get('fingerprint')}, installed: {found} (run 'kb train-zh')"
            )
        vocab = {f: i for i, f in enumerate(json.loads((directory / "vocab.json").read_text()))}
        encoder = ZhEncoder(
            vocab,
            np.load(directory / "idf.npy"),
            np.load(directory / "embeddings.npy").astype(np.float32),
        )
        return cls(
            encoder,
            UseAdapter.load(directory / "adapter.npz"),
            TreeEnsemble.load(directory / "scorer.npz"),
            TreeEnsemble.load(directory / "reranker.npz"),
            TreeEnsemble.load(directory / "semantic.npz"),
            manifest,
            directory,
            multilingual,
        )


def _manifest_state(directory: str | Path) -> str:
    """``"current"``, ``"missing"``, ``"old-version"`` or ``"other-encoder"``."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        return "missing"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return "missing"
    if manifest.get("version") != ZH_MODEL_VERSION:
        return "old-version"
    expected = manifest.get("multilingual", {})
    if _installed_fingerprint(expected.get("name", "")) != expected.get("fingerprint"):
        return "other-encoder"
    return "current"


def is_trained(directory: str | Path) -> bool:
    """Tell whether ``directory`` holds a current model.

    Current: a complete model of this version, trained with the multilingual encoder
    installed now.
    """
    return _manifest_state(directory) == "current"


@lru_cache(maxsize=4)
def _load_cached(directory: str, stamp: int) -> ZhModel:
    return ZhModel.load(directory)


def load_zh_model(directory: str | Path | None) -> ZhModel | None:
    """The trained model in ``directory``, or ``None`` when there is none or it is stale.

    A stale model (older version, other multilingual encoder) is logged. Loaded models are
    cached per saved version.
    """
    if directory is None:
        return None
    state = _manifest_state(directory)
    if state != "current":
        if state != "missing":
            _log.warning("Chinese model in %s not used (%s): run 'kb train-zh'", directory, state)
        return None
    manifest = Path(directory) / "manifest.json"
    return _load_cached(str(Path(directory).resolve()), manifest.stat().st_mtime_ns)


# ----------------------------------------------------------------------- training
@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train_zh_model` (part of the inputs hash)."""

    dim: int = 128
    max_vocab: int = 100_000
    min_df: int = 2
    unlabelled: int = 20_000
    epochs: int = 8
    batch_size: int = 128
    lr: float = 3e-3
    temperature: float = 0.05
    multilingual: str = DEFAULT_MULTILINGUAL
    adapter_epochs: int = 4
    adapter_lr: float = 1e-3
    adapter_decay: float = 0.01
    head_c: float = 0.1
    ngram_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    gbm_iter: int = 400
    gbm_lr: float = 0.05
    gbm_min_leaf: int = 40
    retrieval_negatives: int = 8
    easy_negatives: int = 6
    monotonic: str = "relative"
    cross_fit: int = 4
    heldout_share: float = 0.4
    seed: int = 13


def _fit_vocab(
    sentences: Sequence[list[str]], cfg: TrainConfig
) -> tuple[dict[str, int], np.ndarray]:
    df: Counter = Counter()
    for feats in sentences:
        df.update(set(feats))
    kept = [f for f, c in df.most_common(cfg.max_vocab) if c >= cfg.min_df]
    vocab = {f: i for i, f in enumerate(kept)}
    n = len(sentences)
    idf = np.asarray([math.log((n + 1) / (df[f] + 1)) + 1 for f in kept], dtype=np.float32)
    return vocab, idf


def _lsa_init(
    encoder: ZhEncoder, sentences: Sequence[list[str]], dim: int, seed: int
) -> np.ndarray:
    """Embedding table from a truncated SVD of the sentences' TF-IDF matrix."""
    from sklearn.decomposition import TruncatedSVD

    matrix = _tfidf_matrix(encoder, sentences)
    svd = TruncatedSVD(n_components=dim, random_state=seed, n_iter=5).fit(matrix)
    emb = svd.components_.T.astype(np.float32)  # (vocab, dim)
    # features never seen together with others get a small random vector, so that their
    # identity still counts in the cosine
    rng = np.random.default_rng(seed)
    emb += 0.02 * rng.standard_normal(emb.shape).astype(np.float32)
    return emb


def _train_encoder(
    encoder: ZhEncoder,
    pairs: Sequence[tuple[list[str], list[str], int]],
    cfg: TrainConfig,
    log: callable,
) -> np.ndarray:
    """Contrastive training of the embedding table on positive pairs (in-batch negatives)."""
    import random

    import torch

    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small sparse steps: one thread is as fast, and kinder to others
    rng = random.Random(cfg.seed)
    bag = torch.nn.EmbeddingBag.from_pretrained(
        torch.from_numpy(encoder.emb.copy()), freeze=False, mode="sum", sparse=True
    )
    optimizer = torch.optim.SparseAdam(list(bag.parameters()), lr=cfg.lr)

    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def ids_weights(key: int, feats: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if key not in cache:
            cache[key] = encoder.weights(feats)
        return cache[key]

    sent_feats: list[list[str]] = []
    index: dict[tuple[str, ...], int] = {}

    def sid(feats: list[str]) -> int:
        key = tuple(feats)
        if key not in index:
            index[key] = len(sent_feats)
            sent_feats.append(feats)
        return index[key]

    positives = [(sid(a), sid(b)) for a, b, label in pairs if label == 1]
    negatives_of: dict[int, list[int]] = {}
    for a, b, label in pairs:
        if label == 0:
            ia, ib = sid(a), sid(b)
            negatives_of.setdefault(ia, []).append(ib)
            negatives_of.setdefault(ib, []).append(ia)

    def embed(ids: list[int]) -> torch.Tensor:
        flat, offsets, weights = [], [], []
        for i in ids:
            fid, w = ids_weights(i, sent_feats[i])
            offsets.append(len(flat))
            flat.extend(fid.tolist())
            weights.extend(w.tolist())
        out = bag(
            torch.tensor(flat, dtype=torch.long),
            torch.tensor(offsets, dtype=torch.long),
            per_sample_weights=torch.tensor(weights, dtype=torch.float32),
        )
        return torch.nn.functional.normalize(out, dim=-1)

    for epoch in range(cfg.epochs):
        rng.shuffle(positives)
        total = 0.0
        for start in range(0, len(positives), cfg.batch_size):
            batch = positives[start : start + cfg.batch_size]
            left = [a for a, _ in batch]
            right = [b for _, b in batch]
            hard = [rng.choice(negatives_of[a]) for a in left if a in negatives_of]
            vectors = embed(left + right + hard)
            n = len(batch)
            qa, qb, qh = vectors[:n], vectors[n : 2 * n], vectors[2 * n :]
            target = torch.arange(n)
            # a -> (its b among all b's and the hard negatives), and b -> a
            logits = qa @ torch.cat([qb, qh]).T / cfg.temperature
            loss = torch.nn.functional.cross_entropy(logits, target)
            loss = loss + torch.nn.functional.cross_entropy(qb @ qa.T / cfg.temperature, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        log(f"encoder epoch {epoch + 1}/{cfg.epochs}: loss {total / max(1, len(positives)):.4f}")
    torch.set_num_threads(threads)
    return bag.weight.detach().numpy().astype(np.float32)


def _contrastive_ids(
    pairs: Sequence[tuple[int, int, int]],
) -> tuple[list[tuple[int, int]], dict[int, list[int]]]:
    """Positive pairs and, per sentence, its labelled non-matching sentences."""
    positives = [(a, b) for a, b, label in pairs if label == 1]
    negatives_of: dict[int, list[int]] = {}
    for a, b, label in pairs:
        if label == 0:
            negatives_of.setdefault(a, []).append(b)
            negatives_of.setdefault(b, []).append(a)
    return positives, negatives_of


def _train_adapter(
    use: np.ndarray, pairs: Sequence[tuple[int, int, int]], cfg: TrainConfig, log: callable
) -> np.ndarray:
    """Residual linear map on the multilingual vectors (rows of ``use``).

    Trained like the n-gram encoder: in-batch negatives plus the labelled non-matching pairs;
    weight decay pulls it back towards the encoder unchanged.
    """
    import random

    import torch

    dim = use.shape[1]
    positives, negatives_of = _contrastive_ids(pairs)
    if not positives or cfg.adapter_epochs <= 0:
        return np.zeros((dim, dim), dtype=np.float32)
    torch.manual_seed(cfg.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = random.Random(cfg.seed)
    base = torch.from_numpy(np.ascontiguousarray(use, dtype=np.float32))
    residual = torch.zeros(dim, dim, requires_grad=True)
    optimizer = torch.optim.AdamW([residual], lr=cfg.adapter_lr, weight_decay=cfg.adapter_decay)

    def embed(ids: list[int]) -> torch.Tensor:
        x = base[torch.tensor(ids, dtype=torch.long)]
        return torch.nn.functional.normalize(x + x @ residual, dim=-1)

    try:
        for epoch in range(cfg.adapter_epochs):
            rng.shuffle(positives)
            total = 0.0
            for start in range(0, len(positives), cfg.batch_size):
                batch = positives[start : start + cfg.batch_size]
                left = [a for a, _ in batch]
                right = [b for _, b in batch]
                hard = [rng.choice(negatives_of[a]) for a in left if a in negatives_of]
                vectors = embed(left + right + hard)
                n = len(batch)
                qa, qb, qh = vectors[:n], vectors[n : 2 * n], vectors[2 * n :]
                target = torch.arange(n)
                logits = qa @ torch.cat([qb, qh]).T / cfg.temperature
                loss = torch.nn.functional.cross_entropy(logits, target)
                loss = loss + torch.nn.functional.cross_entropy(qb @ qa.T / cfg.temperature, target)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item()
            log(
                f"adapter epoch {epoch + 1}/{cfg.adapter_epochs}: "
                f"loss {total / max(1, len(positives)):.4f}"
            )
    finally:
        torch.set_num_threads(threads)
    return residual.detach().numpy().astype(np.float32)


def _head_inputs(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.hstack([u * v, np.abs(u - v)])


def _fit_head(
    use: np.ndarray, pairs: Sequence[tuple[int, int, int]], cfg: TrainConfig
) -> tuple[np.ndarray, float]:
    """Logistic regression of the label on ``[u * v, |u - v|]``.

    The inputs are standardised for the fit; the returned weights apply to the raw inputs.
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    dim = use.shape[1]
    labels = np.asarray([label for _, _, label in pairs])
    if len(pairs) < 2 or labels.min() == labels.max():
        return np.zeros(2 * dim, dtype=np.float32), 0.0
    left = np.asarray([a for a, _, _ in pairs])
    right = np.asarray([b for _, b, _ in pairs])
    x = _head_inputs(use[left], use[right]).astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    with threadpool_limits(1):
        fitted = LogisticRegression(C=cfg.head_c, max_iter=2000).fit((x - mean) / std, labels)
    weights = fitted.coef_[0] / std
    bias = float(fitted.intercept_[0] - weights @ mean)
    return weights.astype(np.float32), bias


def _fit_topics(use: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``k`` principal axes of the rows of ``use``."""
    mean = use.mean(axis=0)
    k = max(0, min(k, len(use) - 1, use.shape[1]))
    components = np.zeros((use.shape[1], N_TOPICS), dtype=np.float32)
    if k:
        _, _, vt = np.linalg.svd(use - mean, full_matrices=False)
        components[:, :k] = vt[:k].T
    return mean.astype(np.float32), components


def _top1(pool: Sequence[str], vectors: np.ndarray, positives: Sequence[tuple[str, str]]) -> float:
    """Share of the sentences of positive pairs whose nearest other sentence matches them.

    The nearest sentence of ``pool`` by ``vectors`` (one row per sentence of ``pool``).
    """
    row = {s: i for i, s in enumerate(pool)}
    same: dict[str, set[str]] = {}
    for a, b in positives:
        same.setdefault(a, set()).add(b)
        same.setdefault(b, set()).add(a)
    ids = np.asarray([row[q] for q in sorted(same)], dtype=np.int64)
    if not len(ids):
        return 0.0
    hits = 0
    for start in range(0, len(ids), 512):
        chunk = ids[start : start + 512]
        sims = vectors[chunk] @ vectors.T
        sims[np.arange(len(chunk)), chunk] = -np.inf
        best = sims.argmax(axis=1)
        hits += sum(pool[int(b)] in same[pool[int(q)]] for q, b in zip(chunk, best, strict=True))
    return hits / len(ids)


def _tfidf_matrix(encoder: ZhEncoder, feats: Sequence[list[str]]):  # noqa: ANN202 - csr
    """Rows of L2-normalised TF-IDF weights of the encoder's features (a sparse matrix)."""
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for i, f in enumerate(feats):
        ids, w = encoder.weights(f)
        rows.extend([i] * len(ids))
        cols.extend(ids.tolist())
        vals.extend(w.tolist())
    return csr_matrix((vals, (rows, cols)), shape=(len(feats), len(encoder.vocab)))


def _candidate_lists(
    pool: Sequence[str],
    sources: Sequence[tuple[Sequence[tuple[float, object]], int, int]],
    pairs: Sequence[tuple[str, str, int]],
    depth: int = 2000,
    seed: int = 0,
) -> list[tuple[str, list[tuple[str, int]]]]:
    """Reranking lists as retrieval meets them.

    For every sentence with a matching partner: its labelled partners, plus, labelled 0, from
    each source ``(similarity, near, far)`` (the similarity a weighted sum of matrices, dense
    or sparse, one row per sentence of ``pool``: retrieval vectors, TF-IDF rows) its
    ``near`` nearest other sentences of ``pool`` and ``far`` more distant ones (drawn from
    the next ``depth``): the candidates of a small knowledge base are far apart, and the
    reranker must have seen such lists too.
    """
    rng = np.random.default_rng(seed)
    partners: dict[str, dict[str, int]] = {}
    for a, b, label in pairs:
        partners.setdefault(a, {})[b] = label
        partners.setdefault(b, {})[a] = label
    queries = sorted(q for q, found in partners.items() if any(found.values()))
    row = {s: i for i, s in enumerate(pool)}
    lists = {q: dict(partners[q]) for q in queries}
    for similarity, near, far in sources:
        k = min(near + 8, len(pool) - 1)
        deep = min(k + depth, len(pool) - 1) if far > 0 else k
        if k <= 0 or (near <= 0 and far <= 0):
            continue
        for start in range(0, len(queries), 512):
            chunk = queries[start : start + 512]
            sims = np.zeros((len(chunk), len(pool)), dtype=np.float32)
            for weight, matrix in similarity:
                part = matrix[[row[q] for q in chunk]] @ matrix.T
                sims += weight * (part.toarray() if hasattr(part, "toarray") else part)
            top = np.argpartition(-sims, deep, axis=1)[:, :deep]
            for query, sim, ids in zip(chunk, sims, top, strict=True):
                order = ids[np.argsort(-sim[ids])]
                extra = [pool[int(i)] for i in order[:k]]
                extra = [c for c in extra if c != query and c not in partners[query]][:near]
                if far > 0 and deep > k:
                    middle = order[k:]
                    extra += [pool[int(middle[i])] for i in rng.choice(len(middle), far, True)]
                lists[query].update(
                    (c, 0) for c in extra if c != query and c not in partners[query]
                )
    return [(q, sorted(c.items())) for q, c in lists.items()]


def train_zh_model(
    pairs: Sequence[tuple[str, str, int]],
    *,
    unlabelled: Sequence[str] = (),
    config: TrainConfig | None = None,
    inputs_hash: str = "",
    log: callable = print,
    multilingual: object | None = None,
) -> ZhModel:
    """Train the encoder, the adapter and the pair scorers on labelled ``pairs``.

    Only the training part of the split is given.

    Args:
        pairs: ``(sentence_1, sentence_2, label)`` training pairs.
        unlabelled: Extra sentences for the n-gram vocabulary, IDF and LSA start (no labels).
        config: Hyper-parameters.
        inputs_hash: Hash of the training inputs, stored in the manifest.
        log: Progress messages.
        multilingual: The multilingual encoder (default: the packaged one named by
            ``config.multilingual``).

    Returns:
        The model (not saved; see :meth:`ZhModel.save`).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    cfg = config or TrainConfig()
    multilingual = multilingual or shared_multilingual(cfg.multilingual)
    started = time.perf_counter()

    def elapsed() -> str:
        return f"{time.perf_counter() - started:.0f} s"

    sentences = sorted({s for a, b, _ in pairs for s in (a, b)})
    if not sentences:
        raise ValueError("no training pairs")
    sid = {s: i for i, s in enumerate(sentences)}
    use = _unit(multilingual.encode([for_embedding(s) for s in sentences]))
    log(f"{len(sentences)} training sentences encoded by {multilingual.name} ({elapsed()})")
    mean, components = _fit_topics(use, N_TOPICS)

    feats_of = {s: sentence_features(s) for s in sentences}
    extra = [sentence_features(t) for t in unlabelled]
    vocab, idf = _fit_vocab([*feats_of.values(), *extra], cfg)
    dim = max(2, min(cfg.dim, len(vocab) - 1, len(sentences) + len(extra) - 1))
    encoder = ZhEncoder(vocab, idf, np.zeros((len(vocab), dim), dtype=np.float32))
    lsa = _lsa_init(encoder, [*feats_of.values(), *extra], dim, cfg.seed)
    log(f"vocabulary {len(vocab)} features, LSA start ({elapsed()})")

    def fit(subset: Sequence[tuple[str, str, int]]) -> tuple[ZhEncoder, UseAdapter]:
        fold = ZhEncoder(vocab, idf, lsa)
        fold.emb = _train_encoder(
            fold, [(feats_of[a], feats_of[b], label) for a, b, label in subset], cfg, log
        )
        ids = [(sid[a], sid[b], label) for a, b, label in subset]
        head, bias = _fit_head(use, ids, cfg)
        adapter = UseAdapter(_train_adapter(use, ids, cfg, log), head, bias, mean, components)
        return fold, adapter

    # Cross-fitting: the scorer's rows of one fold get their learned features (n-gram cosine,
    # adapted cosine, head) from models trained on the other folds, so the scorer learns how
    # far each can be trusted on unseen text.
    if cfg.cross_fit >= 2:
        from knowledge_base.zh_data import split_pairs

        parts, rest = [], list(pairs)
        for k in range(cfg.cross_fit - 1):
            share = 1 / (cfg.cross_fit - k)
            split = split_pairs({"all": rest}, seed=cfg.seed + k + 1, heldout_share=share)
            parts.append(split.heldout["all"])
            rest = split.train["all"]
        parts.append(rest)
        parts = [part for part in parts if part]  # tiny data: a fold may come out empty
        folds = [
            (*fit([p for j, part in enumerate(parts) if j != i for p in part]), part)
            for i, part in enumerate(parts)
        ]
        log(f"{cfg.cross_fit} cross-fitting models ({elapsed()})")
    encoder, adapter = fit(pairs)
    log(f"encoder and adapter trained ({elapsed()})")
    if cfg.cross_fit < 2:
        folds = [(encoder, adapter, list(pairs))]

    # Every fold's vectors of every training sentence: its own part's sentences are unseen by
    # it, the other parts' are seen, as the indexed training sentences are by the final model.
    fold_vectors = []
    for fold_encoder, fold_adapter, _ in folds:
        ngram = np.stack([fold_encoder.encode_features(feats_of[s]) for s in sentences])
        fold_vectors.append((ngram, fold_adapter.adapt(use)))

    # The retrieval vector's weight of the n-gram cosine: best top-1 on the folds' own pairs.
    weights = sorted(set(cfg.ngram_weights)) or [0.5]
    top1 = {w: 0.0 for w in weights}
    for (_, _, part), (ngram, adapted) in zip(folds, fold_vectors, strict=True):
        pool = sorted({s for a, b, _ in part for s in (a, b)})
        ids = [sid[s] for s in pool]
        positives = [(a, b) for a, b, label in part if label == 1]
        for w in weights:
            vectors = np.hstack([math.sqrt(w) * ngram[ids], math.sqrt(1 - w) * adapted[ids]])
            top1[w] += _top1(pool, vectors, positives) / len(folds)
    ngram_weight = max(weights, key=lambda w: (top1[w], -w))
    adapter.ngram_weight = ngram_weight
    log(
        "retrieval top-1 on the folds by n-gram weight: "
        + ", ".join(f"{w}: {v:.3f}" for w, v in top1.items())
        + f"; using {ngram_weight}"
    )

    # Scorer rows: the labelled pairs of each fold. Reranker rows: each fold's lists of
    # candidates (labelled partners and the nearest training sentences, seen or not), all
    # with that fold's vectors; the rest of a prepared sentence is the same for every fold.
    base: dict[str, PreparedText] = {}
    shared = ZhEncoder(vocab, idf, lsa)
    rows, labels, rank_rows, rank_labels = [], [], [], []
    for (fold_encoder, fold_adapter, part), (ngram, adapted) in zip(
        folds, fold_vectors, strict=True
    ):
        fold_adapter.ngram_weight = ngram_weight
        vectors = fold_adapter.retrieval_vector(ngram, adapted)
        tfidf = _tfidf_matrix(fold_encoder, [feats_of[s] for s in sentences])
        near, far = cfg.retrieval_negatives, cfg.easy_negatives
        sources = [
            ([(1.0, vectors)], near, 0),
            ([(0.75, use), (0.25, tfidf)], near, 0),
            ([(1.0, use)], 0, far),
        ]
        lists = _candidate_lists(sentences, sources, part, seed=cfg.seed)
        needed = {s for a, b, _ in part for s in (a, b)}
        needed |= {c for _, cands in lists for c, _ in cands}
        prepared = {}
        for s in needed:
            if s not in base:
                base[s] = prepare(s, shared, adapter, use[sid[s]])
            i = sid[s]
            prepared[s] = replace(base[s], ngram=ngram[i], adapted=adapted[i], vector=vectors[i])
        for a, b, label in part:  # both directions: queries come either way
            rows.append(pair_features(prepared[a], prepared[b], fold_adapter))
            rows.append(pair_features(prepared[b], prepared[a], fold_adapter))
            labels += [label, label]
        for query, cands in lists:  # a query's matching partners are one "entry"
            found = [pair_features(prepared[query], prepared[c], fold_adapter) for c, _ in cands]
            groups = [-1 if label else i for i, (_, label) in enumerate(cands)]
            rank_rows.append(list_features(np.asarray(found, dtype=np.float32), groups))
            rank_labels += [label for _, label in cands]
    log(f"pair features ({elapsed()})")

    def fit_trees(x: np.ndarray, y: np.ndarray, monotonic: list[int] | None = None) -> TreeEnsemble:
        with threadpool_limits(1):  # OpenMP spinning on a busy 2-core machine is slow
            fitted = HistGradientBoostingClassifier(
                max_iter=cfg.gbm_iter,
                learning_rate=cfg.gbm_lr,
                max_leaf_nodes=31,
                min_samples_leaf=cfg.gbm_min_leaf,
                l2_regularization=1.0,
                monotonic_cst=monotonic,
                random_state=cfg.seed,
            ).fit(x, y)
        return TreeEnsemble.from_sklearn(fitted)

    # The reranker must carry over to knowledge bases of other domains, whose candidates are
    # unlike the training lists: it may never prefer a candidate for being less alike.
    monotonic = _monotonic(RERANK_FEATURE_NAMES, cfg.monotonic)
    increasing = [1] * len(_SEMANTIC_COLUMNS)
    scorer = fit_trees(np.asarray(rows, dtype=np.float32), np.asarray(labels))
    rank_y = np.asarray(rank_labels)
    if len(rank_y) and rank_y.min() != rank_y.max():
        rank_x = np.vstack(rank_rows)
        shares = rank_x[:, RERANK_FEATURE_NAMES.index("char_jaccard")] > 0
        if len(set(rank_y[shares].tolist())) < 2:  # tiny data
            shares[:] = True
        reranker = fit_trees(rank_x[shares], rank_y[shares], monotonic)
        semantic = fit_trees(rank_x[:, _SEMANTIC_COLUMNS], rank_y, increasing)
    else:  # no list with both a match and a non-match (tiny data): the labelled pairs alone
        x = np.asarray(rows, dtype=np.float32)
        singles = np.vstack([list_features(x[i : i + 1]) for i in range(len(x))])
        reranker = fit_trees(singles, np.asarray(labels), monotonic)
        semantic = fit_trees(singles[:, _SEMANTIC_COLUMNS], np.asarray(labels), increasing)
    log(
        f"pair scorer ({len(rows)} rows) and reranker ({len(rank_y)} rows in "
        f"{len(rank_rows)} lists) trained ({elapsed()})"
    )
    manifest = {
        "version": ZH_MODEL_VERSION,
        "inputs_hash": inputs_hash,
        "config": _config_dict(cfg),
        "multilingual": {
            "name": multilingual.name,
            "fingerprint": multilingual.fingerprint(),
            "dimensions": int(use.shape[1]),
        },
        "vocabulary": len(vocab),
        "dimensions": dim,
        "ngram_weight": ngram_weight,
        "fold_retrieval_top1": {str(w): round(v, 4) for w, v in top1.items()},
        "training_pairs": len(pairs),
        "scorer_rows": len(rows),
        "reranker_rows": len(rank_y),
        "features": list(FEATURE_NAMES),
        "reranker_features": list(RERANK_FEATURE_NAMES),
        "train_seconds": round(time.perf_counter() - started, 1),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return ZhModel(
        encoder, adapter, scorer, reranker, semantic, manifest, multilingual=multilingual
    )


def _config_dict(config: TrainConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.__dict__.items()}


def inputs_hash(data_fingerprint: str, config: TrainConfig, multilingual: str = "") -> str:
    """Hash of everything a trained model depends on.

    Data, hyper-parameters, :data:`ZH_MODEL_VERSION` and the multilingual encoder's
    fingerprint.
    """
    blob = json.dumps(
        [ZH_MODEL_VERSION, data_fingerprint, _config_dict(config), multilingual], sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _auc_and_accuracy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """ROC AUC and accuracy at the best threshold."""
    from sklearn.metrics import roc_auc_score

    order = np.argsort(-scores)
    ranked = labels[order]
    correct = np.cumsum(ranked) + (len(labels) - labels.sum()) - np.cumsum(1 - ranked)
    accuracy = max(float(correct.max()) / len(labels), float(max(labels.mean(), 1 - labels.mean())))
    return float(roc_auc_score(labels, scores)), accuracy


def heldout_report(model: ZhModel, heldout: dict[str, Sequence[tuple[str, str, int]]]) -> dict:
    """ROC AUC and best-threshold accuracy on held-out pairs, per set.

    Of the pair scorer (``auc``, ``acc``) and, for comparison, of the multilingual encoder's
    cosine alone (``use_auc``, ``use_acc``).
    """
    report = {}
    for name, pairs in heldout.items():
        labels = np.asarray([label for _, _, label in pairs])
        if len(pairs) < 2 or labels.min() == labels.max():
            continue
        texts = list(dict.fromkeys(s for a, b, _ in pairs for s in (a, b)))
        prepared = dict(zip(texts, model.prepare_many(texts), strict=True))
        auc, acc = _auc_and_accuracy(model.pair_scores([(a, b) for a, b, _ in pairs]), labels)
        cosine = np.asarray([float(prepared[a].use @ prepared[b].use) for a, b, _ in pairs])
        use_auc, use_acc = _auc_and_accuracy(cosine, labels)
        report[name] = {
            "pairs": len(pairs),
            "auc": round(auc, 4),
            "acc": round(acc, 4),
            "use_auc": round(use_auc, 4),
            "use_acc": round(use_acc, 4),
        }
    return report


def train_from_data(
    data: str | Path,
    out: str | Path,
    *,
    config: TrainConfig | None = None,
    force: bool = False,
    log: callable = print,
) -> tuple[Path, bool]:
    """Train the Chinese model from ``data`` into ``out`` unless it is already current.

    The pairs are split with :func:`~knowledge_base.zh_data.split_pairs` (seeded, by groups of
    sentences); only the training part is used, and the held-out figures of the pair scorer
    are stored in the manifest. The model is cached by a hash of the data files, the
    hyper-parameters, :data:`ZH_MODEL_VERSION` and the multilingual encoder's fingerprint.

    Returns:
        ``(out, True)`` when trained, ``(out, False)`` when the saved model was current.

    Raises:
        FileNotFoundError: When ``data`` holds none of the pair sets.
    """
    from knowledge_base.zh_data import (
        data_fingerprint,
        load_pair_sets,
        read_unlabelled,
        split_pairs,
    )

    cfg = config or TrainConfig()
    data, out = Path(data), Path(out)
    sets = load_pair_sets(data)
    if not sets:
        raise FileNotFoundError(
            f"no Chinese question-matching pairs under {data}/zh_question_matching"
        )
    multilingual = shared_multilingual(cfg.multilingual)
    digest = inputs_hash(
        data_fingerprint(data, unlabelled=cfg.unlabelled > 0), cfg, multilingual.fingerprint()
    )
    if not force and is_trained(out):
        if json.loads((out / "manifest.json").read_text()).get("inputs_hash") == digest:
            return out, False
    split = split_pairs(sets, seed=cfg.seed, heldout_share=cfg.heldout_share)
    unlabelled = read_unlabelled(data, cfg.unlabelled) if cfg.unlabelled > 0 else []
    model = train_zh_model(
        split.train_pairs(),
        unlabelled=unlabelled,
        config=cfg,
        inputs_hash=digest,
        log=log,
        multilingual=multilingual,
    )
    model.manifest["data"] = str(data)
    model.manifest["split"] = {
        name: {"train": len(split.train[name]), "heldout": len(split.heldout[name])}
        for name in sets
    }
    started = time.perf_counter()
    model.manifest["heldout"] = heldout_report(model, split.heldout)
    model.manifest["heldout_report_seconds"] = round(time.perf_counter() - started, 1)
    model.save(out)
    return out, True
