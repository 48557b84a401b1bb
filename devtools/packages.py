"""Debian packages a profile needs at run time (nginx for the scale-out profile).

When the program is missing and we are root, ``apt-get install -y --no-install-recommends
<package>`` installs it (``devtools.browser.apt_install``: after ``apt-get update`` when the
package lists do not know it yet); otherwise the error says what to install.
"""

from __future__ import annotations

import os
from pathlib import Path

from devtools.browser import INSTALL, apt_install


class PackageError(RuntimeError):
    """A needed program is missing and could not be installed; the message says what to do."""


def ensure_package(package: str, executable: Path) -> Path:
    """Return ``executable``, installing Debian's ``package`` first when it is missing.

    Raises:
        PackageError: missing and not installable (not root, or apt-get failed).
    """
    if executable.exists():
        return executable
    command = (*INSTALL, package)
    if os.geteuid() != 0:
        raise PackageError(f"{executable} is missing: install it with `sudo {' '.join(command)}`")
    print(f"[packages] installing Debian's {package}", flush=True)
    # The package's maintainer scripts would start a system-wide nginx on port 80; with
    # RUNLEVEL=1 invoke-rc.d does not start services.
    ok = apt_install([package], env={"RUNLEVEL": "1"})
    if not ok or not executable.exists():
        raise PackageError(
            f"`{' '.join(command)}` failed; see the output above (network to the Debian mirror?)"
        )
    return executable
