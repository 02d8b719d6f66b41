"""Monthly statistics of METRICS.md, computed in PostgreSQL.

One registry (`COUNTS`, `RATES`) maps every figure to SQL predicates over one dispute
(`d`, with its entry organisation `eo`) or one event (`e` of dispute `d`). The same
predicate feeds the single-pass `FILTER` aggregate that gives the figure and the WHERE
clause of the drill-down that lists what is behind it, so the two cannot disagree.
Adding a metric is adding an entry.

The aggregate (`_dispute_query`) reads each period's candidates once (four disjoint index
scans), judges what does not depend on the period once per dispute (`fx`), turns every
predicate into one boolean column per candidate (`f`; the risk level at the end, the first
red moment and "open at the end" are read from columns there, by replacing their exact
text), and lets each grouping aggregate only the figures it answers.

Predicates are written against a period `{s}` (inclusive) .. `{e}` (exclusive): for one
month these become query parameters; for a trend they are the columns of a `periods`
relation joined in, so every month of a trend is computed by the same text.

Exact arithmetic: SQL returns integers (counts, microseconds, cents); rates and
durations are rounded here from `Fraction`s, half away from zero (四舍五入).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import msgspec

from mediation import clock, db, early_warning, risk
from mediation.codes import DISPUTE_TYPES, MEDIATED_STATUSES, ORG_KINDS, SOURCES
from mediation.errors import Collector, Invalid, NotFound
from mediation.pagination import Keyset, keyset_page, newest_first
from mediation.regions import canonical

TIMEZONE = "Asia/Shanghai"
MAX_TREND_MONTHS = 60

# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    month: str              # "2026-10"
    start: dt.datetime      # 2026-10-01T00:00+08:00
    end: dt.datetime        # 2026-11-01T00:00+08:00 (exclusive)


_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: Any, field: str = "month") -> tuple[int, int]:
    m = _MONTH_RE.match(value) if isinstance(value, str) else None
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise Invalid.field(field, "must be a month written YYYY-MM, from 2000-01")
    return int(m.group(1)), int(m.group(2))


def month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def period_of_index(index: int) -> Period:
    year, month0 = divmod(index, 12)
    nyear, nmonth0 = divmod(index + 1, 12)
    return Period(month=f"{year:04d}-{month0 + 1:02d}",
                  start=dt.datetime(year, month0 + 1, 1, tzinfo=clock.TZ),
                  end=dt.datetime(nyear, nmonth0 + 1, 1, tzinfo=clock.TZ))


def period(month: Any, field: str = "month") -> Period:
    return period_of_index(month_index(*parse_month(month, field)))


def shift(p: Period, months: int) -> Period:
    return period_of_index(month_index(p.start.year, p.start.month) + months)


# ---------------------------------------------------------------- the registry

RECEIVED = "(d.registered_at >= {s} AND d.registered_at < {e})"
CONCLUDED = "(d.concluded_at >= {s} AND d.concluded_at < {e})"
#: registered before the end and not concluded before it: the span (registered_at, concluded_at]
#: holds the end (an open dispute's span has no upper bound), written so the GiST index
#: `disputes_open_span_idx` answers it for any month
OPEN_SPAN = ("tstzrange(d.registered_at, CASE WHEN d.concluded_at IS NULL THEN NULL "
             "ELSE greatest(d.registered_at, d.concluded_at) END, '(]')")
OPEN_AT_END = f"({OPEN_SPAN} @> {{e}})"
_MEDIATED_IN = ", ".join(f"'{s}'" for s in sorted(MEDIATED_STATUSES))
MEDIATED = f"({CONCLUDED} AND d.status IN ({_MEDIATED_IN}))"
LOCAL = "d.source <> 'court_entrusted'"


def concluded_as(status: str) -> str:
    return f"({CONCLUDED} AND d.status = '{status}')"


RESOLVED = concluded_as("resolved")
#: the latest performance record now, by business time, ties by event order (`lp`, joined
#: once per resolved dispute by DISPUTE_JOINS)
LATEST_PERFORMANCE = "lp.status"
#: what every dispute predicate may read besides `d`: the entry organisation and `lp`
_PERFORMANCE_NOW = """SELECT pe.detail->>'status' AS status FROM dispute_events pe
        WHERE pe.dispute_id = d.id AND pe.kind = 'performance' ORDER BY pe.at DESC, pe.seq DESC LIMIT 1"""
DISPUTE_JOINS = f"""LEFT JOIN orgs eo ON eo.id = d.handler_org_ids[1]
    LEFT JOIN LATERAL ({_PERFORMANCE_NOW}) lp
        ON d.status = 'resolved'"""
EVENT_IN = "(e.at >= {s} AND e.at < {e})"


def event_of(kind: str, extra: str = "") -> str:
    return f"(e.kind = '{kind}' AND {EVENT_IN}{extra})"


def decided(kind: str, decision: str) -> str:
    return event_of("referral_decided", f" AND e.detail->>'kind' = '{kind}' AND e.detail->>'decision' = '{decision}'")


#: the risk level at the end of the period (METRICS.md "Risk at a moment"); the aggregate
#: judges it once per candidate and reads that wherever the registry has this exact text
LEVEL_AT_END = early_warning.level_at_sql("{e}")
#: when the dispute first became red (or NULL), likewise judged once per candidate
FIRST_RED = early_warning.first_red_sql()
#: every dispute any dispute metric of the period can count (the aggregate's scan)
DISPUTE_RELEVANT = f"({RECEIVED} OR {CONCLUDED} OR {OPEN_AT_END} OR {early_warning.ASSESSED_IN_PERIOD})"
#: the event kinds any event metric counts (the event scan)
EVENT_KINDS_READ = ("escalated", "confirmation_applied", "referral_decided", "visit")

Over = Literal["disputes", "events"]


@dataclass(frozen=True)
class Count:
    key: str
    label: str                 # the spreadsheet's Chinese heading
    over: Over
    where: str
    amount: bool = False       # a sum of agreement amounts (yuan), not a count


@dataclass(frozen=True)
class Rate:
    key: str
    label: str
    over: Over
    denominator: str
    numerator: str             # ANDed with the denominator


COUNTS: tuple[Count, ...] = (
    Count("received", "受理", "disputes", RECEIVED),
    Count("concluded", "办结", "disputes", CONCLUDED),
    Count("mediated", "调解终结", "disputes", MEDIATED),
    Count("resolved", "调解成功", "disputes", concluded_as("resolved")),
    Count("failed", "调解不成", "disputes", concluded_as("failed")),
    Count("referred", "引导诉讼", "disputes", concluded_as("referred")),
    Count("returned", "退回法院", "disputes", concluded_as("returned")),
    Count("withdrawn", "撤回/终止", "disputes", concluded_as("withdrawn")),
    Count("rejected", "不予受理", "disputes", concluded_as("rejected")),
    Count("open_at_end", "月末在办", "disputes", OPEN_AT_END),
    Count("overdue_at_end", "月末超期", "disputes", f"({OPEN_AT_END} AND d.deadline < {{e}})"),
    Count("escalations", "上移", "events", event_of("escalated")),
    Count("entrusted_received", "法院委派委托受理", "disputes", f"({RECEIVED} AND d.source = 'court_entrusted')"),
    Count("confirmation_applied", "申请司法确认", "events", event_of("confirmation_applied")),
    Count("confirmation_granted", "司法确认有效", "events", decided("confirmation", "confirmed")),
    Count("confirmation_rejected", "司法确认驳回", "events", decided("confirmation", "rejected")),
    Count("litigation_filed", "法院立案", "events", decided("litigation", "filed")),
    Count("litigation_not_filed", "法院未立案", "events", decided("litigation", "not_filed")),
    Count("agreements_written", "书面协议", "disputes", f"({RESOLVED} AND d.agreement_form = 'written')"),
    Count("agreements_oral", "口头协议", "disputes", f"({RESOLVED} AND d.agreement_form = 'oral')"),
    Count("group_disputes_received", "群体性纠纷受理", "disputes", f"({RECEIVED} AND d.persons_involved >= 5)"),
    Count("agreement_amount", "协议涉及金额(元)", "disputes", RESOLVED, amount=True),
    # risk at the end of the month and first red warnings (METRICS.md "Risk at a moment")
    Count("red_at_end", "月末红色风险", "disputes", f"({OPEN_AT_END} AND {LEVEL_AT_END} = 'red')"),
    Count("yellow_at_end", "月末黄色风险", "disputes",
          f"({OPEN_AT_END} AND {LEVEL_AT_END} = 'yellow')"),
    Count("warnings_raised", "新增红色预警", "disputes", f"({FIRST_RED} >= {{s}} AND {FIRST_RED} < {{e}})"),
    Count("prevented_criminal", "防止民转刑", "disputes", f"({RESOLVED} AND 'criminal' = ANY (d.prevented))"),
    Count("prevented_group_petition", "防止群体性上访", "disputes",
          f"({RESOLVED} AND 'group_petition' = ANY (d.prevented))"),
    Count("prevented_suicide", "防止自杀", "disputes", f"({RESOLVED} AND 'suicide' = ANY (d.prevented))"),
    Count("prevented_group_fight", "制止群体性械斗", "disputes", f"({RESOLVED} AND 'group_fight' = ANY (d.prevented))"),
)

RATES: tuple[Rate, ...] = (
    Rate("success_rate", "调解成功率", "disputes", MEDIATED, "d.status = 'resolved'"),
    Rate("village_rate", "小事不出村", "disputes", f"({MEDIATED} AND {LOCAL} AND d.entry_tier = 'village')",
         "d.status = 'resolved' AND d.highest_tier = 'village'"),
    Rate("township_rate", "大事不出镇", "disputes",
         f"({MEDIATED} AND {LOCAL} AND d.entry_tier IN ('village', 'township'))",
         "d.status = 'resolved' AND d.highest_tier IN ('village', 'township')"),
    Rate("county_rate", "矛盾不上交", "disputes", f"({MEDIATED} AND {LOCAL})", "d.status = 'resolved'"),
    Rate("diversion_rate", "诉前化解率", "disputes",
         f"({CONCLUDED} AND d.source = 'court_entrusted' AND d.status IN ('resolved', 'returned'))",
         "d.status = 'resolved'"),
    Rate("confirmation_rate", "司法确认率", "events",
         f"({decided('confirmation', 'confirmed')} OR {decided('confirmation', 'rejected')})",
         "e.detail->>'decision' = 'confirmed'"),
    Rate("performance_rate", "协议履行率", "disputes",
         f"({RESOLVED} AND coalesce({LATEST_PERFORMANCE}, 'pending') <> 'pending')",
         f"{LATEST_PERFORMANCE} = 'performed'"),
    Rate("on_time_rate", "按时办结率", "disputes", f"({CONCLUDED} AND d.status <> 'rejected')",
         "d.concluded_at <= d.deadline"),
    Rate("satisfaction_rate", "满意率", "events", event_of("visit"),
         "e.detail->>'satisfaction' IN ('satisfied', 'basically_satisfied')"),
)

COUNT_BY_KEY = {c.key: c for c in COUNTS}
RATE_BY_KEY = {r.key: r for r in RATES}
DURATIONS = {"median_days_to_resolve": "调解成功用时中位数(天)", "mean_days_to_resolve": "调解成功平均用时(天)"}
#: the breakdown columns of `by_type` and `by_org_kind`
CELL_COUNTS = ("received", "resolved")
#: drill-down lists of events: newest business time first
_EVENT_ORDER = Keyset(columns=("e.at", "e.id"), keys=("at", "event_id"), parsers=(dt.datetime.fromisoformat, uuid.UUID))


def _fill(sql: str, s: str, e: str) -> str:
    return sql.replace("{s}", s).replace("{e}", e)


def rounded(value: Fraction, places: int) -> Decimal:
    """`value` rounded half away from zero (四舍五入) to `places` decimals, exactly."""
    scale = 10 ** places
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return Decimal(-magnitude if value < 0 else magnitude).scaleb(-places)


def ratio(numerator: int, denominator: int) -> Decimal | None:
    return None if denominator == 0 else rounded(Fraction(numerator, denominator), 4)


# ---------------------------------------------------------------- answers


class RegionRef(msgspec.Struct):
    code: str
    name: str
    level: str


class RateValue(msgspec.Struct):
    numerator: int
    denominator: int
    rate: float | None      # the exact 4-place decimal, written as a JSON number


class Cell(msgspec.Struct):
    received: int
    resolved: int


class Durations(msgspec.Struct):
    median_days_to_resolve: float | None
    mean_days_to_resolve: float | None


class ChildStats(msgspec.Struct):
    region: RegionRef | None        # None: the `unassigned` entry
    counts: dict[str, int | str]
    rates: dict[str, RateValue]


class MonthlyStats(msgspec.Struct):
    region: RegionRef
    month: str
    timezone: str
    generated_at: dt.datetime
    counts: dict[str, int | str]
    rates: dict[str, RateValue]
    durations: Durations
    by_type: dict[str, Cell]
    by_source: dict[str, int]
    by_org_kind: dict[str, Cell]
    children: list[ChildStats]


def _number(value: Decimal | None) -> float | None:
    # the shortest float repr of a 4- or 2-place decimal is that decimal: the JSON text is exact
    return None if value is None else float(value)


def _money(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):.2f}"


# ---------------------------------------------------------------- scope


def read_connection():
    """Where statistics, exports, trend, hotspots and drill-down read from: the streaming
    replica on TIAOJIE_READ_DATABASE_URL when one is configured (`db.read_connection`), the
    primary otherwise. Freezing a report and every write read the primary (`db.connection`)."""
    return db.read_connection()


@dataclass(frozen=True)
class Scope:
    region: RegionRef
    prefix: str
    children: tuple[tuple[RegionRef, str], ...]     # (child, its prefix)

    def child_key(self, args: list) -> str:
        """SQL giving the prefix of the child region a dispute lies in (NULL: none)."""
        by_length: dict[int, list[str]] = {}
        for _, prefix in self.children:
            by_length.setdefault(len(prefix), []).append(prefix)
        if not by_length:
            return "NULL::text"
        whens = []
        for length, prefixes in sorted(by_length.items()):
            args.append(prefixes)
            whens.append(f"WHEN substr(d.region_code, 1, {length}) = ANY (${len(args)}::text[]) "
                         f"THEN substr(d.region_code, 1, {length})")
        return f"(CASE {' '.join(whens)} END)"


async def scope_of(conn, region: Any, field: str = "region") -> Scope:
    if region is None or region == "":
        raise Invalid.field(field, "is required")
    code12 = canonical(region, field)
    row = await conn.fetchrow("SELECT code, name, level, prefix FROM regions WHERE code = $1", code12)
    if row is None:
        raise NotFound("region {code} is not registered", code=code12)
    kids = await conn.fetch("SELECT code, name, level, prefix FROM regions WHERE parent_code = $1 ORDER BY code",
                            code12)
    return Scope(region=RegionRef(row["code"], row["name"], row["level"]), prefix=row["prefix"],
                 children=tuple((RegionRef(k["code"], k["name"], k["level"]), k["prefix"]) for k in kids))


def may_read(principal, scope: Scope) -> bool:
    """Statistics: admins everywhere, a bureau inside its own region."""
    if principal.role == "admin":
        return True
    return principal.role == "bureau" and scope.prefix.startswith(principal.region_prefix or "\0")


async def readable_scope(conn, principal, region: Any, field: str = "region") -> Scope:
    scope = await scope_of(conn, region, field)
    if not may_read(principal, scope):
        raise NotFound("region {code} is not registered", code=scope.region.code)
    return scope


# ---------------------------------------------------------------- the aggregates


#: the dispute columns the predicates (and the risk expressions inside them) read
_CANDIDATE_COLUMNS = ("id", "region_code", "type", "source", "status", "registered_at", "concluded_at", "deadline",
                      "entry_tier", "highest_tier", "agreement_form", "agreement_amount", "persons_involved",
                      "prevented", "handler_org_ids")
_MICROS = "((extract(epoch FROM d.concluded_at) - extract(epoch FROM d.registered_at)) * 1000000)"


def _figure_flags(keys: set[str], s: str, e: str) -> list[tuple[str, str]]:
    """(column, SQL) of one boolean per figure predicate in `keys` (counts; rates as key.d and
    key.n), over one candidate dispute `d` of period `s`..`e`; the level at the end, the
    first red moment and whether it is open at the end are read from the candidate's `lvl_e`,
    `first_red` and `open_e` columns instead of being judged again in every predicate."""
    level = _fill(LEVEL_AT_END, s, e)

    open_at_end = _fill(OPEN_AT_END, s, e)

    def flag(sql: str) -> str:
        return (_fill(sql, s, e).replace(level, "d.lvl_e").replace(FIRST_RED, "d.first_red")
                .replace(open_at_end, "d.open_e"))

    out = []
    for c in COUNTS:
        if c.over == "disputes" and c.key in keys:
            out.append((c.key, flag(c.where)))
    for r in RATES:
        if r.over == "disputes" and r.key in keys:
            out.append((f"{r.key}.d", flag(r.denominator)))
            out.append((f"{r.key}.n", f"({flag(r.denominator)} AND {flag(r.numerator)})"))
    return out


def _figure_aggregates(flags: list[tuple[str, str]], *, durations: bool) -> list[str]:
    cols = []
    for name, _ in flags:
        if name in COUNT_BY_KEY and COUNT_BY_KEY[name].amount:
            cols.append(f'coalesce(sum(f.amount_cents) FILTER (WHERE f."{name}"), 0)::bigint')
        else:
            cols.append(f'count(*) FILTER (WHERE f."{name}")')
    if durations:
        cols += [
            'count(*) FILTER (WHERE f.micros IS NOT NULL)',
            'sum(f.micros)',
            'percentile_disc(0.5) WITHIN GROUP (ORDER BY f.micros)',
            'percentile_disc(0.5) WITHIN GROUP (ORDER BY f.micros DESC)',
        ]
    return cols


def _event_aggregates(s: str, e: str) -> list[str]:
    cols = []
    for c in COUNTS:
        if c.over == "events":
            cols.append(f"count(*) FILTER (WHERE {_fill(c.where, s, e)}) AS \"{c.key}\"")
    for r in RATES:
        if r.over == "events":
            den = _fill(r.denominator, s, e)
            cols.append(f"count(*) FILTER (WHERE {den}) AS \"{r.key}.d\"")
            cols.append(f"count(*) FILTER (WHERE {den} AND {_fill(r.numerator, s, e)}) AS \"{r.key}.n\"")
    return cols


def _periods_sql(periods: list[Period], args: list) -> str:
    args.extend([[p.start for p in periods], [p.end for p in periods], [p.month for p in periods]])
    n = len(args)
    return f"unnest(${n - 2}::timestamptz[], ${n - 1}::timestamptz[], ${n}::text[]) AS p(s, e, m)"


def _alias(sql: str, alias: str) -> str:
    """A predicate over `d` rewritten over `alias`."""
    return re.sub(r"\bd\.", f"{alias}.", sql)


def _in_scope(prefix: str) -> str:
    """`x` lies in the scope `$1` (= prefix%). At a county or below, also its county's six
    digits, which that LIKE implies: the county indexes (migration 14:30) then read the
    county's rows alone instead of intersecting province-wide time ranges with the county."""
    assert prefix.isdigit()
    county = f" AND substr(x.region_code, 1, 6) = '{prefix[:6]}'" if len(prefix) >= 6 else ""
    return f"x.region_code LIKE $1{county}"


def _candidates(s: str, e: str, prefix: str) -> str:
    """Every dispute of scope `$1` any dispute figure of the period can count (DISPUTE_RELEVANT),
    each once, with the columns the predicates read: four disjoint index scans (registered in
    the period; else concluded in it; else open at its end; else assessed in it: a red
    assessment after the conclusion is still a first red warning), no join back."""
    cols = ", ".join(f"x.{c}" for c in _CANDIDATE_COLUMNS)
    scoped = _in_scope(prefix)
    received = _alias(_fill(RECEIVED, s, e), "x")
    concluded = _alias(_fill(CONCLUDED, s, e), "x")
    open_at_end = _alias(_fill(OPEN_AT_END, s, e), "x")
    return f"""
        SELECT {cols} FROM disputes x WHERE {scoped} AND {received}
        UNION ALL
        SELECT {cols} FROM disputes x WHERE {scoped} AND {concluded} AND NOT {received}
        UNION ALL
        SELECT {cols} FROM disputes x WHERE {scoped} AND {open_at_end}
            AND NOT {received} AND NOT coalesce({concluded}, FALSE)
        UNION ALL
        SELECT {cols} FROM disputes x WHERE {scoped}
            AND x.id IN (SELECT a.dispute_id FROM dispute_events a
                         WHERE a.kind = 'risk_assessed' AND a.at >= {s} AND a.at < {e})
            AND NOT {received} AND NOT coalesce({concluded}, FALSE) AND NOT {open_at_end}"""


#: grouping sets with every figure (children also lack durations) and breakdown sets with a few
FullSet = Literal["total", "child"]
Breakdown = Literal["child", "type", "source", "org_kind", "region_code"]


def _dispute_query(scope: Scope, periods: list[Period], full: tuple[FullSet, ...], breakdowns: tuple[Breakdown, ...],
                   breakdown_keys: tuple[str, ...] = CELL_COUNTS, *, durations: bool = True) -> tuple[str, list]:
    """One statement: the candidates of every period are read once and every predicate is
    judged once per candidate (`f`); then each grouping aggregates only what it answers:
    the total every figure and the durations, each child every figure, each breakdown cell
    `breakdown_keys`. Rows: (month, grp, key, figure columns...; NULL where not computed)."""
    args: list = [scope.prefix + "%"]
    child = scope.child_key(args) if "child" in full or "child" in breakdowns else "NULL::text"
    source = _periods_sql(periods, args)
    keys = {k.key for k in COUNTS} | {r.key for r in RATES} if full else set(breakdown_keys)
    flags = _figure_flags(keys, "d.p_s", "d.p_e")
    resolved = _fill(RESOLVED, "d.p_s", "d.p_e")
    level = _fill(LEVEL_AT_END, "d.p_s", "d.p_e")
    group_keys = {"child": child, "type": "d.type", "source": "d.source", "org_kind": "eo.kind",
                  "region_code": "d.region_code"}
    used_keys = list(dict.fromkeys(k for k in ("child", *breakdowns) if k in full or k in breakdowns))
    all_cols = [name for name, _ in flags] + ["dur.n", "dur.sum", "dur.lo", "dur.hi"]

    def branch(grp: str, key: str | None, names: set[str], durations: bool) -> str:
        values = dict(zip([n for n, _ in flags if n in names],
                          _figure_aggregates([(n, w) for n, w in flags if n in names], durations=durations)))
        if durations:
            values.update(zip(["dur.n", "dur.sum", "dur.lo", "dur.hi"],
                              _figure_aggregates([], durations=True)))
        cols = ", ".join(f'{values.get(c, "NULL::bigint")}::numeric AS "{c}"' if c.startswith("dur.")
                         else f'{values.get(c, "NULL::bigint")} AS "{c}"' for c in all_cols)
        group = "f.month" + (f", f.\"k.{key}\"" if key else "")
        key_sql = f'f."k.{key}"::text' if key else "NULL::text"
        return f"SELECT f.month, '{grp}' AS grp, {key_sql} AS key, {cols} FROM f GROUP BY {group}"

    every = {n for n, _ in flags}
    narrow = {n for n, _ in flags if n in breakdown_keys}
    branches = []
    if "total" in full:
        branches.append(branch("total", None, every, durations))
    if "child" in full:
        branches.append(branch("child", "child", every, False))
    branches += [branch(b, b, narrow, False) for b in breakdowns]
    flag_cols = ",\n            ".join(f'{sql} AS "{name}"' for name, sql in flags)
    candidates = f"""
        WITH c AS MATERIALIZED (
          SELECT c.*, p.s AS p_s, p.e AS p_e, p.m AS p_m, {_alias(_fill(OPEN_AT_END, 'p.s', 'p.e'), 'c')} AS open_e
          FROM {source} CROSS JOIN LATERAL ({_candidates('p.s', 'p.e', scope.prefix)}) c
        )"""
    if "org_kind" not in used_keys and not any(ref in sql for _, sql in flags for ref in _FACT_REFS):
        # the hotspots' received, resolved and group counts: the candidates' own columns suffice
        sql = f"""{candidates}, f AS MATERIALIZED (
          SELECT d.p_m AS month, {', '.join(f'{group_keys[k]} AS "k.{k}"' for k in used_keys) or 'NULL AS "k.none"'},
            coalesce(d.agreement_amount, 0) * 100 AS amount_cents,
            CASE WHEN {resolved} THEN {_MICROS} END AS micros,
            {flag_cols}
          FROM c d
        )
        {' UNION ALL '.join(branches)}"""
        return sql, args
    sql = f"""{candidates}, u AS MATERIALIZED (
          SELECT c.id, bool_or(c.open_e) AS open_e, min(c.status) AS status,
            min(c.persons_involved) AS persons_involved, min(c.registered_at) AS registered_at,
            min(c.concluded_at) AS concluded_at, min(c.handler_org_ids) AS handler_org_ids
          FROM c GROUP BY c.id
        ), fx AS MATERIALIZED (
          SELECT {_DISPUTE_FACTS} FROM u
          LEFT JOIN orgs o ON o.id = u.handler_org_ids[1]
          LEFT JOIN ({_EVENT_FACTS}) ev ON ev.dispute_id = u.id
        ), f AS MATERIALIZED (
          SELECT d.p_m AS month, {', '.join(f'{group_keys[k]} AS "k.{k}"' for k in used_keys) or 'NULL AS "k.none"'},
            coalesce(d.agreement_amount, 0) * 100 AS amount_cents,
            CASE WHEN {resolved} THEN {_MICROS} END AS micros,
            {flag_cols}
          FROM (SELECT c.*, fx.first_red, fx.lp_status, fx.entry_org_kind, CASE WHEN c.open_e THEN
                    CASE WHEN fx.assessed_ever THEN {_alias(level, 'c')} ELSE {_level_unassessed('c', 'c.p_e')} END
                END AS lvl_e
                FROM c JOIN fx ON fx.id = c.id OFFSET 0) d
          CROSS JOIN LATERAL (SELECT d.entry_org_kind AS kind) eo
          CROSS JOIN LATERAL (SELECT d.lp_status AS status) lp
        )
        {' UNION ALL '.join(branches)}"""
    return sql, args


#: what in a figure's predicate reads the per-dispute facts (`fx`) rather than the candidate
_FACT_REFS = ("d.lvl_e", "d.first_red", "lp.", "eo.")
#: what does not depend on the period, judged once per candidate dispute `u` however many
#: months of a trend it is counted in: the first red moment, the latest performance record
#: now (LATEST_PERFORMANCE, read by DISPUTE_JOINS elsewhere), the entry organisation's kind
#: (`eo.kind`), and for a dispute open at the end of some period (`open_e`, the one the risk
#: level needs) the repeat-party rule (its window follows the registration, not the moment),
#: the escalations' times and whether any risk assessment exists at all
_DISPUTE_FACTS = f"""u.id, o.kind AS entry_org_kind,
            coalesce(ev.assessed_ever, FALSE) AS assessed_ever,
            CASE WHEN u.status = 'resolved' THEN ev.lp_status END AS lp_status,
            CASE WHEN u.open_e THEN {early_warning.repeat_sql('u')} END AS repeat,
            ev.escalated_at,
            CASE WHEN ev.assessed_ever THEN {_alias(FIRST_RED, 'u')}
                 WHEN u.persons_involved >= {risk.LARGE_GROUP_PERSONS} THEN u.registered_at END AS first_red"""
#: a candidate's events read in one grouped pass (the planner picks index probes for a few
#: disputes, one scan for many): any risk assessment (early_warning's test), the escalations'
#: times, and the latest performance record's status (as `_PERFORMANCE_NOW`: by business
#: time, ties by event order). Without an assessment FIRST_RED is its first term alone:
#: registration, for a large group.
_EVENT_FACTS = f"""SELECT x.dispute_id, bool_or({early_warning._ASSESSMENT}) AS assessed_ever,
              array_agg(x.at) FILTER (WHERE x.kind = 'escalated') AS escalated_at,
              (array_agg(x.detail->>'status' ORDER BY x.at DESC, x.seq DESC)
                  FILTER (WHERE x.kind = 'performance'))[1] AS lp_status
            FROM dispute_events x JOIN (SELECT u.id FROM u OFFSET 0) ux ON ux.id = x.dispute_id
            GROUP BY x.dispute_id"""


def _level_unassessed(d: str, at: str) -> str:
    """`early_warning.level_at_sql(at, d)` for a dispute with no risk assessment at all (no
    assessed level, no intake reasons), from the facts `fx` instead of correlated look-ups."""
    return risk.level_sql(
        concluded=f"({d}.concluded_at IS NOT NULL AND {d}.concluded_at < {at})", source=f"{d}.source",
        persons=f"{d}.persons_involved", deadline=f"{d}.deadline",
        escalations=f"CASE WHEN fx.escalated_at IS NULL THEN 0 ELSE (SELECT count(*) FROM unnest(fx.escalated_at) t "
                    f"WHERE t < {at}) END", repeat="fx.repeat",
        assessed="NULL::text", intake="NULL::text[]", at=at)


def _event_query(scope: Scope, periods: list[Period], with_children: bool) -> tuple[str, list]:
    args: list = [scope.prefix + "%"]
    child = scope.child_key(args) if with_children else None
    source = _periods_sql(periods, args)
    args.append(list(EVENT_KINDS_READ))
    kinds = len(args)
    sets = f"(), ({child})" if child else "()"
    grouping = f"GROUPING({child})" if child else "0"
    select_key = f", {child} AS \"key.child\"" if child else ""
    sql = f"""
        SELECT p.m AS month, {grouping} AS grouping{select_key},
            {', '.join(_event_aggregates('p.s', 'p.e'))}
        FROM {source}
        CROSS JOIN LATERAL (SELECT e.id, e.dispute_id, e.kind, e.at, e.detail FROM dispute_events e
                            WHERE e.kind = ANY (${kinds}::text[]) AND e.at >= p.s AND e.at < p.e OFFSET 0) e
        JOIN disputes d ON d.id = e.dispute_id AND d.region_code LIKE $1
        GROUP BY p.m, GROUPING SETS ({sets})"""
    return sql, args


@dataclass
class Figures:
    """Raw aggregates of one scope (region, child or breakdown cell) and month."""

    values: dict[str, Any]

    def count(self, key: str) -> int:
        return int(self.values.get(key) or 0)

    def counts(self) -> dict[str, int | str]:
        out: dict[str, int | str] = {}
        for c in COUNTS:
            out[c.key] = _money(self.count(c.key)) if c.amount else self.count(c.key)
        return out

    def rates(self) -> dict[str, RateValue]:
        out = {}
        for r in RATES:
            n, d = self.count(f"{r.key}.n"), self.count(f"{r.key}.d")
            out[r.key] = RateValue(numerator=n, denominator=d, rate=_number(ratio(n, d)))
        return out

    def durations(self) -> Durations:
        n = self.count("dur.n")
        if n == 0:
            return Durations(None, None)
        day = 86_400_000_000
        total = Fraction(Decimal(self.values["dur.sum"]))
        lo, hi = Fraction(Decimal(self.values["dur.lo"])), Fraction(Decimal(self.values["dur.hi"]))
        return Durations(median_days_to_resolve=_number(rounded((lo + hi) / 2 / day, 2)),
                         mean_days_to_resolve=_number(rounded(total / n / day, 2)))

    def rate_decimal(self, key: str) -> Decimal | None:
        return ratio(self.count(f"{key}.n"), self.count(f"{key}.d"))


def _empty() -> Figures:
    return Figures({})


#: the statistics' statements sort and hash a few hundred thousand rows for a province's
#: trend; PostgreSQL's default 4 MB would spill them to temporary files
WORK_MEM = "64MB"


async def _figures(conn, scope: Scope, periods: list[Period], full: tuple[FullSet, ...],
                   breakdowns: tuple[Breakdown, ...] = (), breakdown_keys: tuple[str, ...] = CELL_COUNTS,
                   *, durations: bool = True) -> dict[tuple[str, str, Any], Figures]:
    """(month, group, key) → figures; group "total" has key None (durations only if asked)."""
    out: dict[tuple[str, str, Any], Figures] = {}
    sql, args = _dispute_query(scope, periods, full, breakdowns, breakdown_keys, durations=durations)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        rows = await conn.fetch(sql, *args)
    for row in rows:
        values = {k: v for k, v in dict(row).items() if v is not None}
        out[(row["month"], row["grp"], row["key"])] = Figures(values)
    if not full:
        return out
    with_children = "child" in full and bool(scope.children)
    sql, args = _event_query(scope, periods, with_children)
    for row in await conn.fetch(sql, *args):
        group = "child" if with_children and row["grouping"] == 0 else "total"
        key = None if group == "total" else row["key.child"]
        target = out.setdefault((row["month"], group, key), _empty())
        target.values.update({k: v for k, v in dict(row).items() if k not in ("month", "grouping", "key.child")})
    return out


def _children(scope: Scope, figures: dict, month: str) -> list[ChildStats]:
    if scope.region.level == "village":
        return []
    out = []
    for ref, prefix in scope.children:
        f = figures.get((month, "child", prefix), _empty())
        out.append(ChildStats(region=ref, counts=f.counts(), rates=f.rates()))
    rest = figures.get((month, "child", None)) if scope.children else figures.get((month, "total", None))
    if rest is not None:
        counts = rest.counts()
        if any(v not in (0, "0.00") for v in counts.values()):
            out.append(ChildStats(region=None, counts=counts, rates=rest.rates()))
    return out


async def _for_month(principal, region: Any, month: Any, compute):
    """Check the month (422) after the region's scope (404), then compute on the read side."""
    errors = Collector()
    p = None
    try:
        p = period(month)
    except Invalid as e:
        errors.errors.extend(e.errors)
    async with read_connection() as conn:
        scope = await readable_scope(conn, principal, region)
        errors.raise_if_any()
        assert p is not None
        return await compute(conn, scope, p)


async def monthly(principal, region: Any, month: Any) -> MonthlyStats:
    return await _for_month(principal, region, month, compute_monthly)


async def compute_monthly(conn, scope: Scope, p: Period) -> MonthlyStats:
    figures = await _figures(conn, scope, [p], ("total", "child"), ("type", "source", "org_kind"))
    total = figures.get((p.month, "total", None), _empty())

    def cell(group: str, key: str) -> Cell:
        f = figures.get((p.month, group, key), _empty())
        return Cell(received=f.count("received"), resolved=f.count("resolved"))

    return MonthlyStats(
        region=scope.region, month=p.month, timezone=TIMEZONE, generated_at=clock.local(clock.now()),
        counts=total.counts(), rates=total.rates(), durations=total.durations(),
        by_type={t: cell("type", t) for t in DISPUTE_TYPES},
        by_source={s: figures.get((p.month, "source", s), _empty()).count("received") for s in SOURCES},
        by_org_kind={k: cell("org_kind", k) for k in ORG_KINDS},
        children=_children(scope, figures, p.month),
    )


# ---------------------------------------------------------------- drill-down


class CaseItem(msgspec.Struct):
    """One dispute behind a figure (no personal data: the bureau opens the dispute for that)."""

    id: uuid.UUID
    case_no: str
    type: str
    source: str
    status: str
    region_code: str
    org_id: uuid.UUID
    entry_org_kind: str | None
    tier: str
    entry_tier: str
    highest_tier: str
    concluded_tier: str | None
    registered_at: dt.datetime
    deadline: dt.datetime
    concluded_at: dt.datetime | None
    persons_involved: int
    agreement_form: str | None
    agreement_amount: str | None


class EventRef(msgspec.Struct):
    """The event behind an event figure: its codes, never its free text (an escalation's
    reason may hold 10,000 characters; the dispute itself has the whole timeline)."""

    seq: int
    kind: str
    at: dt.datetime
    actor: str
    detail: dict[str, Any]      # only the keys in EVENT_DETAIL_KEYS the event has


#: what an event item's `detail` keeps: the codes the figures read (a court decision's kind and
#: decision, a visit's satisfaction), where an escalation came from, and the court's identifiers
EVENT_DETAIL_KEYS = ("kind", "decision", "satisfaction", "from_tier", "from_org_id", "referral_id", "court_id",
                     "court_case_no")
_DETAIL_KEYS_SQL = ", ".join(f"'{k}'" for k in EVENT_DETAIL_KEYS)


class CaseListItem(msgspec.Struct):
    dispute: CaseItem
    event: EventRef | None = None


class CaseList(msgspec.Struct):
    region: RegionRef
    month: str
    metric: str
    part: str | None
    figure: int | str
    items: list[CaseListItem]
    total: int
    next_cursor: str | None


_CASE_COLUMNS = """d.id, d.case_no, d.type, d.source, d.status, d.region_code, d.org_id, eo.kind AS entry_org_kind,
    d.tier, d.entry_tier, d.highest_tier, d.concluded_tier, d.registered_at, d.deadline, d.concluded_at,
    d.persons_involved, d.agreement_form, d.agreement_amount"""


def _case(r) -> CaseItem:
    amount = r["agreement_amount"]
    return CaseItem(
        id=r["id"], case_no=r["case_no"], type=r["type"], source=r["source"], status=r["status"],
        region_code=r["region_code"], org_id=r["org_id"], entry_org_kind=r["entry_org_kind"], tier=r["tier"],
        entry_tier=r["entry_tier"], highest_tier=r["highest_tier"], concluded_tier=r["concluded_tier"],
        registered_at=clock.local(r["registered_at"]), deadline=clock.local(r["deadline"]),
        concluded_at=clock.local(r["concluded_at"]), persons_involved=r["persons_involved"],
        agreement_form=r["agreement_form"], agreement_amount=None if amount is None else f"{amount:.2f}")


@dataclass(frozen=True)
class CaseQuery:
    region: Any
    month: Any
    metric: Any
    part: Any = None
    type: Any = None
    source: Any = None
    org_kind: Any = None
    child: Any = None


def metric_predicate(metric: str, part: str | None) -> tuple[Over, str]:
    """The predicate behind one figure: a count, or a rate's numerator or denominator."""
    if metric in COUNT_BY_KEY:
        c = COUNT_BY_KEY[metric]
        return c.over, c.where
    r = RATE_BY_KEY[metric]
    return r.over, r.denominator if part == "denominator" else f"({r.denominator} AND {r.numerator})"


async def cases(principal, q: CaseQuery, *, limit: int = 50, cursor: str | None = None) -> CaseList:
    errors = Collector()
    p = None
    try:
        p = period(q.month)
    except Invalid as e:
        errors.errors.extend(e.errors)
    metric, part = q.metric, q.part
    if metric is None:
        errors.add("metric", "is required")
    elif metric not in COUNT_BY_KEY and metric not in RATE_BY_KEY:
        errors.add("metric", "must be a count key or a rate key of the monthly statistics")
    elif metric in RATE_BY_KEY and part not in ("numerator", "denominator"):
        errors.add("part", "must be numerator or denominator for a rate")
    elif metric in COUNT_BY_KEY and part is not None:
        errors.add("part", "applies to rates only")
    for name, codes in (("type", DISPUTE_TYPES), ("source", SOURCES), ("org_kind", ORG_KINDS)):
        value = getattr(q, name)
        if value is not None and value not in codes:
            errors.add(name, "must be one of {choices}", choices=", ".join(codes))
    async with read_connection() as conn:
        scope = await readable_scope(conn, principal, q.region)
        child_prefix: str | None = None
        if q.child is not None and q.child != "unassigned":
            try:
                code12 = canonical(q.child, "child")
            except Invalid as e:
                errors.errors.extend(e.errors)
            else:
                match = [prefix for ref, prefix in scope.children if ref.code == code12]
                if not match:
                    errors.add("child", "must be a direct child region of {region} or `unassigned`", region=scope.region.code)
                else:
                    child_prefix = match[0]
        errors.raise_if_any()
        assert p is not None
        over, predicate = metric_predicate(metric, part)
        args: list = [scope.prefix + "%"]
        conds = ["d.region_code LIKE $1"]
        bounds = {}
        for name, value in (("{s}", p.start), ("{e}", p.end)):
            if name in predicate:
                args.append(value)
                bounds[name] = f"${len(args)}::timestamptz"
        conds.append(_fill(predicate, bounds.get("{s}", ""), bounds.get("{e}", "")))
        for name, column in (("type", "d.type"), ("source", "d.source"), ("org_kind", "eo.kind")):
            value = getattr(q, name)
            if value is not None:
                args.append(value)
                conds.append(f"{column} = ${len(args)}")
        if child_prefix is not None:
            args.append(child_prefix + "%")
            conds.append(f"d.region_code LIKE ${len(args)}")
        elif q.child == "unassigned":
            key = scope.child_key(args)
            conds.append(f"{key} IS NULL")
        where = " AND ".join(conds)
        joined = f"disputes d {DISPUTE_JOINS}"
        if over == "events":
            page = await keyset_page(
                conn, select=f"{_CASE_COLUMNS}, e.id AS event_id, e.seq, e.kind, e.at, e.actor, "
                             f"(SELECT coalesce(jsonb_object_agg(k, v), '{{}}') FROM jsonb_each(e.detail) AS j(k, v) "
                             f"WHERE k IN ({_DETAIL_KEYS_SQL})) AS detail",
                source=f"dispute_events e JOIN {joined} ON d.id = e.dispute_id", where=where, args=args,
                keyset=_EVENT_ORDER,
                limit=limit, cursor=cursor)
            items = [CaseListItem(dispute=_case(r), event=EventRef(
                seq=r["seq"], kind=r["kind"], at=clock.local(r["at"]), actor=r["actor"],
                detail=msgspec.json.decode(r["detail"]) if isinstance(r["detail"], str) else dict(r["detail"])))
                for r in page.rows]
        else:
            page = await keyset_page(conn, select=_CASE_COLUMNS, source=joined, where=where, args=args,
                                     keyset=newest_first("registered_at", "d"), limit=limit, cursor=cursor)
            items = [CaseListItem(dispute=_case(r)) for r in page.rows]
        figure: int | str = page.total
        if metric in COUNT_BY_KEY and COUNT_BY_KEY[metric].amount:
            cents = await conn.fetchval(
                f"SELECT coalesce(sum(coalesce(d.agreement_amount, 0) * 100), 0)::bigint FROM {joined} WHERE {where}",
                *args)
            figure = _money(cents)
    return CaseList(region=scope.region, month=p.month, metric=metric, part=part, figure=figure, items=items,
                    total=page.total, next_cursor=page.next_cursor)


# ---------------------------------------------------------------- change over time


def change(now: Fraction | None, before: Fraction | None) -> float | None:
    """环比/同比 of a count: (now − before) / before, rounded; null when before is 0."""
    if now is None or before is None or before == 0:
        return None
    return _number(rounded((now - before) / before, 4))


def _count_fraction(f: Figures, c: Count) -> Fraction:
    return Fraction(f.count(c.key), 100) if c.amount else Fraction(f.count(c.key))


def rate_change(now: Decimal | None, before: Decimal | None) -> float | None:
    """The change of a rate in percentage points as a fraction; null when either is null."""
    return None if now is None or before is None else _number(now - before)


class Changes(msgspec.Struct):
    counts: dict[str, float | None]
    rates: dict[str, float | None]


class TrendMonth(msgspec.Struct):
    month: str
    counts: dict[str, int | str]
    rates: dict[str, RateValue]
    mom: Changes
    yoy: Changes


class Trend(msgspec.Struct, kw_only=True):
    region: RegionRef
    from_: str = msgspec.field(name="from")    # `from` is a Python keyword
    to: str
    timezone: str
    generated_at: dt.datetime
    months: list[TrendMonth]


def _changes(now: Figures, before: Figures) -> Changes:
    return Changes(
        counts={c.key: change(_count_fraction(now, c), _count_fraction(before, c)) for c in COUNTS},
        rates={r.key: rate_change(now.rate_decimal(r.key), before.rate_decimal(r.key)) for r in RATES})


async def trend(principal, region: Any, start: Any, end: Any) -> Trend:
    errors = Collector()
    first = last = None
    for name, value in (("from", start), ("to", end)):
        try:
            index = month_index(*parse_month(value, name))
        except Invalid as e:
            errors.errors.extend(e.errors)
            continue
        if name == "from":
            first = index
        else:
            last = index
    if first is not None and last is not None:
        if last < first:
            errors.add("to", "must not be before `from`")
        elif last - first + 1 > MAX_TREND_MONTHS:
            errors.add("to", "a trend covers at most {max} months", max=MAX_TREND_MONTHS)
    async with read_connection() as conn:
        scope = await readable_scope(conn, principal, region)
        errors.raise_if_any()
        assert first is not None and last is not None
        return await compute_trend(conn, scope, first, last)


async def compute_trend(conn, scope: Scope, first: int, last: int) -> Trend:
    periods = [period_of_index(i) for i in range(first - 12, last + 1)]
    figures = await _figures(conn, scope, periods, ("total",), durations=False)

    def at(index: int) -> Figures:
        return figures.get((period_of_index(index).month, "total", None), _empty())

    months = []
    for i in range(first, last + 1):
        f = at(i)
        months.append(TrendMonth(month=period_of_index(i).month, counts=f.counts(), rates=f.rates(),
                                 mom=_changes(f, at(i - 1)), yoy=_changes(f, at(i - 12))))
    return Trend(region=scope.region, timezone=TIMEZONE, generated_at=clock.local(clock.now()), months=months,
                 from_=period_of_index(first).month, to=period_of_index(last).month)


# ---------------------------------------------------------------- hotspots

HOTSPOT_VILLAGES = 20
HOTSPOT_GROUP_DISPUTES = 500


class HotRegion(msgspec.Struct):
    region: RegionRef
    received: int
    resolved: int
    group_disputes_received: int
    mom: float | None
    yoy: float | None


class HotType(msgspec.Struct):
    type: str
    label: str
    received: int
    mom: float | None
    yoy: float | None


class GroupDispute(msgspec.Struct):
    id: uuid.UUID
    case_no: str
    type: str
    region_code: str
    persons_involved: int
    status: str


class Hotspots(msgspec.Struct):
    region: RegionRef
    month: str
    timezone: str
    generated_at: dt.datetime
    regions: list[HotRegion]
    villages: list[HotRegion]
    types: list[HotType]
    group_disputes: list[GroupDispute]


async def hotspots(principal, region: Any, month: Any) -> Hotspots:
    return await _for_month(principal, region, month, compute_hotspots)


async def compute_hotspots(conn, scope: Scope, p: Period) -> Hotspots:
    before, year_ago = shift(p, -1), shift(p, -12)
    figures = await _figures(conn, scope, [year_ago, before, p], (), ("child", "type", "region_code"),
                             ("received", "resolved", "group_disputes_received"))

    def received(month: str, group: str, key: Any) -> Fraction:
        return Fraction(figures.get((month, group, key), _empty()).count("received"))

    def hot(ref: RegionRef, group: str, key: Any) -> HotRegion:
        f = figures.get((p.month, group, key), _empty())
        now = received(p.month, group, key)
        return HotRegion(region=ref, received=f.count("received"), resolved=f.count("resolved"),
                         group_disputes_received=f.count("group_disputes_received"),
                         mom=change(now, received(before.month, group, key)),
                         yoy=change(now, received(year_ago.month, group, key)))

    regions = sorted((hot(ref, "child", prefix) for ref, prefix in scope.children),
                     key=lambda h: (-h.received, h.region.code))
    busy = sorted(((code, f.count("received")) for (month, group, code), f in figures.items()
                   if month == p.month and group == "region_code" and code and code[9:] != "000"
                   and f.count("received") > 0), key=lambda item: (-item[1], item[0]))[:HOTSPOT_VILLAGES]
    names = {r["code"]: r for r in await conn.fetch(
        "SELECT code, name, level FROM regions WHERE code = ANY ($1::text[])", [code for code, _ in busy])}
    villages = [hot(RegionRef(code, names[code]["name"] if code in names else code,
                              names[code]["level"] if code in names else "village"), "region_code", code)
                for code, _ in busy]
    order = list(DISPUTE_TYPES)
    types = sorted((HotType(type=t, label=DISPUTE_TYPES[t], received=int(received(p.month, "type", t)),
                            mom=change(received(p.month, "type", t), received(before.month, "type", t)),
                            yoy=change(received(p.month, "type", t), received(year_ago.month, "type", t)))
                    for t in order), key=lambda h: (-h.received, order.index(h.type)))
    where = _fill(COUNT_BY_KEY["group_disputes_received"].where, "$2::timestamptz", "$3::timestamptz")
    rows = await conn.fetch(
        f"""SELECT d.id, d.case_no, d.type, d.region_code, d.persons_involved, d.status FROM disputes d
            WHERE d.region_code LIKE $1 AND {where}
            ORDER BY d.persons_involved DESC, d.registered_at, d.id LIMIT {HOTSPOT_GROUP_DISPUTES}""",
        scope.prefix + "%", p.start, p.end)
    return Hotspots(region=scope.region, month=p.month, timezone=TIMEZONE, generated_at=clock.local(clock.now()),
                    regions=regions, villages=villages, types=types,
                    group_disputes=[GroupDispute(**dict(r)) for r in rows])
