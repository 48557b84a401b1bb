"""Train the Rasa model only when what it is trained from changed.

Models are cached as ``<model_dir>/<hash>.tar.gz`` where the hash covers the training data,
the domain, the pipeline config, the custom NLU components and the bot env's requirements.
``endpoints.yml``, ``credentials.yml`` and ``actions/`` do not change the model and are left
out, so editing them never triggers a retrain.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

TRAINING_INPUTS = ("config.yml", "domain", "domain.yml", "data", "components", "requirements.txt")
KEEP_MODELS = 3


class TrainingError(RuntimeError):
    """``rasa train`` failed."""


def training_hash(bot_dir: Path) -> str:
    """Hash of every file the model is trained from (paths and contents)."""
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        top = bot_dir / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(bot_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(bot_dir: Path, model_dir: Path) -> Path:
    """Where the model for the current training data lives (whether or not it exists yet)."""
    return model_dir / f"{training_hash(bot_dir)}.tar.gz"


def ensure_model(bot_dir: Path, model_dir: Path, bot_python: Path) -> Path:
    """Return the model for the current training data, training it first if needed."""
    bot_dir, model_dir = bot_dir.resolve(), model_dir.resolve()
    target = model_path(bot_dir, model_dir)
    if target.exists():
        print(f"[model] up to date: {target}", flush=True)
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    # Train under a private name, then rename: a concurrent run never sees half a model.
    partial_name = f"partial-{target.name.removesuffix('.tar.gz')}-{os.getpid()}"
    print(
        f"[model] training data changed: training {target.name} (takes a few minutes)", flush=True
    )
    started = time.monotonic()
    cmd = [
        str(bot_python.absolute()),
        "-m",
        "rasa",
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain",
        "--data",
        "data",
        "--out",
        str(model_dir),
        "--fixed-model-name",
        partial_name,
    ]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    partial = model_dir / f"{partial_name}.tar.gz"
    try:
        result = subprocess.run(cmd, cwd=bot_dir, env=env, check=False)
    except BaseException:  # Ctrl-C while training: leave no half-written model behind
        partial.unlink(missing_ok=True)
        raise
    if result.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise TrainingError(
            f"`rasa train` failed (exit code {result.returncode}); its output above names the "
            "file and line to fix. Check with: cd bot && ../var/venvs/bot/bin/rasa data validate"
        )
    os.replace(partial, target)
    print(f"[model] trained {target} in {time.monotonic() - started:.0f} s", flush=True)
    _prune(model_dir, keep=target)
    return target


def _prune(model_dir: Path, keep: Path) -> None:
    """Keep the newest few models so switching branches back and forth stays fast."""
    models = sorted(
        (p for p in model_dir.glob("*.tar.gz") if not p.name.startswith("partial-")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in models[KEEP_MODELS:]:
        if old != keep:
            old.unlink(missing_ok=True)
