"""All routers of the bridge."""

from __future__ import annotations

from fastapi import APIRouter

from crm_bridge.api.routes import health

API_PREFIX = "/api/v1"

# Resource routers (customers, conversations, ...) go under API_PREFIX.
api_router = APIRouter(prefix=API_PREFIX)

# Probes stay at the root, where process managers and load balancers look for them.
root_router = APIRouter()
root_router.include_router(health.router)
