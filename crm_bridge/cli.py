"""The ``crm-bridge`` command (also ``python -m crm_bridge``)."""

from __future__ import annotations

import argparse
import getpass
import logging.config
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge import backup as backups
from crm_bridge import keys_cli
from crm_bridge.core.config import Settings
from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.core.logging import logging_config
from crm_bridge.core.security import generate_password
from crm_bridge.migrations import upgrade
from crm_bridge.models import Agent, Availability
from crm_bridge.sentiment.cli import main as sentiment_cli
from crm_bridge.services import agent_accounts, agent_sessions
from crm_bridge.services.audit import audit
from crm_bridge.services.console_hub import ConsoleHub
from crm_bridge.services.console_relay import DirectRelay
from crm_bridge.services.demo_seed import SeedResult, is_empty, seed_demo
from crm_bridge.services.handoff import HandoffDesk
from crm_bridge.services.rasa_api import RasaApi

logger = logging.getLogger("crm_bridge")


def _demo_logins_file(settings: Settings) -> Path:
    return settings.VAR_DIR / "secrets" / "demo_agents.txt"


def _saved_demo_logins(settings: Settings) -> dict[str, str]:
    """The logins of an earlier seed (``login  password`` lines), to seed another CRM alike."""
    path = _demo_logins_file(settings)
    if not path.is_file():
        return {}
    pairs = (line.split() for line in path.read_text(encoding="utf-8").splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def _seed(settings: Settings, only_if_empty: bool) -> SeedResult | None:
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session, session.begin():
            if not is_empty(session):
                if only_if_empty:
                    return None
                raise SystemExit("the CRM already has data; seed-demo only fills an empty one")
            # the same logins in every CRM of this machine: switching profiles keeps them valid
            return seed_demo(session, _saved_demo_logins(settings))
    finally:
        engine.dispose()


def _announce(result: SeedResult, settings: Settings) -> None:
    """Keep the demo logins in a private file and say where (never the passwords)."""
    lines = [f"{login}  {password}" for login, password in result.passwords.items()]
    path = _demo_logins_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    # The passwords stay in the file: the process's output ends up in logs.
    print(
        f"Seeded the demo shop: {result.customers} customers, {result.orders} orders.\n"
        f"Agent console logins ({', '.join(result.passwords)}): passwords in {path}",
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


def _read_password() -> str:
    """A new password from a prompt (typed twice, not echoed) or the first line of stdin.

    Never from the command line: arguments are visible to every local user (``ps``) and kept
    in shell histories.
    """
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise SystemExit("the two passwords differ; nothing changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _agents(settings: Settings, args: argparse.Namespace) -> None:
    """``crm-bridge agents …``: list, deactivate, reactivate, set-password, logout."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    hub = ConsoleHub()
    # Running bridges hear of what is done here through Redis (when they share one): the
    # consoles of ended sessions close at once instead of at their next session check.
    relay = (
        DirectRelay(settings.FANOUT_URL, settings.FANOUT_CHANNEL) if settings.FANOUT_URL else None
    )
    hub.relay = relay
    try:
        with sessions() as session:
            if args.agents_command == "list":
                _list_agents(session, settings)
                return
            try:
                agent = agent_accounts.by_login(session, args.login)
                message = _change_agent(session, settings, sessions, hub, agent, args)
            except agent_accounts.AccountError as err:
                raise SystemExit(f"{args.agents_command} failed: {err}") from None
            print(message, flush=True)
    finally:
        if relay is not None:
            relay.close()
        engine.dispose()


def _list_agents(session: Session, settings: Settings) -> None:
    rows = session.scalars(select(Agent).order_by(Agent.id)).all()
    print(f"{'id':>4}  {'login':<24} {'role':<10} {'status':<11} {'presence':<8} sessions  name")
    for agent in rows:
        status = "active" if agent.active else "deactivated"
        live = agent_sessions.live_count(session, settings, agent.id)
        print(
            f"{agent.id:>4}  {agent.login:<24} {agent.role.value:<10} {status:<11} "
            f"{agent.availability.value:<8} {live:>8}  {agent.name}"
        )


def _change_agent(
    session: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    hub: ConsoleHub,
    agent: Agent,
    args: argparse.Namespace,
) -> str:
    """Apply one change to ``agent`` (audited as ``cli``); what to print."""
    command = args.agents_command
    if command == "reactivate":
        agent_accounts.reactivate(agent)
        audit(session, "cli", "reactivate", "agent", agent.id)
        session.commit()
        return f"{agent.login} is active again (it logs in with its password)"
    if command == "deactivate":
        ended = agent_accounts.deactivate(session, agent)
        audit(session, "cli", "deactivate", "agent", agent.id, sessions_ended=ended)
        if agent.availability != Availability.OFFLINE:
            # Their conversations go back to the queue and the customers are told.
            rasa = RasaApi(
                settings.RASA_URL, settings.rasa_token.get_secret_value(), settings.RASA_TIMEOUT
            )
            try:
                desk = HandoffDesk(settings, sessions, hub, rasa, scorer=None)
                desk.set_availability(session, agent, Availability.OFFLINE)
            finally:
                rasa.close()
        session.commit()
        hub.end_sessions(agent.id, None, "account disabled")
        return f"{agent.login} is deactivated; {ended} session(s) ended"
    if command == "set-password":
        generated = args.generate
        password = generate_password() if generated else _read_password()
        ended = agent_accounts.reset_password(
            session, settings, hub, agent, password, by="cli", generated=generated
        )
        shown = f"\nnew password (shown once): {password}" if generated else ""
        return f"{agent.login} has a new password; {ended} session(s) ended{shown}"
    ended = agent_accounts.end_sessions(session, agent)
    audit(session, "cli", "logout_all", "agent", agent.id, sessions_ended=ended)
    session.commit()
    hub.end_sessions(agent.id, None, "logged out")
    return f"{agent.login}: {ended} session(s) ended"


def _agents_parser(sub: argparse._SubParsersAction) -> None:
    agents = sub.add_parser("agents", help="console accounts: list, deactivate, passwords …")
    commands = agents.add_subparsers(dest="agents_command", required=True)
    commands.add_parser("list", help="every agent with role, status and live sessions")
    for name, what in (
        ("deactivate", "disable an account: its sessions end, its consoles close"),
        ("reactivate", "enable a deactivated account again"),
        ("logout", "end every session of an agent (log them out everywhere)"),
    ):
        commands.add_parser(name, help=what).add_argument("login")
    password = commands.add_parser(
        "set-password",
        help="set an agent's password, read from a prompt or stdin (never an argument); "
        "every session of the agent ends",
    )
    password.add_argument("login")
    password.add_argument(
        "--generate", action="store_true", help="generate a random one and print it once"
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
    # X-Forwarded-For is believed only from configured proxies (none: the peer is the client).
    proxies = ",".join(settings.TRUSTED_PROXIES)
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_config=config,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )


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
    _agents_parser(sub)
    keys_cli.add_parser(sub)
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
    elif command == "agents":
        _agents(settings, args)
    elif command == "keys":
        keys_cli.run(settings, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
