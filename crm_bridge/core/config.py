"""Settings of the CRM bridge (environment variables prefixed ``CSA_BRIDGE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_bridge.core.security import read_or_create_secret

ROOT = Path(__file__).resolve().parents[2]


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
    ACCESS_TOKEN_MINUTES: int = Field(default=480, ge=1)
    SITE_IDENTITY_SECRET: SecretStr | None = None
    """Key the host website signs its user ids with (HMAC-SHA256, ``POST /bot/identify``);
    default the generated ``VAR_DIR/secrets/site_identity_secret``."""
    POINTS_EXPIRY_WARNING_DAYS: int = Field(default=30, ge=1, le=3650)
    """Points expiring within this many days are reported as "expiring soon" (loyalty view)."""
    RASA_URL: str = "http://127.0.0.1:5005"
    LOG_LEVEL: str = "INFO"
    SEED_DEMO: bool = True
    """Fill an empty CRM with the demo shop's customers, orders and agents at start."""

    EVENTS_SOURCE: Literal["sql", "pika", "none"] = "sql"
    """Where Rasa's events come from: its SQL broker table (embedded), RabbitMQ, or nowhere."""
    EVENTS_DB_URL: str | None = None
    """Rasa's SQL broker database; default ``sqlite:///VAR_DIR/rasa/events.db``."""
    PIKA_URL: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    PIKA_QUEUE: str = "rasa_events"
    PIKA_EXCHANGE: str = "rasa-exchange"
    INGEST_BATCH_SIZE: int = Field(default=500, ge=1, le=10_000)
    SENTIMENT_MODEL_DIR: Path | None = None
    """Trained sentiment models; default ``VAR_DIR/sentiment`` (trained there when missing)."""
    SENTIMENT_DATA_DIR: Path = ROOT.parent / "shared" / "data" / "sentiment"
    """Corpora the sentiment models are trained from."""
    MASK_STORED_TRANSCRIPTS: bool = False
    """Store message texts with phone numbers, e-mails, ID and bank cards masked."""
    CONVERSATION_IDLE_MINUTES: float = Field(default=30.0, gt=0)
    """A gap this long between two events of one sender starts a new conversation."""

    @field_validator("VAR_DIR", "SENTIMENT_MODEL_DIR", "SENTIMENT_DATA_DIR")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else (ROOT / value).resolve()

    @property
    def database_url(self) -> str:
        """The CRM database URL, SQLite under ``VAR_DIR`` unless configured."""
        return self.DATABASE_URL or f"sqlite:///{self.VAR_DIR / 'crm.db'}"

    @property
    def sentiment_model_dir(self) -> Path:
        """Where the sentiment models are (or will be trained)."""
        return self.SENTIMENT_MODEL_DIR or self.VAR_DIR / "sentiment"

    @property
    def events_db_url(self) -> str:
        """Rasa's SQL event broker database."""
        return self.EVENTS_DB_URL or f"sqlite:///{self.VAR_DIR / 'rasa' / 'events.db'}"

    @property
    def api_key(self) -> SecretStr:
        """The service API key: the setting, else the generated secret file."""
        if self.API_KEY is not None:
            return self.API_KEY
        return SecretStr(read_or_create_secret(self.VAR_DIR / "secrets" / "bridge_api_key"))

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
        return SecretStr(read_or_create_secret(self.VAR_DIR / "secrets" / "site_identity_secret"))


settings = Settings()
