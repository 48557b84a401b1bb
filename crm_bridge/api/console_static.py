"""Serve the built agent console (a single-page app) at ``/console/``.

``make setup`` builds it (``devtools/frontend.py``) into ``CSA_BRIDGE_CONSOLE_DIR`` (default
``var/console``). Hashed assets (``assets/index-<hash>.js``) never change, so browsers may keep
them for a year; ``index.html`` is revalidated on every load so a new build shows at once.
Any other path under ``/console/`` answers ``index.html`` (client-side routes such as
``/console/handoffs/12``). The folder is looked at per request: building while the bridge runs
needs no restart, and a bridge started before the build answers 503 with what to do.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from fastapi import APIRouter, FastAPI, status
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

CONSOLE_PATH = "/console"
ASSETS_DIR = "assets"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
NOT_BUILT = (
    "The agent console is not built yet.\n"
    "Build it with `make setup` (needs Node.js 20.19+ and npm; `make run` does it too), or\n"
    "`python3 devtools/frontend.py`, then reload this page.\n"
    "The bridge serves the folder named by CSA_BRIDGE_CONSOLE_DIR (default var/console).\n"
)
# The console loads only its own files and talks only to its own origin (REST + WebSocket).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _built_file(directory: Path, path: str) -> Path | None:
    """The file ``path`` names inside ``directory``; None if absent, hidden or outside it."""
    parts = PurePosixPath(path).parts
    if not parts or any(
        p in ("..", ".") or p.startswith(".") or "\\" in p or "\x00" in p for p in parts
    ):
        return None
    root = directory.resolve()
    try:
        candidate = (root / Path(*parts)).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
    except OSError:  # a name too long for the file system, …: no such file
        return None
    return candidate


def _looks_like_a_file(path: str) -> bool:
    """Asset-like paths get a 404 when missing rather than the app's HTML."""
    return path.startswith(f"{ASSETS_DIR}/") or "." in PurePosixPath(path).name


def console_router(directory: Path) -> APIRouter:
    """Routes that serve the console built into ``directory``."""
    router = APIRouter(include_in_schema=False)

    @router.api_route(CONSOLE_PATH, methods=["GET", "HEAD"])
    def console_root() -> Response:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=status.HTTP_308_PERMANENT_REDIRECT)

    @router.api_route(CONSOLE_PATH + "/{path:path}", methods=["GET", "HEAD"])
    def console_file(path: str) -> Response:
        index = directory / "index.html"
        if not index.is_file():
            return PlainTextResponse(
                NOT_BUILT,
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Cache-Control": "no-store", **SECURITY_HEADERS},
            )
        found = _built_file(directory, path) if path else None
        if found is not None and found.name != "index.html":
            cache = IMMUTABLE if path.startswith(f"{ASSETS_DIR}/") else NO_CACHE
            return FileResponse(found, headers={"Cache-Control": cache, **SECURITY_HEADERS})
        if found is None and path and _looks_like_a_file(path):
            return PlainTextResponse(
                "not found", status_code=status.HTTP_404_NOT_FOUND, headers=SECURITY_HEADERS
            )
        return FileResponse(
            index,
            media_type="text/html; charset=utf-8",
            headers={
                "Cache-Control": NO_CACHE,
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                **SECURITY_HEADERS,
            },
        )

    return router


def mount_console(app: FastAPI, directory: Path) -> None:
    """Serve the console built into ``directory`` at ``/console/`` (503 until it is built)."""
    app.include_router(console_router(Path(directory)))
