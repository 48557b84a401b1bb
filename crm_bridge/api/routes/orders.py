"""Order look-up: for agents, and for the bot on behalf of the customer a message proved."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm_bridge.api.contract import errors
from crm_bridge.api.deps import BOT, SERVICE, STAFF, FreshProof, Principal, SessionDep, require
from crm_bridge.models import Order
from crm_bridge.schemas import OrderPublic
from crm_bridge.services.audit import audit
from crm_bridge.services.customers import surviving
from crm_bridge.services.identity import proven_customer

router = APIRouter(prefix="/orders", tags=["orders"])
OrderNumber = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{4,32}$")]


@router.get(
    "/{number}",
    response_model=OrderPublic,
    operation_id="orders-get",
    responses=errors({404: "no order with this number (for the bot: none of the proven customer)"}),
)
def get_order(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(BOT, SERVICE, *STAFF))],
    proof: FreshProof,
    number: OrderNumber,
) -> OrderPublic:
    """An order by number.

    The bot gets it only when the customer its message proved (``X-Identity-Proof``) owns it;
    the full key and agents see any order.
    """
    order = session.scalars(
        select(Order)
        .where(Order.number == number.upper())
        .options(selectinload(Order.status_history))
    ).first()
    if principal.role == BOT:
        customer = proven_customer(session, proof)
        # One answer for "no such order" and "not yours": never confirm someone else's order.
        if customer is None or order is None or surviving(session, order.customer) != customer:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such order for this customer")
    elif order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no order {number}")
    audit(session, principal.name, "read", "order", order.number, customer_id=order.customer_id)
    session.commit()
    return OrderPublic.model_validate(order)
