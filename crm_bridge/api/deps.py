"""Dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from crm_bridge.core.db import iter_session


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    yield from iter_session(request.app.state.session_factory)


SessionDep = Annotated[Session, Depends(get_session)]
