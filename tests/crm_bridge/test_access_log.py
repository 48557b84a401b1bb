"""Access lines name the path without its query string (tokens, OpenIDs, session ids)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import httpx

from crm_bridge.core.logging import NoQueryStringFilter, logging_config
from devtools.config import ROOT
from tests.utils.processes import free_port, wait_for_text

SERVER = textwrap.dedent(
    """
    import sys

    import uvicorn

    from crm_bridge.core.logging import logging_config


    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=logging_config("INFO"))
    """
)
SECRETS = ("tok3n-s3cret", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "w_0123456789abcdef")


def test_a_real_uvicorn_access_line_has_no_query_string(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_text(log, "Uvicorn running on", server, timeout=30)
        base = f"http://127.0.0.1:{port}"
        paths = [
            f"/api/v1/console/ws?token={SECRETS[0]}",
            f"/webhooks/wechat/webhook?openid={SECRETS[1]}&signature=abc",
            f"/api/v1/widget/history?session_id={SECRETS[2]}",
            "/api/v1/customers/by-identity/phone/13800138000?x=1",
            "/health",
        ]
        for path in paths:
            assert httpx.get(base + path).status_code == 200
        text = wait_for_text(log, '"GET /health HTTP/1.1" 200', server, timeout=10)
    finally:
        server.terminate()
        server.wait(10)
    access = [line for line in text.splitlines() if "logger=uvicorn.access" in line]
    assert len(access) == len(paths), text
    for line, path in zip(access, paths, strict=True):
        assert "?" not in line and not any(secret in line for secret in SECRETS), line
        if "phone" not in path:
            assert f'"GET {path.split("?")[0]} HTTP/1.1" 200' in line, line
    # The personal-data mask still applies to what is left of an access line.
    assert "13800138000" not in text and "/by-identity/phone/" in access[3]


def _access_record(path: str) -> logging.LogRecord:
    """A record shaped exactly as uvicorn's access logger makes one."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_the_filter_cuts_only_the_query_and_drops_nothing():
    keep = NoQueryStringFilter()
    record = _access_record("/a/b?token=x&y=2")
    assert keep.filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /a/b HTTP/1.1" 200'
    plain = _access_record("/a/b")
    assert keep.filter(plain) and plain.getMessage().endswith('"GET /a/b HTTP/1.1" 200')
    # Other records pass unchanged.
    other = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "x %s", ("a?b",), None)
    assert keep.filter(other) and other.getMessage() == "x a?b"
    short = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("a", "b?c"), None)
    assert keep.filter(short) and short.getMessage() == "a b?c"


def test_the_config_filters_uvicorns_access_logger():
    config = logging_config("INFO")
    assert config["loggers"]["uvicorn.access"]["filters"] == ["no_query"]
    factory = config["filters"]["no_query"]["()"]
    assert factory == f"{NoQueryStringFilter.__module__}.{NoQueryStringFilter.__qualname__}"
