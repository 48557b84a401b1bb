"""Masking of personal data (PIPL / GDPR): phone numbers, e-mails, ID-card and bank-card numbers."""

from __future__ import annotations

import logging
import re

# Order matters: the 18-digit ID card before the generic long digit runs of bank cards.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "[id-card]"),
    (re.compile(r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)"), "[bank-card]"),
    (re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)"), "[phone]"),
    (re.compile(r"(?<!\d)\+?\d{1,3}[ -]?\(?\d{2,4}\)?[ -]?\d{3,4}[ -]?\d{3,4}(?!\d)"), "[phone]"),
]


def mask_pii(text: str) -> str:
    """Replace personal data in ``text`` with placeholders."""
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


class PiiMaskingFilter(logging.Filter):
    """Masks personal data in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message, mask it, and keep the record."""
        record.msg = mask_pii(record.getMessage())
        record.args = None
        return True
