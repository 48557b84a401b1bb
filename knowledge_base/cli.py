"""The ``kb`` command line, thin over :class:`~knowledge_base.kb.KnowledgeBase`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from knowledge_base.config import get_settings
from knowledge_base.sources import ValidationError
from knowledge_base.transfer import DEFAULT_MODEL_FILE

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="kb", description="Bilingual knowledge base.")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="validate sources and build the index")
    build.add_argument("sources", nargs="*", type=Path, help="FAQ .yml/.csv, .md/.txt, folders")
    build.add_argument("--out", type=Path, default=settings.INDEX_DIR, help="index folder")
    build.add_argument("--force", action="store_true", help="rebuild even when unchanged")
    build.add_argument("--model", help="embedding model name or path (overrides settings)")
    build.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    check = sub.add_parser("validate", help="validate sources only")
    check.add_argument("sources", nargs="+", type=Path)

    search = sub.add_parser("search", help="search the index")
    search.add_argument("query")
    search.add_argument("--index", type=Path, default=settings.INDEX_DIR)
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--lang", choices=["zh", "en"], help="answer language")
    search.add_argument("-k", type=int, default=5, help="number of entries")

    ev = sub.add_parser("eval", help="evaluate on a query,expected_id CSV")
    ev.add_argument("--index", type=Path, default=settings.INDEX_DIR)
    ev.add_argument("--queries", type=Path, required=True)
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.add_argument("--errors", action="store_true", help="list the queries that went wrong")

    cal = sub.add_parser("calibrate", help="fit confidence and threshold on a query set")
    cal.add_argument("--index", type=Path, default=settings.INDEX_DIR)
    cal.add_argument("--queries", type=Path, required=True)
    cal.add_argument("--min-oos-reject", type=float, default=0.8)

    fit = sub.add_parser(
        "fit-confidence",
        help="fit the answer confidence across development sets (leave-one-set-out report)",
    )
    fit.add_argument(
        "--set",
        nargs=2,
        action="append",
        metavar=("FAQ", "QUERIES"),
        type=Path,
        help="a development knowledge base and its query,expected_id CSV (repeat; default: "
        "the demo and knowledge_base/dev_sets/*)",
    )
    fit.add_argument("--out", type=Path, default=DEFAULT_MODEL_FILE, help="model file")
    fit.add_argument("--min-precision", type=float, default=0.92)
    fit.add_argument("--min-oos-reject", type=float, default=0.85)

    tune = sub.add_parser("tune", help="fine-tune the embedder on the sources' variants")
    tune.add_argument("sources", nargs="*", type=Path)
    tune.add_argument("--out", type=Path, default=settings.TUNED_MODEL_DIR)
    tune.add_argument("--base", default=settings.MODEL, help="model to start from")
    tune.add_argument("--epochs", type=int, default=4)
    tune.add_argument("--seed", type=int, default=13)

    zh = sub.add_parser(
        "train-zh", help="train the Chinese encoder + pair scorer from the question-matching pairs"
    )
    zh.add_argument(
        "--data",
        type=Path,
        default=settings.ZH_DATA_DIR,
        help="data folder holding zh_question_matching/ (and sentiment/ for unlabelled text)",
    )
    zh.add_argument("--out", type=Path, default=settings.ZH_MODEL_DIR, help="model folder")
    zh.add_argument("--force", action="store_true", help="retrain even when unchanged")
    zh.add_argument("--epochs", type=int, help="encoder epochs (default: TrainConfig)")
    zh.add_argument("--no-unlabelled", action="store_true", help="do not read sentiment/ texts")
    return parser


def _build(args: argparse.Namespace) -> int:
    from knowledge_base.kb import build_if_changed

    settings = get_settings()
    if args.model:
        settings = settings.model_copy(update={"MODEL": args.model, "USE_TUNED": False})
    sources = args.sources or settings.SOURCES
    start = time.perf_counter()
    kb, built = build_if_changed(
        sources, args.out, settings=settings, force=args.force, show_progress=not args.no_progress
    )
    if not built:
        print(f"index {args.out} is up to date (sources and model unchanged); nothing to do")
        return 0
    counts = kb.manifest["counts"]
    models = " + ".join(m for m in (kb.manifest["model"], kb.manifest["multilingual_model"]) if m)
    print(
        f"built {args.out}: {counts['entries']} entries, {counts['variants']} variants, "
        f"model {models} ({kb.manifest['dimensions']} dims, "
        f"{kb.manifest['index_type']}) in {time.perf_counter() - start:.1f} s"
    )
    for lang, fitted in sorted(kb.calibration.items()):
        print(
            f"self-calibrated {lang}: answer from score {fitted['cut']:.3f} "
            f"({fitted['answerable_probes']} held-out variants, "
            f"{fitted['unanswerable_probes']} variants of held-out entries)"
        )
    return 0


def _search(args: argparse.Namespace) -> int:
    from knowledge_base.kb import KnowledgeBase

    kb = KnowledgeBase.load(args.index)
    result = kb.search(args.query, k=args.k, lang=args.lang)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"decision: {result.decision} (lang {result.lang})")
    for rank, hit in enumerate(result.hits, 1):
        print(f"{rank}. {hit.id}  score={hit.score:.3f}  confidence={hit.confidence:.3f}")
        print(f"   matched: {hit.matched}")
        print(f"   answer:  {hit.answer}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from knowledge_base.evaluate import evaluate, read_queries, summary_line
    from knowledge_base.kb import KnowledgeBase

    kb = KnowledgeBase.load(args.index)
    metrics = evaluate(kb, read_queries(args.queries))
    details = metrics.pop("details")
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(
            f"queries: {metrics['queries']} ({metrics['in_scope']} in scope, "
            f"{metrics['out_of_scope']} out of scope)"
        )
        print(f"top-1 accuracy (in scope):    {metrics['top1']:.3f}")
        print(f"MRR@5 (in scope):             {metrics['mrr5']:.3f}")
        print(f"answer precision:             {metrics['precision']:.3f}")
        print(f"coverage (in scope answered): {metrics['coverage']:.3f}")
        print(f"in scope answered correctly:  {metrics['answered_correct']:.3f}")
        print(f"out-of-scope rejected:        {metrics['oos_reject']:.3f}")
        print(f"latency p50/p95:              {metrics['p50_ms']:.1f} / {metrics['p95_ms']:.1f} ms")
    if args.errors:
        for d in details:
            wrong = (d["expected_id"] and (d["decision"] != "answer" or d["rank"] != 1)) or (
                not d["expected_id"] and d["decision"] != "none"
            )
            if wrong:
                print(
                    f"  [{d['decision']}] {d['query']!r} expected={d['expected_id'] or '-'} "
                    f"got={d['top_id']} conf={d['confidence']:.3f}",
                    file=sys.stderr,
                )
    print(summary_line(metrics))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from knowledge_base.calibrate import calibrate
    from knowledge_base.evaluate import read_queries
    from knowledge_base.kb import KnowledgeBase

    kb = KnowledgeBase.load(args.index)
    result = calibrate(kb, read_queries(args.queries), min_oos_reject=args.min_oos_reject)
    print(json.dumps(result, indent=2))
    for key, value in result["settings"].items():
        print(f"CSA_KB_{key}={value}")
    return 0


def _fit_confidence(args: argparse.Namespace) -> int:
    from knowledge_base.confidence_fit import DEV_SETS, DevSet, fit_transfer
    from knowledge_base.embed import embedder_from_settings

    settings = get_settings()
    sets = DEV_SETS
    if args.set:
        sets = tuple(DevSet(faq.parent.name, faq, queries) for faq, queries in args.set)
    missing = [str(p) for d in sets for p in (d.faq, d.queries) if not p.is_file()]
    if missing:
        print(f"error: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    model, report = fit_transfer(
        sets,
        settings=settings,
        embedder=embedder_from_settings(settings),
        min_precision=args.min_precision,
        min_oos_reject=args.min_oos_reject,
        log=lambda message: print(message, file=sys.stderr),
    )
    print("left-out set  lang  answered correctly / precision / out of scope rejected")
    for name, systems in report.items():
        for lang in ("zh", "en"):
            cells = []
            for system, figures in systems.items():
                f = figures[lang]
                cells.append(
                    f"{system}: {f['answered_correct']:.3f} / {f['precision']:.3f} / "
                    f"{f['oos_reject']:.3f}"
                )
            print(f"{name:12s}  {lang}    " + "   ".join(cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(model.to_json() + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(f"confidence model fitted on {', '.join(model.fitted_on)} written to {args.out}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from knowledge_base.sources import load_sources

    entries = load_sources(args.sources)
    print(f"ok: {len(entries)} entries")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from knowledge_base.sources import load_sources
    from knowledge_base.tune import tune

    settings = get_settings()
    entries = load_sources(args.sources or settings.SOURCES)
    groups = [e.questions for e in entries if len(e.questions) >= 2]
    start = time.perf_counter()
    path = tune(groups, args.out, base=args.base, epochs=args.epochs, seed=args.seed)
    print(
        f"tuned model saved to {path} in {time.perf_counter() - start:.0f} s; "
        "'kb build' uses it from now on (CSA_KB_USE_TUNED=false to disable)"
    )
    return 0


def _train_zh(args: argparse.Namespace) -> int:
    from knowledge_base.zh_model import TrainConfig, train_from_data

    config = TrainConfig()
    if args.epochs:
        config.epochs = args.epochs
    if args.no_unlabelled:
        config.unlabelled = 0
    start = time.perf_counter()
    path, trained = train_from_data(
        args.data,
        args.out,
        config=config,
        force=args.force,
        log=lambda m: print(f"[train-zh] {m}", file=sys.stderr, flush=True),
    )
    if not trained:
        print(f"Chinese model {path} is up to date (same data and settings); nothing to do")
        return 0
    manifest = json.loads((path / "manifest.json").read_text())
    held = ", ".join(
        f"{name} auc={r['auc']:.3f} acc={r['acc']:.3f}" for name, r in manifest["heldout"].items()
    )
    print(
        f"Chinese model saved to {path} in {time.perf_counter() - start:.0f} s "
        f"(held-out pairs: {held}); 'kb build' uses it for Chinese queries"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kb`` command line and return its exit code."""
    args = _parser().parse_args(argv)
    handlers = {
        "build": _build,
        "validate": _validate,
        "search": _search,
        "eval": _eval,
        "calibrate": _calibrate,
        "tune": _tune,
        "train-zh": _train_zh,
        "fit-confidence": _fit_confidence,
    }
    try:
        return handlers[args.command](args)
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
