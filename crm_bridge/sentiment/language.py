"""Language routing by script: any Han character means Chinese, anything else English."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en"]

# CJK Unified Ideographs, Extension A and the compatibility block; enough for zh-Hans/zh-Hant.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> Language:
    """Return the model language for a text.

    Args:
        text: Any customer message.

    Returns:
        ``"zh"`` if the text holds at least one Han character, else ``"en"``.
    """
    return "zh" if _HAN.search(text) else "en"
