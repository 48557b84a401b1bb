"""Order look-up: for agents, and for the bot on behalf of a verified customer only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm_bridge.api.deps import SERVICE, STAFF, Principal, SessionDep, require
from crm_bridge.models import Order
from crm_bridge.schemas import OrderPublic
from crm_bridge.services.audit import audit
from crm_bridge.services.customers import find_by_identity

router = APIRouter(prefix="/orders", tags=["orders"])
OrderNumber = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{4,32}$")]


@router.get("/{number}", response_model=OrderPublic, operation_id="orders-get")
def get_order(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(SERVICE, *STAFF))],
    number: OrderNumber,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    external_id: Annotated[str | None, Query(max_length=255)] = None,
) -> OrderPublic:
    """An order by number.

    The bot (service key) must name the verified channel identity of the customer it speaks
    for; it gets the order only if that customer owns it. Agents see any order.
    """
    order = session.scalars(
        select(Order)
        .where(Order.number == number.upper())
        .options(selectinload(Order.status_history))
    ).first()
    if principal.role == SERVICE:
        if not channel or not external_id:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                detail="the bot must pass channel and external_id of a verified customer",
            )
        customer = find_by_identity(session, channel, external_id)
        verified = customer is not None and any(
            i.verified and i.channel == channel and i.external_id == external_id
            for i in customer.identities
        )
        # One answer for "no such order" and "not yours": never confirm someone else's order.
        if not verified or order is None or order.customer_id != customer.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such order for this customer")
    elif order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no order {number}")
    audit(session, principal.name, "read", "order", order.number, customer_id=order.customer_id)
    session.commit()
    return OrderPublic.model_validate(order)
