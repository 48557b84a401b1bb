"""Run the bridge: migrate the database, then serve (``python -m crm_bridge``)."""

from __future__ import annotations

import logging

import uvicorn

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade


def main() -> None:
    """Migrate and serve with the settings from the environment."""
    settings = Settings()
    logging.basicConfig(
        level=settings.LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    upgrade(settings.database_url)
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
    )


if __name__ == "__main__":
    main()
