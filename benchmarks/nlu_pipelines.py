"""Compare NLU pipelines for the bot: Rasa cross-validation and the held-out test set.

For each candidate pipeline the script writes a Rasa config to a temporary directory, then
runs in the bot env (through ``subprocess``):

- ``rasa test nlu --cross-validation`` over the training data (bot/data/nlu);
- ``rasa train nlu`` on all the training data, then ``rasa test nlu`` on the held-out set
  (bot/tests/nlu/test_nlu.yml), which Rasa never trains on.

It prints one table: intent macro-F1 overall and per language (zh, en) for the
cross-validation folds and for the held-out set, the held-out share of messages that fell
below the fallback threshold, entity F1 for ``order_number`` and ``rating`` on the held-out set and
the NLU training time. ``rasa test nlu`` undoes the FallbackClassifier's prediction, so the
script counts the messages whose top intent confidence is below the fallback threshold (the
ones the bot would answer with ``nlu_fallback``) separately, and scores the intent underneath.
A message is Chinese when it contains a Han character, English otherwise (the rule
tests/bot/test_training_data.py counts examples by). Macro-F1 averages over the intents of
the gold labels.

Usage::

    python benchmarks/nlu_pipelines.py [--bot-python PATH] [--nlu DIR] [--test FILE]
        [--folds N] [--pipelines NAME,...] [--work-dir DIR] [--skip-cv]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"

HAN = re.compile(r"[\u4e00-\u9fff]")
ENTITIES = ("order_number", "rating")

# Every pipeline starts with the bot's own tokenizer and language tagger and ends with the
# bot's fallback, so only the featurizers and the classifier differ.
_HEAD: list[dict] = [
    {"name": "components.bilingual.BilingualJiebaTokenizer"},
    {"name": "components.bilingual.LanguageDetector"},
    {"name": "RegexFeaturizer"},
]
FALLBACK_THRESHOLD = 0.5
_TAIL: list[dict] = [
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier", "threshold": FALLBACK_THRESHOLD, "ambiguity_threshold": 0.1},
]
_WORDS = {"name": "CountVectorsFeaturizer"}
_LEXICAL = {"name": "LexicalSyntacticFeaturizer"}


def _chars(min_ngram: int, max_ngram: int) -> dict:
    return {
        "name": "CountVectorsFeaturizer",
        "analyzer": "char_wb",
        "min_ngram": min_ngram,
        "max_ngram": max_ngram,
    }


def _diet(epochs: int, transformer_layers: int) -> dict:
    return {
        "name": "DIETClassifier",
        "epochs": epochs,
        "number_of_transformer_layers": transformer_layers,
        "constrain_similarities": True,
        "random_seed": 42,
    }


# CRF entities, helped by RegexFeaturizer's order_number pattern (a RegexEntityExtractor next
# to it would extract order numbers twice).
_LOGREG = [
    {"name": "LogisticRegressionClassifier", "max_iter": 500},
    {"name": "CRFEntityExtractor"},
]

PIPELINES: dict[str, tuple[str, list[dict]]] = {
    "diet-t2-words-char1-4": (
        "jieba words + char_wb 1-4 + lexical, DIET with its default 2-layer transformer, "
        "100 epochs (the skeleton's pipeline)",
        [*_HEAD, _LEXICAL, _WORDS, _chars(1, 4), _diet(100, 2), *_TAIL],
    ),
    "diet-t0-words-char1-4": (
        "jieba words + char_wb 1-4 + lexical, DIET without transformer, 100 epochs",
        [*_HEAD, _LEXICAL, _WORDS, _chars(1, 4), _diet(100, 0), *_TAIL],
    ),
    "diet-t0-char1-4": (
        "char_wb 1-4 only, DIET without transformer, 100 epochs",
        [*_HEAD, _chars(1, 4), _diet(100, 0), *_TAIL],
    ),
    "logreg-words-char1-4": (
        "jieba words + char_wb 1-4 + lexical, LogisticRegression intents, CRF entities",
        [*_HEAD, _LEXICAL, _WORDS, _chars(1, 4), *_LOGREG, *_TAIL],
    ),
    "logreg-words12-char1-4": (
        "jieba words and word bigrams + char_wb 1-4 + lexical, LogisticRegression, CRF entities",
        [*_HEAD, _LEXICAL, {**_WORDS, "max_ngram": 2}, _chars(1, 4), *_LOGREG, *_TAIL],
    ),
    "logreg-char1-4": (
        "char_wb 1-4 only, LogisticRegression intents, CRF entities",
        [*_HEAD, _chars(1, 4), *_LOGREG, *_TAIL],
    ),
}
DEFAULT_PIPELINES = ("diet-t0-words-char1-4", "logreg-words-char1-4", "logreg-char1-4")


@dataclass
class Scores:
    """Intent scores of one evaluation run."""

    macro_f1: float
    macro_f1_zh: float
    macro_f1_en: float
    fallback_share: float
    entity_f1: dict[str, float]


def language(text: str) -> str:
    """Return ``"zh"`` for a text with a Han character, ``"en"`` otherwise."""
    return "zh" if HAN.search(text) else "en"


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Macro-F1 of ``(gold, predicted)`` pairs, averaged over the gold labels."""
    labels = sorted({gold for gold, _ in pairs})
    if not labels:
        return float("nan")
    total = 0.0
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels)


def read_predictions(out_dir: Path) -> list[tuple[str, str, str, float]]:
    """``(text, gold, predicted, confidence)`` per message of a ``rasa test nlu`` output."""
    rows = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out_dir / name
        if path.exists():
            for r in json.loads(path.read_text()):
                predicted = r["intent_prediction"]
                rows.append((r["text"], r["intent"], predicted["name"], predicted["confidence"]))
    return rows


def entity_f1(out_dir: Path) -> dict[str, float]:
    """Best F1 per entity of interest over the extractor reports in an output folder."""
    best: dict[str, float] = {}
    for path in out_dir.glob("*_report.json"):
        if path.name in {"intent_report.json", "response_selection_report.json"}:
            continue
        report = json.loads(path.read_text())
        for entity in ENTITIES:
            if entity in report:
                best[entity] = max(best.get(entity, 0.0), report[entity]["f1-score"])
    return best


def score(out_dir: Path) -> Scores:
    """Scores of a ``rasa test nlu`` run (cross-validation or held-out) from its output."""
    rows = read_predictions(out_dir)
    if not rows:
        raise RuntimeError(f"no intent predictions in {out_dir}")
    by_language = {
        lang: [(g, p) for t, g, p, _ in rows if language(t) == lang] for lang in ("zh", "en")
    }
    return Scores(
        macro_f1=macro_f1([(g, p) for _, g, p, _ in rows]),
        macro_f1_zh=macro_f1(by_language["zh"]),
        macro_f1_en=macro_f1(by_language["en"]),
        fallback_share=sum(1 for *_, c in rows if c < FALLBACK_THRESHOLD) / len(rows),
        entity_f1=entity_f1(out_dir),
    )


def write_config(name: str, directory: Path) -> Path:
    """Write the Rasa config of pipeline ``name`` (JSON is valid YAML) and return its path."""
    config = {
        "recipe": "default.v1",
        "assistant_id": f"nlu-benchmark-{name}",
        "language": "zh",
        "pipeline": PIPELINES[name][1],
        "policies": [{"name": "RulePolicy"}],
    }
    path = directory / f"{name}.yml"
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False))
    return path


def rasa(bot_python: Path, args: Iterable[str], log: Path, cache: Path) -> float:
    """Run ``rasa ARGS`` in the bot env with cwd ``bot/``; return its wall time in seconds.

    ``cache`` is Rasa's training cache: a fresh folder per run, so that training times are
    real and the benchmark neither reuses nor fills the bot's own cache (bot/.rasa).
    """
    command = [str(bot_python), "-m", "rasa", *args]
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore",
        "RASA_CACHE_DIRECTORY": str(cache),
    }
    started = time.perf_counter()
    with log.open("w") as handle:
        done = subprocess.run(command, cwd=BOT, stdout=handle, stderr=subprocess.STDOUT, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}), see {log}")
    return elapsed


def evaluate(
    name: str, bot_python: Path, nlu: Path, test: Path, folds: int, work: Path, skip_cv: bool
) -> tuple[Scores | None, Scores, float]:
    """Cross-validate, then train and test on the held-out set; return both and train time."""
    config = write_config(name, work)
    cache = Path(tempfile.mkdtemp(prefix=f"{name}-cache-", dir=work))
    cv = None
    if not skip_cv:
        cv_out = work / name / "cv"
        rasa(
            bot_python,
            ["test", "nlu", "--nlu", str(nlu), "--config", str(config), "--cross-validation"]
            + ["--folds", str(folds), "--out", str(cv_out), "--successes", "--no-plot"],
            work / f"{name}-cv.log",
            cache,
        )
        cv = score(cv_out)
    models = work / name / "models"
    train_seconds = rasa(
        bot_python,
        ["train", "nlu", "--nlu", str(nlu), "--config", str(config), "--out", str(models)]
        + ["--fixed-model-name", name],
        work / f"{name}-train.log",
        cache,
    )
    held_out = work / name / "held-out"
    rasa(
        bot_python,
        ["test", "nlu", "--nlu", str(test), "--model", str(models / f"{name}.tar.gz")]
        + ["--out", str(held_out), "--successes", "--no-plot"],
        work / f"{name}-test.log",
        cache,
    )
    return cv, score(held_out), train_seconds


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def table(results: dict[str, tuple[Scores | None, Scores, float]], folds: int) -> str:
    """The comparison as a Markdown table."""
    header = (
        f"| pipeline | CV({folds}) F1 | CV zh | CV en | held-out F1 | held-out zh | held-out en "
        "| conf<0.5 | order_number F1 | rating F1 | NLU train s |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for name, (cv, held, seconds) in results.items():
        lines.append(
            f"| {name} | {_f(cv and cv.macro_f1)} | {_f(cv and cv.macro_f1_zh)} "
            f"| {_f(cv and cv.macro_f1_en)} | {held.macro_f1:.3f} | {held.macro_f1_zh:.3f} "
            f"| {held.macro_f1_en:.3f} | {held.fallback_share:.1%} "
            f"| {_f(held.entity_f1.get('order_number'))} | {_f(held.entity_f1.get('rating'))} "
            f"| {seconds:.0f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bot-python", type=Path, default=ROOT / "var/venvs/bot/bin/python")
    parser.add_argument("--nlu", type=Path, default=BOT / "data/nlu", help="training data")
    parser.add_argument("--test", type=Path, default=BOT / "tests/nlu/test_nlu.yml")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--pipelines",
        default=",".join(DEFAULT_PIPELINES),
        help=f"comma-separated names out of: {', '.join(PIPELINES)}",
    )
    parser.add_argument("--work-dir", type=Path, help="keep configs, logs and reports here")
    parser.add_argument("--skip-cv", action="store_true", help="held-out evaluation only")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.pipelines.split(",") if n.strip()]
    unknown = [n for n in names if n not in PIPELINES]
    if unknown:
        parser.error(f"unknown pipeline(s): {', '.join(unknown)}")
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        work = args.work_dir.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="nlu-pipelines-"))
    # absolute(), not resolve(): the venv's python is a symlink that must stay one.
    paths = [p.absolute() for p in (args.bot_python, args.nlu, args.test)]

    results = {}
    for name in names:
        print(f"{name}: {PIPELINES[name][0]} …", file=sys.stderr, flush=True)
        results[name] = evaluate(name, *paths, args.folds, work, args.skip_cv)
    print(table(results, args.folds))
    print(f"\nconfigs, logs and reports: {work}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
