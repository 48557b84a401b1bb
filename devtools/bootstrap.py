"""Create or update the project's two Python environments.

Standard library only: this runs before any environment exists (``python3 devtools/bootstrap.py``).

- bot env (``var/venvs/bot``): Python 3.10 with ``bot/requirements.txt`` (Rasa 3.6 + jieba).
- services env (``var/venvs/services``): Python 3.11 with this project installed editable
  from ``pyproject.toml``, pinned by ``requirements/services.lock``.

Then it builds the front-ends, the agent console and the website widget (``devtools/frontend.py``:
npm, each only when its sources changed).

Each environment carries a stamp file holding the hash of what it was built from (the
requirement files, the interpreter version and the install command), so a re-run when nothing
changed returns in well under a second.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    from devtools import frontend
    from devtools.file_lock import locked
except ImportError:  # run as a script (`python3 devtools/bootstrap.py`): devtools/ is on sys.path
    import frontend  # type: ignore[no-redef]
    from file_lock import locked  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
STAMP_NAME = ".csa-stamp.json"


class SetupError(RuntimeError):
    """A set-up step failed; the message says what to do."""


@dataclass(frozen=True)
class EnvSpec:
    """What one virtual environment is built from."""

    name: str
    python_version: str
    inputs: tuple[Path, ...]
    install_args: tuple[str, ...]


def env_specs(root: Path = ROOT) -> list[EnvSpec]:
    """Return the bot and services environment specifications for a checkout at ``root``."""
    return [
        EnvSpec(
            name="bot",
            python_version="3.10",
            inputs=(root / "bot" / "requirements.txt",),
            install_args=("-r", str(root / "bot" / "requirements.txt")),
        ),
        EnvSpec(
            name="services",
            python_version="3.11",
            inputs=(root / "pyproject.toml", root / "requirements" / "services.lock"),
            install_args=(
                "-c",
                str(root / "requirements" / "services.lock"),
                "-e",
                f"{root}[dev]",
            ),
        ),
    ]


def _python_version_of(executable: str) -> str | None:
    """Return ``"X.Y"`` for a working interpreter, ``None`` if it does not run (e.g. a shim)."""
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _version_key(path: Path) -> tuple[int, ...]:
    match = re.search(r"(\d+(?:\.\d+)+)", path.parent.parent.name)
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def pyenv_roots(environ: dict[str, str] | None = None) -> list[Path]:
    """Return the folders where pyenv may keep its Python versions."""
    environ = dict(os.environ) if environ is None else environ
    roots = []
    if environ.get("PYENV_ROOT"):
        roots.append(Path(environ["PYENV_ROOT"]))
    if environ.get("HOME"):
        roots.append(Path(environ["HOME"]) / ".pyenv")
    return list(dict.fromkeys(roots))


def find_python(version: str, environ: dict[str, str] | None = None) -> str:
    """Find a working interpreter of ``version`` ("3.10").

    Looks at, in order: the ``CSA_PYTHON_<major>_<minor>`` variable, ``python<version>`` on
    ``PATH`` (a pyenv shim that cannot run it is skipped), pyenv's ``versions/<version>.*``.

    Raises:
        SetupError: none was found; the message says what to install.
    """
    environ = dict(os.environ) if environ is None else environ
    override_var = "CSA_PYTHON_" + version.replace(".", "_")
    candidates: list[str] = []
    if environ.get(override_var):
        candidates.append(environ[override_var])
    on_path = shutil.which(f"python{version}", path=environ.get("PATH", ""))
    if on_path:
        candidates.append(on_path)
    roots = pyenv_roots(environ)
    for root in roots:
        found = sorted(
            (root / "versions").glob(f"{version}.*/bin/python{version}"),
            key=_version_key,
            reverse=True,
        )
        candidates.extend(str(p) for p in found)
    for candidate in candidates:
        if _python_version_of(candidate) == version:
            return candidate
    searched = ", ".join(str(r / "versions") for r in roots) or "(no pyenv root)"
    raise SetupError(
        f"Python {version} is required but was not found: no working `python{version}` on PATH, "
        f"no pyenv version {version}.x in {searched}, and {override_var} is not set.\n"
        f"Install it, for example with `pyenv install {version}` or "
        f"`apt-get install python{version} python{version}-venv`, "
        f"or point {override_var} at an interpreter, then run the command again."
    )


def spec_hash(spec: EnvSpec, python_version_full: str) -> str:
    """Hash everything an environment is built from."""
    digest = hashlib.sha256()
    digest.update(python_version_full.encode())
    digest.update("\0".join(spec.install_args).encode())
    for path in spec.inputs:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _full_version(executable: str) -> str:
    out = subprocess.run(
        [executable, "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _run(cmd: Sequence[str]) -> None:
    print("[setup] $ " + " ".join(cmd), flush=True)
    result = subprocess.run(list(cmd), check=False)
    if result.returncode != 0:
        raise SetupError(
            f"`{' '.join(cmd)}` failed with exit code {result.returncode}; "
            "see the output above (network to the package registry? disk space?)."
        )


def ensure_env(spec: EnvSpec, venv_root: Path) -> Path:
    """Create or update one environment; return its Python executable."""
    venv = venv_root / spec.name
    python = venv / "bin" / "python"
    stamp = venv / STAMP_NAME
    base_python = find_python(spec.python_version)
    wanted = spec_hash(spec, _full_version(base_python))
    if stamp.exists() and python.exists():
        with contextlib.suppress(ValueError, OSError):
            if json.loads(stamp.read_text()).get("hash") == wanted:
                print(f"[setup] {spec.name} env up to date ({venv})", flush=True)
                return python
    started = time.monotonic()
    if python.exists() and _python_version_of(str(python)) != spec.python_version:
        shutil.rmtree(venv)
    if not python.exists():
        print(f"[setup] creating {spec.name} env with {base_python} in {venv}", flush=True)
        _run([base_python, "-m", "venv", str(venv)])
    stamp.unlink(missing_ok=True)
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "on",
            *spec.install_args,
        ]
    )
    stamp.write_text(json.dumps({"hash": wanted, "built_at": time.time()}))
    print(
        f"[setup] {spec.name} env ready in {time.monotonic() - started:.0f} s ({venv})", flush=True
    )
    return python


def main(argv: Sequence[str] | None = None) -> int:
    """Set up the environments named on the command line (default: all)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "envs", nargs="*", metavar="ENV", help="bot and/or services (default: both)"
    )
    parser.add_argument(
        "--venv-root",
        type=Path,
        default=Path(os.environ.get("CSA_VENV_DIR", ROOT / "var" / "venvs")),
        help="where the environments live (env CSA_VENV_DIR; default var/venvs)",
    )
    parser.add_argument(
        "--no-frontends",
        "--no-console",
        dest="no_frontends",
        action="store_true",
        help="do not build the front-ends, the agent console and the website widget (built by "
        "default when all envs are set up)",
    )
    parser.add_argument(
        "--find-python",
        metavar="X.Y",
        help="only print the interpreter that would be used for Python X.Y",
    )
    args = parser.parse_args(argv)
    known = {spec.name for spec in env_specs()}
    if unknown := set(args.envs) - known:
        parser.error(f"unknown env(s) {sorted(unknown)}; choose from {sorted(known)}")
    try:
        if args.find_python:
            print(find_python(args.find_python))
            return 0
        with locked(args.venv_root / ".setup.lock"):
            for spec in env_specs():
                if not args.envs or spec.name in args.envs:
                    ensure_env(spec, args.venv_root)
        if not args.envs and not args.no_frontends:
            frontend.build_all()
    except (SetupError, frontend.FrontendError) as err:
        print(f"[setup] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
