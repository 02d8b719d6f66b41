from migrations.sql import raw_sql_migration

ID = "2026-12-01T13:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The delivery worker claims a court's oldest due events from an index in due order"

# the claim (referrals/worker.py _CLAIM) asks per court that can receive for its oldest due
# rows; without this index PostgreSQL read every pending row of the court and sorted them,
# per claim, so draining a backlog cost time in proportion to its square
SQL = r"""
CREATE INDEX webhook_outbox_court_due_idx ON webhook_outbox (court_id, next_attempt_at) WHERE status = 'pending';
"""

forwards = raw_sql_migration(ID, DESCRIPTION, SQL)
