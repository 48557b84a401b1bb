"""Make sure the browser the browser tests drive is installed: Debian's ``chromium``.

Standard library only (``python3 devtools/browser.py``; ``make test`` runs it before pytest).
The tests launch ``/usr/bin/chromium`` through Playwright's Python package with
``executable_path``; Playwright's own browser download (``playwright install``) is never used.
When it is missing and we are root, ``apt-get install -y --no-install-recommends chromium``
installs it (after ``apt-get update`` if the package lists do not know it yet); otherwise the
error says what to install. A small Chinese font (``fonts-wqy-microhei``, 1.6 MB) comes along
when fontconfig knows none, or the Chinese UI would render as empty boxes in screenshots.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
PACKAGE = "chromium"
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
INSTALL = ("apt-get", "install", "-y", "--no-install-recommends")
UPDATE = ("apt-get", "update")


class BrowserError(RuntimeError):
    """The browser is missing and could not be installed; the message says what to do."""


def _run(cmd: Sequence[str], env: Mapping[str, str]) -> int:
    print("[browser] $ " + " ".join(cmd), flush=True)
    return subprocess.run(list(cmd), env=dict(env), check=False).returncode


def has_cjk_font() -> bool:
    """True when fontconfig knows a font for Chinese (False if it cannot be asked)."""
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
        )
    except OSError:
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def apt_install(
    packages: Sequence[str],
    run: Callable[[Sequence[str], Mapping[str, str]], int] = _run,
    env: Mapping[str, str] | None = None,
) -> bool:
    """``apt-get install`` the packages; True when it worked.

    Fresh images often have no package lists yet: on failure they are fetched once
    (``apt-get update``) and the install is tried again.
    """
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", **(env or {})}
    install = (*INSTALL, *packages)
    if run(install, environ) == 0:
        return True
    return run(UPDATE, environ) == 0 and run(install, environ) == 0


def missing_packages(executable: Path = CHROMIUM, cjk_font: bool | None = None) -> list[str]:
    """The Debian packages the browser tests still need."""
    missing = [] if executable.exists() else [PACKAGE]
    if not (has_cjk_font() if cjk_font is None else cjk_font):
        missing.append(CJK_FONT_PACKAGE)
    return missing


def ensure_chromium(
    executable: Path = CHROMIUM,
    *,
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0,
    run: Callable[[Sequence[str], Mapping[str, str]], int] = _run,
    cjk_font: bool | None = None,
) -> Path:
    """Return the chromium executable, installing Debian's package when it is missing.

    Args:
        executable: where Debian's chromium puts its launcher.
        is_root: whether apt-get may be run.
        run: runs a command with an environment, returns its exit code.
        cjk_font: whether a Chinese font is installed (default: ask fontconfig).

    Raises:
        BrowserError: it is missing and cannot be installed (not root, or apt-get failed).
    """
    missing = missing_packages(executable, cjk_font)
    if not missing:
        print(f"[browser] chromium present ({executable})", flush=True)
        return executable
    install = (*INSTALL, *missing)
    if not is_root():
        if PACKAGE not in missing:  # only the font: screenshots show boxes, tests still run
            print(f"[browser] warning: no Chinese font; install {CJK_FONT_PACKAGE}", flush=True)
            return executable
        raise BrowserError(
            f"{executable} is missing: the browser tests need Debian's chromium. Install it "
            f"with `sudo {' '.join(install)}` and run the command again."
        )
    started = time.monotonic()
    print(f"[browser] installing Debian's {', '.join(missing)}", flush=True)
    if not apt_install(missing, run):
        raise BrowserError(
            f"`{' '.join(install)}` failed; see the output above (network to the Debian "
            "mirror? disk space?)."
        )
    if not executable.exists():
        raise BrowserError(f"{PACKAGE} was installed but {executable} does not exist.")
    print(
        f"[browser] {', '.join(missing)} installed in {time.monotonic() - started:.0f} s "
        f"({executable})",
        flush=True,
    )
    return executable


def main(argv: Sequence[str] | None = None) -> int:
    """Install chromium if it is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    try:
        ensure_chromium()
    except BrowserError as err:
        print(f"[browser] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
