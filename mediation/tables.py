"""Piccolo tables: the ORM's view of the schema that `migrations/` creates.

The schema itself (CHECK constraints, deferrable keys, trigram indexes) is written in the
migrations; these classes mirror it for Piccolo queries. Keep both in step.
"""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigSerial,
    Boolean,
    Date,
    Integer,
    Numeric,
    Text,
    Timestamptz,
)
from piccolo.table import Table


class Region(Table, tablename="regions"):
    code = Text(primary_key=True)
    name = Text()
    level = Text()
    prefix = Text()
    parent_code = Text(null=True, default=None)
    created_at = Timestamptz()


class Org(Table, tablename="orgs"):
    id = UUID(primary_key=True)
    name = Text()
    tier = Text()
    kind = Text()
    region_code = Text()
    county_code = Text()
    created_at = Timestamptz()


class Mediator(Table, tablename="mediators"):
    id = UUID(primary_key=True)
    org_id = UUID()
    name = Text()
    phone = Text(null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class CaseCounter(Table, tablename="case_counters"):
    county_code = Text(primary_key=True)
    year = Integer()
    last = Integer()


class Dispute(Table, tablename="disputes"):
    id = UUID(primary_key=True)
    case_no = Text(unique=True)
    county_code = Text()
    version = Integer()
    type = Text()
    source = Text()
    status = Text()
    summary = Text()
    region_code = Text()
    org_id = UUID()
    handler_org_ids = Array(base_column=UUID())
    tier = Text()
    entry_tier = Text()
    highest_tier = Text()
    concluded_tier = Text(null=True, default=None)
    registered_at = Timestamptz()
    occurred_on = Date(null=True, default=None)
    deadline = Timestamptz()
    concluded_at = Timestamptz(null=True, default=None)
    last_move_at = Timestamptz()
    amount = Numeric(digits=(14, 2), null=True, default=None)
    persons_involved = Integer()
    agreement = JSONB(null=True, default=None)
    agreement_form = Text(null=True, default=None)
    agreement_amount = Numeric(digits=(14, 2), null=True, default=None)
    performance = Text(null=True, default=None)
    prevented = Array(base_column=Text())
    court_id = UUID(null=True, default=None)
    court_case_no = Text(null=True, default=None)
    search_text = Text()
    created_at = Timestamptz()
    updated_at = Timestamptz()


class DisputeParty(Table, tablename="dispute_parties"):
    id = UUID(primary_key=True)
    dispute_id = UUID()
    position = Integer()
    role = Text()
    kind = Text()
    name = Text()
    id_number = Text(null=True, default=None)
    phone = Text(null=True, default=None)
    address = Text(null=True, default=None)


class DisputeEvent(Table, tablename="dispute_events"):
    id = UUID(primary_key=True)
    dispute_id = UUID()
    seq = Integer()
    kind = Text()
    at = Timestamptz()
    recorded_at = Timestamptz()
    actor = Text()
    org_id = UUID(null=True, default=None)
    tier = Text(null=True, default=None)
    detail = JSONB()


class AuditEntry(Table, tablename="audit_log"):
    id = BigSerial(primary_key=True)
    at = Timestamptz()
    actor = Text()
    action = Text()
    entity = Text()
    entity_id = Text(null=True, default=None)
    dispute_id = UUID(null=True, default=None)
    detail = JSONB()


class ApiToken(Table, tablename="api_tokens"):
    id = UUID(primary_key=True)
    name = Text(unique=True)
    token_hash = Text(unique=True)
    prefix = Text()
    role = Text()
    region_code = Text(null=True, default=None)
    org_id = UUID(null=True, default=None)
    court_id = UUID(null=True, default=None)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class User(Table, tablename="users"):
    id = UUID(primary_key=True)
    username = Text(unique=True)
    password_hash = Text(null=True, default=None)
    role = Text()
    region_code = Text(null=True, default=None)
    org_id = UUID(null=True, default=None)
    created_at = Timestamptz()
    disabled_at = Timestamptz(null=True, default=None)
