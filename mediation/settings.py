"""Settings from the environment, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    #: a streaming replica of the same database: statistics read from it (TIAOJIE_READ_DATABASE_URL)
    read_database_url: str | None = None
    max_body_bytes: int = 1024 * 1024
    timezone: str = "Asia/Shanghai"
    #: how long every entry point waits for the database to accept connections (crash
    #: recovery on a busy machine included) before giving up
    db_wait_seconds: float = 900.0
    cookie_secure: bool = False  # sign-in cookies only over HTTPS (set behind a TLS proxy)
    #: reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed
    trusted_proxies: str | None = None


def load() -> Settings:
    url = os.environ.get("TIAOJIE_DATABASE_URL") or None
    data_dir = Path(os.environ.get("TIAOJIE_DATA_DIR") or "./.tiaojie").expanduser().resolve()
    wait = os.environ.get("TIAOJIE_DB_WAIT_SECONDS")
    secure = os.environ.get("TIAOJIE_COOKIE_SECURE", "").lower() in ("1", "true", "yes")
    return Settings(database_url=url, data_dir=data_dir, db_wait_seconds=float(wait) if wait else 900.0,
                    cookie_secure=secure, trusted_proxies=os.environ.get("TIAOJIE_TRUSTED_PROXIES") or None,
                    read_database_url=os.environ.get("TIAOJIE_READ_DATABASE_URL") or None)
