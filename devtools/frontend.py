"""Build the agent console (``crm_bridge/console/``: Preact + TypeScript + Vite) with npm.

Standard library only, like ``bootstrap.py``, which calls it after the environments are set up
(``python3 devtools/frontend.py [--force]`` runs it alone).

- ``npm ci`` runs only when ``package-lock.json`` changed since the last install (a stamp in
  ``node_modules/``) or ``node_modules`` is missing.
- ``npm run build`` (type-check, then bundle) runs only when the hash of what the bundle is
  built from (package files, Vite and TypeScript config, ``index.html``, ``src/``) differs
  from the stamp in the output folder, so a re-run when nothing changed takes milliseconds.

The output folder is ``CSA_CONSOLE_OUT_DIR`` (relative paths mean the project root), default
``var/console``; the bridge serves it at ``/console/`` (``CSA_BRIDGE_CONSOLE_DIR``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_SOURCE = ROOT / "crm_bridge" / "console"
STAMP_NAME = ".csa-stamp.json"
INSTALL_STAMP = Path("node_modules") / ".csa-install-stamp.json"
INPUT_FILES = ("package.json", "package-lock.json", "index.html", "vite.config.ts")
INPUT_GLOBS = ("tsconfig*.json",)
INPUT_DIRS = ("src",)
OUT_DIR_VAR = "CSA_CONSOLE_OUT_DIR"


class FrontendError(RuntimeError):
    """The console could not be built; the message says what to do."""


def out_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the built console goes: ``CSA_CONSOLE_OUT_DIR`` or ``<root>/var/console``."""
    environ = os.environ if environ is None else environ
    configured = environ.get(OUT_DIR_VAR)
    return (ROOT / configured).resolve() if configured else ROOT / "var" / "console"


def input_files(source: Path = CONSOLE_SOURCE) -> list[Path]:
    """Every file the bundle is built from, in a stable order."""
    files = {source / name for name in INPUT_FILES if (source / name).is_file()}
    for pattern in INPUT_GLOBS:
        files.update(p for p in source.glob(pattern) if p.is_file())
    for folder in INPUT_DIRS:
        files.update(p for p in (source / folder).rglob("*") if p.is_file())
    return sorted(files, key=lambda p: p.relative_to(source).as_posix())


def input_hash(source: Path = CONSOLE_SOURCE) -> str:
    """Hash of the names and contents of :func:`input_files`."""
    digest = hashlib.sha256()
    for path in input_files(source):
        digest.update(path.relative_to(source).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def lock_hash(source: Path = CONSOLE_SOURCE) -> str:
    """Hash of ``package-lock.json`` (what ``npm ci`` installs)."""
    lock = source / "package-lock.json"
    if not lock.is_file():
        raise FrontendError(f"{lock} is missing: the console's dependencies must be pinned.")
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def _stamp_hash(stamp: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return json.loads(stamp.read_text()).get("hash")
    return None


def needs_install(source: Path = CONSOLE_SOURCE) -> bool:
    """True when ``node_modules`` is missing or was installed from another lock file."""
    return _stamp_hash(source / INSTALL_STAMP) != lock_hash(source)


def needs_build(source: Path = CONSOLE_SOURCE, out: Path | None = None) -> bool:
    """True when the built console is missing or was built from other inputs."""
    out = out_dir() if out is None else out
    if not (out / "index.html").is_file():
        return True
    return _stamp_hash(out / STAMP_NAME) != input_hash(source)


def _write_stamp(path: Path, digest: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hash": digest, "built_at": time.time()}))


def find_npm(environ: Mapping[str, str] | None = None) -> str:
    """The ``npm`` executable on ``PATH``.

    Raises:
        FrontendError: there is none; the message says what to install.
    """
    environ = os.environ if environ is None else environ
    npm = shutil.which("npm", path=environ.get("PATH", ""))
    if npm is None:
        raise FrontendError(
            "`npm` was not found on PATH: building the agent console needs Node.js 20.19 or "
            "newer with npm. Install them (for example `apt-get install nodejs npm`, or from "
            "https://nodejs.org), then run the command again."
        )
    return npm


def _run(cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    print("[setup] $ " + " ".join(cmd), flush=True)
    result = subprocess.run(list(cmd), cwd=cwd, env=dict(env), check=False)
    if result.returncode != 0:
        raise FrontendError(
            f"`{' '.join(cmd)}` (in {cwd}) failed with exit code {result.returncode}; "
            "see the output above (network to the npm registry? a TypeScript error?)."
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise builds of one output folder (e.g. `make run` and `make test` together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_console(
    force: bool = False,
    *,
    source: Path = CONSOLE_SOURCE,
    out: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Install the console's npm packages and build it when its inputs changed.

    Args:
        force: run ``npm ci`` and ``npm run build`` even if the stamps say nothing changed.
        source: the console project (``package.json`` …).
        out: the output folder (default :func:`out_dir`).
        environ: environment of the npm commands (default ``os.environ``).

    Returns:
        The output folder, holding ``index.html`` and ``assets/``.

    Raises:
        FrontendError: npm is missing or a command failed.
    """
    environ = dict(os.environ if environ is None else environ)
    out = out_dir(environ) if out is None else out
    with _locked(out.parent / f".{out.name}-build.lock"):
        wanted = input_hash(source)
        built = (out / "index.html").is_file() and _stamp_hash(out / STAMP_NAME) == wanted
        if built and not force:
            print(f"[setup] console up to date ({out})", flush=True)
            return out
        npm = find_npm(environ)
        started = time.monotonic()
        if force or needs_install(source):
            print(f"[setup] installing the console's npm packages in {source}", flush=True)
            (source / INSTALL_STAMP).unlink(missing_ok=True)
            _run([npm, "ci", "--no-audit", "--no-fund"], source, environ)
            _write_stamp(source / INSTALL_STAMP, lock_hash(source))
        print(f"[setup] building the console into {out}", flush=True)
        (out / STAMP_NAME).unlink(missing_ok=True)
        _run([npm, "run", "build"], source, {**environ, OUT_DIR_VAR: str(out)})
        if not (out / "index.html").is_file():
            raise FrontendError(f"`npm run build` did not write {out / 'index.html'}.")
        _write_stamp(out / STAMP_NAME, wanted)
        print(f"[setup] console built in {time.monotonic() - started:.1f} s ({out})", flush=True)
        return out


def main(argv: Sequence[str] | None = None) -> int:
    """Build the console if needed (``--force``: always)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="install and build even if unchanged")
    args = parser.parse_args(argv)
    try:
        build_console(force=args.force)
    except FrontendError as err:
        print(f"[setup] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
