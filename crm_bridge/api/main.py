"""All routers of the bridge."""

from __future__ import annotations

from fastapi import APIRouter

from crm_bridge.api.contract import document_errors
from crm_bridge.api.routes import (
    agents,
    bot,
    console,
    conversations,
    customers,
    escalations,
    feedback,
    handoff,
    health,
    login,
    orders,
    reports,
    sentiment,
    widget,
)

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
for module in (
    login,
    customers,
    conversations,
    orders,
    escalations,
    handoff,
    console,
    feedback,
    bot,
    agents,
    reports,
    sentiment,
    widget,
):
    api_router.include_router(document_errors(module.router))

# Probes stay at the root, where process managers and load balancers look for them.
root_router = APIRouter()
root_router.include_router(document_errors(health.router))
