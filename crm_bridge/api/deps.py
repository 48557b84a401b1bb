"""Dependencies shared by the routes: database session, settings, who is calling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Header, HTTPException, Path, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from crm_bridge.core.config import Settings
from crm_bridge.core.db import iter_session
from crm_bridge.core.proofs import PROOF_HEADER, Proof, ProofRejected, verify
from crm_bridge.core.security import any_key_matches, decode_access_token
from crm_bridge.models import Agent
from crm_bridge.schemas import MAX_ID
from crm_bridge.services import agent_sessions

SERVICE = "service"
"""The full key: administration and integrations (customer records, conversations, orders,
tickets); people's work (queue, feedback, KPIs, agents) needs a log-in."""
BOT = "bot"
"""The bot's key: only what the dialogue needs, customer data only for a proven identity."""
AGENT = "agent"
SUPERVISOR = "supervisor"
ADMIN = "admin"
STAFF = (AGENT, SUPERVISOR, ADMIN)
MANAGERS = (SUPERVISOR, ADMIN)


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    yield from iter_session(request.app.state.session_factory)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
# Row ids as path parameters: positive and within a 32-bit integer, so no database sees more.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="service API key")
bearer_scheme = HTTPBearer(
    bearerFormat="JWT",
    description="an agent's access token, from POST /api/v1/login/access-token",
    auto_error=False,
)


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    return credentials.credentials if credentials else None


BearerToken = Annotated[str | None, Depends(bearer_token)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the action server (service) or a logged-in agent."""

    name: str
    role: str
    agent_id: int | None = None
    session_id: str | None = None
    """The log-in session of an agent (logout ends it)."""


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


class TokenRejected(Exception):
    """An agent token that does not authenticate; the message says why (safe to show)."""


@dataclass(frozen=True)
class AgentLogin:
    """An authenticated agent and the log-in session their token names."""

    agent: Agent
    session_id: str


def agent_of_token(session: Session, settings: Settings, token: str) -> AgentLogin:
    """The active agent a bearer token names, in a live session; :class:`TokenRejected` else.

    One query reads the agent and the session together: ending a session (logout, password
    change, deactivation) takes effect on the next request, whatever the token's expiry.
    """
    try:
        claims = decode_access_token(token, settings.jwt_secret.get_secret_value())
        agent_id, session_id = int(claims["sub"]), str(claims["sid"])
    except (jwt.InvalidTokenError, ValueError, KeyError, TypeError) as err:
        raise TokenRejected("invalid or expired token; log in again") from err
    found = agent_sessions.load(session, agent_id, session_id)
    if found is None:
        raise TokenRejected("invalid or expired token; log in again")
    agent, row = found
    if not agent.active:
        raise TokenRejected("account disabled")
    if not agent_sessions.is_live(row, settings):
        raise TokenRejected("session ended; log in again")
    return AgentLogin(agent=agent, session_id=session_id)


def principal_of(agent: Agent, session_id: str | None = None) -> Principal:
    """The principal of a logged-in agent."""
    return Principal(
        name=agent.login, role=agent.role.value, agent_id=agent.id, session_id=session_id
    )


def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    api_key: Annotated[str | None, Depends(api_key_header)],
    token: BearerToken,
) -> Principal:
    """Authenticate by API key (services) or bearer token (agents)."""
    if api_key:
        if any_key_matches(api_key, settings.api_keys):
            return Principal(name=SERVICE, role=SERVICE)
        if any_key_matches(api_key, settings.bot_api_keys):
            return Principal(name=BOT, role=BOT)
        raise _unauthorized("invalid API key")
    if token:
        try:
            login = agent_of_token(session, settings, token)
        except TokenRejected as err:
            raise _unauthorized(str(err)) from err
        return principal_of(login.agent, login.session_id)
    raise _unauthorized("authentication required: X-API-Key header or bearer token")


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


class RoleCheck:
    """A dependency that lets only some roles through (403 for the others)."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    def __call__(self, principal: CurrentPrincipal) -> Principal:
        """The caller, when their role is one of :attr:`roles`."""
        if principal.role not in self.roles:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role '{principal.role}' may not do this",
            )
        return principal


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets only the given roles through (403 for the others)."""
    return RoleCheck(roles)


ProofHeader = Annotated[
    str | None,
    Header(
        alias=PROOF_HEADER,
        description=(
            "the identity proof Rasa's channel issued for the customer's current message: "
            "required with the bot's key, optional with the full key"
        ),
    ),
]


def _proof(
    token: str | None, settings: Settings, principal: Principal, *, check_expiry: bool
) -> Proof | None:
    if not token:
        if principal.role == BOT:
            raise _unauthorized(f"the bot must send the message's identity proof ({PROOF_HEADER})")
        return None
    try:
        return verify(token, settings.identity_proof_keys, check_expiry=check_expiry)
    except ProofRejected as err:
        raise _unauthorized(str(err)) from err


def fresh_proof(
    settings: SettingsDep, principal: CurrentPrincipal, token: ProofHeader = None
) -> Proof | None:
    """The message's proof (required of the bot, unexpired): what it may read about whom."""
    return _proof(token, settings, principal, check_expiry=True)


def conversation_proof(
    settings: SettingsDep, principal: CurrentPrincipal, token: ProofHeader = None
) -> Proof | None:
    """The proof of a write for a conversation (required of the bot; may have expired)."""
    return _proof(token, settings, principal, check_expiry=False)


FreshProof = Annotated[Proof | None, Depends(fresh_proof)]
ConversationProof = Annotated[Proof | None, Depends(conversation_proof)]


def same_conversation(proof: Proof | None, sender_id: str | None) -> None:
    """Refuse (403) a bot write whose conversation is not the one its proof names."""
    if proof is not None and sender_id is not None and sender_id != proof.conversation:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="sender_id is not the conversation the identity proof names",
        )
