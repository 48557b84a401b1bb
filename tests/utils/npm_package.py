"""A published npm package, fetched once from the registry and checked against its pinned hash.

For third-party browser clients the tests run as customers would (rasa-webchat): the package's
own built files, not a copy in this repository. ``npm pack`` downloads the tarball the registry
serves; its SHA-512 must equal the ``integrity`` pinned here (the registry's ``dist.integrity``),
so a changed or tampered package fails loudly instead of testing something else. Unpacked into
``var/cache/npm/<name>-<version>/``; later runs use that copy.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from devtools.config import ROOT

CACHE = ROOT / "var" / "cache" / "npm"


class NpmPackageError(RuntimeError):
    """The package could not be fetched or did not match its pinned hash."""


def _integrity(tarball: Path) -> str:
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def npm_package(name: str, version: str, integrity: str, cache: Path = CACHE) -> Path:
    """The unpacked ``package/`` folder of ``name@version`` (fetched on first use).

    Raises:
        NpmPackageError: npm is missing, the registry cannot be reached, or the tarball's
            hash is not ``integrity``.
    """
    target = cache / f"{name.replace('/', '+')}-{version}"
    stamp = target / ".integrity"
    if stamp.is_file() and stamp.read_text() == integrity:
        return target / "package"
    npm = shutil.which("npm")
    if npm is None:
        raise NpmPackageError("npm is not on PATH (make setup needs it too: install Node.js)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        result = subprocess.run(
            [npm, "pack", f"{name}@{version}", "--pack-destination", work, "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(work).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise NpmPackageError(
                f"`npm pack {name}@{version}` failed (exit {result.returncode}): "
                f"{result.stderr.strip()[-500:]} (is the npm registry reachable?)"
            )
        found = _integrity(tarballs[0])
        if found != integrity:
            raise NpmPackageError(
                f"{name}@{version} from the registry has integrity {found}, pinned {integrity}"
            )
        unpacked = Path(work) / "unpacked"
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(unpacked, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        unpacked.rename(target)
    stamp.write_text(integrity)
    return target / "package"
