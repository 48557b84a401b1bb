"""FastAPI application factory of the CRM bridge."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from crm_bridge import __version__
from crm_bridge.api.bad_input import install_bad_input_handlers
from crm_bridge.api.console_static import mount_console
from crm_bridge.api.errors import install_error_handlers
from crm_bridge.api.main import API_PREFIX, api_router, root_router
from crm_bridge.api.rate_limits import PublicLimits
from crm_bridge.api.widget_static import mount_widget
from crm_bridge.core.config import Settings
from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.core.locks import SessionLock, is_postgresql
from crm_bridge.core.widget_sessions import HEADER as WIDGET_SESSION_HEADER
from crm_bridge.sentiment import SentimentDataError, SentimentScorer, ensure_model
from crm_bridge.sentiment.train import is_trained
from crm_bridge.services.console_hub import ConsoleHub
from crm_bridge.services.console_relay import RedisRelay
from crm_bridge.services.event_sources import IngestionWorker, PikaConsumer, SqlBrokerTail
from crm_bridge.services.handoff import HandoffDesk
from crm_bridge.services.ingest import EventIngestor
from crm_bridge.services.rasa_api import RasaApi
from knowledge_base.shared import shared_index

logger = logging.getLogger(__name__)
WIDGET_PREFIX = f"{API_PREFIX}/widget/"


def train_sentiment_if_missing(settings: Settings) -> str | None:
    """Train the sentiment models when missing; return why that failed, or None.

    A failure is not fatal: the bridge then stores messages unscored (``load_scorer`` warns).
    """
    try:
        ensure_model(settings.sentiment_model_dir, settings.SENTIMENT_DATA_DIR)
    except (SentimentDataError, OSError) as err:
        return str(err)
    return None


def load_scorer(settings: Settings) -> SentimentScorer | None:
    """The trained sentiment models, or None (with a warning) when none are trained yet."""
    if not is_trained(settings.sentiment_model_dir):
        logger.warning(
            "no sentiment model in %s: messages are stored unscored; "
            "train it with `crm-bridge sentiment-train`",
            settings.sentiment_model_dir,
        )
        return None
    scorer = SentimentScorer.load(settings.sentiment_model_dir)
    scorer.warm_up()
    return scorer


def ingestion_worker(
    settings: Settings,
    sessions: sessionmaker[Session],
    scorer: SentimentScorer | None,
    desk: HandoffDesk | None = None,
) -> IngestionWorker | None:
    """The background reader of Rasa's events that the settings ask for."""
    if settings.EVENTS_SOURCE == "none":
        return None
    ingestor = EventIngestor(
        scorer=scorer,
        idle_timeout=timedelta(minutes=settings.CONVERSATION_IDLE_MINUTES),
        mask_transcripts=settings.MASK_STORED_TRANSCRIPTS,
    )
    if desk is not None:
        ingestor.listener = desk.on_ingested
    if settings.EVENTS_SOURCE == "sql":
        tail = SqlBrokerTail(
            settings.events_db_url, sessions, ingestor, batch_size=settings.INGEST_BATCH_SIZE
        )
        run, name = tail.run, "ingest-sql-broker"
    else:
        consumer = PikaConsumer(
            settings.PIKA_URL,
            settings.PIKA_QUEUE,
            settings.PIKA_EXCHANGE,
            sessions,
            ingestor,
            batch_size=settings.INGEST_BATCH_SIZE,
        )
        run, name = consumer.run, "ingest-pika"
    lock = None
    if is_postgresql(settings.database_url):
        # Several instances may share this CRM: only the holder of its ingestion lock ingests,
        # and each batch checks in its transaction that this instance still holds it.
        lock = SessionLock(settings.database_url, "ingest")
        ingestor.guard = lock.assert_held
    return IngestionWorker(
        run, name=name, leader_lock=lock, retry_seconds=settings.INGEST_LEADER_RETRY_SECONDS
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    scorer = load_scorer(settings)
    hub = ConsoleHub()
    rasa = RasaApi(
        settings.RASA_URL, settings.rasa_token.get_secret_value(), timeout=settings.RASA_TIMEOUT
    )
    relay = (
        RedisRelay(hub, settings.FANOUT_URL, settings.FANOUT_CHANNEL)
        if settings.FANOUT_URL
        else None
    )
    desk = HandoffDesk(settings, sessions, hub, rasa, scorer)
    worker = ingestion_worker(settings, sessions, scorer, desk)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if relay is not None:
            relay.start()
        if worker is not None:
            worker.start()
        yield
        if worker is not None:
            worker.stop()
        if relay is not None:
            relay.stop()
        rasa.close()
        engine.dispose()

    app = FastAPI(
        title="CRM bridge",
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = sessions
    app.state.scorer = scorer
    app.state.desk = desk
    app.state.ingestion = worker
    app.state.relay = relay
    app.state.public_limits = PublicLimits(settings.RATE_LIMIT_STORAGE_URL)
    # Loaded on the first console search, not at start (the bridge may run without an index).
    app.state.knowledge_base = shared_index
    install_error_handlers(app, max_body_bytes=settings.MAX_BODY_BYTES)
    install_bad_input_handlers(app)
    app.include_router(root_router)
    app.include_router(api_router)
    mount_console(app, settings.console_dir)
    mount_widget(app, settings)
    # The widget's routes are called by shop pages on other origins (no cookies); no other
    # route answers a cross-origin browser request.
    app.add_middleware(
        WidgetCORS,
        allow_origins=settings.WIDGET_ALLOWED_ORIGINS,
        allow_methods=["GET"],
        allow_headers=[WIDGET_SESSION_HEADER],
        allow_credentials=False,
    )
    return app


class WidgetCORS(CORSMiddleware):
    """CORS for the widget routes only (``/api/v1/widget/``), from the configured shops."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply CORS to widget routes; pass every other request straight through."""
        if scope["type"] == "http" and scope["path"].startswith(WIDGET_PREFIX):
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)
