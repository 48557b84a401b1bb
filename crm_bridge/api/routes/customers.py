"""Customers: search, create, update, merge, identity look-up and the customer 360 view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm_bridge.api.contract import errors, link, links, responses
from crm_bridge.api.deps import (
    BOT,
    MANAGERS,
    SERVICE,
    STAFF,
    FreshProof,
    Principal,
    RowId,
    SessionDep,
    SettingsDep,
    require,
)
from crm_bridge.api.errors import unknown_reference
from crm_bridge.models import Conversation, Customer, Escalation, LifecycleStage, Order, Tier
from crm_bridge.schemas import (
    MAX_ID,
    Customer360,
    CustomerCreate,
    CustomerPublic,
    CustomerUpdate,
    ExpiringPoints,
    IdentityIn,
    IdentityPublic,
    LoyaltyPublic,
    MergeRequest,
    Page,
)
from crm_bridge.services.audit import audit
from crm_bridge.services.customers import (
    CustomerError,
    create_customer,
    find_by_identity,
    link_identity,
    merge_customers,
    sentiment_history,
    surviving,
)
from crm_bridge.services.identity import proven_customer
from crm_bridge.services.loyalty import loyalty

router = APIRouter(prefix="/customers", tags=["customers"])
Reader = Annotated[Principal, Depends(require(SERVICE, *STAFF))]
Writer = Annotated[Principal, Depends(require(SERVICE, *STAFF))]
Manager = Annotated[Principal, Depends(require(*MANAGERS))]
Agent = Annotated[Principal, Depends(require(*STAFF))]


NOT_FOUND = {404: "no customer with this id"}
CUSTOMER_ID = "$response.body#/id"


def _customer_links(customer_id: str) -> dict[str, dict[str, Any]]:
    """Where a customer's record leads (its id taken from ``customer_id``)."""
    return {
        "GetCustomer360": link(
            "customers-get_360", "the customer's 360 view", customer_id=customer_id
        ),
        "UpdateCustomer": link("customers-update", "change the profile", customer_id=customer_id),
        "GetLoyalty": link("customers-loyalty", "tier and points", customer_id=customer_id),
        "LinkIdentity": link(
            "customers-link_identity", "link a chat account", customer_id=customer_id
        ),
        "MergeInto": link(
            "customers-merge", "merge another record into it", customer_id=customer_id
        ),
    }


def _get(session: SessionDep, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id, options=[selectinload(Customer.identities)])
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no customer {customer_id}")
    return customer


@router.get(
    "",
    response_model=Page[CustomerPublic],
    operation_id="customers-search",
    responses=links(200, **_customer_links("$response.body#/data/0/id")),
)
def search_customers(
    session: SessionDep,
    principal: Reader,
    q: Annotated[str | None, Query(max_length=100, description="name, e-mail or phone")] = None,
    tier: Tier | None = None,
    lifecycle_stage: LifecycleStage | None = None,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[CustomerPublic]:
    """Search customers (merged records excluded)."""
    query = select(Customer).where(Customer.merged_into_id.is_(None))
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(
                Customer.name.ilike(pattern),
                Customer.email.ilike(pattern),
                Customer.phone.like(pattern),
            )
        )
    if tier:
        query = query.where(Customer.tier == tier)
    if lifecycle_stage:
        query = query.where(Customer.lifecycle_stage == lifecycle_stage)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Customer.identities))
        .order_by(Customer.id)
        .offset(offset)
        .limit(limit)
    ).all()
    audit(session, principal.name, "search", "customer", q=q, results=len(rows))
    session.commit()
    return Page(data=[CustomerPublic.model_validate(c) for c in rows], count=count)


@router.post(
    "",
    response_model=CustomerPublic,
    status_code=status.HTTP_201_CREATED,
    operation_id="customers-create",
    responses=responses(
        errors({409: "an identity belongs to another customer, or is listed twice"}),
        links(
            201,
            **_customer_links(CUSTOMER_ID),
            FindByIdentity=link(
                "customers-by_identity",
                "the customer found by its first identity",
                channel="$response.body#/identities/0/channel",
                external_id="$response.body#/identities/0/external_id",
            ),
            MergeFrom=link(
                "customers-merge",
                "merge this record into another",
                **{"body.source_id": CUSTOMER_ID},
            ),
        ),
    ),
)
def create(session: SessionDep, principal: Writer, body: CustomerCreate) -> CustomerPublic:
    """Create a customer with its channel identities."""
    try:
        customer = create_customer(session, body)
    except CustomerError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    except IntegrityError as err:  # a concurrent request took the identity first
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="an identity belongs to another customer"
        ) from err
    audit(session, principal.name, "create", "customer", customer.id)
    session.commit()
    return CustomerPublic.model_validate(_get(session, customer.id))


@router.get(
    "/by-identity/{channel}/{external_id}",
    response_model=CustomerPublic,
    operation_id="customers-by_identity",
    responses=errors({404: "no customer has this identity"}),
)
def by_identity(
    session: SessionDep, principal: Reader, channel: str, external_id: str
) -> CustomerPublic:
    """The customer behind a channel identity (after merges)."""
    customer = find_by_identity(session, channel, external_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no customer with that identity")
    audit(session, principal.name, "read", "customer", customer.id, via=f"{channel} identity")
    session.commit()
    return CustomerPublic.model_validate(customer)


@router.get(
    "/{customer_id}",
    response_model=Customer360,
    operation_id="customers-get_360",
    responses=errors(NOT_FOUND),
)
def customer_360(session: SessionDep, principal: Reader, customer_id: RowId) -> Customer360:
    """Customer 360: profile, orders, conversations, tickets and sentiment trend."""
    customer = _get(session, customer_id)
    orders = session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .options(selectinload(Order.status_history))
        .order_by(Order.placed_at.desc())
        .limit(20)
    ).all()
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer.id)
        .order_by(Conversation.started_at.desc())
        .limit(20)
    ).all()
    escalations = session.scalars(
        select(Escalation)
        .where(Escalation.customer_id == customer.id)
        .order_by(Escalation.created_at.desc())
        .limit(20)
    ).all()
    result = Customer360.model_validate(
        {
            "customer": customer,
            "orders": orders,
            "conversations": conversations,
            "escalations": escalations,
            "sentiment_trend": sentiment_history(session, customer.id),
        },
        from_attributes=True,
    )
    audit(session, principal.name, "read", "customer", customer.id, view="360")
    session.commit()
    return result


@router.get(
    "/{customer_id}/loyalty",
    response_model=LoyaltyPublic,
    operation_id="customers-loyalty",
    responses=errors({404: "no customer with this id (for the bot: not the one proven)"}),
)
def customer_loyalty(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(BOT, SERVICE, *STAFF))],
    settings: SettingsDep,
    proof: FreshProof,
    customer_id: RowId,
) -> LoyaltyPublic:
    """Tier, 12-month spend, what the next tier needs, points expiring soon (merged: survivor).

    The bot reads only the customer its message proved (``X-Identity-Proof``).
    """
    if principal.role == BOT:
        proven = proven_customer(session, proof)
        if proven is None or proven.id != customer_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no customer {customer_id}")
    customer = surviving(session, _get(session, customer_id))
    if customer is None:  # not reachable while foreign keys hold: a merge target exists
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no customer {customer_id}")
    standing = loyalty(session, customer, settings.POINTS_EXPIRY_WARNING_DAYS)
    result = LoyaltyPublic(
        customer_id=standing.customer_id,
        tier=standing.tier.value,
        points_balance=standing.points_balance,
        spend_12m=standing.spend_12m,
        next_tier=standing.next_tier.value if standing.next_tier else None,
        spend_to_next_tier=standing.spend_to_next_tier,
        expiring_points=standing.expiring_points,
        expiring_before=standing.expiring_before,
        expiring=[
            ExpiringPoints(points=e.points, expires_at=e.expires_at) for e in standing.expiring
        ],
    )
    audit(session, principal.name, "read", "customer", customer.id, view="loyalty")
    session.commit()
    return result


@router.patch(
    "/{customer_id}",
    response_model=CustomerPublic,
    operation_id="customers-update",
    responses=responses(
        errors(NOT_FOUND),
        links(
            200,
            GetCustomer360=link("customers-get_360", "the 360 view", customer_id=CUSTOMER_ID),
        ),
    ),
)
def update_customer(
    session: SessionDep, principal: Writer, customer_id: RowId, body: CustomerUpdate
) -> CustomerPublic:
    """Change a customer's profile."""
    customer = _get(session, customer_id)
    changes = body.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(customer, field, value)
    audit(session, principal.name, "update", "customer", customer.id, fields=sorted(changes))
    session.commit()
    return CustomerPublic.model_validate(_get(session, customer_id))


@router.post(
    "/{customer_id}/identities",
    response_model=IdentityPublic,
    status_code=status.HTTP_201_CREATED,
    operation_id="customers-link_identity",
    responses=responses(
        errors({**NOT_FOUND, 409: "the identity belongs to another customer"}),
        links(
            201,
            FindByIdentity=link(
                "customers-by_identity",
                "the customer found by this identity",
                channel="$response.body#/channel",
                external_id="$response.body#/external_id",
            ),
        ),
    ),
)
def link(
    session: SessionDep, principal: Agent, customer_id: RowId, body: IdentityIn
) -> IdentityPublic:
    """Link a chat account (channel + id) to the customer; its conversations follow."""
    customer = _get(session, customer_id)
    try:
        identity = link_identity(session, customer, body.channel, body.external_id, body.verified)
    except CustomerError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    audit(session, principal.name, "link", "customer", customer.id, channel=body.channel)
    session.commit()
    return IdentityPublic.model_validate(identity)


@router.post(
    "/{customer_id}/merge",
    response_model=CustomerPublic,
    operation_id="customers-merge",
    responses=errors(
        {
            404: "no customer with this id",
            409: "no customer with source_id; a record cannot be merged into itself, nor one "
            "already merged",
        }
    ),
)
def merge(
    session: SessionDep, principal: Manager, customer_id: RowId, body: MergeRequest
) -> CustomerPublic:
    """Merge another customer record into this one (identities, orders, conversations, …)."""
    target = _get(session, customer_id)
    source = session.get(Customer, body.source_id)
    if source is None:
        raise unknown_reference("customer", body.source_id)
    try:
        merge_customers(session, target, source)
    except CustomerError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    audit(session, principal.name, "merge", "customer", target.id, source_id=source.id)
    session.commit()
    return CustomerPublic.model_validate(_get(session, customer_id))
