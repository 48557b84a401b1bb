"""Build the project's front-ends with npm: the agent console and the website widget.

Standard library only, like ``bootstrap.py``, which calls it after the environments are set up
(``python3 devtools/frontend.py [--force] [--only console|widget]`` runs it alone).

Each front-end is a :class:`Frontend`: an npm project (Preact + TypeScript + Vite) with its
own output folder. For each one:

- ``npm ci`` runs only when ``package-lock.json`` changed since the last install (a stamp in
  ``node_modules/``) or ``node_modules`` is missing.
- ``npm run build`` (type-check, then bundle) runs only when the hash of what the bundle is
  built from (package files, Vite and TypeScript config, ``index.html``, ``src/``,
  ``scripts/``) differs from the stamp in the output folder, so a re-run when nothing changed
  takes milliseconds.

Output folders (relative paths mean the project root):

- agent console (``crm_bridge/console/``): ``CSA_CONSOLE_OUT_DIR``, default ``var/console``;
  the bridge serves it at ``/console/`` (``CSA_BRIDGE_CONSOLE_DIR``).
- website widget (``web_widget/``): ``CSA_WIDGET_OUT_DIR``, default ``var/widget``; the bridge
  serves its ``widget.js`` at ``/widget.js`` (``CSA_BRIDGE_WIDGET_DIR``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    from devtools.file_lock import locked
except ImportError:  # run as a script (`python3 devtools/frontend.py`): devtools/ is on sys.path
    from file_lock import locked  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
STAMP_NAME = ".csa-stamp.json"
INSTALL_STAMP = Path("node_modules") / ".csa-install-stamp.json"
INPUT_FILES = ("package.json", "package-lock.json", "index.html", "vite.config.ts")
INPUT_GLOBS = ("tsconfig*.json",)
INPUT_DIRS = ("src", "scripts")


@dataclass(frozen=True)
class Frontend:
    """One npm front-end project of the repository and where its build goes."""

    name: str
    """Short name (``--only``, log lines)."""
    title: str
    """What it is, for messages."""
    source: Path
    """The npm project (``package.json`` …)."""
    out_var: str
    """Environment variable naming the output folder (also passed to ``npm run build``)."""
    default_out: str
    """Output folder when the variable is unset, relative to the project root."""
    built_file: str
    """A file every successful build writes into the output folder."""

    def out_dir(self, environ: Mapping[str, str] | None = None) -> Path:
        """Where the build goes: ``$out_var`` (relative to the root) or ``default_out``."""
        environ = os.environ if environ is None else environ
        configured = environ.get(self.out_var)
        return (ROOT / configured).resolve() if configured else ROOT / self.default_out


CONSOLE = Frontend(
    name="console",
    title="agent console",
    source=ROOT / "crm_bridge" / "console",
    out_var="CSA_CONSOLE_OUT_DIR",
    default_out="var/console",
    built_file="index.html",
)
WIDGET = Frontend(
    name="widget",
    title="website widget",
    source=ROOT / "web_widget",
    out_var="CSA_WIDGET_OUT_DIR",
    default_out="var/widget",
    built_file="widget.js",
)
FRONTENDS = (CONSOLE, WIDGET)
CONSOLE_SOURCE = CONSOLE.source
OUT_DIR_VAR = CONSOLE.out_var


class FrontendError(RuntimeError):
    """A front-end could not be built; the message says what to do."""


def out_dir(environ: Mapping[str, str] | None = None, frontend: Frontend = CONSOLE) -> Path:
    """Where ``frontend`` (default: the console) is built; see :meth:`Frontend.out_dir`."""
    return frontend.out_dir(environ)


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
        raise FrontendError(f"{lock} is missing: the front-end's dependencies must be pinned.")
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def _stamp_hash(stamp: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return json.loads(stamp.read_text()).get("hash")
    return None


def needs_install(source: Path = CONSOLE_SOURCE) -> bool:
    """True when ``node_modules`` is missing or was installed from another lock file."""
    return _stamp_hash(source / INSTALL_STAMP) != lock_hash(source)


def needs_build(
    source: Path | None = None, out: Path | None = None, frontend: Frontend = CONSOLE
) -> bool:
    """True when ``frontend``'s build is missing or was built from other inputs."""
    source = frontend.source if source is None else source
    out = frontend.out_dir() if out is None else out
    if not (out / frontend.built_file).is_file():
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
            "`npm` was not found on PATH: building the agent console and the website widget "
            "needs Node.js 20.19 or newer with npm. Install them (for example `apt-get install "
            "nodejs npm`, or from https://nodejs.org), then run the command again."
        )
    return npm


def _run(cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    print("[setup] $ " + " ".join(cmd), flush=True)
    result = subprocess.run(list(cmd), cwd=cwd, env=dict(env), check=False)
    if result.returncode != 0:
        raise FrontendError(
            f"`{' '.join(cmd)}` (in {cwd}) failed with exit code {result.returncode}; "
            "see the output above (network to the npm registry? a TypeScript error? "
            "a bundle over its size budget?)."
        )


def build(
    frontend: Frontend,
    force: bool = False,
    *,
    source: Path | None = None,
    out: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Install a front-end's npm packages and build it when its inputs changed.

    Args:
        frontend: which front-end (:data:`CONSOLE`, :data:`WIDGET`).
        force: run ``npm ci`` and ``npm run build`` even if the stamps say nothing changed.
        source: the npm project (default ``frontend.source``).
        out: the output folder (default ``frontend.out_dir()``).
        environ: environment of the npm commands (default ``os.environ``).

    Returns:
        The output folder, holding ``frontend.built_file``.

    Raises:
        FrontendError: npm is missing or a command failed.
    """
    environ = dict(os.environ if environ is None else environ)
    source = frontend.source if source is None else source
    out = frontend.out_dir(environ) if out is None else out
    with locked(out.parent / f".{out.name}-build.lock"):
        wanted = input_hash(source)
        built = (out / frontend.built_file).is_file() and _stamp_hash(out / STAMP_NAME) == wanted
        if built and not force:
            print(f"[setup] {frontend.name} up to date ({out})", flush=True)
            return out
        npm = find_npm(environ)
        started = time.monotonic()
        if force or needs_install(source):
            print(f"[setup] installing the {frontend.title}'s npm packages in {source}", flush=True)
            (source / INSTALL_STAMP).unlink(missing_ok=True)
            _run([npm, "ci", "--no-audit", "--no-fund"], source, environ)
            _write_stamp(source / INSTALL_STAMP, lock_hash(source))
        print(f"[setup] building the {frontend.title} into {out}", flush=True)
        (out / STAMP_NAME).unlink(missing_ok=True)
        _run([npm, "run", "build"], source, {**environ, frontend.out_var: str(out)})
        if not (out / frontend.built_file).is_file():
            raise FrontendError(f"`npm run build` did not write {out / frontend.built_file}.")
        _write_stamp(out / STAMP_NAME, wanted)
        elapsed = time.monotonic() - started
        print(f"[setup] {frontend.name} built in {elapsed:.1f} s ({out})", flush=True)
        return out


def build_console(
    force: bool = False,
    *,
    source: Path = CONSOLE_SOURCE,
    out: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Build the agent console if needed (see :func:`build`); returns its output folder."""
    return build(CONSOLE, force, source=source, out=out, environ=environ)


def build_widget(
    force: bool = False,
    *,
    source: Path | None = None,
    out: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Build the website widget if needed (see :func:`build`); returns its output folder."""
    return build(WIDGET, force, source=source, out=out, environ=environ)


def build_all(
    force: bool = False,
    *,
    only: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[Path]:
    """Build every front-end (or those named in ``only``) that needs it, in turn."""
    return [
        build(frontend, force, environ=environ)
        for frontend in FRONTENDS
        if not only or frontend.name in only
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Build the front-ends if needed (``--force``: always; ``--only NAME``: just that one)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="install and build even if unchanged")
    parser.add_argument(
        "--only",
        action="append",
        choices=[frontend.name for frontend in FRONTENDS],
        default=[],
        help="build only this front-end (may be repeated)",
    )
    args = parser.parse_args(argv)
    try:
        build_all(force=args.force, only=args.only)
    except FrontendError as err:
        print(f"[setup] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
