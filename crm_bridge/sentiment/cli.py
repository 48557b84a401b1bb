"""Command line: ``train`` the models, ``eval`` them on a ``text,label`` CSV file.

The project exposes it as ``crm-bridge sentiment-eval``; ``main(argv)`` is the entry point.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from crm_bridge.sentiment.data import SentimentDataError, read_labelled_csv
from crm_bridge.sentiment.evaluate import evaluate
from crm_bridge.sentiment.paths import default_data_dir, default_model_dir
from crm_bridge.sentiment.scorer import SentimentScorer
from crm_bridge.sentiment.train import ensure_model, train_models


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sentiment", description="Per-message sentiment (zh + en) for the CRM bridge."
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=default_model_dir(),
        help="model folder (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="folder of the public sentiment corpora (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the zh and en models and save them")
    train.add_argument(
        "--no-embeddings",
        action="store_true",
        help="English model without sentence embeddings (faster, less accurate)",
    )
    train.add_argument(
        "--all-data",
        action="store_true",
        help="also train on the fixed test splits (then do not evaluate on them)",
    )
    train.add_argument(
        "--max-rows", type=int, default=None, help="train on at most N rows per language"
    )
    train.add_argument(
        "--neutral-dir",
        type=Path,
        default=None,
        help="Chinese question corpora for the zh neutral class "
        "(default: DATA_DIR/../zh_question_matching)",
    )
    evaluate_ = commands.add_parser(
        "eval", help="print accuracy and macro-F1 on a text,label CSV file"
    )
    evaluate_.add_argument("file", type=Path, help="CSV with columns text,label")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for a bad data file.
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        if args.command == "train":
            path = train_models(
                args.model_dir,
                args.data_dir,
                use_embeddings=not args.no_embeddings,
                hold_out_test=not args.all_data,
                max_rows=args.max_rows,
                neutral_dir=args.neutral_dir,
            )
            print(f"saved sentiment models to {path}")
            return 0
        examples = read_labelled_csv(args.file)
        scorer = SentimentScorer.load(ensure_model(args.model_dir, args.data_dir))
        result = evaluate(scorer, examples)
    except SentimentDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mode = "binary (sign of the score)" if result.binary else "three-way labels"
    print(f"{args.file}: {result.rows} rows, {mode}")
    print(result.report.rstrip())
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
