"""Hypothesis state machines for the dispute lifecycle.

1. `DisputeMachine` drives the REAL service (`mediation.disputes.register`/`insert_dispute`
   and `transition`) against the session's PostgreSQL, valid and invalid commands alike,
   and checks after every step that the row is the replay of its stored events.

   How it runs on the one session event loop: a Hypothesis `RuleBasedStateMachine` is
   synchronous, and pytest-asyncio runs every test and the pool on one session-wide loop.
   The test below is therefore a plain *sync* test: while it runs, the session loop is
   idle (not running), so each rule hands its coroutine to that loop with
   `loop.run_until_complete(...)`. The loop is the one the pool was created on (taken from
   an async fixture), so the real pool, Piccolo transactions and signals all work as in
   production, with no second pool and no threads.

   The oracle (`Model.expect`) is written from API.md, not by calling `lifecycle`, so the
   machine checks the rules as well as the bookkeeping.

2. `PureLifecycleMachine` does the same over `mediation.lifecycle` alone (no database):
   `replay(events)` equals the folded state after every step.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace as NS

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from mediation import clock, db, dispute_views, disputes, lifecycle
from mediation.access import Principal
from mediation.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    StaleVersion,
)

NOW = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)   # 10:00 in Beijing
REGISTERED = NOW - dt.timedelta(days=20)
RANK = {"village": 1, "township": 2, "county": 3}
ORG_TIERS = {"village_a1": "village", "village_a2": "village", "village_b1": "village", "town_a": "township",
             "town_b": "township", "county_center": "county", "other_county": "village"}
CONCLUDED = ("resolved", "failed", "returned", "withdrawn", "rejected", "referred")

MACHINE_SETTINGS = settings(
    max_examples=25, stateful_step_count=15, deadline=None, derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], print_blob=True)

OFFSETS = st.sampled_from([0, 0, 1, 2, 5])  # hours after the latest move


@dataclass
class Model:
    """What API.md says the dispute should look like."""

    source: str
    org: str
    status: str = "open"
    version: int = 1
    entry_tier: str = ""
    highest_tier: str = ""
    registered_at: dt.datetime = REGISTERED
    last_move_at: dt.datetime = REGISTERED
    concluded_at: dt.datetime | None = None
    handlers: list[str] = field(default_factory=list)
    performance: str | None = None

    @property
    def tier(self) -> str:
        return ORG_TIERS[self.org]

    def time_error(self, at: dt.datetime) -> bool:
        return at > NOW + dt.timedelta(minutes=5) or at < self.registered_at or at < self.last_move_at

    def expect(self, action: str, at: dt.datetime, *, to: str | None = None, signed_at: dt.datetime | None = None,
               ) -> type[DomainError] | None:
        """The refusal API.md prescribes, checked in its order (422 for bad values, then 409)."""
        if self.time_error(at):
            return Invalid
        open_only = ("sessions", "escalate", "assign", "resolve", "fail", "withdraw", "reject")
        if action in open_only and self.status != "open":
            return Conflict
        if action in ("escalate", "assign"):
            if to == "other_county":
                return Invalid
            if action == "escalate" and RANK[ORG_TIERS[to]] <= RANK[self.tier]:
                return Invalid
            if action == "assign" and (to == self.org or RANK[ORG_TIERS[to]] > RANK[self.tier]):
                return Invalid
        if action == "resolve" and (signed_at < self.registered_at or signed_at > NOW + dt.timedelta(minutes=5)):
            return Invalid
        if action == "performance" and self.status != "resolved":
            return Conflict
        if action == "visit" and self.status == "open":
            return Conflict
        return None

    def apply(self, action: str, at: dt.datetime, *, to: str | None = None, status: str | None = None) -> None:
        self.version += 1
        if action in ("escalate", "assign"):
            self.org = to
            if RANK[self.tier] > RANK[self.highest_tier]:
                self.highest_tier = self.tier
            if to not in self.handlers:
                self.handlers.append(to)
        concluding = {"resolve": "resolved", "fail": "returned" if self.source == "court_entrusted" else "failed",
                      "withdraw": "withdrawn", "reject": "rejected"}
        if action in concluding:
            self.status = concluding[action]
            self.concluded_at = at
            if action == "resolve":
                self.performance = "pending"
        if action in ("escalate", "assign") or action in concluding:
            self.last_move_at = max(self.last_move_at, at)
        if action == "performance":
            self.performance = status


class DisputeMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    world = None
    court_id: uuid.UUID

    def __init__(self) -> None:
        super().__init__()
        self.model: Model | None = None
        self.dispute_id: uuid.UUID | None = None
        clock.freeze(NOW)

    def teardown(self) -> None:
        clock.freeze(None)

    # ------------------------------------------------------------ helpers

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def principal(self, org: str) -> Principal:
        return Principal(role="mediator", actor=f"token:m-{org}", org_id=self.world.orgs[org],
                         county_code="511324" if org == "other_county" else "511325")

    async def snapshot(self):
        async with db.connection() as conn:
            row = await conn.fetchrow("SELECT * FROM disputes WHERE id = $1", self.dispute_id)
            events = await conn.fetchval("SELECT count(*) FROM dispute_events WHERE dispute_id = $1", self.dispute_id)
            audit = await conn.fetchval("SELECT count(*) FROM audit_log WHERE dispute_id = $1", self.dispute_id)
        return dict(row), events, audit

    def attempt(self, action: str, data: NS, expected: type[DomainError] | None, *, as_org: str | None = None,
                **apply_kw) -> None:
        before = self.run(self.snapshot())
        principal = self.principal(as_org or self.model.org)
        try:
            answer = self.run(disputes.transition(principal, self.dispute_id, action, data))
        except DomainError as e:
            after = self.run(self.snapshot())
            assert expected is not None, f"{action} refused unexpectedly: {type(e).__name__}: {e.detail}"
            assert isinstance(e, expected), f"{action}: expected {expected.__name__}, got {type(e).__name__}: {e.detail}"
            if expected is Conflict:
                assert not isinstance(e, StaleVersion) or getattr(data, "version", None) is not None
            assert after == before, "a refused command changed something"
            return
        assert expected is None, f"{action} was accepted but API.md refuses it with {expected.__name__}"
        at = getattr(data, "at", None) or apply_kw.pop("default_at")
        apply_kw.pop("default_at", None)
        self.model.apply(action, at, **apply_kw)
        assert answer.version == self.model.version
        assert answer.events[-1].seq == self.model.version
        assert answer.events[-1].at == clock.local(at)

    def at(self, offset_hours: int) -> dt.datetime:
        return self.model.last_move_at + dt.timedelta(hours=offset_hours)

    # ------------------------------------------------------------ set-up

    @initialize(org=st.sampled_from(["village_a1", "village_a1", "town_a", "county_center"]),
                source=st.sampled_from(["application", "screening", "court_entrusted"]))
    def register(self, org, source):
        async def go():
            if source == "court_entrusted":
                reg = disputes.Registration(
                    org_id=self.world.orgs[org], type="contract", source=source, summary="法院委派调解",
                    parties=[dispute_views.Party("applicant", "person", "王五", None, None, None)], region_code=None,
                    registered_at=REGISTERED, occurred_on=None, amount=None, persons_involved=None, deadline=None,
                    court_id=self.court_id, court_case_no="(2026)川1325民初7号")
                async with db.transaction() as conn:
                    written = await disputes.insert_dispute(conn, self.principal(org), reg,
                                                            default_deadline=dt.timedelta(days=15))
                return written.row["id"]
            body = NS(org_id=self.world.orgs[org], type="neighbor", source=source, summary="张三与李四因宅基地边界发生纠纷",
                      parties=[NS(role="applicant", kind="person", name="张三", id_number=None, phone=None, address=None)],
                      region_code=None, registered_at=REGISTERED, occurred_on=None, amount=None,
                      persons_involved=None, deadline=None)
            return (await disputes.register(self.principal(org), body)).id

        self.dispute_id = self.run(go())
        tier = ORG_TIERS[org]
        self.model = Model(source=source, org=org, entry_tier=tier, highest_tier=tier, handlers=[org])

    # ------------------------------------------------------------ rules: the actions

    @rule(offset=OFFSETS, own_mediator=st.booleans(), give_at=st.booleans())
    def session(self, offset, own_mediator, give_at):
        held = self.at(offset)
        mediator_org = self.model.org if own_mediator else ("village_a2" if self.model.org != "village_a2" else "town_b")
        data = NS(held_at=held, method="onsite", mediator_ids=[self.world.mediators[mediator_org]],
                  summary="第二次调解，双方同意各让一步", at=held if give_at else None)
        expected = Invalid if not own_mediator else self.model.expect("sessions", held)
        self.attempt("sessions", data, expected, default_at=held)

    @rule(to=st.sampled_from(["town_a", "town_b", "county_center", "county_center", "village_a2", "other_county"]),
          offset=OFFSETS, give_at=st.sampled_from([True, True, True, False]))
    def escalate(self, to, offset, give_at):
        at = self.at(offset) if give_at else NOW
        data = NS(to_org_id=self.world.orgs[to], reason="本级难以化解", at=at if give_at else None)
        self.attempt("escalate", data, self.model.expect("escalate", at, to=to), to=to, default_at=at)

    @rule(to=st.sampled_from(list(ORG_TIERS)), offset=OFFSETS)
    def assign(self, to, offset):
        at = self.at(offset)
        data = NS(to_org_id=self.world.orgs[to], reason="分流交办到发生地", at=at)
        self.attempt("assign", data, self.model.expect("assign", at, to=to), to=to)

    @rule(offset=OFFSETS, form=st.sampled_from(["written", "oral"]),
          amount=st.one_of(st.none(), st.decimals(min_value=0, max_value=100000, places=2)))
    def resolve(self, offset, form, amount):
        signed = self.at(offset)
        data = NS(agreement=NS(form=form, terms="李四赔偿张三修缮费用", signed_at=signed, amount=amount,
                               performance_due=None), prevented=["criminal"], at=None)
        self.attempt("resolve", data, self.model.expect("resolve", signed, signed_at=signed), default_at=signed)

    @rule(offset=OFFSETS, action=st.sampled_from(["fail", "withdraw", "reject"]),
          channel=st.sampled_from([None, "litigation", "arbitration"]))
    def conclude_without_agreement(self, offset, action, channel):
        """One rule for the three, so the machine spends most steps on open disputes."""
        at = self.at(offset)
        data = NS(reason="双方分歧较大", channel=channel, at=at) if action == "fail" else NS(reason="申请人撤回申请", at=at)
        self.attempt(action, data, self.model.expect(action, at))

    @rule(offset=OFFSETS, status=st.sampled_from(["performed", "partial", "breached"]))
    def performance(self, offset, status):
        checked = self.at(offset)
        self.attempt("performance", NS(status=status, checked_at=checked, at=None),
                     self.model.expect("performance", checked), status=status, default_at=checked)

    @rule(offset=OFFSETS, satisfaction=st.sampled_from(["satisfied", "basically_satisfied", "dissatisfied"]))
    def visit(self, offset, satisfaction):
        at = self.at(offset)
        self.attempt("visit", NS(satisfaction=satisfaction, at=at, note="电话回访"), self.model.expect("visit", at))

    # ------------------------------------------------------------ rules: refusals on purpose

    @rule(delta=st.sampled_from([-1, 1, 5]))
    def stale_version(self, delta):
        version = self.model.version + delta
        if version < 1:
            version = self.model.version + 1
        at = self.model.last_move_at
        data = NS(reason="撤回", at=at, version=version)
        self.attempt("withdraw", data, StaleVersion)

    @rule(action=st.sampled_from(["withdraw", "reject", "fail"]),
          when=st.sampled_from(["before_registration", "before_move", "future"]))
    def bad_business_time(self, action, when):
        if when == "before_registration":
            at = self.model.registered_at - dt.timedelta(minutes=1)
        elif when == "before_move":
            at = self.model.last_move_at - dt.timedelta(seconds=1)
        else:
            at = NOW + dt.timedelta(minutes=5, seconds=1)
        self.attempt(action, NS(reason="补录", at=at, version=self.model.version), self.model.expect(action, at))

    @rule(current_version=st.booleans())
    def right_version_is_accepted(self, current_version):
        at = self.model.last_move_at
        data = NS(satisfaction="satisfied", at=at, version=self.model.version if current_version else None)
        self.attempt("visit", data, self.model.expect("visit", at))

    @rule(who=st.sampled_from(list(ORG_TIERS)))
    def another_org_acts(self, who):
        if who == self.model.org:
            return
        expected = Forbidden if who in self.model.handlers else NotFound
        self.attempt("withdraw", NS(reason="越权", at=self.model.last_move_at), expected, as_org=who)

    # ------------------------------------------------------------ invariants

    @invariant()
    def row_is_the_replay_of_its_events(self):
        if self.dispute_id is None:
            return

        async def load():
            row, events = await disputes.events_of(self.dispute_id)
            async with db.connection() as conn:
                full = await conn.fetchrow("SELECT * FROM disputes WHERE id = $1", self.dispute_id)
                seqs = [r["seq"] for r in await conn.fetch(
                    "SELECT seq FROM dispute_events WHERE dispute_id = $1 ORDER BY seq", self.dispute_id)]
            return row, events, full, seqs

        row, events, full, seqs = self.run(load())
        state = lifecycle.replay(events, row["county_code"])
        agreement = json.loads(full["agreement"]) if full["agreement"] is not None else None
        assert {
            "status": full["status"], "org_id": full["org_id"], "tier": full["tier"],
            "entry_tier": full["entry_tier"], "highest_tier": full["highest_tier"],
            "concluded_tier": full["concluded_tier"], "concluded_at": full["concluded_at"],
            "last_move_at": full["last_move_at"], "registered_at": full["registered_at"],
            "version": full["version"], "handler_org_ids": tuple(full["handler_org_ids"]),
            "performance": full["performance"], "prevented": tuple(full["prevented"]), "agreement": agreement,
            "source": full["source"],
        } == {
            "status": state.status, "org_id": state.org_id, "tier": state.tier, "entry_tier": state.entry_tier,
            "highest_tier": state.highest_tier, "concluded_tier": state.concluded_tier,
            "concluded_at": state.concluded_at, "last_move_at": state.last_move_at,
            "registered_at": state.registered_at, "version": state.version,
            "handler_org_ids": state.handler_org_ids, "performance": state.performance,
            "prevented": state.prevented, "agreement": state.agreement, "source": state.source,
        }
        assert full["version"] == len(events)
        assert seqs == list(range(1, len(events) + 1))
        # the columns the statistics read
        assert (full["concluded_at"] is None) == (full["status"] == "open")
        assert (full["concluded_tier"] is None) == (full["status"] == "open")
        assert RANK[full["highest_tier"]] >= RANK[full["tier"]]
        assert RANK[full["highest_tier"]] >= RANK[full["entry_tier"]]
        if full["agreement"] is not None:
            assert full["agreement_form"] == agreement["form"]
            assert full["agreement_amount"] == (None if agreement["amount"] is None else Decimal(agreement["amount"]))
        # and the independent model
        m = self.model
        assert (full["status"], full["version"], full["org_id"], full["tier"], full["entry_tier"],
                full["highest_tier"], full["concluded_at"], full["last_move_at"], full["performance"]) == (
            m.status, m.version, self.world.orgs[m.org], m.tier, m.entry_tier, m.highest_tier, m.concluded_at,
            m.last_move_at, m.performance)
        assert list(full["handler_org_ids"]) == [self.world.orgs[o] for o in m.handlers]


@pytest.fixture
async def court_id(pool, world):
    cid = uuid.uuid4()
    async with db.connection() as conn:
        await conn.execute("INSERT INTO courts (id, name, code, region_code) VALUES ($1, $2, $3, $4)",
                           cid, "西充县人民法院", "川1325", "511325000000")
    return cid


def test_dispute_lifecycle_over_the_real_database(session_loop, world, court_id):
    DisputeMachine.loop = session_loop
    DisputeMachine.world = world
    DisputeMachine.court_id = court_id
    try:
        run_state_machine_as_test(DisputeMachine, settings=MACHINE_SETTINGS)
    finally:
        clock.freeze(None)


# ---------------------------------------------------------------- pure machine

UTC = dt.UTC
P_NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
P_REG = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
P_ORGS = [lifecycle.OrgRef(uuid.UUID(int=i), tier, "511325") for i, tier in
          enumerate(["village", "village", "township", "township", "county"], start=1)]


class PureLifecycleMachine(RuleBasedStateMachine):
    """Any sequence of commands, allowed or refused: refusals leave the state as it was,
    accepted ones add exactly one event, and replaying the events gives the state."""

    @initialize(org=st.sampled_from(P_ORGS), source=st.sampled_from(["application", "court_entrusted", "hotline"]))
    def start(self, org, source):
        self.state, event = lifecycle.register(lifecycle.Register(org, source, P_REG), P_NOW, "511325")
        self.events = [event]

    def apply(self, command, at):
        try:
            event = lifecycle.decide(self.state, command, at=at, now=P_NOW)
        except (Conflict, Invalid):
            return
        old = self.state
        self.state = lifecycle.evolve(self.state, event)
        self.events.append(event)
        assert self.state.version == old.version + 1

    @rule(hours=st.integers(-2, 30 * 24), data=st.data())
    def command(self, hours, data):
        at = P_REG + dt.timedelta(hours=hours)
        command = data.draw(st.sampled_from([
            lifecycle.RecordSession(at, "phone", (uuid.UUID(int=9),), "电话调解"),
            lifecycle.Escalate(data.draw(st.sampled_from(P_ORGS)), "上移"),
            lifecycle.Assign(data.draw(st.sampled_from(P_ORGS)), "交办"),
            lifecycle.Resolve(lifecycle.Agreement("written", "协议", at, Decimal("10.5"))),
            lifecycle.Fail("不成"), lifecycle.Withdraw("撤回"), lifecycle.Reject("不受理"),
            lifecycle.RecordPerformance("performed", at), lifecycle.RecordVisit("satisfied"),
            lifecycle.Refer(uuid.UUID(int=70), "起诉", uuid.UUID(int=71)),
            lifecycle.ApplyConfirmation(uuid.UUID(int=70), uuid.UUID(int=72)),
            lifecycle.DecideReferral(uuid.UUID(int=72), "confirmation", "confirmed", "(2026)川1325民特1号"),
        ]))
        self.apply(command, at)

    @invariant()
    def replay_matches(self):
        assert lifecycle.replay(self.events, "511325") == self.state
        s = self.state
        assert s.version == len(self.events)
        assert (s.concluded_at is None) == (s.status == "open") == (s.concluded_tier is None)
        assert RANK[s.highest_tier] >= max(RANK[s.tier], RANK[s.entry_tier])
        moves = [e.at for e in self.events if e.kind in lifecycle.MOVE_EVENT_KINDS]
        assert s.last_move_at == max([P_REG, *moves])
        assert moves == sorted(moves), "moves are recorded in business-time order"


def test_pure_lifecycle_machine():
    run_state_machine_as_test(PureLifecycleMachine, settings=settings(
        max_examples=60, stateful_step_count=20, deadline=None, derandomize=bool(os.environ.get("CI"))))
