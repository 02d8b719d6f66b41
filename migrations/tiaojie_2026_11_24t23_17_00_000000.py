from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-11-24T23:17:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "诉调对接: one current secret per court, entrustment and referral look-ups"

SQL = r"""
-- rotation locks the court row first; this index is the safety net behind that lock
CREATE UNIQUE INDEX court_secrets_current_idx ON court_secrets (court_id) WHERE expires_at IS NULL;

-- a court reads its entrustments newest first
CREATE INDEX disputes_court_idx ON disputes (court_id, registered_at DESC, id DESC) WHERE court_id IS NOT NULL;

-- a court's referral list, newest first, with or without a status filter
CREATE INDEX referrals_court_created_idx ON referrals (court_id, created_at DESC, id DESC);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
