"""A Chinese semantic signal trained by the project: n-gram sentence encoder + pair scorer.

The default embedding model maps most Chinese characters to ``[UNK]`` and no pretrained
Chinese encoder is available offline, so ``kb train-zh`` trains two small models from the
Chinese question-matching pairs (training part of a fixed split, see
:mod:`knowledge_base.zh_data`):

* **Encoder**: a sentence vector is the TF-IDF-weighted sum of embeddings of the sentence's
  character 1–3-grams and jieba words, L2-normalised. The embedding table starts from an LSA
  factorisation (truncated SVD of the TF-IDF matrix of the training sentences and unlabelled
  Chinese reviews) and is then trained contrastively in torch on the training pairs (in-batch
  negatives plus the labelled non-matching pairs as hard negatives). At search time it is
  plain numpy: a lookup and a weighted sum.
* **Pair scorer**: gradient boosting (scikit-learn ``HistGradientBoostingClassifier``) over
  cheap features of a (query, candidate) pair — the encoder's cosine, IDF-weighted
  coverage both ways, TF-IDF cosine, character/word Jaccard, longest common substring and
  subsequence, edit distance, lengths, and digit, negation and question-word mismatches.
  Its probability reranks the best candidates of Chinese queries.

Everything is saved atomically into one folder (``ZH_MODEL_DIR``, default ``var/kb-zh``) with a
manifest holding the hash of the inputs; the knowledge base uses it for Chinese queries when
it is present and ``USE_ZH_MODEL`` is true.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from knowledge_base.normalize import normalize
from knowledge_base.tokens import _jieba

__all__ = [
    "FEATURE_NAMES",
    "ZH_MODEL_VERSION",
    "PreparedText",
    "TreeEnsemble",
    "ZhEncoder",
    "ZhModel",
    "load_zh_model",
    "pair_features",
    "prepare",
    "sentence_features",
    "train_zh_model",
]

ZH_MODEL_VERSION = "zh-ngram-gbm/v2"
"""Changes whenever features or training change (part of the training-input hash)."""

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
    vector: np.ndarray = field(repr=False)
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


def prepare(text: str, encoder: ZhEncoder) -> PreparedText:
    """Pre-compute what :func:`pair_features` needs of ``text``."""
    feats = sentence_features(text)
    counts = Counter(feats)
    plain = "".join(_CJK_RUN.findall(normalize(text)))
    weights = {}
    for f, c in counts.items():
        idf = float(encoder.idf[encoder.vocab[f]]) if f in encoder.vocab else encoder.max_idf
        weights[f] = (1 + math.log(c)) * idf
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return PreparedText(
        text=plain,
        feats=counts,
        words={f for f in counts if f.startswith(("w:", "e:"))},
        chars={f for f in counts if f.startswith("1:")},
        bigrams={f for f in counts if f.startswith("2:")},
        digits=set(_DIGITS.findall(plain)),
        negations=sum(plain.count(n) for n in _NEGATIONS),
        qwords=frozenset(q for q in _QUESTION_WORDS if q in plain),
        vector=encoder.encode_features(feats),
        weights=weights,
        norm=norm,
    )


FEATURE_NAMES = (
    "cosine", "tfidf_cosine", "cover_ab", "cover_ba", "cover_min", "char_jaccard",
    "bigram_jaccard", "word_jaccard", "missing_a_max_idf", "missing_b_max_idf", "lcsubstr_min",
    "lcsubstr_max", "lcsubseq_max", "edit_ratio", "len_a", "len_b", "len_ratio", "len_diff",
    "digits_differ", "has_digits", "negation_differ", "qwords_differ", "qwords_shared",
    *(f"topic_{i}" for i in range(8)),
)  # fmt: skip
"""Names of the pair features, in order."""


def _jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def pair_features(a: PreparedText, b: PreparedText) -> list[float]:
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
        float(a.vector @ b.vector),
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
        *(0.5 * (a.vector[:8] + b.vector[:8])).tolist(),
    ]


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
    """The trained Chinese encoder and pair scorer, with their manifest.

    Args:
        encoder: The n-gram sentence encoder.
        scorer: The pair scorer over :func:`pair_features` (a :class:`TreeEnsemble`), fitted
            on the labelled pairs: "do these two sentences mean the same?".
        reranker: The same over the labelled pairs plus retrieval negatives (the nearest
            non-matching sentences): "is this candidate the one?" among close candidates.
        manifest: What was trained from what (inputs hash, split, figures).
        path: Folder it was loaded from (``None`` when trained in memory).
    """

    def __init__(
        self,
        encoder: ZhEncoder,
        scorer: TreeEnsemble,
        reranker: TreeEnsemble,
        manifest: dict,
        path: Path | None = None,
    ) -> None:
        self.encoder = encoder
        self.scorer = scorer
        self.reranker = reranker
        self.manifest = manifest
        self.path = path
        self._prepared: dict[str, PreparedText] = {}

    def fingerprint(self) -> str:
        """Identifies this model (version, inputs hash, creation time): changes on retraining."""
        inputs = self.manifest.get("inputs_hash", "")[:16]
        return f"{ZH_MODEL_VERSION}@{inputs}@{self.manifest.get('created_at', '')}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised sentence vectors (reusing prepared texts' vectors)."""
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            item = self._prepared.get(text)
            out[i] = item.vector if item is not None else self.encoder.encode([text])[0]
        return out

    def prepared(self, text: str) -> PreparedText:
        """Cached :func:`prepare` (indexed variants are prepared once)."""
        item = self._prepared.get(text)
        if item is None:
            item = prepare(text, self.encoder)
            if len(self._prepared) < 200_000:
                self._prepared[text] = item
        return item

    def score_pairs(self, query: str | PreparedText, candidates: Sequence[str]) -> np.ndarray:
        """Reranker probability that each candidate is the match of ``query``."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        q = query if isinstance(query, PreparedText) else prepare(query, self.encoder)
        rows = np.asarray(
            [pair_features(q, self.prepared(c)) for c in candidates], dtype=np.float32
        )
        return self.reranker.predict_proba(rows)[:, 1].astype(np.float32)

    def pair_score(self, a: str, b: str) -> float:
        """Symmetric pair probability (mean of both directions)."""
        pa, pb = self.prepared(a), self.prepared(b)
        rows = np.asarray([pair_features(pa, pb), pair_features(pb, pa)], dtype=np.float32)
        return float(self.scorer.predict_proba(rows)[:, 1].mean())

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
            self.scorer.save(tmp / "scorer.npz")
            self.reranker.save(tmp / "reranker.npz")
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
    def load(cls, directory: str | Path) -> ZhModel:
        """Read a model written by :meth:`save`."""
        directory = Path(directory)
        manifest = json.loads((directory / "manifest.json").read_text())
        if manifest.get("version") != ZH_MODEL_VERSION:
            raise ValueError(
                f"{directory} holds a Chinese model of version {manifest.get('version')}, "
                f"expected {ZH_MODEL_VERSION} (run 'kb train-zh')"
            )
        vocab = {f: i for i, f in enumerate(json.loads((directory / "vocab.json").read_text()))}
        encoder = ZhEncoder(
            vocab,
            np.load(directory / "idf.npy"),
            np.load(directory / "embeddings.npy").astype(np.float32),
        )
        return cls(
            encoder,
            TreeEnsemble.load(directory / "scorer.npz"),
            TreeEnsemble.load(directory / "reranker.npz"),
            manifest,
            directory,
        )


def is_trained(directory: str | Path) -> bool:
    """True when ``directory`` holds a complete model of the current version."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("version") == ZH_MODEL_VERSION
    except (OSError, ValueError):
        return False


@lru_cache(maxsize=4)
def _load_cached(directory: str, stamp: int) -> ZhModel:
    return ZhModel.load(directory)


def load_zh_model(directory: str | Path | None) -> ZhModel | None:
    """The trained model in ``directory``, or ``None`` when there is none (cached per version)."""
    if directory is None or not is_trained(directory):
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
    gbm_iter: int = 400
    gbm_lr: float = 0.05
    gbm_min_leaf: int = 40
    retrieval_negatives: int = 3
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
    from scipy.sparse import csr_matrix
    from sklearn.decomposition import TruncatedSVD

    rows, cols, vals = [], [], []
    for i, feats in enumerate(sentences):
        ids, w = encoder.weights(feats)
        rows.extend([i] * len(ids))
        cols.extend(ids.tolist())
        vals.extend(w.tolist())
    matrix = csr_matrix((vals, (rows, cols)), shape=(len(sentences), len(encoder.vocab)))
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


def _retrieval_negatives(
    encoder: ZhEncoder, pairs: Sequence[tuple[str, str, int]], per_query: int, seed: int
) -> list[tuple[str, str, int]]:
    """Non-matching pairs as retrieval meets them: the nearest other sentences of positives."""
    rng = np.random.default_rng(seed)
    positives = [(a, b) for a, b, label in pairs if label == 1]
    pool = sorted({a for a, _, _ in pairs} | {b for _, b, _ in pairs})
    if per_query <= 0 or not positives or len(pool) < per_query + 2:
        return []
    vectors = encoder.encode(pool)
    row = {s: i for i, s in enumerate(pool)}
    same: dict[str, set[str]] = {}
    for a, b in positives:
        same.setdefault(a, {a}).add(b)
        same.setdefault(b, {b}).add(a)
    out = []
    for a, _ in positives:
        sims = vectors @ vectors[row[a]]
        k = min(per_query + 8, len(pool) - 1)
        top = np.argpartition(-sims, k)[:k]
        top = [pool[i] for i in top[np.argsort(-sims[top])] if pool[i] not in same[a]]
        for cand in top[:per_query]:
            out.append((a, cand, 0))
    rng.shuffle(out)
    return out


def train_zh_model(
    pairs: Sequence[tuple[str, str, int]],
    *,
    unlabelled: Sequence[str] = (),
    config: TrainConfig | None = None,
    inputs_hash: str = "",
    log: callable = print,
) -> ZhModel:
    """Train the encoder and the pair scorer on labelled ``pairs`` (training part only).

    Args:
        pairs: ``(sentence_1, sentence_2, label)`` training pairs.
        unlabelled: Extra sentences for the vocabulary, IDF and LSA start (no labels).
        config: Hyper-parameters.
        inputs_hash: Hash of the training inputs, stored in the manifest.
        log: Progress messages.

    Returns:
        The model (not saved; see :meth:`ZhModel.save`).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    cfg = config or TrainConfig()
    started = time.perf_counter()
    sentences = sorted({s for a, b, _ in pairs for s in (a, b)})
    if not sentences:
        raise ValueError("no training pairs")
    feats_of = {s: sentence_features(s) for s in sentences}
    extra = [sentence_features(t) for t in unlabelled]
    vocab, idf = _fit_vocab([*feats_of.values(), *extra], cfg)
    dim = max(2, min(cfg.dim, len(vocab) - 1, len(sentences) + len(extra) - 1))
    encoder = ZhEncoder(vocab, idf, np.zeros((len(vocab), dim), dtype=np.float32))
    lsa = _lsa_init(encoder, [*feats_of.values(), *extra], dim, cfg.seed)
    log(f"vocabulary {len(vocab)} features, LSA start ({time.perf_counter() - started:.0f} s)")

    def fit_encoder(subset: Sequence[tuple[str, str, int]]) -> ZhEncoder:
        fold = ZhEncoder(vocab, idf, lsa)
        feat_pairs = [(feats_of[a], feats_of[b], label) for a, b, label in subset]
        fold.emb = _train_encoder(fold, feat_pairs, cfg, log)
        return fold

    # Cross-fitting: the scorer's rows of one fold get their cosine from an encoder trained on
    # the other folds, so the scorer learns how far the cosine can be trusted on unseen text.
    if cfg.cross_fit >= 2:
        from knowledge_base.zh_data import split_pairs

        parts, rest = [], list(pairs)
        for k in range(cfg.cross_fit - 1):
            share = 1 / (cfg.cross_fit - k)
            split = split_pairs({"all": rest}, seed=cfg.seed + k + 1, heldout_share=share)
            parts.append(split.heldout["all"])
            rest = split.train["all"]
        parts.append(rest)
        folds = [
            (fit_encoder([p for j, part in enumerate(parts) if j != i for p in part]), part)
            for i, part in enumerate(parts)
        ]
        log(f"{cfg.cross_fit} cross-fitting encoders ({time.perf_counter() - started:.0f} s)")
    encoder = fit_encoder(pairs)
    log(f"encoder trained ({time.perf_counter() - started:.0f} s)")
    if cfg.cross_fit < 2:
        folds = [(encoder, list(pairs))]

    rows, labels, labelled = [], [], []
    for fold_encoder, part in folds:
        extra_neg = _retrieval_negatives(fold_encoder, part, cfg.retrieval_negatives, cfg.seed)
        both = [(p, True) for p in part] + [(p, False) for p in extra_neg]
        sents = {x for (a, b, _), _ in both for x in (a, b)}
        prepared = {s: prepare(s, fold_encoder) for s in sents}
        for (a, b, label), is_labelled in both:  # both directions: queries come either way
            rows.append(pair_features(prepared[a], prepared[b]))
            rows.append(pair_features(prepared[b], prepared[a]))
            labels += [label, label]
            labelled += [is_labelled, is_labelled]
    log(f"pair features ({time.perf_counter() - started:.0f} s)")
    x, y, mask = np.asarray(rows, dtype=np.float32), np.asarray(labels), np.asarray(labelled)

    def fit_trees(x: np.ndarray, y: np.ndarray) -> TreeEnsemble:
        with threadpool_limits(1):  # OpenMP spinning on a busy 2-core machine is slow
            fitted = HistGradientBoostingClassifier(
                max_iter=cfg.gbm_iter,
                learning_rate=cfg.gbm_lr,
                max_leaf_nodes=31,
                min_samples_leaf=cfg.gbm_min_leaf,
                l2_regularization=1.0,
                random_state=cfg.seed,
            ).fit(x, y)
        return TreeEnsemble.from_sklearn(fitted)

    scorer = fit_trees(x[mask], y[mask])
    reranker = fit_trees(x, y) if (~mask).any() else scorer
    log(
        f"pair scorer and reranker trained on {len(rows)} rows "
        f"({time.perf_counter() - started:.0f} s)"
    )
    manifest = {
        "version": ZH_MODEL_VERSION,
        "inputs_hash": inputs_hash,
        "config": cfg.__dict__,
        "vocabulary": len(vocab),
        "dimensions": dim,
        "training_pairs": len(pairs),
        "scorer_rows": len(rows),
        "features": list(FEATURE_NAMES),
        "train_seconds": round(time.perf_counter() - started, 1),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return ZhModel(encoder, scorer, reranker, manifest)


def inputs_hash(data_fingerprint: str, config: TrainConfig) -> str:
    """Hash of everything a trained model depends on: data, hyper-parameters, version."""
    blob = json.dumps([ZH_MODEL_VERSION, data_fingerprint, config.__dict__], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def heldout_report(model: ZhModel, heldout: dict[str, Sequence[tuple[str, str, int]]]) -> dict:
    """ROC AUC and best-threshold accuracy of the pair scorer on held-out pairs, per set."""
    from sklearn.metrics import roc_auc_score

    report = {}
    for name, pairs in heldout.items():
        labels = np.asarray([label for _, _, label in pairs])
        if len(pairs) < 2 or labels.min() == labels.max():
            continue
        scores = np.asarray([model.pair_score(a, b) for a, b, _ in pairs])
        order = np.argsort(-scores)
        ranked = labels[order]
        correct = np.cumsum(ranked) + (len(labels) - labels.sum()) - np.cumsum(1 - ranked)
        accuracy = max(
            float(correct.max()) / len(labels), float(max(labels.mean(), 1 - labels.mean()))
        )
        report[name] = {
            "pairs": len(pairs),
            "auc": round(float(roc_auc_score(labels, scores)), 4),
            "acc": round(accuracy, 4),
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
    hyper-parameters and :data:`ZH_MODEL_VERSION`.

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
    digest = inputs_hash(data_fingerprint(data, unlabelled=cfg.unlabelled > 0), cfg)
    if not force and is_trained(out):
        if json.loads((out / "manifest.json").read_text()).get("inputs_hash") == digest:
            return out, False
    split = split_pairs(sets, seed=cfg.seed, heldout_share=cfg.heldout_share)
    unlabelled = read_unlabelled(data, cfg.unlabelled) if cfg.unlabelled > 0 else []
    model = train_zh_model(
        split.train_pairs(), unlabelled=unlabelled, config=cfg, inputs_hash=digest, log=log
    )
    model.manifest["data"] = str(data)
    model.manifest["split"] = {
        name: {"train": len(split.train[name]), "heldout": len(split.heldout[name])}
        for name in sets
    }
    model.manifest["heldout"] = heldout_report(model, split.heldout)
    model.save(out)
    return out, True
