"""Training the per-language models from the public corpora and saving them in a folder."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import joblib
import sklearn
from sklearn.pipeline import Pipeline

from crm_bridge.sentiment.data import (
    Example,
    SentimentDataError,
    default_neutral_dir,
    load_en_tweets,
    load_zh_neutral,
    load_zh_reviews,
    split_en,
    split_neutral,
    split_zh,
    write_labelled_csv,
)
from crm_bridge.sentiment.models import build_en_model, build_zh_model
from crm_bridge.sentiment.paths import default_data_dir, default_model_dir
from crm_bridge.sentiment.scorer import FORMAT_VERSION, MANIFEST

logger = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")


def fit(model: Pipeline, examples: Sequence[Example]) -> Pipeline:
    """Fit a pipeline on examples and return it."""
    return model.fit([ex.text for ex in examples], [ex.label for ex in examples])


def sample(examples: Sequence[Example], max_rows: int | None, seed: int = 13) -> list[Example]:
    """Return at most ``max_rows`` examples, drawn at random with a fixed seed."""
    if max_rows is None or len(examples) <= max_rows:
        return list(examples)
    return random.Random(seed).sample(list(examples), max_rows)


def train_models(
    model_dir: Path | None = None,
    data_dir: Path | None = None,
    *,
    use_embeddings: bool = True,
    hold_out_test: bool = True,
    max_rows: int | None = None,
    neutral_dir: Path | None = None,
) -> Path:
    """Train the zh and en models and save them with a manifest.

    Args:
        model_dir: Output folder (default ``<repo>/var/sentiment``).
        data_dir: Corpus folder (default ``<repo>/../shared/data/sentiment``).
        use_embeddings: Give the English model sentence-embedding features.
        hold_out_test: Train without the fixed test splits and write them to
            ``<model_dir>/splits/`` (``zh_test.csv``: reviews; ``zh_neutral_test.csv``:
            questions; ``en_test.csv``: tweets) so the saved model can be evaluated.
        max_rows: Train on a random sample of at most this many rows per language (tests).
        neutral_dir: Chinese question corpora used as the zh neutral class (default
            ``<data_dir>/../zh_question_matching``); if missing, zh is trained binary and its
            label comes from the neutral score band.

    Returns:
        The model folder.
    """
    model_dir = Path(model_dir or default_model_dir())
    data_dir = Path(data_dir or default_data_dir())
    model_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info: dict[str, dict[str, object]] = {}
    for language in LANGUAGES:
        examples, tests = _training_data(language, data_dir, neutral_dir, hold_out_test)
        for name, test in tests.items():
            write_labelled_csv(model_dir / "splits" / f"{name}_test.csv", test)
        examples = sample(examples, max_rows)
        if language == "zh":
            model = build_zh_model()
        else:
            model = build_en_model(use_embeddings=use_embeddings)
        t0 = time.perf_counter()
        fit(model, examples)
        seconds = time.perf_counter() - t0
        logger.info(
            "trained %s sentiment model on %d rows in %.1f s", language, len(examples), seconds
        )
        _atomic_dump(model, model_dir / f"{language}.joblib")
        labels = sorted({ex.label for ex in examples})
        info[language] = {"rows": len(examples), "labels": labels, "seconds": round(seconds, 1)}
    manifest = {
        "format": FORMAT_VERSION,
        "sklearn": sklearn.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        "use_embeddings": use_embeddings,
        "hold_out_test": hold_out_test,
        "max_rows": max_rows,
        "languages": info,
        "seconds": round(time.perf_counter() - started, 1),
    }
    tmp = model_dir / f".{MANIFEST}.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, model_dir / MANIFEST)
    return model_dir


def _training_data(
    language: str, data_dir: Path, neutral_dir: Path | None, hold_out_test: bool
) -> tuple[list[Example], dict[str, list[Example]]]:
    """Return the training examples of a language and its named test splits."""
    if language == "en":
        examples = load_en_tweets(data_dir)
        if not hold_out_test:
            return examples, {}
        train, test = split_en(examples)
        return train, {"en": test}
    reviews = load_zh_reviews(data_dir)
    neutral_dir = Path(neutral_dir or default_neutral_dir(data_dir))
    try:
        neutral = load_zh_neutral(neutral_dir)
    except SentimentDataError as exc:
        logger.warning("no zh neutral examples (%s): training a binary zh model", exc)
        neutral = []
    if not hold_out_test:
        return reviews + neutral, {}
    train, test = split_zh(reviews)
    tests = {"zh": test}
    if neutral:
        neutral_train, tests["zh_neutral"] = split_neutral(neutral)
        train += neutral_train
    return train, tests


def _atomic_dump(model: Pipeline, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    joblib.dump(model, tmp)
    os.replace(tmp, path)


def is_trained(model_dir: Path) -> bool:
    """Whether the folder holds a complete model this code and scikit-learn version can load."""
    manifest_path = Path(model_dir) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        manifest.get("format") == FORMAT_VERSION
        and manifest.get("sklearn") == sklearn.__version__
        and all((Path(model_dir) / f"{lang}.joblib").is_file() for lang in LANGUAGES)
    )


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_model(model_dir: Path | None = None, data_dir: Path | None = None) -> Path:
    """Return the model folder, training the models first if they are missing or stale.

    Safe to call from several processes at once: one trains, the others wait for it.

    Args:
        model_dir: Model folder (default ``<repo>/var/sentiment``).
        data_dir: Corpus folder (default ``<repo>/../shared/data/sentiment``).

    Returns:
        The model folder, ready for :meth:`SentimentScorer.load`.
    """
    model_dir = Path(model_dir or default_model_dir())
    if is_trained(model_dir):
        return model_dir
    with _exclusive(model_dir / ".train.lock"):
        if not is_trained(model_dir):
            logger.info("no usable sentiment model in %s: training (a few minutes)", model_dir)
            train_models(model_dir, data_dir)
    return model_dir
