"""Language of a customer message: Chinese or English, from its script.

Pure Python with no Rasa import, so the services env can test it too.
"""

from __future__ import annotations

import re

ZH = "zh"
EN = "en"

# CJK Unified Ideographs (+ extension A and compatibility ideographs).
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Latin words, not codes: "DS01010003" (an order number) carries no language.
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2,}(?![A-Za-z0-9])")
# E-mail addresses and web addresses are names, not words: "wang@example.com" is no English.
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)


def detect_language(text: str) -> str | None:
    """Return ``"zh"``, ``"en"`` or ``None`` when the text says nothing (digits, emoji, "ok?").

    Any Han character makes a message Chinese unless Latin words clearly outnumber the Han
    characters ("我的order到了吗" is Chinese; "my order 号码" is English). Single Latin
    letters ("A", "x"), e-mail and web addresses carry no language.
    """
    text = _ADDRESS.sub(" ", text)
    han = len(_HAN.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if han == 0 and latin_words == 0:
        return None
    if han == 0:
        return EN
    return EN if latin_words > 2 * han else ZH
