"""The knowledge base: build, search, save and load."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from knowledge_base.adapter import Adapter, fit_adapter
from knowledge_base.config import Settings, get_settings
from knowledge_base.embed import Embedder, embedder_from_settings
from knowledge_base.fusion import aggregate_max, confidence, decide, fuse
from knowledge_base.index import DenseIndex
from knowledge_base.lexical import LexicalIndex
from knowledge_base.normalize import detect_lang, for_embedding
from knowledge_base.sources import Entry, iter_source_files, load_sources
from knowledge_base.tokens import TokenizerFn, default_tokenizer
from knowledge_base.transfer import load_transfer
from knowledge_base.zh_model import ZhModel, load_zh_model

__all__ = [
    "Hit",
    "KnowledgeBase",
    "SearchResult",
    "build_if_changed",
    "sources_hash",
    "zh_model_from_settings",
]

FORMAT_VERSION = 4

_NO_ZH_MODEL = "none"
ZH_WARM_MAX = 5000
"""Knowledge bases with at most this many variants prepare every Chinese variant for the
pair scorer when created or loaded (about 1 ms each), so no query pays for it."""


@dataclass
class Hit:
    """One ranked entry."""

    id: str
    score: float
    confidence: float
    answer: str
    matched: str
    dense: float
    lexical: float
    kind: str = "faq"
    zh: float = 0.0
    """Chinese queries with the trained Chinese model: its cosine and (for reranked
    variants) ``0.5 * (cosine + pair probability)``; 0 otherwise."""
    title: str = ""
    headings: list[str] = field(default_factory=list)


@dataclass
class SearchResult:
    """Ranked hits for a query and the decision taken on them."""

    query: str
    lang: str
    decision: str
    hits: list[Hit]
    choices: int = 0

    @property
    def answer(self) -> Hit | None:
        """The hit to answer with, when the decision is ``answer``."""
        return self.hits[0] if self.decision == "answer" and self.hits else None

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict."""
        return asdict(self)


def describe_tokenizer(tokenizer: TokenizerFn) -> str:
    """Identify a tokenizer's configuration (stored in the manifest)."""
    describe = getattr(tokenizer, "describe", None)
    return describe() if callable(describe) else getattr(tokenizer, "__qualname__", repr(tokenizer))


def _underspecified(tokens: list[str], max_words: int) -> bool:
    """Tell whether a query is too short to pick one entry.

    At most ``max_words`` words and, in Chinese, at most 3 content characters per word:
    "points", "发票", but not "货到付款".
    """
    words = sum(1 for t in tokens if t.startswith("w:") or ":" not in t)
    chars = sum(1 for t in tokens if t.startswith("c:"))
    return words <= max_words and chars <= 3 * max_words


def _coerce(doc: Entry | dict) -> Entry:
    if isinstance(doc, Entry):
        return doc
    answer = doc.get("answer", "")
    return Entry(
        id=str(doc["id"]),
        questions=list(doc.get("questions") or [doc["question"]]),
        answer=dict(answer) if isinstance(answer, dict) else {"*": str(answer)},
        tags=list(doc.get("tags", [])),
    )


class KnowledgeBase:
    """Hybrid (BM25 + dense) retrieval over FAQ entries and document passages.

    Use :meth:`build` or :meth:`load` to create one.

    Args:
        entries: The entries.
        lexical: BM25 index over the entries' question variants.
        entry_lexical: BM25 index over whole entries (all variants and answers).
        dense: faiss index over the same variants.
        doc_entry: Entry index of each indexed variant.
        settings: Thresholds and weights.
        tokenizer: Tokenizer used for the lexical index (must match it).
        embedder: Embedder used for the dense index (must match it).
        zh_model: Trained Chinese encoder + pair scorer used for Chinese queries (optional).
        zh_vectors: The Chinese encoder's vectors of the indexed variants (computed when
            missing).
        adapter: The knowledge base's own linear map of the embedder's vectors (applied to
            queries; the indexed vectors are already mapped).
    """

    def __init__(
        self,
        entries: list[Entry],
        lexical: LexicalIndex,
        entry_lexical: LexicalIndex,
        dense: DenseIndex,
        doc_entry: np.ndarray,
        *,
        settings: Settings,
        tokenizer: TokenizerFn,
        embedder: Embedder,
        manifest: dict | None = None,
        zh_model: ZhModel | None = None,
        zh_vectors: np.ndarray | None = None,
        adapter: Adapter | None = None,
    ) -> None:
        self.entries = entries
        self.adapter = adapter
        self.lexical = lexical
        self.entry_lexical = entry_lexical
        self.dense = dense
        self.doc_entry = doc_entry
        self.settings = settings
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.manifest = manifest or {}
        self.doc_text = [q for e in entries for q in e.questions]
        self.zh_model = zh_model
        self.zh_vectors = zh_vectors
        self.calibration: dict[str, dict[str, float]] = dict(self.manifest.get("calibration", {}))
        """Per query language ``slope`` and ``center`` fitted by self-calibration (if any)."""
        if zh_model is not None:
            if len(self.doc_text) <= ZH_WARM_MAX:  # the pair scorer's inputs, ready up front
                for text in self.doc_text:
                    if detect_lang(text) == "zh":
                        zh_model.prepared(text)
            if zh_vectors is None or len(zh_vectors) != len(doc_entry):
                self.zh_vectors = zh_model.encode(self.doc_text)

    # ----------------------------------------------------------------- build
    @classmethod
    def build(
        cls,
        docs: Iterable[Entry | dict],
        *,
        settings: Settings | None = None,
        tokenizer: TokenizerFn | None = None,
        embedder: Embedder | None = None,
        zh_model: ZhModel | None | str = "settings",
        show_progress: bool = False,
        self_calibrate: bool | None = None,
    ) -> KnowledgeBase:
        """Index entries (``Entry`` objects or dicts with ``id``, ``questions``, ``answer``).

        Args:
            docs: The entries to index.
            settings: Settings (default: from the environment).
            tokenizer: Lexical tokenizer (default: jieba words + character bigrams).
            embedder: Embedding model (default: the model setting, tuned model if present).
            zh_model: Trained Chinese model; by default the one in ``ZH_MODEL_DIR`` when
                present and ``USE_ZH_MODEL`` is true; ``None`` for none.
            show_progress: Show a progress bar while embedding.
            self_calibrate: Fit the confidence on the entries' own variants
                (:mod:`knowledge_base.selfcal`); default: the ``SELF_CALIBRATE`` setting.
        """
        settings = settings or get_settings()
        tokenizer = tokenizer or default_tokenizer()
        embedder = embedder or embedder_from_settings(settings)
        if isinstance(zh_model, str):
            zh_model = zh_model_from_settings(settings)
        entries = [_coerce(d) for d in docs]
        texts = [q for e in entries for q in e.questions]
        doc_entry = np.asarray(
            [i for i, e in enumerate(entries) for _ in e.questions], dtype=np.int64
        )
        lexical = LexicalIndex.build(texts, tokenizer)
        entry_lexical = LexicalIndex.build(
            [" ".join([*e.questions, *e.answer.values()]) for e in entries], tokenizer
        )
        vectors = embedder.encode([for_embedding(t) for t in texts], show_progress=show_progress)
        adapter = None
        if settings.ADAPT and len(vectors):
            sizes = getattr(embedder, "block_sizes", None) or [int(vectors.shape[1])]
            adapter = fit_adapter(vectors, doc_entry, sizes, steps=settings.ADAPT_STEPS)
            if adapter is not None:
                vectors = adapter.apply(vectors)
        dense = DenseIndex(
            vectors,
            approx_min_size=settings.APPROX_MIN_SIZE,
            approx_kind=settings.APPROX_KIND,
            nprobe=settings.IVF_NPROBE,
            ivf_cells_factor=settings.IVF_CELLS_FACTOR,
            hnsw_m=settings.HNSW_M,
            ef_construction=settings.HNSW_EF_CONSTRUCTION,
            ef_search=settings.HNSW_EF_SEARCH,
        )
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": embedder.name,
            "multilingual_model": getattr(getattr(embedder, "multilingual", None), "name", ""),
            "model_fingerprint": embedder.fingerprint(),
            "dimensions": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
            "tokenizer": describe_tokenizer(tokenizer),
            "index_type": dense.kind,
            "adapter": adapter is not None,
            "zh_model": zh_model.fingerprint() if zh_model is not None else _NO_ZH_MODEL,
            "counts": {
                "entries": len(entries),
                "variants": len(texts),
                "vocabulary": len(lexical.vocab),
                "faq": sum(e.kind == "faq" for e in entries),
                "passages": sum(e.kind == "passage" for e in entries),
            },
        }
        kb = cls(
            entries,
            lexical,
            entry_lexical,
            dense,
            doc_entry,
            settings=settings,
            tokenizer=tokenizer,
            embedder=embedder,
            manifest=manifest,
            zh_model=zh_model,
            adapter=adapter,
        )
        if settings.SELF_CALIBRATE if self_calibrate is None else self_calibrate:
            from knowledge_base.selfcal import self_calibrate as fit

            kb.calibration = fit(kb)
            kb.manifest["calibration"] = kb.calibration
        return kb

    # ---------------------------------------------------------------- search
    def search(self, query: str, k: int = 5, *, lang: str | None = None) -> SearchResult:
        """Rank entries for ``query`` and decide: answer, clarify or none.

        Args:
            query: The customer's message (Chinese or English, any width or script).
            k: How many entries to return.
            lang: Language of the answer texts (default: detected from the query).
        """
        s = self.settings
        query_lang = detect_lang(query)
        lang = lang or query_lang
        tokens = self.tokenizer(query)
        if not tokens and not query.strip():
            return SearchResult(query, lang, "none", [])
        raw, mass = self.lexical.scores(tokens)
        text = for_embedding(query)
        weight = s.DENSE_WEIGHT_ZH if query_lang == "zh" else s.DENSE_WEIGHT_EN
        encode_query = getattr(self.embedder, "encode_query", None)
        unknown = getattr(self.embedder, "unknown_ratio", None)
        if encode_query is None and callable(unknown) and weight > 0:
            # an English-only model gives near random vectors for a language it does not know
            weight *= max(0.0, 1.0 - unknown(text) / s.UNK_TOLERANCE)
        n_cand = min(s.CANDIDATES, len(self.doc_entry))
        if n_cand < len(raw):
            lex_ids = np.argpartition(-raw, n_cand - 1)[:n_cand]
        else:
            lex_ids = np.arange(len(raw))
        qvec = None
        if weight > 0:  # the model knows the query's language: ask it
            qvec = encode_query(text) if encode_query else self.embedder.encode([text])
            qvec = (self.adapter.apply(qvec) if self.adapter is not None else qvec)[0]
            _, dense_ids = self.dense.search(qvec, n_cand)
            lex_ids = np.concatenate([dense_ids[0][dense_ids[0] >= 0], lex_ids])
        cand = np.unique(lex_ids.astype(np.int64))
        zh_sims = None
        if query_lang == "zh" and self.zh_model is not None and self.zh_vectors is not None:
            zh_query = self.zh_model.prepared(query)
            zh_sims = self.zh_vectors @ zh_query.vector
            if n_cand < len(zh_sims):
                zh_ids = np.argpartition(-zh_sims, n_cand - 1)[:n_cand]
            else:
                zh_ids = np.arange(len(zh_sims))
            cand = np.unique(np.concatenate([cand, zh_ids]))
        if qvec is not None:
            dense_scores = self.dense.scores_for(qvec, cand)
        else:
            dense_scores = np.zeros(len(cand), dtype=np.float32)
        lex_norm = raw[cand] / mass
        fused = fuse(dense_scores, lex_norm, weight)
        zh_scores = np.zeros(len(cand), dtype=np.float32)
        if zh_sims is not None:
            zh_scores = zh_sims[cand].astype(np.float32)
            fused = (1 - s.ZH_DENSE_WEIGHT) * fused + s.ZH_DENSE_WEIGHT * zh_scores
            top = np.argsort(-fused)[: s.ZH_RERANK_TOP]
            if len(top) and s.ZH_RERANK_WEIGHT > 0:
                probs = self.zh_model.score_pairs(
                    zh_query, [self.doc_text[int(d)] for d in cand[top]]
                )
                r = s.ZH_RERANK_WEIGHT
                fused = (1 - r) * fused
                fused[top] += r * probs
                zh_scores[top] = 0.5 * (zh_scores[top] + probs)
        ranked = aggregate_max(
            cand, fused, self.doc_entry, mean_weight=s.AGG_MEAN_WEIGHT, top_k=s.AGG_TOP_K
        )
        entry_raw, entry_mass = self.entry_lexical.scores(tokens)
        entry_norm = np.minimum(entry_raw / entry_mass, 1.5)
        g = s.ENTRY_LEXICAL_WEIGHT
        ranked = sorted(
            ((e, (1 - g) * score + g * float(entry_norm[e]), doc) for e, score, doc in ranked),
            key=lambda item: -item[1],
        )[:k]
        margin = None
        if s.SELF_CALIBRATE and query_lang in self.calibration:
            slope = self.calibration[query_lang]["slope"]
            center = self.calibration[query_lang]["center"]
            margin = self.calibration[query_lang].get("margin")
        elif zh_sims is not None:
            slope, center = s.CONF_SLOPE_ZH_MODEL, s.CONF_CENTER_ZH_MODEL
        elif query_lang == "zh":
            slope, center = s.CONF_SLOPE_ZH, s.CONF_CENTER_ZH
        else:
            slope, center = s.CONF_SLOPE_EN, s.CONF_CENTER_EN
        pos = {int(d): i for i, d in enumerate(cand)}
        hits = []
        for entry_idx, score, doc in ranked:
            entry = self.entries[entry_idx]
            hits.append(
                Hit(
                    id=entry.id,
                    score=round(float(score), 4),
                    confidence=round(confidence(score, slope, center), 4),
                    answer=entry.answer_in(lang),
                    matched=self.doc_text[doc],
                    dense=round(float(dense_scores[pos[doc]]), 4),
                    lexical=round(float(lex_norm[pos[doc]]), 4),
                    kind=entry.kind,
                    zh=round(float(zh_scores[pos[doc]]), 4),
                    title=entry.title,
                    headings=entry.headings,
                )
            )
        # fitted on the default pipeline: not with the opt-in Chinese model's scores
        calibrated = s.SELF_CALIBRATE and query_lang in self.calibration and zh_sims is None
        transfer = load_transfer(s.CONFIDENCE_MODEL) if calibrated else None
        if transfer is not None and hits:
            confidences = transfer.confidences(
                query_lang,
                self.calibration[query_lang],
                [h.score for h in hits],
                hits[0].dense,
                hits[0].lexical,
                query,
                s.ANSWER_THRESHOLD,
            )
            for hit, value in zip(hits, confidences or [], strict=False):
                hit.confidence = round(value, 4)
        decision = decide(
            [h.score for h in hits],
            [h.confidence for h in hits],
            threshold=s.ANSWER_THRESHOLD,
            margin=s.CLARIFY_MARGIN / slope if margin is None else margin,
            underspecified=_underspecified(tokens, s.CLARIFY_MAX_WORDS),
        )
        return SearchResult(query, lang, decision.action, hits, decision.choices)

    # ------------------------------------------------------------ save, load
    def save(self, directory: str | Path, *, extra_manifest: dict | None = None) -> Path:
        """Write the index into ``directory`` atomically.

        Everything is written into a temporary sibling folder, which then replaces
        ``directory`` by rename; a failure leaves the previous index untouched.
        """
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
        try:
            self.lexical.save(tmp)
            self.entry_lexical.save(tmp, "entry_lexical")
            self.dense.save(tmp)
            np.save(tmp / "doc_entry.npy", self.doc_entry)
            if self.zh_vectors is not None:
                np.save(tmp / "zh_vectors.npy", self.zh_vectors)
            if self.adapter is not None:
                np.savez(tmp / "adapter.npz", **self.adapter.to_arrays())
            (tmp / "entries.json").write_text(
                json.dumps([e.to_dict() for e in self.entries], ensure_ascii=False)
            )
            manifest = {**self.manifest, **(extra_manifest or {})}
            manifest["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
            self.manifest = manifest
            old = None
            if directory.exists():
                old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
                os.replace(directory, old)
            os.replace(tmp, directory)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        settings: Settings | None = None,
        tokenizer: TokenizerFn | None = None,
        embedder: Embedder | None = None,
        zh_model: ZhModel | None | str = "settings",
    ) -> KnowledgeBase:
        """Load an index written by :meth:`save` (the embedding model loads lazily).

        The Chinese model is the one of the settings (see :meth:`build`); the saved Chinese
        vectors are used when they were made by the same model, else they are recomputed.
        """
        directory = Path(directory)
        manifest_path = directory / "manifest.json"
        if not manifest_path.is_file():
            raise FileNotFoundError(f"no knowledge-base index in {directory} (run 'kb build')")
        manifest = json.loads(manifest_path.read_text())
        settings = settings or get_settings()
        entries = [Entry.from_dict(d) for d in json.loads((directory / "entries.json").read_text())]
        if embedder is None:
            saved = settings.model_copy(
                update={"MULTILINGUAL_MODEL": manifest.get("multilingual_model", "")}
            )
            embedder = embedder_from_settings(saved, manifest["model"])
        if isinstance(zh_model, str):
            zh_model = zh_model_from_settings(settings)
        zh_vectors = None
        zh_file = directory / "zh_vectors.npy"
        if (
            zh_model is not None
            and manifest.get("zh_model") == zh_model.fingerprint()
            and zh_file.is_file()
        ):
            zh_vectors = np.load(zh_file)
        if zh_model is not None:
            manifest = {**manifest, "zh_model": zh_model.fingerprint()}
        adapter = None
        if (directory / "adapter.npz").is_file():
            with np.load(directory / "adapter.npz") as arrays:
                adapter = Adapter.from_arrays(dict(arrays))
        return cls(
            entries,
            LexicalIndex.load(directory),
            LexicalIndex.load(directory, "entry_lexical"),
            DenseIndex.load(
                directory, ef_search=settings.HNSW_EF_SEARCH, nprobe=settings.IVF_NPROBE
            ),
            np.load(directory / "doc_entry.npy"),
            settings=settings,
            tokenizer=tokenizer or default_tokenizer(),
            embedder=embedder,
            manifest=manifest,
            zh_model=zh_model,
            zh_vectors=zh_vectors,
            adapter=adapter,
        )


def zh_model_from_settings(settings: Settings) -> ZhModel | None:
    """The trained Chinese model in ``ZH_MODEL_DIR`` if present and enabled, else ``None``."""
    if not settings.USE_ZH_MODEL:
        return None
    return load_zh_model(settings.ZH_MODEL_DIR)


def sources_hash(paths: Sequence[str | Path]) -> str:
    """SHA-256 over the names and contents of every source file."""
    digest = hashlib.sha256()
    for path in iter_source_files(paths):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def build_if_changed(
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    tokenizer: TokenizerFn | None = None,
    force: bool = False,
    show_progress: bool = False,
) -> tuple[KnowledgeBase | None, bool]:
    """Build and save the index unless sources, model and tokenizer are unchanged.

    Returns:
        ``(knowledge base, True)`` when built, ``(None, False)`` when the saved index is current.

    Raises:
        ValidationError: When a source is invalid (the saved index is not touched).
    """
    settings = settings or get_settings()
    embedder = embedder or embedder_from_settings(settings)
    tokenizer = tokenizer or default_tokenizer()
    zh_model = zh_model_from_settings(settings)
    zh_fingerprint = zh_model.fingerprint() if zh_model is not None else _NO_ZH_MODEL
    digest = sources_hash(sources)
    manifest_path = Path(out) / "manifest.json"
    if not force and manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if (
            old.get("sources_hash") == digest
            and old.get("model_fingerprint") == embedder.fingerprint()
            and old.get("tokenizer") == describe_tokenizer(tokenizer)
            and old.get("format_version") == FORMAT_VERSION
            and old.get("zh_model", _NO_ZH_MODEL) == zh_fingerprint
        ):
            return None, False
    entries = load_sources(
        sources,
        passage_max_chars=settings.PASSAGE_MAX_CHARS,
        overlap_sentences=settings.PASSAGE_OVERLAP_SENTENCES,
    )
    kb = KnowledgeBase.build(
        entries,
        settings=settings,
        tokenizer=tokenizer,
        embedder=embedder,
        zh_model=zh_model,
        show_progress=show_progress,
    )
    kb.save(out, extra_manifest={"sources_hash": digest, "sources": [str(p) for p in sources]})
    return kb, True
