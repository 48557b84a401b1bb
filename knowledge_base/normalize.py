"""Text normalisation shared by indexing and querying (Chinese and English)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["detect_lang", "for_embedding", "normalize", "to_simplified"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-zA-Z]+")
_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _converter():  # noqa: ANN202 - opencc has no type hints
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified ones (OpenCC ``t2s``)."""
    return _converter().convert(text) if _CJK.search(text) else text


def normalize(text: str) -> str:
    """Normalise text for matching.

    Full-width forms become half-width (NFKC), case is folded, traditional Chinese becomes
    simplified, and punctuation runs become one space.

    Args:
        text: Raw text in any mix of Chinese and English.

    Returns:
        The normalised text, stripped.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = to_simplified(text)
    return _PUNCT_OR_SPACE.sub(" ", text).strip()


def for_embedding(text: str) -> str:
    """Light normalisation before embedding: NFKC and simplified Chinese only.

    The embedding model handles case and punctuation itself.
    """
    return to_simplified(unicodedata.normalize("NFKC", text)).strip()


def detect_lang(text: str) -> str:
    """Return ``"zh"`` when Chinese characters make up a fair share of the text, else ``"en"``."""
    cjk = len(_CJK.findall(text))
    words = len(_LATIN_WORD.findall(text))
    return "zh" if cjk and cjk >= words else "en"
