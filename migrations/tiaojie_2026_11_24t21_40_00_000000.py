from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from migrations.sql import run_sql

ID = "2026-11-24T21:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "registry, disputes, events, audit, access"

SQL = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE regions (
    code text PRIMARY KEY CHECK (code ~ '^[0-9]{12}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    level text NOT NULL CHECK (level IN ('province', 'city', 'county', 'township', 'village')),
    prefix text NOT NULL,
    parent_code text REFERENCES regions (code),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX regions_parent_idx ON regions (parent_code);

CREATE TABLE orgs (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tier text NOT NULL CHECK (tier IN ('village', 'township', 'county')),
    kind text NOT NULL CHECK (kind IN ('village_committee', 'township_committee', 'county_center',
                                       'industry_committee', 'other')),
    region_code text NOT NULL REFERENCES regions (code),
    county_code text NOT NULL CHECK (county_code ~ '^[0-9]{6}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'village_committee' AND tier = 'village')
        OR (kind = 'township_committee' AND tier = 'township')
        OR (kind = 'county_center' AND tier = 'county')
        OR (kind = 'industry_committee' AND tier IN ('township', 'county'))
        OR kind = 'other')
);
CREATE INDEX orgs_region_idx ON orgs (region_code text_pattern_ops);
CREATE INDEX orgs_county_idx ON orgs (county_code);

CREATE TABLE mediators (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    phone text,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mediators_org_idx ON mediators (org_id);

CREATE TABLE case_counters (
    county_code text NOT NULL,
    year integer NOT NULL,
    last integer NOT NULL,
    PRIMARY KEY (county_code, year)
);

CREATE TABLE disputes (
    id uuid PRIMARY KEY,
    case_no text NOT NULL UNIQUE,
    county_code text NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    type text NOT NULL CHECK (type IN ('marriage_family', 'neighbor', 'housing_homestead', 'contract',
        'production_business', 'damages', 'land_forest', 'land_requisition', 'environment', 'labor',
        'consumer', 'medical', 'traffic', 'property_management', 'other')),
    source text NOT NULL CHECK (source IN ('application', 'screening', 'court_entrusted', 'petition',
        'police', 'hotline', 'agency')),
    status text NOT NULL CHECK (status IN ('open', 'resolved', 'failed', 'referred', 'returned',
        'withdrawn', 'rejected')),
    summary text NOT NULL CHECK (length(summary) <= 2000),
    region_code text NOT NULL REFERENCES regions (code),
    org_id uuid NOT NULL REFERENCES orgs (id),
    handler_org_ids uuid[] NOT NULL,
    tier text NOT NULL CHECK (tier IN ('village', 'township', 'county')),
    entry_tier text NOT NULL CHECK (entry_tier IN ('village', 'township', 'county')),
    highest_tier text NOT NULL CHECK (highest_tier IN ('village', 'township', 'county')),
    concluded_tier text CHECK (concluded_tier IN ('village', 'township', 'county')),
    registered_at timestamptz NOT NULL,
    occurred_on date,
    deadline timestamptz NOT NULL,
    concluded_at timestamptz,
    last_move_at timestamptz NOT NULL,
    amount numeric(14, 2) CHECK (amount >= 0),
    persons_involved integer NOT NULL CHECK (persons_involved >= 1),
    agreement jsonb,
    agreement_form text CHECK (agreement_form IN ('written', 'oral')),
    agreement_amount numeric(14, 2) CHECK (agreement_amount >= 0),
    performance text CHECK (performance IN ('pending', 'performed', 'partial', 'breached')),
    prevented text[] NOT NULL DEFAULT '{}',
    court_id uuid,
    court_case_no text,
    search_text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'open') = (concluded_at IS NULL)),
    CHECK ((status = 'open') = (concluded_tier IS NULL))
);
CREATE INDEX disputes_registered_idx ON disputes (registered_at DESC, id DESC);
CREATE INDEX disputes_org_idx ON disputes (org_id, registered_at DESC);
CREATE INDEX disputes_handlers_idx ON disputes USING gin (handler_org_ids);
CREATE INDEX disputes_region_idx ON disputes (region_code text_pattern_ops, registered_at);
CREATE INDEX disputes_region_concluded_idx ON disputes (region_code text_pattern_ops, concluded_at)
    WHERE concluded_at IS NOT NULL;
CREATE INDEX disputes_open_deadline_idx ON disputes (deadline) WHERE status = 'open';
CREATE INDEX disputes_search_idx ON disputes USING gin (search_text gin_trgm_ops);

CREATE TABLE dispute_parties (
    id uuid PRIMARY KEY,
    dispute_id uuid NOT NULL REFERENCES disputes (id) DEFERRABLE INITIALLY DEFERRED,
    position integer NOT NULL,
    role text NOT NULL CHECK (role IN ('applicant', 'respondent', 'third_party')),
    kind text NOT NULL CHECK (kind IN ('person', 'organization')),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    id_number text,
    phone text,
    address text,
    UNIQUE (dispute_id, position)
);

CREATE TABLE dispute_events (
    id uuid PRIMARY KEY,
    dispute_id uuid NOT NULL REFERENCES disputes (id) DEFERRABLE INITIALLY DEFERRED,
    seq integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('registered', 'session', 'escalated', 'assigned', 'resolved',
        'failed', 'referred', 'returned', 'withdrawn', 'rejected', 'performance', 'visit',
        'confirmation_applied', 'referral_acknowledged', 'referral_decided', 'entrusted')),
    at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    org_id uuid,
    tier text CHECK (tier IN ('village', 'township', 'county')),
    detail jsonb NOT NULL DEFAULT '{}',
    UNIQUE (dispute_id, seq)
);
CREATE INDEX dispute_events_kind_at_idx ON dispute_events (kind, at);

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    entity text NOT NULL,
    entity_id text,
    dispute_id uuid,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_dispute_idx ON audit_log (dispute_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);

CREATE TABLE courts (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    code text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 20),
    region_code text NOT NULL REFERENCES regions (code),
    webhook_url text,
    webhook_disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE referrals (
    id uuid PRIMARY KEY,
    dispute_id uuid NOT NULL REFERENCES disputes (id),
    court_id uuid NOT NULL REFERENCES courts (id),
    kind text NOT NULL CHECK (kind IN ('litigation', 'confirmation')),
    status text NOT NULL CHECK (status IN ('pending', 'acknowledged', 'decided')),
    decision text CHECK (decision IN ('filed', 'not_filed', 'confirmed', 'rejected')),
    court_case_no text,
    reason text,
    note text,
    created_at timestamptz NOT NULL,
    acknowledged_at timestamptz,
    decided_at timestamptz,
    CHECK ((status = 'decided') = (decision IS NOT NULL)),
    CHECK (kind = 'litigation' AND decision IN ('filed', 'not_filed')
        OR kind = 'confirmation' AND decision IN ('confirmed', 'rejected') OR decision IS NULL)
);
CREATE INDEX referrals_court_idx ON referrals (court_id, status, created_at);
CREATE INDEX referrals_dispute_idx ON referrals (dispute_id);

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    token_hash text NOT NULL UNIQUE,
    prefix text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'bureau', 'mediator', 'court')),
    region_code text REFERENCES regions (code),
    org_id uuid REFERENCES orgs (id),
    court_id uuid REFERENCES courts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK (role <> 'bureau' OR region_code IS NOT NULL),
    CHECK (role <> 'mediator' OR org_id IS NOT NULL),
    CHECK (role <> 'court' OR court_id IS NOT NULL)
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),
    password_hash text,
    role text NOT NULL CHECK (role IN ('admin', 'bureau', 'mediator')),
    region_code text REFERENCES regions (code),
    org_id uuid REFERENCES orgs (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    CHECK (role <> 'bureau' OR region_code IS NOT NULL),
    CHECK (role <> 'mediator' OR org_id IS NOT NULL)
);
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tiaojie", description=DESCRIPTION)

    async def run():
        await run_sql(SQL)

    manager.add_raw(run)
    return manager
