"""Piccolo's configuration module (found through PICCOLO_CONF, set in `mediation.db`).

The engine is created unconfigured; `mediation.db.connect` gives it its URL once the
database (external or embedded) is known, so an installed `tiaojie` works from any
directory.
"""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine


class DeferredPostgresEngine(PostgresEngine):
    """Piccolo's engine probes the server from its constructor; ours is built before the
    database is known, so the probe waits until a URL has been configured."""

    async def check_version(self):
        if self.config:
            await super().check_version()

    async def prep_database(self):
        if self.config:
            await super().prep_database()


DB = DeferredPostgresEngine(config={})

APP_REGISTRY = AppRegistry(apps=["migrations.piccolo_app"])
