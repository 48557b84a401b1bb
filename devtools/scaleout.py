"""Start the scale-out profile (``make run-scaleout``): the same code, several instances.

What runs (``Procfile.scaleout``), all on this machine's loopback:

- nginx (Debian's package, installed when missing) in front: Rasa's public port balances over
  two Rasa servers (REST, socket.io over WebSocket, HTTP API), the bridge's public port over
  two CRM bridges (API, console WebSocket, widget, console);
- two Rasa servers sharing the tracker store in PostgreSQL, conversation locks in Redis, and
  publishing events to RabbitMQ; socket.io emits relayed through Redis, so an agent's reply
  reaches a customer whichever instance holds their socket; chat-channel state in Redis;
- two CRM bridges on one PostgreSQL CRM database, console events relayed through Redis;
  one ingests the RabbitMQ queue at a time (see crm_bridge/README.md);
- one action server (stateless; a second one would sit behind nginx the same way).

PostgreSQL, Redis and RabbitMQ are servers of their own (``CSA_SCALEOUT_*`` settings point at
them). Databases are created when missing; nothing is dropped. How this maps to several
machines: docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import create_engine, make_url, text

from devtools.config import ROOT, LauncherSettings
from devtools.conversation_keys import qualify_stored_keys
from devtools.model import TrainingError
from devtools.packages import PackageError, ensure_package
from devtools.run import (
    announce_moved,
    health_checks,
    prepare_in_child,
    process_env,
    public_ports,
    refuse_busy_ports,
    supervise,
)

PROCFILE = ROOT / "Procfile.scaleout"
READY_LINE = "[scaleout] all services are up"


def internal_ports(settings: LauncherSettings) -> dict[str, int]:
    """Ports behind the public ones: the instances, and nginx's private listeners.

    The public ports stay the embedded ones and publish only the public doors; the private
    listeners (``RASA_API``, ``BRIDGE_API``) balance everything over the instances for the
    processes of the system itself (the bridges' calls to Rasa's HTTP API, the action server's
    calls to the bridge, health checks). In a deployment on several machines they listen on the
    private network only.
    """
    return {
        "RASA1": settings.RASA_PORT + 10,
        "RASA2": settings.RASA_PORT + 20,
        "RASA_API": settings.RASA_PORT + 30,
        "BRIDGE1": settings.BRIDGE_PORT + 10,
        "BRIDGE2": settings.BRIDGE_PORT + 20,
        "BRIDGE_API": settings.BRIDGE_PORT + 30,
    }


def database_urls(settings: LauncherSettings) -> dict[str, str]:
    """SQLAlchemy URLs of the CRM database and of Rasa's tracker database."""
    server = make_url(settings.SCALEOUT_POSTGRES_URL)
    return {
        "crm": server.set(database=settings.SCALEOUT_CRM_DB).render_as_string(False),
        "rasa": server.set(database=settings.SCALEOUT_RASA_DB).render_as_string(False),
    }


def ensure_databases(settings: LauncherSettings) -> None:
    """Create the two databases on the PostgreSQL server when they do not exist."""
    admin = create_engine(settings.SCALEOUT_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for name in (settings.SCALEOUT_CRM_DB, settings.SCALEOUT_RASA_DB):
                exists = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if not exists:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                    print(f"[scaleout] created database {name}", flush=True)
    finally:
        admin.dispose()


def scaleout_env(settings: LauncherSettings, model: Path | None, nginx: Path) -> dict[str, str]:
    """The embedded environment, re-pointed at the shared servers and the instances."""
    env = process_env(settings.model_copy(update={"EVENT_BROKER": "pika"}), model)
    ports = internal_ports(settings)
    pg = make_url(settings.SCALEOUT_POSTGRES_URL)
    redis = urlsplit(settings.SCALEOUT_REDIS_URL)
    urls = database_urls(settings)
    env.update(
        {
            **{f"CSA_{name}_PORT": str(port) for name, port in ports.items()},
            "CSA_RASA_ENDPOINTS": "endpoints.scaleout.yml",
            "CSA_PG_HOST": pg.host or "127.0.0.1",
            "CSA_PG_PORT": str(pg.port or 5432),
            "CSA_PG_USER": pg.username or "postgres",
            "CSA_PG_PASSWORD": pg.password or "",
            "CSA_RASA_DB": settings.SCALEOUT_RASA_DB,
            "CSA_REDIS_HOST": redis.hostname or "127.0.0.1",
            "CSA_REDIS_PORT": str(redis.port or 6379),
            "CSA_REDIS_DB": (redis.path or "/0").strip("/") or "0",
            "CSA_CHANNEL_STATE_URL": settings.SCALEOUT_REDIS_URL,
            # nginx is the only client of the instances: its X-Forwarded-For names the client.
            "CSA_TRUSTED_PROXIES": settings.HOST,
            "CSA_BRIDGE_TRUSTED_PROXIES": json.dumps([settings.HOST]),
            "CSA_BRIDGE_RATE_LIMIT_STORAGE_URL": settings.SCALEOUT_REDIS_URL,
            "CSA_BRIDGE_DATABASE_URL": urls["crm"],
            "CSA_BRIDGE_FANOUT_URL": settings.SCALEOUT_REDIS_URL,
            "CSA_BRIDGE_SEED_DEMO": "false",  # seeded once, before the two instances start
            # The system's own calls go through nginx's private listeners: the public ports
            # do not serve Rasa's HTTP API or the bot's routes of the bridge.
            "CSA_BRIDGE_RASA_URL": settings.url(ports["RASA_API"]),
            "CSA_ACTIONS_BRIDGE_URL": settings.url(ports["BRIDGE_API"]),
            "CSA_NGINX": str(nginx),
            "CSA_NGINX_PREFIX": str(settings.VAR_DIR / "nginx"),
        }
    )
    return env


PUBLIC_RASA = ("/webhooks/", "/socket.io/")
"""What the public Rasa port serves: the channels. Rasa's HTTP API stays private."""
PUBLIC_BRIDGE = ("= /widget.js", "/api/v1/widget/", "/console/", "/api/v1/")
"""What the public bridge port serves: the widget, the console and its API."""
PRIVATE_BRIDGE = ("/api/v1/bot/",)
"""Refused on the public bridge port although under ``/api/v1/``: the bot's routes."""


def nginx_conf(settings: LauncherSettings) -> str:
    """The nginx config: public doors only on the public ports, everything on the private ones.

    WebSockets pass through and a dead instance is skipped. No access log (nginx's would write
    query strings, where WeChat's callbacks put the follower's OpenID; docs/security.md shows a
    path-only format for those who want one).
    """
    ports = internal_ports(settings)
    host = settings.HOST
    user = "user root;\n" if os.geteuid() == 0 else ""

    def upstream(name: str, keys: Sequence[str], balance: str = "") -> str:
        servers = "".join(
            f"        server {host}:{ports[key]} max_fails=1 fail_timeout=3s;\n" for key in keys
        )
        return f"    upstream {name} {{\n{balance}{servers}        keepalive 32;\n    }}\n"

    def proxied(match: str, name: str) -> str:
        # socket.io's long-polling is a series of requests of one Engine.IO session, which
        # lives in one instance: those go to the client's instance; fresh WebSockets anywhere
        target = "$socketio_pool" if match == "/socket.io/" else name
        return (
            f"        location {match} {{\n"
            f"            proxy_pass http://{target};\n"
            f"            proxy_http_version 1.1;\n"
            f"            proxy_set_header Upgrade $http_upgrade;\n"
            f"            proxy_set_header Connection $connection_upgrade;\n"
            f"            proxy_set_header Host $host;\n"
            f"            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            f"            proxy_set_header X-Forwarded-Proto $scheme;\n"
            f"            proxy_read_timeout 3600s;\n"
            f"            proxy_next_upstream error timeout http_502 http_503;\n"
            f"            proxy_next_upstream_tries 2;\n"
            f"        }}\n"
        )

    def server(
        port: int, name: str, public: Sequence[str] | None, refused: Sequence[str] = ()
    ) -> str:
        if public is None:  # private listener: everything
            locations = proxied("/", name)
        else:
            locations = "".join(proxied(match, name) for match in public)
            locations += "".join(
                f"        location {m} {{\n            return 404;\n        }}\n" for m in refused
            )
            locations += "        location / {\n            return 404;\n        }\n"
        return (
            f"    server {{\n"
            f"        listen {host}:{port};\n"
            f"        client_max_body_size 1m;\n"
            f"{locations}"
            f"    }}\n"
        )

    by_client = "        hash $remote_addr consistent;\n"
    return (
        f"# Written by devtools/scaleout.py at every start; edit that, not this.\n"
        f"{user}worker_processes 1;\n"
        f"pid nginx.pid;\n"
        f"error_log stderr warn;\n"
        f"events {{\n    worker_connections 4096;\n}}\n"
        f"http {{\n"
        f"    access_log off;\n"
        f"    client_body_temp_path tmp/body;\n"
        f"    proxy_temp_path tmp/proxy;\n"
        f"    fastcgi_temp_path tmp/fastcgi;\n"
        f"    uwsgi_temp_path tmp/uwsgi;\n"
        f"    scgi_temp_path tmp/scgi;\n"
        f"    map $http_upgrade $connection_upgrade {{\n"
        f"        default upgrade;\n"
        f"        '' '';\n"
        f"    }}\n"
        f'    map "$arg_transport:$arg_sid" $socketio_pool {{\n'
        f"        default rasa_by_client;\n"
        f'        "websocket:" rasa;\n'
        f"    }}\n"
        f"{upstream('rasa', ['RASA1', 'RASA2'])}"
        f"{upstream('rasa_by_client', ['RASA1', 'RASA2'], by_client)}"
        f"{upstream('bridge', ['BRIDGE1', 'BRIDGE2'])}"
        f"{server(settings.RASA_PORT, 'rasa', PUBLIC_RASA)}"
        f"{server(settings.BRIDGE_PORT, 'bridge', PUBLIC_BRIDGE, PRIVATE_BRIDGE)}"
        f"{server(ports['RASA_API'], 'rasa', None)}"
        f"{server(ports['BRIDGE_API'], 'bridge', None)}"
        f"}}\n"
    )


def write_nginx_conf(settings: LauncherSettings) -> Path:
    """The config under ``VAR_DIR/nginx`` (its prefix), with its temp folders."""
    prefix = settings.VAR_DIR / "nginx"
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / folder).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(settings))
    return conf


def prepare_stores(settings: LauncherSettings, env: dict[str, str]) -> None:
    """Create the databases, migrate and seed the CRM, and create Rasa's tracker tables once.

    Done before the instances start, so two of them never race to create the same tables.
    """
    ensure_databases(settings)
    bridge = [str(settings.services_python), "-m", "crm_bridge"]
    for command in (["migrate"], ["seed-demo", "--if-empty"]):
        subprocess.run([*bridge, *command], cwd=ROOT, env=env, check=True)
    # Rasa's own store creates its tables; the connection settings come from the environment.
    create_tracker_tables = (
        "import os\n"
        "from rasa.core.tracker_store import SQLTrackerStore\n"
        "e = os.environ\n"
        "SQLTrackerStore(None, dialect='postgresql', host=e['CSA_PG_HOST'],"
        " port=e['CSA_PG_PORT'], db=e['CSA_RASA_DB'], username=e['CSA_PG_USER'],"
        " password=e['CSA_PG_PASSWORD'])\n"
    )
    command = [str(settings.bot_python), "-c", create_tracker_tables]
    subprocess.run(command, cwd=ROOT / "bot", env=env, check=True)
    announce_moved(qualify_stored_keys(database_urls(settings)["rasa"]), "tracker store")


def scaleout_checks(settings: LauncherSettings, token: str) -> dict[str, Callable[[], bool]]:
    """Every instance directly, and nginx's two public ports."""
    ports = internal_ports(settings)
    direct = settings.model_copy(update={"RASA_PORT": ports["RASA1"]})
    second = settings.model_copy(update={"RASA_PORT": ports["RASA2"]})
    checks = {
        "rasa1": health_checks(direct, token)["rasa"],
        "rasa2": health_checks(second, token)["rasa"],
        "actions": health_checks(settings, token)["actions"],
    }
    for name in ("BRIDGE1", "BRIDGE2"):
        url = settings.url(ports[name]) + "/health"
        checks[name.lower()] = lambda url=url: httpx.get(url, timeout=5).status_code == 200

    def nginx() -> bool:
        urls = [
            settings.url(settings.RASA_PORT) + "/webhooks/rest/",
            settings.url(settings.BRIDGE_PORT) + "/api/v1/widget/history",  # 401: it answers
            settings.url(ports["RASA_API"]) + "/",
            settings.url(ports["BRIDGE_API"]) + "/health",
        ]
        codes = [httpx.get(url, timeout=5).status_code for url in urls]
        return codes == [200, 401, 200, 200]

    checks["nginx"] = nginx
    return checks


def describe(settings: LauncherSettings) -> str:
    """What to print once everything is up."""
    ports = internal_ports(settings)
    rasa, bridge = settings.url(settings.RASA_PORT), settings.url(settings.BRIDGE_PORT)
    return "\n".join(
        [
            READY_LINE,
            f"  Rasa (nginx)   {rasa}  -> :{ports['RASA1']} and :{ports['RASA2']}"
            f"  (public: channels; private API: :{ports['RASA_API']})",
            f"  bridge (nginx) {bridge}  -> :{ports['BRIDGE1']} and :{ports['BRIDGE2']}"
            f"  (public: console {bridge}/console/, widget; private: :{ports['BRIDGE_API']})",
            f"  action server  {settings.url(settings.ACTIONS_PORT)}",
            f"  PostgreSQL     {make_url(settings.SCALEOUT_POSTGRES_URL).render_as_string()}"
            f" (databases {settings.SCALEOUT_CRM_DB}, {settings.SCALEOUT_RASA_DB})",
            f"  Redis          {settings.SCALEOUT_REDIS_URL}",
            f"  RabbitMQ       queue {settings.RABBITMQ_QUEUE}",
            "[run] press Ctrl-C to stop",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare and start the scale-out profile; return when it stops."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    settings = LauncherSettings()
    ports = {**public_ports(settings), **internal_ports(settings)}
    if refuse_busy_ports(settings.HOST, ports):
        return 1
    try:
        nginx = ensure_package("nginx", Path("/usr/sbin/nginx"))
        model = prepare_in_child(settings)
        env = scaleout_env(settings, model, nginx)
        prepare_stores(settings, env)
    except (TrainingError, PackageError, subprocess.CalledProcessError) as err:
        print(f"[scaleout] error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - a server that is not there: say which
        print(
            f"[scaleout] error: {err.__class__.__name__}: {err}. Are PostgreSQL, Redis and "
            "RabbitMQ running (CSA_SCALEOUT_POSTGRES_URL, CSA_SCALEOUT_REDIS_URL, "
            "CSA_RABBITMQ_URL)?",
            file=sys.stderr,
        )
        return 1
    write_nginx_conf(settings)
    if shutil.which(str(nginx)) is None:
        print(f"[scaleout] error: {nginx} is not executable", file=sys.stderr)
        return 1
    checks = scaleout_checks(settings, env["CSA_RASA_TOKEN"])
    return supervise(settings, PROCFILE, env, checks, describe(settings))


if __name__ == "__main__":
    sys.exit(main())
