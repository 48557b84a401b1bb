"""Small checks on customer texts shared by the services."""

from __future__ import annotations

import re

HAN = re.compile(r"[\u4e00-\u9fff]")


def substantive(text: str) -> bool:
    """At least 4 Chinese characters or 3 words, and not a button payload ("/affirm")."""
    if not text or text.startswith("/"):
        return False
    han = len(HAN.findall(text))
    return han >= 4 if han else len(text.split()) >= 3
