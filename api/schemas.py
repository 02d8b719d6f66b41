"""Request bodies as msgspec Structs: what a client may send, told truthfully.

Codes are `Literal`s of the codes in `mediation.codes` (and the court codes in
`referrals.service`); lengths, patterns and ranges are declared here, so the OpenAPI
document states them, `api.validation` refuses what breaks them (every bad field named),
and a request the document calls valid gets past them. What no schema can state stays in
the services: rules across fields or against stored state (a check character, a time
before registration, an organisation not on the roster, a decision that does not fit the
referral's kind), answered 422 or 409 there."""

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema
from msgspec import Meta

from api.messages import N_
from mediation import codes, risk
from referrals.courts import COURT_CODE_RE, URL_MAX
from referrals.service import CASE_NO_MAX, DECISIONS, ENTRUSTMENT_KINDS, PROCEDURES

SUMMARY_MAX = 2000
TEXT_MAX = 10000
NAME_MAX = 200
SHORT_NAME_MAX = 100   # regions and mediators
ADDRESS_MAX = 500
PARTIES_MAX = 200
PERSONS_MAX = 1_000_000
MONEY_MAX = 999_999_999_999.99


def one_of(labels: dict[str, str]) -> Meta:
    return Meta(description="; ".join(f"`{k}` {v}" for k, v in labels.items()))


def codes_of(labels: dict[str, str], *, without: tuple[str, ...] = ()) -> object:
    """The `Literal` of a code table's keys (one source: `mediation.codes`)."""
    return Literal[tuple(k for k in labels if k not in without)]  # type: ignore[valid-type]


# ---------------------------------------------------------------- texts and codes

#: the control characters (Cc): none in a name or an address; a text keeps line breaks and tabs
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_TEXT_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
#: what `mediation.fields.INVISIBLE` removes from names (zero-width and bidi controls)
INVISIBLE = r"\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
#: some visible text; line breaks and tabs kept, no other control character (summaries, terms)
TEXT_RE = rf"^[^{_TEXT_CONTROL}]*[^\s{_TEXT_CONTROL}{INVISIBLE}][^{_TEXT_CONTROL}]*$"
#: may be blank; line breaks and tabs kept (notes)
NOTE_RE = rf"^[^{_TEXT_CONTROL}]*$"
#: one line with some visible text: names, case numbers
NAME_RE = rf"^[\s{INVISIBLE}]*[^{_CONTROL}]*[^\s{_CONTROL}{INVISIBLE}][^{_CONTROL}]*[\s{INVISIBLE}]*$"
#: one line, may be blank (addresses)
LINE_RE = rf"^[^{_CONTROL}]*$"
REGION_CODE_RE = r"^(?:[0-9]{6}|[0-9]{9}|[0-9]{12})$"
ANY_REGION_CODE_RE = r"^(?:[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$"
PHONE = r"^[ -]*\+?(?:[ -]*[0-9]){7,15}[ -]*$"
ID_NUMBER_RE = r"^\s*[0-9A-Za-z]{18}\s*$"
COURT_CODE = COURT_CODE_RE.pattern
URL_RE = r"^https?://[A-Za-z0-9._~-]+(?::[0-9]{1,4})?(?:[/?#][^\s]*)?$"
MONEY_RE = r"^[0-9]{1,12}(?:\.[0-9]{1,2})?$"
MONTH_RE = r"^[0-9]{4}-(?:0[1-9]|1[0-2])$"
#: a list's period bound: a date, or a date and time (`mediation.fields.instant`; a `+` sent
#: unencoded arrives as a space)
INSTANT_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:[Zz]|[ +-][0-9]{2}(?::?[0-9]{2})?)?)?$"
#: a statistics month, from 2000-01 (`mediation.stats.parse_month`)
STATS_MONTH_RE = r"^[2-9][0-9]{3}-(?:0[1-9]|1[0-2])$"
#: base64url without padding, as `mediation.pagination.encode_cursor` writes it
CURSOR_RE = r"^[A-Za-z0-9_-]+$"
CHILD_RE = r"^(?:unassigned|[0-9]{6}|[0-9]{9}|[0-9]{12})$"
#: `If-Match: "3"` (`W/` and the quotes optional): a version from 1
IF_MATCH_RE = r'^(?:W/)?"?0*[1-9][0-9]{0,8}"?$'
#: printable characters of a header (Latin-1, as HTTP reads it), not only spaces
_HEADER_PRINTABLE = r" -~\xa1-\xac\xae-\xff"
IDEMPOTENCY_KEY_RE = rf"^[{_HEADER_PRINTABLE}]*[!-~\xa1-\xac\xae-\xff][{_HEADER_PRINTABLE}]*$"

#: what each declared pattern means, in words (`api.validation` answers with these)
PATTERN_MESSAGES: dict[str, str] = {
    TEXT_RE: N_("must hold some text (not only spaces) and no control characters other than line breaks and tabs"),
    NOTE_RE: N_("must not hold control characters other than line breaks and tabs"),
    NAME_RE: N_("must hold some visible text on one line, without control characters"),
    LINE_RE: N_("must be one line without control characters"),
    REGION_CODE_RE: N_("must be a region code of 6, 9 or 12 digits"),
    ANY_REGION_CODE_RE: N_("must be a region code of 2, 4, 6, 9 or 12 digits"),
    PHONE: N_("must be a phone number: 7 to 15 digits, optionally a leading +, spaces and dashes allowed"),
    ID_NUMBER_RE: N_("must be 18 letters and digits (a resident ID or a unified social credit code)"),
    COURT_CODE: N_("must be a court code such as 川1325 (province abbreviation and 0, 2 or 4 digits)"),
    URL_RE: N_("must be an http or https URL"),
    MONTH_RE: N_("must be a month such as 2026-10"),
    INSTANT_RE: N_("must be a date (2026-10-01) or an RFC 3339 time (2026-10-01T08:00:00+08:00)"),
    STATS_MONTH_RE: N_("must be a month written YYYY-MM, from 2000-01"),
    CURSOR_RE: N_("is not a cursor this service gave out"),
    CHILD_RE: N_("must be a region code of 6, 9 or 12 digits, or `unassigned`"),
    IF_MATCH_RE: N_('must be the dispute version, e.g. "3"'),
    IDEMPOTENCY_KEY_RE: N_("must be printable characters, not only spaces"),
    MONEY_RE: N_("must be an amount in yuan, not negative, with at most two decimals, such as 3000.00"),
}


def _text(max_length: int, description: str = "", pattern: str = TEXT_RE, min_length: int = 1, **kw) -> Meta:
    return Meta(min_length=min_length, max_length=max_length, pattern=pattern,
                description=description or f"At most {max_length:,} characters", **kw)


Summary = Annotated[str, _text(SUMMARY_MAX)]
LongText = Annotated[str, _text(TEXT_MAX)]
Note = Annotated[str, _text(TEXT_MAX, pattern=NOTE_RE, min_length=0)]
Name = Annotated[str, _text(NAME_MAX, pattern=NAME_RE)]
ShortName = Annotated[str, _text(SHORT_NAME_MAX, pattern=NAME_RE)]
Address = Annotated[str, _text(ADDRESS_MAX, pattern=LINE_RE, min_length=0)]
Phone = Annotated[str, Meta(pattern=PHONE, description="7 to 15 digits, an optional leading +, spaces and dashes; "
                            "answered without the spaces and dashes", examples=["138-0000-0001"])]
RegionCode = Annotated[str, Meta(pattern=REGION_CODE_RE, description="6, 9 or 12 digits (统计用区划代码); answered "
                                 "in the 12-digit form", examples=["511325101"])]
#: read by `mediation.fields.text` (no outer whitespace trimmed), so `TEXT_RE`, not `NAME_RE`
CourtCaseNo = Annotated[str, _text(CASE_NO_MAX, pattern=TEXT_RE, description="As the court numbers it",
                                   examples=["(2026)川1325民初123号"])]
WebhookUrl = Annotated[str, Meta(pattern=URL_RE, max_length=URL_MAX,
                                 description="http or https URL receiving Standard Webhooks POSTs",
                                 examples=["https://court.example/tiaojie/webhooks"])]
Time = Annotated[dt.datetime, Meta(description="RFC 3339; without an offset read as Asia/Shanghai. Not before "
                                   "2000-01-01 and not more than 5 minutes ahead")]
Version = Annotated[int, Meta(ge=1, description="The dispute version you read; a stale one answers 409")]
#: a string or a number; the schema is written out because Litestar drops the constraints of
#: a union's branches (so the document would not say what `api.validation` enforces)
Money = Annotated[
    Annotated[str, Meta(pattern=MONEY_RE)] | Annotated[float, Meta(ge=0, le=MONEY_MAX)] | None,
    Meta(description='Yuan: a string with at most two decimals ("3000.00") or a number',
         extra_json_schema={"extra": {"one_of": [
             Schema(type=OpenAPIType.STRING, pattern=MONEY_RE),
             Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=MONEY_MAX),
             Schema(type=OpenAPIType.NULL)]}})]
Persons = Annotated[int, Meta(ge=1, le=PERSONS_MAX, description="People involved (default: the number of parties)")]

DisputeType = Annotated[codes_of(codes.DISPUTE_TYPES), one_of(codes.DISPUTE_TYPES)]  # type: ignore[valid-type]
Tier = Annotated[codes_of(codes.TIERS), one_of(codes.TIERS)]  # type: ignore[valid-type]


# ---------------------------------------------------------------- registry

class RegionIn(msgspec.Struct):
    code: Annotated[str, Meta(pattern=ANY_REGION_CODE_RE, description="2, 4, 6, 9 or 12 digits (统计用区划代码)",
                              examples=["511325101"])]
    name: ShortName
    level: Annotated[codes_of(codes.REGION_LEVELS), one_of(codes.REGION_LEVELS)] | None = None  # type: ignore[valid-type]


class OrgIn(msgspec.Struct):
    name: Name
    tier: Tier
    kind: Annotated[codes_of(codes.ORG_KINDS), one_of(codes.ORG_KINDS)]  # type: ignore[valid-type]
    region_code: RegionCode


class MediatorIn(msgspec.Struct):
    name: ShortName
    phone: Phone | None = None


class MediatorPatch(msgspec.Struct):
    name: ShortName | None = None
    phone: Phone | None = None
    active: bool | None = None


class CourtIn(msgspec.Struct):
    name: Annotated[str, _text(NAME_MAX, pattern=NAME_RE, examples=["西充县人民法院"])]
    code: Annotated[str, Meta(pattern=COURT_CODE, description="Province abbreviation and 0, 2 or 4 digits",
                              examples=["川1325"])]
    region_code: Annotated[str, Meta(pattern=ANY_REGION_CODE_RE, description="The court's region: 2 or 4 digits "
                                     "for a high or intermediate court, 6 for a basic court", examples=["511325"])]
    webhook_url: WebhookUrl | None = None


class CourtPatch(msgspec.Struct):
    webhook_url: Annotated[WebhookUrl, Meta(description="The new URL (null: the court pulls); setting it "
                                            "re-enables delivery after a 410")] | None


class RosterIn(msgspec.Struct):
    org_id: uuid.UUID


# ---------------------------------------------------------------- disputes

class PartyIn(msgspec.Struct):
    role: Annotated[codes_of(codes.PARTY_ROLES), one_of(codes.PARTY_ROLES)]  # type: ignore[valid-type]
    kind: Annotated[codes_of(codes.PARTY_KINDS), one_of(codes.PARTY_KINDS)]  # type: ignore[valid-type]
    name: Name
    id_number: Annotated[str, Meta(pattern=ID_NUMBER_RE, description="A person's resident ID (GB 11643) or an "
                                   "organisation's unified social credit code (GB 32100), check character included")
                         ] | None = None
    phone: Phone | None = None
    address: Address | None = None


Parties = Annotated[list[PartyIn], Meta(min_length=1, max_length=PARTIES_MAX)]


class DisputeIn(msgspec.Struct):
    org_id: uuid.UUID
    type: DisputeType
    source: Annotated[codes_of(codes.SOURCES, without=("court_entrusted",)),  # type: ignore[valid-type]
                      Meta(description="; ".join(f"`{k}` {v}" for k, v in codes.SOURCES.items()
                                                 if k != "court_entrusted")
                           + " (court-entrusted disputes arrive through /court/entrustments)")]
    summary: Summary
    parties: Parties
    region_code: Annotated[RegionCode, Meta(description="Default: the organisation's region; inside its county")
                           ] | None = None
    registered_at: Time | None = None
    occurred_on: Annotated[dt.date, Meta(description="When the dispute arose; not before 1949-10-01")] | None = None
    amount: Money = None
    persons_involved: Persons | None = None
    deadline: Annotated[Time, Meta(description="Default: registration + 30 days; at most 10 years after it")
                        ] | None = None
    risk_reasons: Annotated[list[Literal["criminal_risk", "suicide_risk", "group_petition_risk", "group_fight_risk"]],
                            Meta(max_length=10, description="Intake risks a person sees (the first risk "
                                 "assessment)")] | None = None


class _Transition(msgspec.Struct, kw_only=True):
    version: Version | None = None
    at: Annotated[Time, Meta(description="The business time of the action (default: now, or the action's own "
                             "time); not before the dispute's latest move")] | None = None
    note: Note | None = None


class RiskIn(_Transition, kw_only=True):
    """风险评估: a person's assessment, replacing the last one."""

    level: Annotated[Literal[tuple(risk.LEVELS)], Meta(  # type: ignore[valid-type]
        description="One of: " + ", ".join(f"`{k}` {v}" for k, v in risk.LEVELS.items()))]
    reasons: Annotated[list[Literal[tuple(risk.INTAKE_RISKS)]], Meta(  # type: ignore[valid-type]
        description="Intake risks the person sees: " + ", ".join(f"`{k}` {v}" for k, v in risk.INTAKE_RISKS.items()),
        max_length=10)] | None = None


class SessionIn(_Transition, kw_only=True):
    held_at: Time
    method: Annotated[codes_of(codes.SESSION_METHODS), one_of(codes.SESSION_METHODS)]  # type: ignore[valid-type]
    mediator_ids: Annotated[list[uuid.UUID], Meta(min_length=1, max_length=PARTIES_MAX,
                                                  description="Active mediators of the organisation holding the "
                                                              "dispute")]
    summary: LongText


class MoveIn(_Transition, kw_only=True):
    to_org_id: uuid.UUID
    reason: LongText


class AgreementIn(msgspec.Struct):
    form: Annotated[codes_of(codes.AGREEMENT_FORMS), one_of(codes.AGREEMENT_FORMS)]  # type: ignore[valid-type]
    terms: LongText
    signed_at: Time
    amount: Money = None
    performance_due: Annotated[dt.date, Meta(description="At most 10 years after registration")] | None = None


class ResolveIn(_Transition, kw_only=True):
    agreement: AgreementIn
    prevented: Annotated[list[Annotated[codes_of(codes.PREVENTED), one_of(codes.PREVENTED)]],  # type: ignore[valid-type]
                         Meta(max_length=len(codes.PREVENTED) * 4)] = []


class FailIn(_Transition, kw_only=True):
    reason: LongText
    channel: Annotated[codes_of(codes.FAIL_CHANNELS), one_of(codes.FAIL_CHANNELS)] | None = None  # type: ignore[valid-type]


class ReasonIn(_Transition, kw_only=True):
    reason: LongText


_PERFORMANCE = {k: v for k, v in codes.PERFORMANCE.items() if k != "pending"}


class PerformanceIn(_Transition, kw_only=True):
    status: Annotated[codes_of(_PERFORMANCE), one_of(_PERFORMANCE)]  # type: ignore[valid-type]
    checked_at: Time


class VisitIn(_Transition, kw_only=True):
    satisfaction: Annotated[codes_of(codes.SATISFACTION), one_of(codes.SATISFACTION)]  # type: ignore[valid-type]


class ReferIn(_Transition, kw_only=True):
    court_id: uuid.UUID
    reason: LongText


class ConfirmationIn(_Transition, kw_only=True):
    court_id: uuid.UUID


# ---------------------------------------------------------------- reports

class ReportIn(msgspec.Struct, kw_only=True):
    """上报: freeze a region's monthly figures."""

    region: RegionCode
    month: Annotated[str, Meta(pattern=STATS_MONTH_RE, description="An ended month, YYYY-MM (Asia/Shanghai), from 2000-01",
                               examples=["2026-10"])]


# ---------------------------------------------------------------- the court side

_ALL_DECISIONS = {k: v for kind in DECISIONS.values() for k, v in kind.items()}


class AckIn(msgspec.Struct):
    court_case_no: CourtCaseNo | None = None


class DecisionIn(msgspec.Struct):
    decision: Annotated[codes_of(_ALL_DECISIONS), Meta(  # type: ignore[valid-type]
        description="litigation referrals: `filed` | `not_filed`; confirmation referrals: `confirmed` | `rejected`")]
    decided_at: Time
    court_case_no: Annotated[CourtCaseNo, Meta(description="Required unless the decision is `not_filed`")
                             ] | None = None
    note: Note | None = None


class EntrustmentIn(msgspec.Struct):
    court_case_no: CourtCaseNo
    kind: Annotated[codes_of(ENTRUSTMENT_KINDS), Meta(  # type: ignore[valid-type]
        description="`pre_filing` 委派调解 (only for cases received before 2025-01-01); `in_litigation` 委托调解")]
    org_id: Annotated[uuid.UUID, Meta(description="An organisation on the court's roster")]
    type: DisputeType
    summary: Summary
    parties: Parties
    procedure: Annotated[codes_of(PROCEDURES), Meta(  # type: ignore[valid-type]
        description="in_litigation only: `ordinary` (15-day limit, the default) or `simple` (7 days)")] | None = None
    region_code: RegionCode | None = None
    deadline: Annotated[Time, Meta(description="Overrides the 30/15/7-day limit")] | None = None
    registered_at: Annotated[Time, Meta(description="When the organisation received the case (default now)")
                             ] | None = None
    occurred_on: dt.date | None = None
    amount: Money = None
    persons_involved: Persons | None = None
