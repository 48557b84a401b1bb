"""The audit log: who read or changed which customer data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm_bridge.models import AuditLog


def audit(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = None,
    **detail: Any,
) -> None:
    """Record one access (committed with the caller's transaction)."""
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            detail=detail,
        )
    )
