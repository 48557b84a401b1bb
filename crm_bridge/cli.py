"""The ``crm-bridge`` command (also ``python -m crm_bridge``)."""

from __future__ import annotations

import argparse
import logging.config
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from crm_bridge import backup as backups
from crm_bridge.core.config import Settings
from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.core.logging import logging_config
from crm_bridge.migrations import upgrade
from crm_bridge.sentiment.cli import main as sentiment_cli
from crm_bridge.services.demo_seed import SeedResult, is_empty, seed_demo

logger = logging.getLogger("crm_bridge")


def _seed(settings: Settings, only_if_empty: bool) -> SeedResult | None:
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session, session.begin():
            if not is_empty(session):
                if only_if_empty:
                    return None
                raise SystemExit("the CRM already has data; seed-demo only fills an empty one")
            return seed_demo(session)
    finally:
        engine.dispose()


def _announce(result: SeedResult, settings: Settings) -> None:
    """Show the demo logins once (stdout, not the log) and keep them in a private file."""
    lines = [f"{login}  {password}" for login, password in result.passwords.items()]
    path = settings.VAR_DIR / "secrets" / "demo_agents.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(
        f"Seeded the demo shop: {result.customers} customers, {result.orders} orders.\n"
        f"Agent console logins (shown once; also in {path}):\n  " + "\n  ".join(lines),
        flush=True,
    )


def _backup(settings: Settings, out: Path | None) -> None:
    """Write a consistent backup of the CRM and say what was written (never the password)."""
    url = settings.database_url
    try:
        path = out or backups.default_backup_path(settings.VAR_DIR, url)
        result = backups.backup(url, path)
    except backups.BackupError as err:
        raise SystemExit(f"backup failed: {err}") from None
    head = backups.head_revision()
    state = "the newest" if result.revision == head else f"this code's newest is {head}"
    print(
        f"Backed up {backups.describe_database(url)}\n"
        f"  file: {result.path}\n"
        f"  size: {result.size:,} bytes\n"
        f"  schema revision: {result.revision or 'none (not migrated)'} ({state})\n"
        "It holds personal data: keep it encrypted and readable by operators only.",
        flush=True,
    )


def _restore(settings: Settings, file: Path, force: bool) -> None:
    """Replace the CRM with a backup; refuse a CRM with data unless ``force``."""
    url = settings.database_url
    try:
        result = backups.restore(url, file, force=force)
    except backups.BackupError as err:
        raise SystemExit(f"restore failed: {err}") from None
    migrated = f"; migrated from revision {result.backup_revision}" if result.migrated else ""
    print(
        f"Restored {file} into {backups.describe_database(url)}\n"
        f"  schema revision: {result.revision} (the newest){migrated}\n"
        "Start the bridge again. Changes made after the backup was taken (erasure requests\n"
        "too) are not in it.",
        flush=True,
    )


def serve(settings: Settings) -> None:
    """Migrate, seed an empty embedded database, and serve."""
    import uvicorn

    from crm_bridge.main import create_app, train_sentiment_if_missing

    config = logging_config(settings.LOG_LEVEL)
    logging.config.dictConfig(config)
    upgrade(settings.database_url)
    if problem := train_sentiment_if_missing(settings):
        logger.warning("could not train the sentiment models: %s", problem)
    if settings.SEED_DEMO:
        result = _seed(settings, only_if_empty=True)
        if result:
            _announce(result, settings)
    uvicorn.run(create_app(settings), host=settings.HOST, port=settings.PORT, log_config=config)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand (default ``serve``)."""
    parser = argparse.ArgumentParser(prog="crm-bridge", description="The CRM bridge.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="migrate the database, seed demo data if empty, and serve")
    sub.add_parser("migrate", help="bring the database to the newest schema")
    seed = sub.add_parser("seed-demo", help="fill an empty CRM with the demo shop's data")
    seed.add_argument(
        "--if-empty", action="store_true", help="do nothing (no error) when the CRM has data"
    )
    backup = sub.add_parser(
        "backup", help="write a consistent backup of the CRM database (safe while it runs)"
    )
    backup.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write it (default: VAR_DIR/backups/crm-<UTC time>.sqlite3 or .pgdump)",
    )
    restore = sub.add_parser(
        "restore", help="replace the CRM database with a backup (stop the bridge first)"
    )
    restore.add_argument("file", type=Path, help="a file written by `crm-bridge backup`")
    restore.add_argument(
        "--force", action="store_true", help="overwrite a CRM that already has data"
    )
    sub.add_parser(
        "sentiment-train",
        help="train the sentiment models (see `sentiment-train -h`)",
        add_help=False,
    )
    sub.add_parser(
        "sentiment-eval", help="accuracy and macro-F1 on a text,label CSV file", add_help=False
    )
    args, rest = parser.parse_known_args(argv)
    settings = Settings()
    command = args.command or "serve"
    if command in ("sentiment-train", "sentiment-eval"):
        return sentiment_cli(
            [
                "--model-dir",
                str(settings.sentiment_model_dir),
                "--data-dir",
                str(settings.SENTIMENT_DATA_DIR),
                command.removeprefix("sentiment-"),
                *rest,
            ]
        )
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if command == "serve":
        serve(settings)
    elif command == "migrate":
        upgrade(settings.database_url)
        print(f"database at the newest schema: {settings.database_url.split('@')[-1]}")
    elif command == "seed-demo":
        upgrade(settings.database_url)
        result = _seed(settings, only_if_empty=args.if_empty)
        if result is not None:
            _announce(result, settings)
    elif command == "backup":
        _backup(settings, args.out)
    elif command == "restore":
        _restore(settings, args.file, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
