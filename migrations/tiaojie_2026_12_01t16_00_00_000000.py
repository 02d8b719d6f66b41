from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Redact passwords of webhook URLs from the audit log (the one exception to append-only)"

#: `scheme://anything@` up to the host: the user:password of a URL, as `[redacted]@`
#: (a URL already redacted does not match again, so a second run changes nothing)
_PATTERN = r"^([A-Za-z][A-Za-z0-9+.-]*://)(?!\[redacted\]@)[^/?#]*@"

SQL = rf"""
-- Webhook URLs with credentials (http://user:password@host/...) were accepted before
-- 2026-12 and written to the audit log as sent. DESIGN.md "Data": the audit log is
-- append-only except for redacting a secret that should never have been written there,
-- by a migration that records that it did so. The courts table keeps its URL (delivery
-- uses it); answers show it redacted.
WITH redacted AS (
    UPDATE audit_log a SET detail = a.detail
        || CASE WHEN a.detail->>'webhook_url' ~ '{_PATTERN}'
                THEN jsonb_build_object('webhook_url',
                         regexp_replace(a.detail->>'webhook_url', '{_PATTERN}', '\1[redacted]@'))
                ELSE '{{}}'::jsonb END
        || CASE WHEN a.detail->>'previous_url' ~ '{_PATTERN}'
                THEN jsonb_build_object('previous_url',
                         regexp_replace(a.detail->>'previous_url', '{_PATTERN}', '\1[redacted]@'))
                ELSE '{{}}'::jsonb END
    WHERE a.detail->>'webhook_url' ~ '{_PATTERN}' OR a.detail->>'previous_url' ~ '{_PATTERN}'
    RETURNING a.id
)
INSERT INTO audit_log (actor, action, entity, entity_id, detail)
SELECT 'system', 'audit.redact', 'audit_log', NULL,
       jsonb_build_object('migration', '{ID}', 'reason', 'credentials in webhook URLs',
                          'fields', jsonb_build_array('webhook_url', 'previous_url'),
                          'entries', count(*), 'entry_ids', jsonb_agg(id ORDER BY id))
FROM redacted HAVING count(*) > 0;
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
