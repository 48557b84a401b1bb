"""Office hours of the human agents (``CSA_BRIDGE_OFFICE_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _days(spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    return frozenset(days)


@dataclass(frozen=True)
class OfficeHours:
    """Working days and hours in one time zone; ``24:00`` means until midnight."""

    opens: int  # minutes after midnight
    closes: int
    days: frozenset[int]
    zone: ZoneInfo

    @classmethod
    def parse(cls, hours: str, days: str, timezone: str) -> OfficeHours:
        """From the settings' strings, e.g. ``"09:00-21:00"``, ``"1-5"``, ``"Asia/Shanghai"``."""
        opens, _, closes = hours.partition("-")
        return cls(_minutes(opens), _minutes(closes), _days(days), ZoneInfo(timezone))

    def is_open(self, at: datetime) -> bool:
        """Whether agents work at ``at`` (an aware datetime)."""
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        if self.opens <= self.closes:
            in_hours = self.opens <= minute < self.closes
            day = local.isoweekday()
        else:  # overnight shift, e.g. 20:00-02:00 belongs to the day it started
            in_hours = minute >= self.opens or minute < self.closes
            day = local.isoweekday() if minute >= self.opens else (local.isoweekday() - 2) % 7 + 1
        return in_hours and day in self.days

    def describe(self) -> str:
        """``09:00-21:00 (Asia/Shanghai)`` for messages to the customer."""

        def fmt(minutes: int) -> str:
            return (
                "24:00" if minutes == 1440 else time(minutes // 60, minutes % 60).strftime("%H:%M")
            )

        return f"{fmt(self.opens)}-{fmt(self.closes)} ({self.zone.key})"
