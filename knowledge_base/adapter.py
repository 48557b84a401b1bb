"""A knowledge base's own linear adapter on the frozen encoders' vectors.

The pretrained encoders have never seen the shop's vocabulary ("以旧换新", "price protection");
the knowledge base's question variants say which phrasings mean the same thing. A residual
linear map ``x → x + x·A`` per encoder (block of the vector) is trained on them when the index
is built: variants of one entry are pulled together and pushed away from other entries'
(multi-positive InfoNCE, in-batch), weight decay holding ``A`` near zero. It takes a second or
two with torch on the CPU and costs one small matrix product per query. Each block keeps its
norm, so the bilingual query weighting (``BilingualEmbedder``) is unchanged.

Self-calibration (``selfcal.py``) trains the adapter again inside each fold, so its probes are
scored by an adapter that never saw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Adapter", "fit_adapter"]


@dataclass
class Adapter:
    """Residual linear maps, one per block of the vector (``sizes`` in order)."""

    sizes: list[int]
    matrices: list[np.ndarray]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Map rows block by block (``x + x·A``), each block keeping its norm."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        out = np.empty_like(vectors)
        start = 0
        for size, matrix in zip(self.sizes, self.matrices, strict=True):
            block = vectors[:, start : start + size]
            mapped = block + block @ matrix
            norm_in = np.linalg.norm(block, axis=1, keepdims=True)
            norm_out = np.linalg.norm(mapped, axis=1, keepdims=True)
            out[:, start : start + size] = mapped * (norm_in / np.maximum(norm_out, 1e-12))
            start += size
        return np.ascontiguousarray(out)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez``."""
        arrays = {"sizes": np.asarray(self.sizes, dtype=np.int64)}
        arrays.update({f"block_{i}": m for i, m in enumerate(self.matrices)})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Adapter:
        """Inverse of :meth:`to_arrays`."""
        sizes = [int(s) for s in arrays["sizes"]]
        return cls(sizes, [np.asarray(arrays[f"block_{i}"]) for i in range(len(sizes))])


def fit_adapter(
    vectors: np.ndarray,
    labels: Sequence[int],
    sizes: Sequence[int],
    *,
    steps: int = 50,
    batch: int = 1024,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-2,
    temperature: float = 0.05,
    seed: int = 0,
) -> Adapter | None:
    """Train one residual map per block on the variants' vectors and their entries.

    Args:
        vectors: ``(n, sum(sizes))`` variant vectors (each block L2-normalised).
        labels: The entry of each variant.
        sizes: Block sizes (e.g. ``[384, 512]`` for MiniLM + USE).
        steps: Optimiser steps (full batch when ``n <= batch``, else random batches).
        batch: Variants per step.
        learning_rate: AdamW learning rate.
        weight_decay: L2 penalty on the maps (keeps them near the identity).
        temperature: Softmax temperature of the similarities.
        seed: Seed of the batches.

    Returns:
        The adapter, or ``None`` when no entry has two variants (nothing to learn from).
    """
    import torch

    labels_t = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    counts = torch.bincount(labels_t)
    if len(labels_t) < 4 or int(counts.max()) < 2:
        return None
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    generator = torch.Generator().manual_seed(seed)
    try:
        matrices = []
        start = 0
        for size in sizes:
            x_all = torch.as_tensor(np.ascontiguousarray(vectors[:, start : start + size]))
            start += size
            a = torch.zeros(size, size, requires_grad=True)
            optimiser = torch.optim.AdamW([a], lr=learning_rate, weight_decay=0.0)
            for _ in range(steps):
                if len(x_all) > batch:
                    rows = torch.randperm(len(x_all), generator=generator)[:batch]
                    x, y = x_all[rows], labels_t[rows]
                else:
                    x, y = x_all, labels_t
                z = torch.nn.functional.normalize(x + x @ a, dim=1)
                sims = z @ z.T / temperature
                eye = torch.eye(len(x), dtype=torch.bool)
                sims = sims.masked_fill(eye, -1e9)
                positives = (y[:, None] == y[None, :]) & ~eye
                has = positives.any(dim=1)
                if not bool(has.any()):
                    continue
                log_p = sims.log_softmax(dim=1)
                per_row = log_p.masked_fill(~positives, 0.0).sum(1) / positives.sum(1).clamp(min=1)
                loss = -per_row[has].mean() + weight_decay * (a**2).sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            matrices.append(a.detach().numpy().astype(np.float32))
    finally:
        torch.set_num_threads(threads)
    return Adapter(list(sizes), matrices)
