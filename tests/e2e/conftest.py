"""Session fixture: the whole system (Rasa, action server, bridge) started by the launcher.

The launcher is the one ``make run`` uses; the fixture only moves it to free ports and a
temporary var dir. The trained model is cached in the project's ``var/models`` (keyed by the
training data's hash), so only the first run after a change of ``bot/`` trains.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from devtools.config import ROOT
from devtools.run import READY_LINE
from tests.utils.callback_receiver import CallbackReceiver
from tests.utils.fake_wechat import APP_ID, APP_SECRET, FakeWeChat
from tests.utils.fake_wecom import AES_KEY as WECOM_AES_KEY
from tests.utils.fake_wecom import CALLBACK_TOKEN as WECOM_TOKEN
from tests.utils.fake_wecom import CORP_ID as WECOM_CORP_ID
from tests.utils.fake_wecom import SECRET as WECOM_SECRET
from tests.utils.fake_wecom import FakeWeCom
from tests.utils.processes import free_port, pid_alive, started_pids, wait_for_text


@dataclass(frozen=True)
class Stack:
    """Where the running system answers."""

    rasa_url: str
    actions_url: str
    bridge_url: str
    rasa_token: str
    var_dir: Path
    log: Path
    database_url: str = ""
    """The CRM database (default: the embedded SQLite file under ``var_dir``)."""
    rasa_api_url: str = ""
    """Rasa's private HTTP API (default: ``rasa_url``; the scale-out profile's is private)."""
    bridge_api_url: str = ""
    """The bridge's private side: bot routes, health (default: ``bridge_url``)."""

    @property
    def crm_url(self) -> str:
        """SQLAlchemy URL of the CRM database."""
        return self.database_url or f"sqlite:///{self.var_dir / 'crm.db'}"

    def say(self, sender: str, message: str, metadata: dict | None = None) -> list[dict]:
        """Send one message over the REST channel; return the bot's replies.

        Rasa keys the conversation ``rest:<sender>`` (:meth:`rest_key`).
        """
        body: dict = {"sender": sender, "message": message}
        if metadata is not None:
            body["metadata"] = metadata
        response = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def rest_key(sender: str) -> str:
        """Rasa's conversation key of a REST sender."""
        return f"rest:{sender}"

    def tracker(self, key: str) -> dict:
        """The tracker of conversation ``key`` (``rest:alice``) from Rasa's HTTP API.

        Quoted as the bridge quotes it (``crm_bridge/services/rasa_api.py``): Rasa's router
        does not decode ``%3A``, so the colon stays.
        """
        response = httpx.get(
            f"{self.rasa_api_url or self.rasa_url}/conversations/{quote(key, safe=':')}/tracker",
            params={"token": self.rasa_token, "include_events": "ALL"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def signed(self, user_id: str, expires: int | None = None) -> dict[str, object]:
        """Widget ``customData`` of a signed-in shop user (what the shop's server would sign).

        Valid for an hour unless ``expires`` (Unix seconds) says otherwise.
        """
        secret = (self.var_dir / "secrets" / "site_identity_secret").read_text().split()[0]
        expires = int(time.time()) + 3600 if expires is None else expires
        message = f"{user_id}:{expires}".encode()
        digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        return {"user_id": user_id, "user_expires": expires, "user_hash": digest}


@contextmanager
def running_stack(
    var_dir: Path,
    launcher: str = "devtools.run",
    ready: str = READY_LINE,
    processes: frozenset[str] = frozenset({"rasa", "actions", "bridge"}),
    **settings: str,
) -> Iterator[Stack]:
    """Start the system with ``launcher`` on free ports; stop it with Ctrl-C afterwards."""
    ports = {name: free_port() for name in ("RASA", "ACTIONS", "BRIDGE")}
    env = {
        **os.environ,
        "CSA_VAR_DIR": str(var_dir),
        **{f"CSA_{name}_PORT": str(port) for name, port in ports.items()},
        **{f"CSA_{key}": value for key, value in settings.items()},
    }
    log = var_dir / "launcher.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", launcher],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Generous: a cold CI run trains the model first.
        output = wait_for_text(log, ready, proc, timeout=900)
        yield Stack(
            rasa_url=f"http://127.0.0.1:{ports['RASA']}",
            actions_url=f"http://127.0.0.1:{ports['ACTIONS']}",
            bridge_url=f"http://127.0.0.1:{ports['BRIDGE']}",
            rasa_token=(var_dir / "secrets" / "rasa_token").read_text().strip(),
            var_dir=var_dir,
            log=log,
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    pids = started_pids(log.read_text())
    time.sleep(0.5)
    leftovers = {name: pid for name, pid in pids.items() if pid_alive(pid)}
    assert set(pids) == processes, output
    assert not leftovers, f"processes still running after Ctrl-C: {leftovers}"


UNLIMITED = "ip=1000000/60,conversation=1000000/60,session=1000000/60"
"""``CSA_RATE_LIMITS`` for stacks whose tests talk faster than a person (faults under traffic,
load): every client of a test is 127.0.0.1, and a customer of theirs writes every 0.4 s."""


SCALEOUT_PROCESSES = frozenset({"rasa1", "rasa2", "actions", "bridge1", "bridge2", "nginx"})


@contextmanager
def running_scaleout(var_dir: Path, crm_url: str, **settings: str) -> Iterator[Stack]:
    """The scale-out profile (``devtools.scaleout``) with ``settings``; its CRM at ``crm_url``."""
    from devtools.scaleout import READY_LINE as SCALEOUT_READY

    with running_stack(
        var_dir,
        launcher="devtools.scaleout",
        ready=SCALEOUT_READY,
        processes=SCALEOUT_PROCESSES,
        **settings,
    ) as running:
        rasa_port = int(running.rasa_url.rsplit(":", 1)[1])
        bridge_port = int(running.bridge_url.rsplit(":", 1)[1])
        yield dataclasses.replace(
            running,
            database_url=crm_url,
            rasa_api_url=f"http://127.0.0.1:{rasa_port + 30}",
            bridge_api_url=f"http://127.0.0.1:{bridge_port + 30}",
        )


WECHAT_TOKEN = "e2e-wechat-token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[FakeWeChat]:
    """The WeChat platform API, stubbed at its HTTP boundary."""
    fake = FakeWeChat()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def fake_wecom() -> Iterator[FakeWeCom]:
    """WeCom's customer-service API, stubbed at its HTTP boundary."""
    fake = FakeWeCom()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def callback_receiver() -> Iterator[CallbackReceiver]:
    """Where Rasa's callback channel posts the bot's replies."""
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    fake_wechat: FakeWeChat,
    callback_receiver: CallbackReceiver,
    fake_wecom: FakeWeCom,
) -> Iterator[Stack]:
    """The system in its embedded default configuration (WeChat and WeCom pointed at stubs)."""
    wechat = {
        "CALLBACK_URL": callback_receiver.url,
        "WECHAT_TOKEN": WECHAT_TOKEN,
        "WECHAT_ENCODING_AES_KEY": WECHAT_AES_KEY,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE": fake_wechat.url,
        "WECOM_CORP_ID": WECOM_CORP_ID,
        "WECOM_SECRET": WECOM_SECRET,
        "WECOM_TOKEN": WECOM_TOKEN,
        "WECOM_ENCODING_AES_KEY": WECOM_AES_KEY,
        "WECOM_API_BASE": fake_wecom.url,
    }
    # Every test talks from 127.0.0.1: the per-address limits would count the whole suite as one
    # client. Per conversation the default stays (tests/e2e/test_security.py floods one).
    limits = {"RATE_LIMITS": "ip=1000000/60,conversation=30/60,session=1000000/60"}
    with running_stack(tmp_path_factory.mktemp("var"), **wechat, **limits) as running:
        yield running


@dataclass
class ScaleoutServers:
    """PostgreSQL, Redis and RabbitMQ of the scale-out tests' own (the fault test kills them)."""

    postgres: object
    redis: object
    rabbitmq: object


@pytest.fixture(scope="session")
def scaleout_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleoutServers]:
    """Private servers, so killing them touches nothing else on the machine."""
    from tests.utils.private_servers import PrivatePostgres, PrivateRabbitMQ, PrivateRedis

    postgres = PrivatePostgres()
    redis = PrivateRedis(tmp_path_factory.mktemp("redis"))
    rabbitmq = PrivateRabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    try:
        postgres.start()
        redis.start()
        rabbitmq.start()
        yield ScaleoutServers(postgres, redis, rabbitmq)
    finally:
        rabbitmq.stop()
        redis.stop()
        postgres.remove()


@pytest.fixture(scope="session")
def scaleout_stack(
    tmp_path_factory: pytest.TempPathFactory, scaleout_servers: ScaleoutServers
) -> Iterator[Stack]:
    """One scale-out profile for test_scaleout.py and then test_scaleout_faults.py (which
    runs after it, file order, and is the only one to kill its servers): starting the
    profile costs about a minute."""
    servers = scaleout_servers
    settings = {
        "SCALEOUT_POSTGRES_URL": servers.postgres.admin_url,
        "SCALEOUT_REDIS_URL": servers.redis.url,
        "RABBITMQ_URL": servers.rabbitmq.url,
        "RATE_LIMITS": UNLIMITED,  # customers writing every 0.5 s from 127.0.0.1
    }
    crm = servers.postgres.admin_url.rsplit("/", 1)[0] + "/csa_crm"
    with running_scaleout(tmp_path_factory.mktemp("var"), crm, **settings) as running:
        yield running
