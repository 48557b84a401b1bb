"""Settings of the launcher and the test harness (environment variables prefixed ``CSA_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class LauncherSettings(BaseSettings):
    """Where things live and which ports the three processes listen on."""

    model_config = SettingsConfigDict(env_prefix="CSA_", env_file=ROOT / ".env", extra="ignore")

    VAR_DIR: Path = ROOT / "var"
    """Everything a run creates: databases, model, index, secrets, logs."""
    MODEL_DIR: Path | None = None
    """Trained Rasa models, cached by the hash of the training data (default VAR_DIR/models)."""
    VENV_DIR: Path = ROOT / "var" / "venvs"
    HOST: str = "127.0.0.1"
    RASA_PORT: int = 5005
    ACTIONS_PORT: int = 5055
    BRIDGE_PORT: int = 8000
    EVENT_BROKER: Literal["sql", "pika"] = "sql"
    """How Rasa's events reach the bridge: SQL outbox table (embedded) or RabbitMQ."""
    RABBITMQ_URL: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    RABBITMQ_QUEUE: str = "rasa_events"
    RABBITMQ_EXCHANGE: str = "rasa-exchange"
    SCALEOUT_POSTGRES_URL: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    """Scale-out profile: the PostgreSQL server (any database on it; the two below are made)."""
    SCALEOUT_CRM_DB: str = "csa_crm"
    SCALEOUT_RASA_DB: str = "csa_rasa"
    SCALEOUT_REDIS_URL: str = "redis://127.0.0.1:6379/0"
    """Scale-out profile: Rasa's lock store, chat-channel state, socket.io and console relay."""
    HEALTH_TIMEOUT: float = 300.0
    """Seconds each process may take to become healthy before the launcher gives up."""
    RESTART_CRASHED: bool = True
    """Once the system is up, start a process that dies again (devtools/restart.py)."""
    RESTART_LIMIT: int = 5
    """More restarts of one process than this within RESTART_WINDOW stop the whole system."""
    RESTART_WINDOW: float = 300.0
    """Seconds over which RESTART_LIMIT counts."""
    SHOW_LIBRARY_WARNINGS: bool = False
    """Show installed libraries' deprecation and future warnings in the launcher's output
    (hidden by default: dozens at each start bury the project's own lines)."""

    @field_validator("VAR_DIR", "MODEL_DIR", "VENV_DIR")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Processes run from other folders (Rasa from bot/): relative paths mean the root.
        return None if value is None else (ROOT / value).resolve()

    @property
    def model_dir(self) -> Path:
        """Folder of trained models."""
        return self.MODEL_DIR or self.VAR_DIR / "models"

    @property
    def ready_file(self) -> Path:
        """Written once every process is healthy; crashed processes restart only then."""
        return self.VAR_DIR / "run" / "ready"

    @property
    def bot_python(self) -> Path:
        """Interpreter of the bot env (Rasa)."""
        return self.VENV_DIR / "bot" / "bin" / "python"

    @property
    def services_python(self) -> Path:
        """Interpreter of the services env (action server, bridge, tests)."""
        return self.VENV_DIR / "services" / "bin" / "python"

    def url(self, port: int) -> str:
        """Base URL of a local process."""
        return f"http://{self.HOST}:{port}"
