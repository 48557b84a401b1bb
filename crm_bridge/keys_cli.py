"""``crm-bridge keys …``: rotate the system's keys and secrets without downtime.

``rotate NAME`` puts a new secret first in ``VAR_DIR/secrets/<file>`` and keeps the old ones
valid; ``retire NAME`` keeps only the newest once every user switched; ``list`` shows how many
each file holds (never the secrets). The bridge re-reads its key files when they change and the
action server reads its key at every call, so ``bot`` and ``admin`` switch at once. The secrets
Rasa reads at start switch when each Rasa instance restarts (one after the other: every
receiver accepts old and new meanwhile).
"""

from __future__ import annotations

import argparse

from crm_bridge.core.config import Settings
from crm_bridge.core.security import read_or_create_secrets, retire_secrets, rotate_secret

FILES = {
    "bot": ("bridge_bot_key", "action server → bridge (bot routes); used at once"),
    "admin": ("bridge_api_key", "full bridge key (administration); used at once"),
    "actions": ("actions_token", "Rasa → action server; restart the action server, then Rasa"),
    "proof": ("identity_proof_key", "Rasa signs identity proofs; restart Rasa"),
    "widget": ("widget_session_key", "Rasa signs widget sessions; restart Rasa"),
    "site": ("site_identity_secret", "the shop signs its users; give it to the shop, restart Rasa"),
    "rasa": ("rasa_token", "bridge → Rasa's HTTP API; one token only: restart all"),
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``keys`` subcommand."""
    keys = sub.add_parser("keys", help="rotate keys and secrets (see `keys -h`)")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    actions.add_parser("list", help="each key, its file and how many secrets it holds")
    for verb, help_text in (
        ("rotate", "add a new secret first; the old ones stay valid"),
        ("retire", "keep only the newest secret"),
    ):
        action = actions.add_parser(verb, help=help_text)
        action.add_argument("name", choices=sorted(FILES))


def run(settings: Settings, args: argparse.Namespace) -> None:
    """Do what ``args`` ask; print the outcome (never a secret)."""
    folder = settings.VAR_DIR / "secrets"
    if args.keys_command == "list":
        for name, (file, use) in FILES.items():
            count = len(read_or_create_secrets(folder / file)) if (folder / file).exists() else 0
            print(f"{name:8} {file:22} {count} valid  ({use})")
        return
    file, use = FILES[args.name]
    if args.keys_command == "rotate":
        if args.name == "rasa":
            raise SystemExit("rasa_token: Rasa accepts one token; replace the file and restart")
        rotate_secret(folder / file)
        print(
            f"{args.name}: new secret added first in {folder / file} ({use}); "
            f"run `crm-bridge keys retire {args.name}` once nothing uses the old one"
        )
    else:
        dropped = retire_secrets(folder / file)
        print(f"{args.name}: {dropped} older secret(s) dropped from {folder / file}")
