"""Settings from the environment, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    max_body_bytes: int = 1024 * 1024
    timezone: str = "Asia/Shanghai"


def load() -> Settings:
    url = os.environ.get("TIAOJIE_DATABASE_URL") or None
    data_dir = Path(os.environ.get("TIAOJIE_DATA_DIR") or "./.tiaojie").expanduser().resolve()
    return Settings(database_url=url, data_dir=data_dir)
