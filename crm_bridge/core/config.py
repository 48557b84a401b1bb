"""Settings of the CRM bridge (environment variables prefixed ``CSA_BRIDGE_``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_bridge.core.security import SecretFile, read_or_create_secret

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def secret_file(path: Path) -> SecretFile:
    """The secrets of ``path``, re-read when the file changes (one reader per file)."""
    return SecretFile(path)


class Settings(BaseSettings):
    """Everything the bridge can be configured with; defaults are the embedded mode."""

    model_config = SettingsConfigDict(
        env_prefix="CSA_BRIDGE_", env_file=ROOT / ".env", extra="ignore", populate_by_name=True
    )

    VAR_DIR: Path = Field(
        default=ROOT / "var", validation_alias=AliasChoices("CSA_VAR_DIR", "CSA_BRIDGE_VAR_DIR")
    )
    """Run-time files (shared with the other processes through ``CSA_VAR_DIR``)."""
    HOST: str = "127.0.0.1"
    PORT: int = 8000
    DATABASE_URL: str | None = None
    """SQLAlchemy URL of the CRM database; default a SQLite file ``VAR_DIR/crm.db``."""
    API_KEY: SecretStr | None = None
    """Key the action server sends; default the generated ``VAR_DIR/secrets/bridge_api_key``."""
    JWT_SECRET: SecretStr | None = None
    """Signs agent session tokens; default the generated ``VAR_DIR/secrets/jwt_secret``."""
    ACCESS_TOKEN_MINUTES: int = Field(default=15, ge=1, le=1440)
    """Lifetime of an agent's access token (JWT). The console renews it silently through its
    refresh cookie; a revoked session stops working at the next request anyway."""
    SESSION_HOURS: float = Field(default=12, gt=0, le=24 * 30)
    """An agent's log-in session ends this long after the log-in, however active."""
    SESSION_IDLE_MINUTES: int = Field(default=60, ge=1, le=24 * 60)
    """A session nobody renewed for this long (no console open) ends. Must be longer than
    ``ACCESS_TOKEN_MINUTES``: an open console renews at the latest when its token expires."""
    REFRESH_REUSE_SECONDS: int = Field(default=10, ge=0, le=60)
    """A refresh token rotated less than this long ago is still taken once more (a browser
    that lost the answer, two tabs refreshing together); later it counts as stolen and
    presenting it ends the whole session."""
    WS_AUTH_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0, le=60)
    """A console WebSocket must send its ``auth`` frame within this long or it is closed."""
    WS_SESSION_CHECK_SECONDS: float = Field(default=30.0, gt=0, le=300)
    """An open console WebSocket re-checks its session this often (a backstop for revocations
    that did not reach this instance, and for sessions that expire)."""
    PASSWORD_MIN_LENGTH: int = Field(default=10, ge=10, le=200)
    """Shortest agent password accepted when one is set or changed."""
    LOGIN_FREE_FAILURES: int = Field(default=3, ge=1, le=100)
    """Wrong passwords for one login from one client address before log-ins of that login from
    that address slow down (429 with ``Retry-After`` while the delay runs)."""
    LOGIN_DELAY_SECONDS: int = Field(default=5, ge=1, le=3600)
    """The first delay of the slow-down; each further failure doubles it."""
    LOGIN_MAX_DELAY_MINUTES: int = Field(default=15, ge=1, le=1440)
    """The longest delay of the slow-down."""
    LOGIN_FAILURE_MEMORY_HOURS: int = Field(default=24, ge=1, le=24 * 30)
    """Failures older than this no longer count towards the slow-down; a successful log-in
    from the same address forgets that login's failures from that address at once."""
    LOGIN_MAX_FAILURES_PER_CLIENT: int = Field(default=30, ge=1, le=100_000)
    """Wrong passwords from one client address (any logins) within ``LOGIN_WINDOW_MINUTES``
    before that address is refused until the window has passed since its latest failure.
    Behind a proxy the address comes from ``X-Forwarded-For`` (uvicorn trusts it from
    ``FORWARDED_ALLOW_IPS``, default 127.0.0.1)."""
    LOGIN_WINDOW_MINUTES: int = Field(default=15, ge=1, le=1440)
    SITE_IDENTITY_SECRET: SecretStr | None = None
    """Key the host website signs its users with (HMAC-SHA256 of ``user_id:expires``, checked
    by Rasa's widget channel; the bridge signs the demo shop's user with it); default the
    generated ``VAR_DIR/secrets/site_identity_secret``."""
    BOT_API_KEY: SecretStr | None = None
    """The bot's key (``X-API-Key``): only the routes the bot needs, and customer data only for
    the identity a message proved. Comma-separated for a rotation (first current); default the
    generated ``VAR_DIR/secrets/bridge_bot_key`` (rotate: ``crm-bridge keys rotate bot``)."""
    IDENTITY_PROOF_KEY: SecretStr | None = None
    """Checks the identity proofs Rasa attaches to messages (``bot/channels/proofs.py``);
    default the generated ``VAR_DIR/secrets/identity_proof_key``."""
    WIDGET_SESSION_KEY: SecretStr | None = None
    """Checks the website widget's session tokens (history route); default the generated
    ``VAR_DIR/secrets/widget_session_key``, which Rasa's widget channel signs them with."""
    TRUSTED_PROXIES: list[str] = []
    """Addresses of reverse proxies whose ``X-Forwarded-For`` names the client (the scale-out
    profile's nginx: ``["127.0.0.1"]``). Empty: the peer address is the client, so no local
    client can claim another address to slip past a rate limit."""
    RATE_LIMIT_STORAGE_URL: str = "memory://"
    """Where the rate limits of the public routes are counted (``limits`` storage URL):
    ``memory://`` for one instance, ``redis://host:6379/0`` shared by several."""
    WIDGET_HISTORY_RATE_LIMIT: str = "60/minute"
    """Widget history reads per client address and per widget session (``limits`` notation)."""
    POINTS_EXPIRY_WARNING_DAYS: int = Field(default=30, ge=1, le=3650)
    """Points expiring within this many days are reported as "expiring soon" (loyalty view)."""
    RASA_URL: str = "http://127.0.0.1:5005"
    RASA_TOKEN: SecretStr | None = None
    """Token of Rasa's HTTP API (agent replies, pause and resume); default the generated
    ``VAR_DIR/secrets/rasa_token``."""
    RASA_TIMEOUT: float = Field(default=10.0, gt=0)
    LOG_LEVEL: str = "INFO"
    SEED_DEMO: bool = True
    """Fill an empty CRM with the demo shop's customers, orders and agents at start."""
    MAX_BODY_BYTES: int = Field(default=1_048_576, gt=0)
    """Largest request body the API reads; a larger one is answered 413 unread."""

    EVENTS_SOURCE: Literal["sql", "pika", "none"] = "sql"
    """Where Rasa's events come from: its SQL broker table (embedded), RabbitMQ, or nowhere."""
    EVENTS_DB_URL: str | None = None
    """Rasa's SQL broker database; default ``sqlite:///VAR_DIR/rasa/events.db``."""
    PIKA_URL: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    PIKA_QUEUE: str = "rasa_events"
    PIKA_EXCHANGE: str = "rasa-exchange"
    INGEST_BATCH_SIZE: int = Field(default=500, ge=1, le=10_000)
    INGEST_LEADER_RETRY_SECONDS: float = Field(default=5.0, gt=0, le=300)
    """Several instances on one PostgreSQL CRM: one ingests (it holds an advisory lock); the
    others try to take over this often, and the leader checks its lock as often."""
    FANOUT_URL: str = Field(default="", pattern=r"^((redis|rediss|unix)://.*)?$")
    """Console events across bridge instances: empty = this process only (one instance);
    ``redis://host:6379/0`` = relayed through Redis pub/sub to every instance."""
    FANOUT_CHANNEL: str = Field(default="csa-bridge:console", min_length=1, max_length=200)
    """The Redis pub/sub channel of the console events (one per deployment sharing a Redis:
    channels are not separated by the database number)."""
    SENTIMENT_MODEL_DIR: Path | None = None
    """Trained sentiment models; default ``VAR_DIR/sentiment`` (trained there when missing)."""
    SENTIMENT_DATA_DIR: Path = ROOT.parent / "shared" / "data" / "sentiment"
    """Corpora the sentiment models are trained from."""
    CONSOLE_DIR: Path | None = None
    """The built agent console served at ``/console/``; default ``VAR_DIR/console`` (where
    ``make setup`` builds it; relative paths mean the project root)."""
    WIDGET_DIR: Path | None = None
    """The built website widget (``widget.js``) served at ``/widget.js``; default
    ``VAR_DIR/widget`` (where ``make setup`` builds it; relative paths mean the project root)."""
    RASA_PUBLIC_URL: str | None = None
    """Rasa's address as browsers reach it (the widget's socket.io); default ``RASA_URL``."""
    WIDGET_ALLOWED_ORIGINS: list[str] = []
    """Shop origins (``https://shop.example``) whose pages may call the widget routes
    (``/api/v1/widget/*``) from the browser (CORS); no other route answers another origin.
    Empty: only pages the bridge serves itself (the demo shop). ``*`` allows any."""
    MASK_STORED_TRANSCRIPTS: bool = False
    """Store message texts with phone numbers, e-mails, ID and bank cards masked."""
    CONVERSATION_IDLE_MINUTES: float = Field(default=30.0, gt=0)
    """A gap this long between two events of one sender starts a new conversation."""

    # -- live handoff (agent console) --------------------------------------------------------
    HANDOFF_AUTO_ASSIGN: bool = True
    """Give a waiting handoff to the least busy online agent who speaks the language."""
    OFFICE_HOURS: str = Field(default="00:00-24:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    """When agents work (``HH:MM-HH:MM`` in ``OFFICE_TIMEZONE``); outside, a handoff becomes
    a ticket for follow-up and the customer may leave a message."""
    OFFICE_DAYS: str = Field(default="1-7", pattern=r"^[1-7](-[1-7])?(,[1-7](-[1-7])?)*$")
    """Working days, ISO numbers (1 = Monday), e.g. ``1-5`` or ``1-5,7``."""
    OFFICE_TIMEZONE: str = "Asia/Shanghai"
    ESCALATE_SENTIMENT_BELOW: float = Field(default=-0.85, ge=-1, le=1)
    """A customer message scoring below this hands the conversation to a human."""
    ESCALATE_SKIP_INTENTS: list[str] = [
        "complain",
        "kb_not_helpful",
        "deny",
        "rate",
        "ask_kb",
        "out_of_scope",
        "order_status",
        "check_membership",
        "verify_identity",
        "inform",
        "help",
        "greet",
        "thank",
        "goodbye",
        "affirm",
        "kb_helpful",
        "human_handoff",
    ]
    """Intents with no sentiment trigger: flows that handle a negative customer themselves (the
    complaint flow escalates strongly negative complaints; a "not helpful" vote offers a
    human), and plain requests. The sentiment model scores many neutral questions as strongly
    negative ("What are your customer service hours?" −0.93, "收到的商品不满意可以退货吗？"
    −0.88: about 10 % of conversations were handed over under benchmarks/load_test.py), so the
    triggers act on what the dialogue cannot place (fallback, challenges); out-of-scope
    messages go to the knowledge base like questions ("Why can't I sign in?" −0.90).
    Legal threats trigger whatever the intent."""
    ESCALATE_TREND_TURNS: int = Field(default=3, ge=2, le=20)
    ESCALATE_TREND_DROP: float = Field(default=0.8, gt=0, le=2)
    """Sentiment falling by this much over the last ``ESCALATE_TREND_TURNS`` customer
    messages (each lower than the one before) hands the conversation to a human."""
    ESCALATE_KEYWORDS: list[str] = [
        "12315",
        "消协",
        "消费者协会",
        "市场监管",
        "工商局",
        "律师",
        "起诉",
        "法院",
        "报警",
        "媒体曝光",
        "lawyer",
        "attorney",
        "sue",
        "lawsuit",
        "legal action",
        "court",
        "regulator",
        "trading standards",
    ]
    """Legal or regulator threats that hand the conversation to a human at once."""
    ESCALATE_MAX_EVENT_AGE_SECONDS: float = Field(default=120.0, gt=0)
    """Only messages this fresh trigger an escalation (not a replay after downtime)."""
    CANNED_REPLIES_FILE: Path = ROOT / "crm_bridge" / "console" / "canned_replies.yml"
    """Canned replies and resolution codes offered in the console."""

    # -- chat-account verification by one-time code (phone or e-mail on the customer record) --
    VERIFY_CODE_MINUTES: int = Field(default=10, ge=1, le=60)
    VERIFY_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=20)
    """Wrong codes allowed before the code is void and a new one must be asked for."""
    VERIFY_MAX_PER_HOUR: int = Field(default=3, ge=1, le=100)
    """Codes sent per hour to one contact, and asked for per hour by one chat account."""
    SMTP_HOST: str = ""
    """Mail server for e-mailed codes; empty: no e-mail."""
    SMTP_PORT: int = Field(default=587, ge=1, le=65535)
    SMTP_STARTTLS: bool = True
    SMTP_USERNAME: str = ""
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_FROM: str = "no-reply@localhost"
    SMS_WEBHOOK_URL: str = ""
    """SMS gateway for texted codes: JSON ``{"to", "text"}`` is POSTed here (with
    ``SMS_WEBHOOK_TOKEN`` as a bearer token); empty: no SMS."""
    SMS_WEBHOOK_TOKEN: SecretStr | None = None
    CODE_OUTBOX_DIR: Path | None = None
    """Development only: where codes are written (one JSON file each) for contacts with no
    configured SMTP / SMS delivery. ``make run`` sets ``VAR_DIR/outbox``; never in production."""

    @field_validator(
        "VAR_DIR",
        "SENTIMENT_MODEL_DIR",
        "SENTIMENT_DATA_DIR",
        "CANNED_REPLIES_FILE",
        "CODE_OUTBOX_DIR",
    )
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else (ROOT / value).resolve()

    @model_validator(mode="after")
    def _idle_outlasts_tokens(self) -> Self:
        # An open console renews its session when its access token runs out: were the idle
        # limit shorter, every session would end between two renewals.
        if self.SESSION_IDLE_MINUTES <= self.ACCESS_TOKEN_MINUTES:
            raise ValueError("SESSION_IDLE_MINUTES must be longer than ACCESS_TOKEN_MINUTES")
        return self

    @property
    def database_url(self) -> str:
        """The CRM database URL, SQLite under ``VAR_DIR`` unless configured."""
        return self.DATABASE_URL or f"sqlite:///{self.VAR_DIR / 'crm.db'}"

    @property
    def sentiment_model_dir(self) -> Path:
        """Where the sentiment models are (or will be trained)."""
        return self.SENTIMENT_MODEL_DIR or self.VAR_DIR / "sentiment"

    @property
    def console_dir(self) -> Path:
        """Where the built agent console is (``index.html`` and ``assets/``)."""
        if self.CONSOLE_DIR is None:
            return self.VAR_DIR / "console"
        return (ROOT / self.CONSOLE_DIR).resolve()

    @property
    def widget_dir(self) -> Path:
        """Where the built widget is (``widget.js``)."""
        if self.WIDGET_DIR is None:
            return self.VAR_DIR / "widget"
        return (ROOT / self.WIDGET_DIR).resolve()

    @property
    def events_db_url(self) -> str:
        """Rasa's SQL event broker database."""
        return self.EVENTS_DB_URL or f"sqlite:///{self.VAR_DIR / 'rasa' / 'events.db'}"

    def _secrets(self, value: SecretStr | None, file: str) -> list[str]:
        if value is not None:
            return [v.strip() for v in value.get_secret_value().split(",") if v.strip()]
        return secret_file(self.VAR_DIR / "secrets" / file).all()

    @property
    def api_key(self) -> SecretStr:
        """The full (administration) key: the setting, else the generated secret file."""
        return SecretStr(self.api_keys[0])

    @property
    def api_keys(self) -> list[str]:
        """Every valid full key (during a rotation, more than one)."""
        return self._secrets(self.API_KEY, "bridge_api_key")

    @property
    def bot_api_key(self) -> SecretStr:
        """The bot's current key."""
        return SecretStr(self.bot_api_keys[0])

    @property
    def bot_api_keys(self) -> list[str]:
        """Every valid bot key."""
        return self._secrets(self.BOT_API_KEY, "bridge_bot_key")

    @property
    def identity_proof_keys(self) -> list[str]:
        """Keys identity proofs may be signed with."""
        return self._secrets(self.IDENTITY_PROOF_KEY, "identity_proof_key")

    @property
    def widget_session_keys(self) -> list[str]:
        """Keys widget session tokens may be signed with."""
        return self._secrets(self.WIDGET_SESSION_KEY, "widget_session_key")

    @property
    def rasa_token(self) -> SecretStr:
        """Token of Rasa's HTTP API: the setting, else the generated secret file."""
        if self.RASA_TOKEN is not None:
            return self.RASA_TOKEN
        return SecretStr(read_or_create_secret(self.VAR_DIR / "secrets" / "rasa_token"))

    @property
    def jwt_secret(self) -> SecretStr:
        """The key that signs agent tokens: the setting, else the generated secret file."""
        if self.JWT_SECRET is not None:
            return self.JWT_SECRET
        return SecretStr(read_or_create_secret(self.VAR_DIR / "secrets" / "jwt_secret"))

    @property
    def site_identity_secret(self) -> SecretStr:
        """The key of signed site identities: the setting, else the generated secret file."""
        if self.SITE_IDENTITY_SECRET is not None:
            return self.SITE_IDENTITY_SECRET
        return SecretStr(secret_file(self.VAR_DIR / "secrets" / "site_identity_secret").current)


settings = Settings()
