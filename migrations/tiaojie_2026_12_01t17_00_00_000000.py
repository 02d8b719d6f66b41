from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-12-01T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Working-day calendar (loaded from chinesecalendar), deadlines by the rule on periods"

SQL = r"""
CREATE TABLE calendar_years (
    year integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 2200),
    source text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE calendar_days (
    day date PRIMARY KEY,
    year integer NOT NULL REFERENCES calendar_years (year) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('holiday', 'adjusted_workday')),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    CHECK (extract(year FROM day) = year),
    CHECK (kind = 'holiday' OR extract(isodow FROM day) IN (6, 7))
);
CREATE INDEX calendar_days_year_idx ON calendar_days (year, day);

-- one row a day: the service's "open disputes depend on a missing year" warning is logged
-- by whichever process inserts it
CREATE TABLE calendar_warnings (
    day date PRIMARY KEY,
    years integer[] NOT NULL,
    disputes integer NOT NULL,
    logged_at timestamptz NOT NULL DEFAULT now()
);

-- a deadline by the rule on periods remembers its period, so importing a year recomputes it
ALTER TABLE disputes ADD COLUMN deadline_rule text NOT NULL DEFAULT 'calendar_days'
    CHECK (deadline_rule IN ('calendar_days', 'working_days_adjusted'));
ALTER TABLE disputes ADD COLUMN period_start date;
ALTER TABLE disputes ADD COLUMN period_days integer CHECK (period_days BETWEEN 1 AND 3660);
ALTER TABLE disputes ADD COLUMN calendar_missing boolean NOT NULL DEFAULT false;
ALTER TABLE disputes ADD CONSTRAINT disputes_period_check CHECK (
    (deadline_rule = 'working_days_adjusted') = (period_start IS NOT NULL AND period_days IS NOT NULL)
    AND (deadline_rule = 'working_days_adjusted' OR NOT calendar_missing));
CREATE INDEX disputes_open_period_idx ON disputes ((period_start + period_days))
    WHERE status = 'open' AND deadline_rule = 'working_days_adjusted';
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def package_calendar_sql() -> str:
    """The years the installed chinesecalendar knows, as INSERTs (trusted package data)."""
    from mediation import workdays

    source = _literal(workdays.package_source())
    years = workdays.package_years()
    lines = [f"INSERT INTO calendar_years (year, source) VALUES "
             + ", ".join(f"({y}, {source})" for y in sorted(years)) + ";"]
    values = [f"('{d.date.isoformat()}', {y}, '{d.kind}', {_literal(d.name)})"
              for y in sorted(years) for d in years[y]]
    lines.append("INSERT INTO calendar_days (day, year, kind, name) VALUES " + ", ".join(values) + ";")
    return "\n".join(lines)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL + package_calendar_sql())

    manager.add_raw(run)
    return manager
