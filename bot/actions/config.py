"""Settings of the action server (environment variables prefixed ``CSA_ACTIONS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]


class ActionSettings(BaseSettings):
    """How the actions reach the CRM bridge."""

    model_config = SettingsConfigDict(
        env_prefix="CSA_ACTIONS_", env_file=ROOT / ".env", extra="ignore", populate_by_name=True
    )

    VAR_DIR: Path = Field(
        default=ROOT / "var", validation_alias=AliasChoices("CSA_VAR_DIR", "CSA_ACTIONS_VAR_DIR")
    )
    BRIDGE_URL: str = "http://127.0.0.1:8000"
    BRIDGE_API_KEY: SecretStr | None = None
    """The bot's key for the bridge (only the routes the bot needs). Default: the current (first)
    key of ``VAR_DIR/secrets/bridge_bot_key``, read at each call, so a rotated key is used at
    once (``crm-bridge keys rotate bot``)."""
    BRIDGE_TIMEOUT: float = Field(default=5.0, gt=0)
    KB_FAILURES_BEFORE_HANDOFF: int = Field(default=2, ge=1)
    """Knowledge questions in a row the bot could not answer before it offers a human."""
    ORDER_NUMBER_PATTERN: str = r"^DS\d{8}$"
    """Format of the shop's order numbers (checked before any look-up), case-insensitive."""
    COMPLAINT_FOLLOW_UP_HOURS: int = Field(default=24, ge=1)
    """Promised time to the first follow-up of a complaint ticket."""
    COMPLAINT_PRIORITY_TIERS: list[str] = ["platinum", "diamond"]
    """Tiers whose complaints are filed with high priority."""
    COMPLAINT_NEGATIVE_SENTIMENT: float = Field(default=-0.6, ge=-1, le=1)
    """A complaint scoring at or below this sentiment is filed as urgent."""
    COMPLAINT_HANDOFF: bool = True
    """High and urgent complaints go straight to a human agent instead of a ticket."""

    @property
    def bridge_api_key(self) -> str:
        """The bot's current key for the bridge."""
        if self.BRIDGE_API_KEY is not None:
            return self.BRIDGE_API_KEY.get_secret_value().split(",")[0].strip()
        text = (self.VAR_DIR / "secrets" / "bridge_bot_key").read_text()
        return next((line.strip() for line in text.splitlines() if line.strip()), "")


@lru_cache
def get_settings() -> ActionSettings:
    """The settings, read once per process."""
    return ActionSettings()
