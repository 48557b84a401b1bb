"""Triggers that hand a conversation to a human on what the customer writes.

Checked by the bridge on every fresh customer message it ingests (it holds the sentiment
model): a legal or regulator threat (keywords), a strongly negative message, or sentiment
falling over the last turns. The other triggers live in the bot: the customer asks for a human,
the knowledge base failed N times in a row (the bot offers a human), a complaint from a
high-tier customer. Each threshold is a setting (``CSA_BRIDGE_ESCALATE_*``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from crm_bridge.core.text import substantive


@dataclass(frozen=True)
class EscalationRules:
    """The thresholds and keywords, from the settings."""

    sentiment_below: float
    trend_turns: int
    trend_drop: float
    keywords: tuple[str, ...]

    @cached_property
    def _keyword_pattern(self) -> re.Pattern[str] | None:
        parts = []
        for word in self.keywords:
            escaped = re.escape(word.strip())
            if not escaped:
                continue
            # Latin words and numbers stand alone ("sue" is not "issue", 12315 is not part of
            # an order number); Chinese needs no spaces.
            bounded = rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
            parts.append(bounded if word.isascii() else escaped)
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def reason(self, text: str, score: float | None, recent: Sequence[float]) -> str | None:
        """Why this message should go to a human, or None.

        ``recent`` holds the scores of the conversation's latest customer messages, oldest
        first, ending with this one's.
        """
        pattern = self._keyword_pattern
        if pattern is not None and text and pattern.search(text):
            return "legal_threat"
        if not substantive(text):
            return None  # "发票", "ok?": too short for the sentiment model to be trusted
        if score is not None and score < self.sentiment_below:
            return "negative_sentiment"
        window = list(recent)[-self.trend_turns :]
        if len(window) == self.trend_turns and all(
            later < earlier for earlier, later in zip(window, window[1:], strict=False)
        ):
            if window[0] - window[-1] >= self.trend_drop:
                return "sentiment_falling"
        return None
