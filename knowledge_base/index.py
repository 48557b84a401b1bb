"""Dense vector index on faiss: exact inner product, or HNSW / IVF above a size threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["DenseIndex"]


class DenseIndex:
    """Inner-product search over L2-normalised vectors.

    Args:
        vectors: ``(n, dim)`` float32 matrix, rows L2-normalised.
        approx_min_size: From this many vectors on, an approximate index replaces the exact one.
        approx_kind: ``"hnsw"`` (graph, no training) or ``"ivf"`` (inverted lists of
            ``ivf_cells_factor * sqrt(n)`` k-means cells: faster to build for millions).
        hnsw_m: HNSW neighbours per node.
        ef_construction: HNSW build-time beam width.
        ef_search: HNSW query-time beam width.
        nprobe: IVF cells visited per query.
        ivf_cells_factor: IVF cells per square root of the collection size.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        approx_min_size: int = 50_000,
        approx_kind: str = "hnsw",
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        nprobe: int = 16,
        ivf_cells_factor: float = 4.0,
        _index: object | None = None,
    ) -> None:
        import faiss

        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = self.vectors.shape if self.vectors.ndim == 2 else (0, 0)
        self.dim = dim
        if _index is not None:
            self.index = _index
        elif n >= approx_min_size and approx_kind == "ivf":
            nlist = max(1, min(n, int(ivf_cells_factor * np.sqrt(n))))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = self.vectors[rng.choice(n, size=min(n, 40 * nlist), replace=False)]
            index.train(sample)
            index.add(self.vectors)
            self.index = index
        elif n >= approx_min_size:
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.add(self.vectors)
            self.index = index
        else:
            self.index = faiss.IndexFlatIP(dim)
            self.index.add(self.vectors)
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = ef_search
        if hasattr(self.index, "nprobe"):
            self.index.nprobe = nprobe

    @property
    def kind(self) -> str:
        """``"hnsw"``, ``"ivf"`` or ``"flat-ip"``."""
        if hasattr(self.index, "hnsw"):
            return "hnsw"
        return "ivf" if hasattr(self.index, "nprobe") else "flat-ip"

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scores, ids)`` of the ``k`` best rows for each query row."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self))
        return self.index.search(queries, k)

    def scores_for(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact inner products of one query with the given rows."""
        return self.vectors[ids] @ np.asarray(query, dtype=np.float32).ravel()

    def save(self, directory: Path) -> None:
        """Write ``dense.faiss`` and ``vectors.npy`` into ``directory``."""
        import faiss

        faiss.write_index(self.index, str(directory / "dense.faiss"))
        np.save(directory / "vectors.npy", self.vectors)

    @classmethod
    def load(cls, directory: Path, *, ef_search: int = 64, nprobe: int = 16) -> DenseIndex:
        """Read an index written by :meth:`save`."""
        import faiss

        vectors = np.load(directory / "vectors.npy", mmap_mode="r")
        index = faiss.read_index(str(directory / "dense.faiss"))
        return cls(np.asarray(vectors), _index=index, ef_search=ef_search, nprobe=nprobe)
