from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T17:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Risk assessments as events; the parties' lookup attempts (rate limits shared by every process)"

SQL = r"""
ALTER TABLE dispute_events DROP CONSTRAINT dispute_events_kind_check;
ALTER TABLE dispute_events ADD CONSTRAINT dispute_events_kind_check CHECK (kind IN ('registered', 'session',
    'escalated', 'assigned', 'resolved', 'failed', 'referred', 'returned', 'withdrawn', 'rejected', 'performance',
    'visit', 'confirmation_applied', 'referral_acknowledged', 'referral_decided', 'entrusted', 'risk_assessed'));

-- repeat parties are found by ID number across the whole database
CREATE INDEX dispute_parties_id_number_idx ON dispute_parties (id_number) WHERE id_number IS NOT NULL;

CREATE TABLE lookup_attempts (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    case_no text NOT NULL CHECK (length(case_no) BETWEEN 1 AND 40),
    client text NOT NULL CHECK (length(client) BETWEEN 1 AND 100),
    outcome text NOT NULL CHECK (outcome IN ('answered', 'no_match', 'limited'))
);
CREATE INDEX lookup_attempts_case_idx ON lookup_attempts (case_no, at) WHERE outcome = 'no_match';
CREATE INDEX lookup_attempts_client_idx ON lookup_attempts (client, at) WHERE outcome = 'no_match';
CREATE INDEX lookup_attempts_at_idx ON lookup_attempts (at);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
