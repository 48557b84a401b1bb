"""REST round-trip latency of the bot: small talk and knowledge questions.

Starts the whole system with the launcher (``make run``'s code) on free ports and a temporary
var dir — or uses one already running (``--rasa-url``) — then sends messages over Rasa's REST
channel, each conversation a fresh sender, and prints p50 / p95 / p99 per kind and
concurrency. Run from the repo root with the services env:

    var/venvs/services/bin/python benchmarks/dialogue_latency.py --messages 200
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.run import READY_LINE  # noqa: E402

SMALL_TALK = ["你好", "hello", "谢谢", "thanks a lot", "你是机器人吗", "are you a bot?"]
KNOWLEDGE = [
    "退货的运费谁出？",
    "How long does delivery take?",
    "发票怎么开？",
    "Can I pay in instalments?",
    "积分什么时候过期？",
    "How do I reset my password?",
    "保修期多长时间？",
    "Can I change my delivery address?",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_system(timeout: float = 900) -> Iterator[str]:
    """Start the launcher on free ports; yield Rasa's URL; stop it with Ctrl-C."""
    with tempfile.TemporaryDirectory(prefix="csa-bench-") as tmp:
        ports = {name: _free_port() for name in ("RASA", "ACTIONS", "BRIDGE")}
        env = {
            **os.environ,
            "CSA_VAR_DIR": tmp,
            "CSA_MODEL_DIR": os.environ.get("CSA_MODEL_DIR", str(ROOT / "var" / "models")),
            **{f"CSA_{name}_PORT": str(port) for name, port in ports.items()},
        }
        log = Path(tmp) / "launcher.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "devtools.run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + timeout
            while READY_LINE not in log.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the system did not start:\n{log.read_text()[-3000:]}")
                time.sleep(1)
            yield f"http://127.0.0.1:{ports['RASA']}"
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


async def _run(
    url: str, texts: list[str], total: int, concurrency: int, turns: int = 10
) -> list[float]:
    """Send ``total`` messages from ``concurrency`` parallel customers; return ms each.

    Each customer starts a new conversation (sender id) every ``turns`` messages: Rasa's
    tracker store loads the whole conversation on every turn, so one endless conversation
    would measure the tracker's size rather than a customer's wait.
    """
    latencies: list[float] = []
    source = itertools.cycle(texts)
    remaining = total

    async def conversation(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        sent = 0
        while remaining > 0:
            remaining -= 1
            if sent % turns == 0:
                sender = f"bench-{uuid.uuid4().hex[:10]}"
            sent += 1
            started = time.perf_counter()
            response = await client.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": sender, "message": next(source)},
            )
            response.raise_for_status()
            if not response.json():
                raise RuntimeError("the bot did not answer")
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(conversation(client) for _ in range(concurrency)))
    return latencies


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    """Print one row per (kind, concurrency)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-url", help="use a running system instead of starting one")
    parser.add_argument("--messages", type=int, default=200, help="messages per row (>= 200)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--turns", type=int, default=10, help="messages per conversation")
    args = parser.parse_args(argv)

    def measure(url: str) -> None:
        asyncio.run(_run(url, SMALL_TALK + KNOWLEDGE, args.warmup, 1))
        print(
            f"{'kind':<12}{'conc.':>6}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'msg/s':>8}"
        )
        for kind, texts in (("small talk", SMALL_TALK), ("knowledge", KNOWLEDGE)):
            for concurrency in args.concurrency:
                started = time.perf_counter()
                values = asyncio.run(_run(url, texts, args.messages, concurrency, args.turns))
                rate = len(values) / (time.perf_counter() - started)
                print(
                    f"{kind:<12}{concurrency:>6}{len(values):>6}{_pct(values, 50):>9.1f}"
                    f"{_pct(values, 95):>9.1f}{_pct(values, 99):>9.1f}{rate:>8.1f}",
                    flush=True,
                )

    if args.rasa_url:
        measure(args.rasa_url)
    else:
        with running_system() as url:
            measure(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
