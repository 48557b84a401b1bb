"""KPIs and exports for supervisors."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select

from crm_bridge.api.contract import errors
from crm_bridge.api.deps import MANAGERS, Principal, SessionDep, require
from crm_bridge.models import Conversation
from crm_bridge.schemas import QueryTime
from crm_bridge.services.audit import audit
from crm_bridge.services.metrics import GroupBy, kpis

router = APIRouter(tags=["reports"])
Manager = Annotated[Principal, Depends(require(*MANAGERS))]
MAX_RANGE = timedelta(days=366)


class KpiRow(BaseModel):
    """KPIs of one group."""

    group: str
    conversations: int
    automation_rate: float | None
    escalation_rate: float | None
    sentiment_mean: float | None
    sentiment_worst: float | None
    csat: float | None
    nps: float | None
    first_response_seconds: float | None
    resolution_seconds: float | None
    kb_helpful_rate: float | None
    """Share of "was this answer helpful" ratings that said yes."""
    kb_ratings: int
    """How many such ratings the group's conversations got."""


def _aware(value: datetime) -> datetime:
    """A naive query time is taken as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = _aware(end) if end else datetime.now(UTC)
    try:
        start = _aware(start) if start else end - timedelta(days=30)
    except OverflowError:  # an end in the first days of year 1: no range before it
        start = end
    if start >= end or end - start > MAX_RANGE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="start must be before end, at most 366 days apart",
        )
    return start, end


BAD_RANGE = {422: "start is not before end, or they are more than 366 days apart"}


@router.get(
    "/kpis", response_model=list[KpiRow], operation_id="reports-kpis", responses=errors(BAD_RANGE)
)
def get_kpis(
    session: SessionDep,
    _principal: Manager,
    start: QueryTime | None = None,
    end: QueryTime | None = None,
    group_by: Annotated[GroupBy, Query()] = "day",
) -> list[KpiRow]:
    """Service KPIs for conversations started in [start, end) (default: the last 30 days)."""
    start, end = _range(start, end)
    return [KpiRow(**row) for row in kpis(session, start, end, group_by)]


EXPORT_COLUMNS = [
    "id",
    "sender_id",
    "channel",
    "language",
    "status",
    "customer_id",
    "started_at",
    "ended_at",
    "customer_messages",
    "sentiment_mean",
    "sentiment_min",
    "sentiment_trend",
    "csat",
    "nps",
]


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return getattr(value, "value", value)  # enums as their value


class CsvResponse(StreamingResponse):
    """A CSV file, streamed."""

    media_type = "text/csv"


@router.get(
    "/export/conversations.csv",
    response_class=CsvResponse,
    operation_id="reports-export_conversations",
    responses={
        **errors(BAD_RANGE),
        200: {
            "description": "the conversations, one a row, with a header row",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
)
def export_conversations(
    session: SessionDep,
    principal: Manager,
    start: QueryTime | None = None,
    end: QueryTime | None = None,
) -> CsvResponse:
    """Conversations started in [start, end) as CSV (UTF-8 with BOM, for Excel)."""
    start, end = _range(start, end)
    rows = session.scalars(
        select(Conversation)
        .where(Conversation.started_at >= start, Conversation.started_at < end)
        .order_by(Conversation.started_at)
    ).all()
    audit(session, principal.name, "export", "conversation", rows=len(rows))
    session.commit()

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(EXPORT_COLUMNS)
        for conversation in rows:
            writer.writerow([_cell(getattr(conversation, column)) for column in EXPORT_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return CsvResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="conversations.csv"'},
    )
