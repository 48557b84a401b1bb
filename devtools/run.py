"""Start the whole system: Rasa server, action server and CRM bridge (``make run``).

honcho runs the processes of the ``Procfile`` and prefixes their log lines; this wrapper
prepares what they need (secrets, trained model, folders, URLs), waits until each one is
healthy, prints where to reach them, and, when one dies, names it with the tail of its log.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from crm_bridge.core.config import Settings as BridgeSettings
from crm_bridge.main import train_sentiment_if_missing
from crm_bridge.sentiment.train import is_trained
from devtools import frontend, secret_files
from devtools.config import ROOT, LauncherSettings
from devtools.conversation_keys import qualify_stored_keys
from devtools.model import TrainingError, ensure_model
from devtools.parent_death import die_with_parent
from devtools.ports import describe_process, pid_listening_on, port_in_use
from devtools.secret_files import (
    ACTIONS_TOKEN,
    IDENTITY_PROOF_KEY,
    RASA_TOKEN,
    SITE_IDENTITY_SECRET,
    WIDGET_SESSION_KEY,
    ensure_secret,
    ensure_secrets,
)
from knowledge_base.cli import main as kb_main
from knowledge_base.config import get_settings as get_kb_settings

READY_LINE = "[run] all services are up"
TAIL_LINES = 30
_LOG_LINE = re.compile(r"^\S+ (?P<name>[\w-]+)(?:\.\d+)?\s+\| ?(?P<text>.*)$")
_STOPPED = re.compile(r"(?P<name>[\w-]+)\.\d+ stopped \(rc=(?P<rc>-?\d+)\)")
# Python's display of a warning raised in an installed library: "…/site-packages/x.py:12:
# DeprecationWarning: …", then the source line, indented.
_LIBRARY_WARNING = re.compile(
    r"[/\\](?:site|dist)-packages[/\\].*:\d+: "
    r"\w*(?:Deprecation|Future|MovedIn\d+|RemovedIn\d+)Warning: "
)


_LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d|(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")


class LibraryWarningFilter:
    """Drops libraries' deprecation and future warnings (and their source lines) from a log.

    Rasa's dependencies print a few dozen lines of them at each start (TensorFlow, SQLAlchemy
    1.4, pkg_resources, matplotlib …) and Rasa resets Python's warning filters, so
    ``PYTHONWARNINGS`` cannot silence them. The project's own code is not under
    ``site-packages``: its warnings still show. ``CSA_SHOW_LIBRARY_WARNINGS=true`` shows all.
    """

    MAX_LINES = 6
    """A warning's message may run over several lines before its indented source line."""

    def __init__(self) -> None:
        self.hidden = 0
        self._pending: dict[str, int] = {}

    def keep(self, name: str, text: str) -> bool:
        """Whether the line ``text`` of process ``name`` is shown."""
        left = self._pending.pop(name, 0)
        if _LIBRARY_WARNING.search(text):
            self._pending[name] = self.MAX_LINES
            self.hidden += 1
            return False
        if left and not _LOG_RECORD.match(text):  # a log record ends the warning at once
            self.hidden += 1
            if not text.startswith("  ") and left > 1:
                self._pending[name] = left - 1  # the message goes on; the source line ends it
            return False
        return True


def procfile_entries(procfile: Path) -> list[tuple[str, str]]:
    """``(name, command)`` of each process a Procfile declares."""
    entries = []
    for line in procfile.read_text().splitlines():
        match = re.match(r"^([\w-]+):\s*(.*)$", line)
        if match:
            entries.append((match.group(1), match.group(2)))
    return entries


def procfile_names(procfile: Path) -> list[str]:
    """Names of the processes a Procfile declares."""
    return [name for name, _command in procfile_entries(procfile)]


def supervised_procfile(procfile: Path, settings: LauncherSettings) -> Path:
    """The Procfile with every command run through ``devtools.restart`` (restart on crash).

    Written next to the ready file; with ``RESTART_CRASHED`` off it is the Procfile itself.
    """
    if not settings.RESTART_CRASHED:
        return procfile
    lines = []
    for name, command in procfile_entries(procfile):
        wrapper = [
            sys.executable,
            "-m",
            "devtools.restart",
            "--name",
            name,
            "--ready-file",
            str(settings.ready_file),
            "--max-restarts",
            str(settings.RESTART_LIMIT),
            "--window",
            str(settings.RESTART_WINDOW),
            "--",
            "sh",
            "-c",
            command,
        ]
        lines.append(f"{name}: exec {shlex.join(wrapper)}")
    supervised = settings.ready_file.parent / f"{procfile.name}.supervised"
    supervised.parent.mkdir(parents=True, exist_ok=True)
    supervised.write_text("\n".join(lines) + "\n")
    return supervised


# bot/credentials.yml names these; Rasa refuses unset variables, so unset means "not used".
CHANNEL_DEFAULTS = {
    "CSA_RATE_LIMITS": "",
    "CSA_TRUSTED_PROXIES": "",
    "CSA_WIDGET_ORIGINS": "",
    "CSA_SITE_IDENTITY_MAX_TTL": "",
    "CSA_WECHAT_TOKEN": "",
    "CSA_WECHAT_ENCODING_AES_KEY": "",
    "CSA_WECHAT_APP_ID": "",
    "CSA_WECHAT_APP_SECRET": "",
    "CSA_WECHAT_API_BASE": "https://api.weixin.qq.com",
    "CSA_WECOM_CORP_ID": "",
    "CSA_WECOM_SECRET": "",
    "CSA_WECOM_TOKEN": "",
    "CSA_WECOM_ENCODING_AES_KEY": "",
    "CSA_WECOM_API_BASE": "https://qyapi.weixin.qq.com",
    "CSA_WECOM_MAX_AGE": "600",
    "CSA_CALLBACK_URL": "",
    "CSA_CHANNEL_STATE_URL": "",
}


def process_env(settings: LauncherSettings, model: Path | None) -> dict[str, str]:
    """Environment of the processes: where everything is and how they reach each other."""
    var = settings.VAR_DIR.resolve()
    return {
        **CHANNEL_DEFAULTS,
        **os.environ,
        "CSA_VAR_DIR": str(var),
        "CSA_HOST": settings.HOST,
        "CSA_RASA_PORT": str(settings.RASA_PORT),
        "CSA_ACTIONS_PORT": str(settings.ACTIONS_PORT),
        "CSA_BRIDGE_PORT": str(settings.BRIDGE_PORT),
        "CSA_BOT_PYTHON": str(settings.bot_python),
        "CSA_SERVICES_PYTHON": str(settings.services_python),
        "CSA_RASA_MODEL": str(model or ""),
        "CSA_RASA_TOKEN": ensure_secret(var, RASA_TOKEN),
        # Rasa sends the current action token; the action server accepts every valid one.
        "CSA_ACTIONS_TOKEN": ensure_secret(var, ACTIONS_TOKEN),
        "CSA_ACTIONS_TOKENS": ",".join(ensure_secrets(var, ACTIONS_TOKEN)),
        "CSA_IDENTITY_PROOF_KEY": ensure_secret(var, IDENTITY_PROOF_KEY),
        "CSA_WIDGET_SESSION_KEY": ",".join(ensure_secrets(var, WIDGET_SESSION_KEY)),
        "CSA_SITE_IDENTITY_SECRET": ",".join(ensure_secrets(var, SITE_IDENTITY_SECRET)),
        "CSA_RASA_TRACKER_DB": str(var / "rasa" / "tracker.db"),
        "CSA_RASA_EVENTS_DB": str(var / "rasa" / "events.db"),
        "CSA_ACTIONS_URL": settings.url(settings.ACTIONS_PORT) + "/webhook",
        "CSA_BRIDGE_HOST": settings.HOST,
        "CSA_BRIDGE_RASA_URL": settings.url(settings.RASA_PORT),
        # The front-ends are built once per checkout (make setup), whatever var dir a run uses.
        "CSA_BRIDGE_CONSOLE_DIR": os.environ.get("CSA_BRIDGE_CONSOLE_DIR")
        or str(frontend.CONSOLE.out_dir()),
        "CSA_BRIDGE_WIDGET_DIR": os.environ.get("CSA_BRIDGE_WIDGET_DIR")
        or str(frontend.WIDGET.out_dir()),
        # Embedded (development) mode: one-time codes for chat-account verification are written
        # here unless SMTP / SMS delivery is configured (crm_bridge/services/code_delivery.py).
        "CSA_BRIDGE_CODE_OUTBOX_DIR": os.environ.get("CSA_BRIDGE_CODE_OUTBOX_DIR")
        or str(var / "outbox"),
        **broker_env(settings),
        **bridge_public_env(),
        "CSA_ACTIONS_BRIDGE_URL": settings.url(settings.BRIDGE_PORT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }


def bridge_public_env() -> dict[str, str]:
    """The bridge's CORS origins from ``CSA_WIDGET_ORIGINS`` (one setting for both servers)."""
    if "CSA_BRIDGE_WIDGET_ALLOWED_ORIGINS" in os.environ:
        return {}
    listed = os.environ.get("CSA_WIDGET_ORIGINS", "").split(",")
    # "https://shop.example/" as Rasa reads it (bot/channels/cors.py): a browser sends no slash
    origins = [o.strip().rstrip("/") for o in listed if o.strip().rstrip("/")]
    return {"CSA_BRIDGE_WIDGET_ALLOWED_ORIGINS": json.dumps(origins)}


def broker_env(settings: LauncherSettings) -> dict[str, str]:
    """Variables that point Rasa's event broker and the bridge's reader at the same place."""
    if settings.EVENT_BROKER == "sql":
        return {"CSA_RASA_ENDPOINTS": "endpoints.yml", "CSA_BRIDGE_EVENTS_SOURCE": "sql"}
    url = urlsplit(settings.RABBITMQ_URL)
    return {
        "CSA_RASA_ENDPOINTS": "endpoints.pika.yml",
        "CSA_RABBITMQ_HOST": url.hostname or "127.0.0.1",
        "CSA_RABBITMQ_PORT": str(url.port or 5672),
        "CSA_RABBITMQ_USER": unquote(url.username or "guest"),
        "CSA_RABBITMQ_PASSWORD": unquote(url.password or "guest"),
        "CSA_RABBITMQ_QUEUE": settings.RABBITMQ_QUEUE,
        "CSA_RABBITMQ_EXCHANGE": settings.RABBITMQ_EXCHANGE,
        "CSA_BRIDGE_EVENTS_SOURCE": "pika",
        "CSA_BRIDGE_PIKA_URL": settings.RABBITMQ_URL,
        "CSA_BRIDGE_PIKA_QUEUE": settings.RABBITMQ_QUEUE,
        "CSA_BRIDGE_PIKA_EXCHANGE": settings.RABBITMQ_EXCHANGE,
    }


def health_checks(settings: LauncherSettings, token: str) -> dict[str, Callable[[], bool]]:
    """One check per known process: true once it serves requests."""

    def rasa() -> bool:
        response = httpx.get(
            settings.url(settings.RASA_PORT) + "/status", params={"token": token}, timeout=5
        )
        return response.status_code == 200 and bool(response.json().get("model_file"))

    def ok(url: str) -> Callable[[], bool]:
        return lambda: httpx.get(url, timeout=5).status_code == 200

    return {
        "rasa": rasa,
        "actions": ok(settings.url(settings.ACTIONS_PORT) + "/health"),
        "bridge": ok(settings.url(settings.BRIDGE_PORT) + "/health"),
    }


def describe(settings: LauncherSettings) -> str:
    """The URLs to print once everything is up."""
    rasa = settings.url(settings.RASA_PORT)
    return "\n".join(
        [
            READY_LINE,
            f"  Rasa server    {rasa}  (REST: POST {rasa}/webhooks/rest/webhook; "
            "socket.io: /socket.io)",
            f"  action server  {settings.url(settings.ACTIONS_PORT)}  (/health)",
            f"  CRM bridge     {settings.url(settings.BRIDGE_PORT)}  (/health, API docs: /docs)",
            "[run] press Ctrl-C to stop",
        ]
    )


class Supervisor:
    """Runs honcho, relays its output and remembers the last lines of each process."""

    def __init__(
        self,
        procfile: Path,
        env: dict[str, str],
        python: Path,
        show_library_warnings: bool = False,
    ) -> None:
        self.warnings = None if show_library_warnings else LibraryWarningFilter()
        self.tails: dict[str, collections.deque[str]] = collections.defaultdict(
            lambda: collections.deque(maxlen=TAIL_LINES)
        )
        self.first_stopped: tuple[str, int] | None = None
        self.stopping = False
        self.process = subprocess.Popen(
            [
                str(python),
                "-m",
                "devtools.honcho_main",  # honcho that still stops everything once we are gone
                "start",
                "-f",
                str(procfile),
                "-d",
                str(ROOT),
                "-e",
                os.devnull,
                "--no-colour",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            # the launcher killed outright (terminal closed, SIGKILL): honcho stops everything
            preexec_fn=die_with_parent,
        )
        self._reader = threading.Thread(target=self._relay, daemon=True)
        self._reader.start()

    def _relay(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = _LOG_LINE.match(line.rstrip("\n"))
            if match and self.warnings is not None:
                if not self.warnings.keep(match.group("name"), match.group("text")):
                    continue
            sys.stdout.write(line)
            sys.stdout.flush()
            if not match:
                continue
            name, text = match.group("name"), match.group("text")
            if name == "system":
                stopped = _STOPPED.search(text)
                if stopped and self.first_stopped is None and not self.stopping:
                    self.first_stopped = (stopped.group("name"), int(stopped.group("rc")))
            else:
                self.tails[name].append(text)

    def alive(self) -> bool:
        """True while honcho (and so every process) runs."""
        return self.process.poll() is None and self.first_stopped is None

    def stop(self) -> None:
        """Ask honcho to stop every process (if it still runs), and wait for it."""
        if self.process.poll() is None:
            self.stopping = True
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)

    def report_death(self, name: str, rc: int | str) -> None:
        """Name the process that stopped and show the end of its log."""
        tail = "\n".join(f"    {line}" for line in self.tails.get(name, [])) or "    (no output)"
        print(
            f"[run] error: process '{name}' stopped (exit code {rc}); the others were stopped.\n"
            f"[run] last lines of '{name}':\n{tail}",
            file=sys.stderr,
            flush=True,
        )


def wait_healthy(
    supervisor: Supervisor, checks: dict[str, Callable[[], bool]], timeout: float
) -> str | None:
    """Wait until every check passes; return the name of one that did not, else ``None``."""
    pending = dict(checks)
    deadline = time.monotonic() + timeout
    while pending and supervisor.alive():
        for name, check in list(pending.items()):
            try:
                if check():
                    print(f"[run] {name} is healthy", flush=True)
                    del pending[name]
            except (httpx.HTTPError, ValueError):
                pass
        if time.monotonic() > deadline:
            return next(iter(pending))
        time.sleep(0.5)
    return None


def prepare_sentiment(bridge: BridgeSettings) -> None:
    """Train the bridge's sentiment models if missing or made by another version."""
    if is_trained(bridge.sentiment_model_dir):
        print(f"[sentiment] up to date: {bridge.sentiment_model_dir}", flush=True)
        return
    print(f"[sentiment] training into {bridge.sentiment_model_dir} (a few minutes)", flush=True)
    started = time.monotonic()
    if problem := train_sentiment_if_missing(bridge):
        print(
            f"[sentiment] warning: could not train ({problem}); the bridge stores messages "
            f"unscored until `crm-bridge sentiment-train` succeeds",
            file=sys.stderr,
            flush=True,
        )
        return
    print(f"[sentiment] trained in {time.monotonic() - started:.0f} s", flush=True)


def prepare_zh_model() -> None:
    """Train the knowledge base's Chinese model (``kb train-zh``) if missing or stale.

    Skipped when ``CSA_KB_USE_ZH_MODEL`` is false or the data folder (``CSA_KB_ZH_DATA_DIR``)
    has no Chinese pairs; the knowledge base then searches Chinese lexically, as before.
    """
    kb_settings = get_kb_settings()
    if not kb_settings.USE_ZH_MODEL:
        return
    data = Path(kb_settings.ZH_DATA_DIR)
    if not (data / "zh_question_matching").is_dir():
        print(
            f"[kb] no Chinese pair data under {data}/zh_question_matching; "
            "Chinese search stays lexical",
            flush=True,
        )
        return
    print(f"[kb] Chinese model {kb_settings.ZH_MODEL_DIR} (a few minutes if missing)", flush=True)
    try:
        failed = kb_main(["train-zh"]) != 0
    except Exception as exc:  # noqa: BLE001 - never stop `make run` for an optional model
        print(f"[kb] train-zh failed: {exc!r}", file=sys.stderr, flush=True)
        failed = True
    if failed:
        print(
            "[kb] warning: the Chinese model did not train; Chinese search stays lexical",
            file=sys.stderr,
            flush=True,
        )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def announce_moved(moved: int, store: str) -> None:
    """Say how many stored conversations got channel-qualified keys (when any did)."""
    if moved:
        print(f"[run] {store}: {moved} conversations re-keyed by channel", flush=True)


def prepare(settings: LauncherSettings, train: bool = True) -> Path | None:
    """Secrets, trained models and the knowledge-base index every profile needs.

    Returns the Rasa model (None with ``train=False``).

    Raises:
        TrainingError: the Rasa model or the knowledge base could not be built.
    """
    for folder in ("rasa", "log"):
        (settings.VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
    for name in secret_files.ALL:
        ensure_secret(settings.VAR_DIR, name)
    for store in ("tracker.db", "events.db"):
        if (path := settings.VAR_DIR / "rasa" / store).exists():
            announce_moved(qualify_stored_keys(f"sqlite:///{path}"), path.name)
    if not train:
        return None
    model = ensure_model(ROOT / "bot", settings.model_dir, settings.bot_python)
    prepare_sentiment(BridgeSettings(VAR_DIR=settings.VAR_DIR))
    prepare_zh_model()
    if kb_main(["build"]) != 0:
        raise TrainingError("the knowledge base did not build; fix the source named above")
    return model


def prepare_in_child(settings: LauncherSettings, train: bool = True) -> Path | None:
    """``prepare`` in a child process, so the launcher stays small while the system runs.

    Training and embedding load torch and the models (about 0.9 GB); done in the launcher,
    that memory stayed with it, for nothing, as long as the system ran.

    Raises:
        TrainingError: as ``prepare``.
    """
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
        try:
            return child.submit(prepare, settings, train).result()
        except BrokenProcessPool as err:  # killed (out of memory, a signal)
            raise TrainingError(f"the preparing process died ({err})") from err


def public_ports(settings: LauncherSettings) -> dict[str, int]:
    """The ports the embedded profile's processes listen on, by what listens there."""
    return {
        "Rasa": settings.RASA_PORT,
        "action server": settings.ACTIONS_PORT,
        "bridge": settings.BRIDGE_PORT,
    }


def busy_ports(host: str, ports: dict[str, int]) -> list[str]:
    """One line per port something already listens on: what, and which process holds it."""
    problems = []
    for name, port in ports.items():
        if not port_in_use(host, port):
            continue
        pid = pid_listening_on(port)
        holder = (
            f"held by process {describe_process(pid)}; stop it (kill {pid}) or set another port"
            if pid is not None
            else "held by a process of another user or container; stop it or set another port"
        )
        problems.append(f"port {port} ({name}) is in use, {holder}")
    return problems


def refuse_busy_ports(host: str, ports: dict[str, int]) -> bool:
    """Name every port already held (an earlier run, say) and return True if there is one.

    Checked before anything is prepared or started, instead of a server failing to bind.
    """
    busy = busy_ports(host, ports)
    for line in busy:
        print(f"[run] error: {line}", file=sys.stderr, flush=True)
    if busy:
        print(
            "[run] nothing was started (CSA_RASA_PORT, CSA_ACTIONS_PORT and CSA_BRIDGE_PORT "
            "choose the ports)",
            file=sys.stderr,
            flush=True,
        )
    return bool(busy)


def supervise(
    settings: LauncherSettings,
    procfile: Path,
    env: dict[str, str],
    checks: dict[str, Callable[[], bool]],
    banner: str,
) -> int:
    """Run the Procfile's processes until Ctrl-C or until one dies; print ``banner`` when up."""
    names = procfile_names(procfile)
    checks = {name: check for name, check in checks.items() if name in names}
    # SIGTERM (a test harness, a service manager) stops like Ctrl-C does; SIGINT is set
    # explicitly because a shell starting us in the background would have it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    settings.ready_file.parent.mkdir(parents=True, exist_ok=True)
    settings.ready_file.unlink(missing_ok=True)
    supervisor = Supervisor(
        supervised_procfile(procfile, settings),
        env,
        settings.services_python,
        show_library_warnings=settings.SHOW_LIBRARY_WARNINGS,
    )
    try:
        unhealthy = wait_healthy(supervisor, checks, settings.HEALTH_TIMEOUT)
        if unhealthy:
            supervisor.stop()
            supervisor.report_death(
                unhealthy, f"none, not healthy after {settings.HEALTH_TIMEOUT:.0f} s"
            )
            return 1
        if supervisor.alive():
            settings.ready_file.write_text(f"{os.getpid()}\n")
            if supervisor.warnings is not None and supervisor.warnings.hidden:
                print(
                    f"[run] {supervisor.warnings.hidden} lines of library deprecation warnings "
                    "hidden (CSA_SHOW_LIBRARY_WARNINGS=true shows them)",
                    flush=True,
                )
            print(banner, flush=True)  # last: the URLs are what a new user looks for
        supervisor.process.wait()
    except KeyboardInterrupt:
        print("[run] stopping all processes …", flush=True)
        supervisor.stop()
        print("[run] stopped", flush=True)
        return 0
    finally:
        settings.ready_file.unlink(missing_ok=True)
    supervisor.stop()
    if supervisor.first_stopped:
        name, rc = supervisor.first_stopped
        supervisor.report_death(name, rc)
        return rc or 1
    return supervisor.process.returncode or 0


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare and start all processes; return when they stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=ROOT / "Procfile")
    parser.add_argument(
        "--no-train", action="store_true", help="do not train or look for a Rasa model"
    )
    args = parser.parse_args(argv)
    settings = LauncherSettings()
    if args.procfile == ROOT / "Procfile" and refuse_busy_ports(
        settings.HOST, public_ports(settings)
    ):
        return 1
    try:
        model = prepare_in_child(settings, train=not args.no_train)
    except TrainingError as err:
        print(f"[run] error: {err}", file=sys.stderr)
        return 1
    env = process_env(settings, model)
    checks = health_checks(settings, env["CSA_RASA_TOKEN"])
    return supervise(settings, args.procfile, env, checks, describe(settings))


if __name__ == "__main__":
    sys.exit(main())
