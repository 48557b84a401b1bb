"""Contrastive fine-tuning of the embedder on the knowledge base's own question variants."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from knowledge_base.config import DEFAULT_MODEL
from knowledge_base.embed import resolve_model
from knowledge_base.normalize import for_embedding

__all__ = ["tune"]


def _pairs(
    groups: Sequence[Sequence[str]], rng: random.Random, max_per_group: int | None = None
) -> list[tuple[str, str, int]]:
    """One (anchor, positive, group) pair per variant (at most ``max_per_group`` per group)."""
    pairs = []
    for label, group in enumerate(groups):
        anchors = list(range(len(group)))
        if max_per_group and len(anchors) > max_per_group:
            anchors = rng.sample(anchors, max_per_group)
        for i in anchors:
            j = rng.choice([x for x in range(len(group)) if x != i])
            pairs.append((group[i], group[j], label))
    rng.shuffle(pairs)
    return pairs


def tune(
    groups: Sequence[Sequence[str]],
    out: str | Path,
    *,
    base: str = DEFAULT_MODEL,
    epochs: int = 4,
    batch_size: int = 32,
    lr: float = 3e-5,
    temperature: float = 0.05,
    seed: int = 13,
    max_per_group: int | None = None,
    threads: int | None = 1,
    show_progress: bool = True,
) -> Path:
    """Fine-tune a sentence-transformers model so variants of one entry embed close together.

    The loss is in-batch contrastive (InfoNCE, as sentence-transformers'
    ``MultipleNegativesRankingLoss``) with one change: other pairs of the same entry are not
    used as negatives. The model is written atomically to ``out``.

    Args:
        groups: Question variants, one list per entry (at least two texts each).
        out: Folder for the tuned model.
        base: Model to start from (name or path).
        epochs: Passes over the variants.
        batch_size: Pairs per step.
        lr: AdamW learning rate.
        temperature: Softmax temperature of the similarity logits.
        seed: Seed for sampling and shuffling.
        max_per_group: Anchors drawn per entry and epoch (all variants when ``None``); keeps
            an epoch short for entries with very many variants.
        threads: Torch threads while training (one is fastest on a shared 2-core machine).
        show_progress: Show a progress bar.

    Returns:
        The folder the model was saved to.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm import tqdm

    groups = [[for_embedding(t) for t in g] for g in groups if len(g) >= 2]
    if not groups:
        raise ValueError("tuning needs entries with at least two question variants")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    model = SentenceTransformer(resolve_model(base), device="cpu")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

    def embed(texts: list[str]) -> torch.Tensor:
        features = model.tokenize(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    per_epoch = sum(min(len(g), max_per_group or len(g)) for g in groups)
    steps = epochs * -(-per_epoch // batch_size)
    bar = tqdm(total=steps, desc="tune", disable=not show_progress)
    for _ in range(epochs):
        pairs = _pairs(groups, rng, max_per_group)
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            anchors = embed([a for a, _, _ in batch])
            positives = embed([p for _, p, _ in batch])
            labels = torch.tensor([g for _, _, g in batch])
            logits = anchors @ positives.T / temperature
            same = labels[:, None] == labels[None, :]
            same.fill_diagonal_(False)
            logits = logits.masked_fill(same, float("-inf"))
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save(str(tmp))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
