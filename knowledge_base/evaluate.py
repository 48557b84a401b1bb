"""Evaluation of a knowledge base on a query set (``query,expected_id`` CSV)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from knowledge_base.kb import KnowledgeBase

__all__ = ["evaluate", "read_queries", "summary_line"]


def read_queries(path: str | Path) -> list[tuple[str, str]]:
    """Read ``query,expected_id`` rows; an empty ``expected_id`` marks an out-of-scope query."""
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"query", "expected_id"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: need the columns 'query,expected_id'")
        return [
            (row["query"].strip(), (row["expected_id"] or "").strip())
            for row in reader
            if (row["query"] or "").strip()
        ]


def evaluate(kb: KnowledgeBase, queries: list[tuple[str, str]], k: int = 5) -> dict:
    """Run every query and compute retrieval and decision metrics.

    Returns:
        A dict with ``top1`` and ``mrr5`` (in-scope queries), ``precision`` (share of
        ``answer`` decisions that name the expected entry, out-of-scope answers counting as
        wrong), ``coverage`` (share of in-scope queries answered), ``answered_correct``
        (share of in-scope queries answered with the expected entry), ``oos_reject`` (share of
        out-of-scope queries decided ``none``), latency ``p50_ms``/``p95_ms``, counts, and the
        per-query ``details``.
    """
    kb.search("warm up")
    details, latencies = [], []
    for query, expected in queries:
        start = time.perf_counter()
        result = kb.search(query, k=k)
        latencies.append((time.perf_counter() - start) * 1000)
        ids = [h.id for h in result.hits]
        details.append(
            {
                "query": query,
                "expected_id": expected,
                "decision": result.decision,
                "top_id": ids[0] if ids else "",
                "confidence": result.hits[0].confidence if result.hits else 0.0,
                "rank": ids.index(expected) + 1 if expected in ids else 0,
                "ids": ids,
            }
        )
    ins = [d for d in details if d["expected_id"]]
    oos = [d for d in details if not d["expected_id"]]
    answered = [d for d in details if d["decision"] == "answer"]

    def share(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return {
        "queries": len(details),
        "in_scope": len(ins),
        "out_of_scope": len(oos),
        "top1": share(sum(d["rank"] == 1 for d in ins), len(ins)),
        "mrr5": round(float(np.mean([1 / d["rank"] if d["rank"] else 0 for d in ins])), 4)
        if ins
        else 0.0,
        "precision": share(sum(d["top_id"] == d["expected_id"] for d in answered), len(answered)),
        "coverage": share(sum(d["decision"] == "answer" for d in ins), len(ins)),
        "answered_correct": share(
            sum(d["decision"] == "answer" and d["rank"] == 1 for d in ins), len(ins)
        ),
        "clarify": share(sum(d["decision"] == "clarify" for d in details), len(details)),
        "oos_reject": share(sum(d["decision"] == "none" for d in oos), len(oos)),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
        "details": details,
    }


def summary_line(metrics: dict) -> str:
    """The one-line summary printed last by ``kb eval``."""
    keys = ("top1", "mrr5", "precision", "coverage", "oos_reject")
    parts = [f"{key}={metrics[key]:.3f}" for key in keys]
    return " ".join([*parts, f"p95_ms={metrics['p95_ms']:.1f}"])
