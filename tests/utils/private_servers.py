"""Redis, PostgreSQL and RabbitMQ of a test's own, which it may kill with SIGKILL and restart.

The machine's shared servers stay untouched: fault tests kill these instead. Each runs in a
process group of its own, so a kill takes the whole server down at once, as a crash would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.utils.processes import free_port


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


class PrivateServer:
    """One server process on a fixed port: ``start``, ``kill`` (SIGKILL), ``start`` again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = workdir / "server.log"

    def command(self) -> list[str]:
        """The server's command line."""
        raise NotImplementedError

    def user(self) -> str | None:
        """Run as this user (PostgreSQL refuses root), or as ourselves."""
        return None

    def env(self) -> dict[str, str] | None:
        """The server's environment (None: ours)."""
        return None

    def start(self, timeout: float = 60) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.user(),
                env=self.env(),
            )
        _wait_port(self.port, timeout)

    def kill(self) -> None:
        """SIGKILL the whole server (every process of its group)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop it if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.kill()


class PrivateRedis(PrivateServer):
    """``redis-server`` keeping nothing on disk, like the machine's own."""

    def command(self) -> list[str]:
        """redis-server on loopback, no persistence."""
        return [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"


def _pg_bin(name: str) -> str:
    # The versioned folder first: /usr/local/bin may hold wrappers that pick a cluster.
    found = next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    ) or shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} not found: install Debian's postgresql package")
    return found


class PrivatePostgres(PrivateServer):
    """A PostgreSQL cluster in a folder of its own under /tmp (trust auth, user ``postgres``).

    Not under pytest's temporary folders: those are private to root, and PostgreSQL runs as
    ``postgres``. ``remove`` stops it and deletes the folder.
    """

    def __init__(self) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="csa-test-pg-"))
        workdir.chmod(0o755)
        super().__init__(workdir)
        self.data = workdir / "data"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            shutil.chown(workdir, self._user)
        subprocess.run(
            [_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N"],
            check=True,
            capture_output=True,
            user=self._user,
        )

    def user(self) -> str | None:
        """PostgreSQL will not run as root."""
        return self._user

    def command(self) -> list[str]:
        """The postmaster on loopback, its socket in the work folder."""
        return [
            _pg_bin("postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.workdir),
            "-c",
            "listen_addresses=127.0.0.1",
        ]

    def start(self, timeout: float = 60) -> None:
        """Start and wait until it answers queries (crash recovery included)."""
        super().start(timeout)
        engine = create_engine(self.admin_url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    with engine.connect() as connection:
                        connection.execute(text("SELECT 1"))
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            engine.dispose()

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of its ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class PrivateRabbitMQ(PrivateServer):
    """A RabbitMQ node of its own (name, ports, data and cookie under ``workdir``).

    It keeps its data across a kill, as a real node does: durable queues and persistent
    messages survive; guest/guest may log in from loopback.
    """

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.node = f"csatest{self.port}@localhost"
        self.dist_port = free_port()

    def command(self) -> list[str]:
        """The node's start script."""
        script = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        return [str(script) if script.exists() else "rabbitmq-server"]

    def env(self) -> dict[str, str]:
        """Everything of the node's in ``workdir``; the machine's node is not touched."""
        return {
            **os.environ,
            "HOME": str(self.workdir),  # its own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
        }

    def start(self, timeout: float = 90) -> None:
        """Start and wait until it takes an AMQP connection (the port opens before that)."""
        import pika

        super().start(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    @property
    def url(self) -> str:
        """amqp:// URL of its default virtual host."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
