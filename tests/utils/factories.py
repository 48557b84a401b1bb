"""Factories for CRM rows used by the tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_bridge.core.security import hash_password
from crm_bridge.models import (
    Agent,
    AgentRole,
    Availability,
    Customer,
    CustomerIdentity,
    LifecycleStage,
    Order,
    OrderStatusChange,
    PointsTransaction,
    Tier,
    utcnow,
)

PASSWORD = "correct horse battery"


def make_agent(session: Session, role: AgentRole = AgentRole.AGENT, **fields) -> Agent:
    login = fields.pop("login", f"{role.value}-{uuid.uuid4().hex[:6]}")
    agent = Agent(
        name=fields.pop("name", f"Agent {login}"),
        login=login,
        password_hash=hash_password(fields.pop("password", PASSWORD)),
        role=role,
        languages=fields.pop("languages", ["zh", "en"]),
        availability=Availability.OFFLINE,
        max_concurrent=3,
        active=True,
        **fields,
    )
    session.add(agent)
    session.flush()
    return agent


def make_customer(session: Session, **fields) -> Customer:
    identities = fields.pop("identities", [])
    customer = Customer(
        name=fields.pop("name", "王小明"),
        tier=fields.pop("tier", Tier.GOLD),
        lifecycle_stage=fields.pop("lifecycle_stage", LifecycleStage.ACTIVE),
        points_balance=fields.pop("points_balance", 1200),
        frequency=0,
        monetary=Decimal("0"),
        tags=fields.pop("tags", []),
        consent_marketing=False,
        consent_data_processing=True,
        **fields,
    )
    customer.identities = [
        CustomerIdentity(channel=c, external_id=e, verified=v) for c, e, v in identities
    ]
    session.add(customer)
    session.flush()
    return customer


def make_order(session: Session, customer: Customer, number: str, status: str = "shipped") -> Order:
    placed = utcnow() - timedelta(days=3)
    order = Order(
        number=number,
        customer_id=customer.id,
        status=status,
        items=[{"sku": "MUG-01", "name": "陶瓷马克杯 Ceramic mug", "qty": 2, "price": "39.00"}],
        amount=Decimal("78.00"),
        currency="CNY",
        placed_at=placed,
        shipped_at=placed + timedelta(days=1),
        carrier="SF Express",
        tracking_number="SF1234567890",
    )
    order.status_history = [
        OrderStatusChange(status="paid", at=placed),
        OrderStatusChange(status="shipped", at=placed + timedelta(days=1)),
    ]
    session.add(order)
    session.flush()
    return order


def make_purchase(
    session: Session,
    customer: Customer,
    amount: str,
    placed_at: datetime,
    status: str = "delivered",
) -> Order:
    """An order of ``amount`` CNY placed at ``placed_at`` (for spend and tier rules)."""
    order = Order(
        number=f"P{uuid.uuid4().hex[:12].upper()}",
        customer_id=customer.id,
        status=status,
        items=[],
        amount=Decimal(amount),
        currency="CNY",
        placed_at=placed_at,
    )
    session.add(order)
    session.flush()
    return order


def make_points(
    session: Session, customer: Customer, delta: int, expires_at: datetime | None = None
) -> PointsTransaction:
    """Points earned (+) or spent (-) by a customer."""
    row = PointsTransaction(
        customer_id=customer.id,
        delta=delta,
        reason="order" if delta > 0 else "redeemed",
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row
