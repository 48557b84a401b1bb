"""Demo data of the fictional home-goods shop: customers, orders, points and console users."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
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
from crm_bridge.services.customer_value import refresh

# name, language, tier, points, site user id, orders as (days ago, amount, status)
CUSTOMERS = [
    (
        "王芳",
        "zh",
        Tier.DIAMOND,
        58_200,
        "demo-user-1",
        [
            (3, "1299.00", "shipped"),
            (20, "3580.00", "delivered"),
            (45, "899.00", "delivered"),
            (70, "2460.00", "delivered"),
            (85, "5200.00", "delivered"),
        ],
    ),
    (
        "Emily Carter",
        "en",
        Tier.PLATINUM,
        21_450,
        "demo-user-2",
        [
            (1, "459.00", "paid"),
            (33, "1890.00", "delivered"),
            (61, "720.00", "delivered"),
            (88, "2150.00", "delivered"),
        ],
    ),
    (
        "李伟",
        "zh",
        Tier.GOLD,
        8_900,
        "demo-user-3",
        [(12, "329.00", "delivered"), (48, "1280.00", "refunded"), (75, "640.00", "delivered")],
    ),
    (
        "Oliver Smith",
        "en",
        Tier.SILVER,
        2_300,
        "demo-user-4",
        [(5, "199.00", "pending_payment"), (140, "560.00", "delivered")],
    ),
    ("张敏", "zh", Tier.SILVER, 1_750, "demo-user-5", [(25, "268.00", "delivered")]),
    ("陈静", "zh", Tier.REGULAR, 320, "demo-user-6", [(130, "159.00", "delivered")]),
    ("Sophie Martin", "en", Tier.REGULAR, 0, "demo-user-7", [(260, "89.00", "delivered")]),
    (
        "刘洋",
        "zh",
        Tier.GOLD,
        6_400,
        "demo-user-8",
        [(2, "899.00", "shipped"), (9, "1499.00", "delivered"), (40, "388.00", "cancelled")],
    ),
    ("Daniel Wong 黄大年", "en", Tier.REGULAR, 0, "demo-user-9", []),
    ("赵磊", "zh", Tier.REGULAR, 90, "demo-user-10", [(400, "59.00", "delivered")]),
]

ORDER_FLOW = ["pending_payment", "paid", "shipped", "delivered"]
ITEMS = [
    {"sku": "MUG-01", "name": "陶瓷马克杯 Ceramic mug", "qty": 2, "price": "39.00"},
    {"sku": "LAMP-07", "name": "北欧台灯 Nordic desk lamp", "qty": 1, "price": "259.00"},
    {"sku": "TOWEL-3", "name": "纯棉浴巾 Cotton bath towel", "qty": 3, "price": "69.00"},
]
AGENTS = [
    ("Admin 管理员", "admin", AgentRole.ADMIN, ["zh", "en"]),
    ("Supervisor 主管 Li", "supervisor", AgentRole.SUPERVISOR, ["zh", "en"]),
    ("Agent 小王", "agent.wang", AgentRole.AGENT, ["zh"]),
    ("Agent Amy", "agent.amy", AgentRole.AGENT, ["en", "zh"]),
]


@dataclass(frozen=True)
class SeedResult:
    """What was created; ``passwords`` are shown once and never stored in clear."""

    customers: int
    orders: int
    passwords: dict[str, str]


def is_empty(session: Session) -> bool:
    """True when the CRM has neither customers nor agents."""
    return not (
        session.scalar(select(func.count(Customer.id)))
        or session.scalar(select(func.count(Agent.id)))
    )


def _statuses(final: str) -> list[str]:
    if final in ORDER_FLOW:
        return ORDER_FLOW[: ORDER_FLOW.index(final) + 1]
    if final == "cancelled":
        return ["pending_payment", "cancelled"]
    return [*ORDER_FLOW, final]  # refunded after delivery


def seed_demo(session: Session, passwords: dict[str, str] | None = None) -> SeedResult:
    """Create the demo shop's data in an empty CRM (the caller commits).

    ``passwords`` (login → password) are reused for the demo agents they name, so every CRM
    seeded on one machine (the embedded SQLite one, the scale-out PostgreSQL one) accepts the
    logins kept in its one file; the other agents get new random passwords.
    """
    known = passwords or {}
    now = utcnow()
    orders = 0
    for index, (name, language, tier, points, user_id, history) in enumerate(CUSTOMERS, 1):
        customer = Customer(
            name=name,
            email=f"demo{index}@example.com",
            phone=f"+86 139 0000 {index:04d}",
            language=language,
            tier=tier,
            points_balance=points,
            lifecycle_stage=LifecycleStage.PROSPECT,
            frequency=0,
            monetary=Decimal(0),
            consent_marketing=index % 2 == 0,
            consent_data_processing=True,
            tags=["demo"],
        )
        customer.identities = [CustomerIdentity(channel="site", external_id=user_id, verified=True)]
        session.add(customer)
        session.flush()
        for n, (days_ago, amount, final) in enumerate(history, 1):
            placed = now - timedelta(days=days_ago)
            statuses = _statuses(final)
            order = Order(
                number=f"DS{index:02d}{n:02d}{days_ago:04d}",
                customer_id=customer.id,
                status=final,
                items=[ITEMS[(index + n) % len(ITEMS)]],
                amount=Decimal(amount),
                currency="CNY",
                placed_at=placed,
                shipped_at=placed + timedelta(days=1) if "shipped" in statuses else None,
                delivered_at=placed + timedelta(days=3) if "delivered" in statuses else None,
                carrier="SF Express 顺丰速运" if "shipped" in statuses else None,
                tracking_number=f"SF{index:03d}{n:02d}{days_ago:07d}"
                if "shipped" in statuses
                else None,
            )
            order.status_history = [
                OrderStatusChange(status=s, at=min(now, placed + timedelta(hours=12 * i)))
                for i, s in enumerate(statuses)
            ]
            session.add(order)
            orders += 1
        if points:
            expiring = min(points, 500)
            session.add_all(
                [
                    PointsTransaction(
                        customer_id=customer.id,
                        delta=points - expiring,
                        reason="purchases 消费积分",
                        created_at=now - timedelta(days=60),
                        expires_at=now + timedelta(days=305),
                    ),
                    PointsTransaction(
                        customer_id=customer.id,
                        delta=expiring,
                        reason="expiring soon 即将过期",
                        created_at=now - timedelta(days=350),
                        expires_at=now + timedelta(days=15),
                    ),
                ]
            )
        session.flush()
        refresh(session, customer, now)
    passwords = {}
    for name, login, role, languages in AGENTS:
        password = known.get(login) or secrets.token_urlsafe(12)
        passwords[login] = password
        session.add(
            Agent(
                name=name,
                login=login,
                password_hash=hash_password(password),
                role=role,
                languages=languages,
                availability=Availability.OFFLINE,
                max_concurrent=3,
                active=True,
            )
        )
    session.flush()
    return SeedResult(customers=len(CUSTOMERS), orders=orders, passwords=passwords)
