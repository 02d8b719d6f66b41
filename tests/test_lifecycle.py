"""The dispute lifecycle as pure rules (mediation.lifecycle), no database.

Every command is tried in every status: the ones API.md allows give the event it names,
the others are refused with 409 (Conflict) or, for bad values, 422 (Invalid) naming the
field. The business-time rules and the columns `evolve` maintains are pinned here too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from mediation import lifecycle as lc
from mediation import clock, workdays
from mediation.codes import STATUSES
from mediation.errors import Conflict, Invalid

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
REG = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
COUNTY = "511325"

VILLAGE = lc.OrgRef(uuid.UUID(int=1), "village", COUNTY)
VILLAGE_2 = lc.OrgRef(uuid.UUID(int=2), "village", COUNTY)
TOWN = lc.OrgRef(uuid.UUID(int=3), "township", COUNTY)
TOWN_2 = lc.OrgRef(uuid.UUID(int=4), "township", COUNTY)
CENTER = lc.OrgRef(uuid.UUID(int=5), "county", COUNTY)
OTHER_COUNTY_CENTER = lc.OrgRef(uuid.UUID(int=6), "county", "511324")
OTHER_COUNTY_VILLAGE = lc.OrgRef(uuid.UUID(int=7), "village", "511324")


def fresh(org: lc.OrgRef = VILLAGE, source: str = "application", at: dt.datetime = REG) -> lc.DisputeState:
    state, _ = lc.register(lc.Register(org=org, source=source, registered_at=at), NOW, COUNTY)
    return state


def agreement(form: str = "written", signed_at: dt.datetime = REG + dt.timedelta(days=3),
              amount: Decimal | None = Decimal(3000)) -> lc.Agreement:
    return lc.Agreement(form=form, terms="李四赔偿张三三千元", signed_at=signed_at, amount=amount,
                        performance_due=dt.date(2026, 7, 1))


def step(state: lc.DisputeState, command, at: dt.datetime | None = None, now: dt.datetime = NOW):
    at, at_field = lc.business_time(state, command, at, now)
    event = lc.decide(state, command, at=at, now=now, at_field=at_field)
    return lc.evolve(state, event), event


def in_status(status: str, *, source: str = "application", form: str = "written") -> lc.DisputeState:
    """A dispute registered at REG at a village committee, brought to `status` one day later."""
    state = fresh(source=source)
    at = REG + dt.timedelta(days=1)
    commands = {
        "open": None,
        "resolved": lc.Resolve(agreement(form=form, signed_at=at)),
        "failed": lc.Fail("双方分歧较大", "litigation"),
        "returned": lc.Fail("调解不成，退回法院"),
        "referred": lc.Refer(uuid.UUID(int=99), "当事人要求起诉", uuid.UUID(int=98)),
        "withdrawn": lc.Withdraw("申请人撤回"),
        "rejected": lc.Reject("不属于人民调解范围"),
    }
    if status == "returned":
        state = fresh(source="court_entrusted")
    command = commands[status]
    if command is not None:
        state, _ = step(state, command, at=at)
    assert state.status == status
    return state


SESSION = lc.RecordSession(held_at=REG + dt.timedelta(days=2), method="onsite",
                           mediator_ids=(uuid.UUID(int=50),), summary="第一次调解")
#: command → (allowed statuses, event kind in an application dispute)
OPEN_ONLY = {
    "sessions": (SESSION, "session"),
    "escalate": (lc.Escalate(TOWN, "村里调不了"), "escalated"),
    "assign": (lc.Assign(VILLAGE_2, "交办到发生地"), "assigned"),
    "resolve": (lc.Resolve(agreement(signed_at=REG + dt.timedelta(days=2))), "resolved"),
    "fail": (lc.Fail("调解不成", "arbitration"), "failed"),
    "withdraw": (lc.Withdraw("撤回"), "withdrawn"),
    "reject": (lc.Reject("不予受理"), "rejected"),
    "refer": (lc.Refer(uuid.UUID(int=99), "起诉", uuid.UUID(int=98)), "referred"),
}
AT = REG + dt.timedelta(days=2)


# ---------------------------------------------------------------- registration

def test_register_gives_the_first_event_and_an_open_state_at_the_entry_tier():
    state, event = lc.register(lc.Register(org=TOWN, source="screening", registered_at=REG), NOW, COUNTY)
    assert event == lc.Event("registered", REG, TOWN.id, "township", {"source": "screening"})
    assert state == lc.DisputeState(
        status="open", org_id=TOWN.id, tier="township", entry_tier="township", highest_tier="township",
        registered_at=REG, last_move_at=REG, source="screening", county_code=COUNTY, version=1,
        concluded_tier=None, concluded_at=None, handler_org_ids=(TOWN.id,), agreement=None, performance=None,
        prevented=(), pending_confirmation=False)


def test_register_court_entrusted_records_an_entrusted_event():
    state, event = lc.register(lc.Register(org=VILLAGE, source="court_entrusted", registered_at=REG), NOW, COUNTY)
    assert event.kind == "entrusted"
    assert state.source == "court_entrusted"


def test_registration_accepts_five_minutes_of_clock_skew_and_refuses_more():
    """Checked once, with the registration's other fields (no database needed)."""
    from types import SimpleNamespace

    from mediation import clock, disputes

    body = dict(org_id=uuid.uuid4(), type="neighbor", source="application", summary="x",
                parties=[SimpleNamespace(role="applicant", kind="person", name="王五")])
    clock.freeze(NOW)
    try:
        disputes.validate_registration(SimpleNamespace(**body, registered_at=NOW + clock.SKEW))
        with pytest.raises(Invalid) as e:
            disputes.validate_registration(SimpleNamespace(
                **body, registered_at=NOW + clock.SKEW + dt.timedelta(seconds=1)))
    finally:
        clock.freeze(None)
    assert [(f.field, f.message) for f in e.value.errors] == [("registered_at", "must not be in the future")]


# ---------------------------------------------------------------- open-only commands

@pytest.mark.parametrize("action", list(OPEN_ONLY))
def test_open_only_command_records_its_event_while_open(action):
    command, kind = OPEN_ONLY[action]
    state = fresh()
    event = lc.decide(state, command, at=AT, now=NOW)
    assert event.kind == kind
    assert event.at == AT


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "open"])
@pytest.mark.parametrize("action", list(OPEN_ONLY))
def test_open_only_command_is_refused_with_conflict_once_concluded(action, status):
    command, _ = OPEN_ONLY[action]
    state = in_status(status)
    with pytest.raises(Conflict) as e:
        lc.decide(state, command, at=REG + dt.timedelta(days=3), now=NOW)
    assert f"the dispute is {status}, not open" in e.value.detail


def test_fail_on_a_court_entrusted_dispute_returns_it_to_the_court():
    state = fresh(source="court_entrusted")
    new, event = step(state, lc.Fail("调解不成", "litigation"), at=AT)
    assert event == lc.Event("returned", AT, VILLAGE.id, "village", {"reason": "调解不成", "channel": "litigation"})
    assert new.status == "returned"
    assert new.concluded_at == AT
    assert new.concluded_tier == "village"


def test_fail_on_an_ordinary_dispute_fails_it():
    new, event = step(fresh(source="police"), lc.Fail("调解不成"), at=AT)
    assert event.kind == "failed"
    assert event.detail == {"reason": "调解不成", "channel": None}
    assert new.status == "failed"


def test_refer_is_refused_for_a_court_entrusted_dispute():
    with pytest.raises(Conflict) as e:
        lc.decide(fresh(source="court_entrusted"), OPEN_ONLY["refer"][0], at=AT, now=NOW)
    assert "court-entrusted" in e.value.detail


def test_refer_records_the_referral_and_concludes_as_referred():
    referral, court = uuid.UUID(int=98), uuid.UUID(int=99)
    new, event = step(fresh(), lc.Refer(court, "当事人要求起诉", referral), at=AT)
    assert event.detail == {"referral_id": str(referral), "court_id": str(court), "reason": "当事人要求起诉"}
    assert (new.status, new.concluded_at, new.concluded_tier) == ("referred", AT, "village")


def test_session_event_carries_the_record_and_does_not_move_the_dispute():
    state = fresh()
    new, event = step(state, SESSION)
    assert event == lc.Event("session", SESSION.held_at, VILLAGE.id, "village", {
        "held_at": SESSION.held_at.isoformat(), "method": "onsite",
        "mediator_ids": [str(uuid.UUID(int=50))], "summary": "第一次调解"})
    assert new.status == "open"
    assert new.last_move_at == REG  # a session is not a move: later sessions may be back-dated before it
    assert new.version == 2


def test_withdraw_and_reject_conclude_with_their_status():
    for command, status in ((lc.Withdraw("撤回"), "withdrawn"), (lc.Reject("不受理"), "rejected")):
        new, event = step(fresh(), command, at=AT)
        assert event.detail == {"reason": command.reason}
        assert (new.status, new.concluded_at, new.concluded_tier, new.performance) == (status, AT, "village", None)


# ---------------------------------------------------------------- escalate / assign

def test_escalate_moves_to_a_strictly_higher_tier_and_names_the_origin():
    new, event = step(fresh(), lc.Escalate(TOWN, "村里调不了"), at=AT)
    assert event == lc.Event("escalated", AT, TOWN.id, "township", {
        "from_org_id": str(VILLAGE.id), "from_tier": "village", "reason": "村里调不了"})
    assert (new.org_id, new.tier, new.entry_tier, new.highest_tier) == (TOWN.id, "township", "village", "township")
    assert new.handler_org_ids == (VILLAGE.id, TOWN.id)
    assert new.status == "open"
    assert new.last_move_at == AT


def test_escalate_may_skip_a_tier():
    new, _ = step(fresh(), lc.Escalate(CENTER, "重大纠纷"), at=AT)
    assert (new.tier, new.highest_tier) == ("county", "county")


@pytest.mark.parametrize("start,to", [(VILLAGE, VILLAGE_2), (TOWN, TOWN_2), (TOWN, VILLAGE), (CENTER, TOWN),
                                      (CENTER, CENTER)])
def test_escalate_refuses_the_same_or_a_lower_tier(start, to):
    with pytest.raises(Invalid) as e:
        lc.decide(fresh(org=start), lc.Escalate(to, "x"), at=AT, now=NOW)
    assert [(f.field, f.message) for f in e.value.errors] == [("to_org_id", f"must be of a higher tier than {start.tier}")]


def test_escalate_refuses_an_org_of_another_county():
    with pytest.raises(Invalid) as e:
        lc.decide(fresh(), lc.Escalate(OTHER_COUNTY_CENTER, "x"), at=AT, now=NOW)
    assert [f.field for f in e.value.errors] == ["to_org_id"]
    assert "county" in e.value.errors[0].message


@pytest.mark.parametrize("start,to", [(CENTER, TOWN), (CENTER, VILLAGE), (TOWN, VILLAGE), (TOWN, TOWN_2),
                                      (VILLAGE, VILLAGE_2)])
def test_assign_moves_to_the_same_or_a_lower_tier(start, to):
    new, event = step(fresh(org=start), lc.Assign(to, "分流交办"), at=AT)
    assert event == lc.Event("assigned", AT, to.id, to.tier, {
        "from_org_id": str(start.id), "from_tier": start.tier, "reason": "分流交办"})
    assert (new.org_id, new.tier, new.entry_tier, new.highest_tier) == (to.id, to.tier, start.tier, start.tier)
    assert new.status == "open"


@pytest.mark.parametrize("start,to", [(VILLAGE, TOWN), (VILLAGE, CENTER), (TOWN, CENTER)])
def test_assign_refuses_a_higher_tier(start, to):
    with pytest.raises(Invalid) as e:
        lc.decide(fresh(org=start), lc.Assign(to, "x"), at=AT, now=NOW)
    assert [(f.field, f.message) for f in e.value.errors] == [
        ("to_org_id", f"must be of the same or a lower tier than {start.tier}")]


def test_assign_refuses_the_org_already_holding_the_dispute():
    with pytest.raises(Invalid) as e:
        lc.decide(fresh(org=TOWN), lc.Assign(TOWN, "x"), at=AT, now=NOW)
    assert [(f.field, f.message) for f in e.value.errors] == [("to_org_id", "the dispute is already at this organisation")]


def test_assign_refuses_an_org_of_another_county():
    with pytest.raises(Invalid) as e:
        lc.decide(fresh(org=CENTER), lc.Assign(OTHER_COUNTY_VILLAGE, "x"), at=AT, now=NOW)
    assert [f.field for f in e.value.errors] == ["to_org_id"]


def test_highest_tier_remembers_the_climb_after_an_assignment_down():
    state = fresh()
    state, _ = step(state, lc.Escalate(CENTER, "上移"), at=REG + dt.timedelta(days=1))
    state, _ = step(state, lc.Assign(TOWN, "交办"), at=REG + dt.timedelta(days=2))
    state, _ = step(state, lc.Assign(VILLAGE, "交办回村"), at=REG + dt.timedelta(days=3))
    assert (state.org_id, state.tier, state.entry_tier, state.highest_tier) == (VILLAGE.id, "village", "village", "county")
    assert state.handler_org_ids == (VILLAGE.id, CENTER.id, TOWN.id)  # each handler once, in order
    state, _ = step(state, lc.Resolve(agreement(signed_at=REG + dt.timedelta(days=4))))
    assert (state.concluded_tier, state.concluded_at) == ("village", REG + dt.timedelta(days=4))
    assert state.version == 5


# ---------------------------------------------------------------- resolve, performance, visit

def test_resolve_records_the_agreement_with_money_as_two_decimal_text():
    signed = REG + dt.timedelta(days=2)
    new, event = step(fresh(), lc.Resolve(agreement(signed_at=signed), prevented=("criminal", "group_petition")))
    assert event.at == signed  # `at` defaults to the agreement's signed_at
    assert event.detail == {
        "agreement": {"form": "written", "terms": "李四赔偿张三三千元", "signed_at": signed.isoformat(),
                      "amount": "3000.00", "performance_due": "2026-07-01"},
        "prevented": ["criminal", "group_petition"]}
    assert new.status == "resolved"
    assert new.concluded_at == signed
    assert new.concluded_tier == "village"
    assert new.performance == "pending"
    assert new.prevented == ("criminal", "group_petition")
    assert new.agreement == event.detail["agreement"]


def test_resolve_without_an_amount_stores_null():
    _, event = step(fresh(), lc.Resolve(agreement(form="oral", amount=None, signed_at=AT)))
    assert event.detail["agreement"]["amount"] is None


def test_resolve_with_an_explicit_at_concludes_at_that_time():
    signed = REG + dt.timedelta(days=2)
    at = REG + dt.timedelta(days=3)
    new, event = step(fresh(), lc.Resolve(agreement(signed_at=signed)), at=at)
    assert (event.at, new.concluded_at) == (at, at)


def test_resolve_refuses_an_agreement_signed_before_registration_or_in_the_future():
    for signed, message in ((REG - dt.timedelta(seconds=1), "must not be before the dispute was registered"),
                            (NOW + dt.timedelta(minutes=6), "must not be in the future")):
        with pytest.raises(Invalid) as e:
            lc.decide(fresh(), lc.Resolve(agreement(signed_at=signed)), at=AT, now=NOW)
        assert [(f.field, f.message) for f in e.value.errors] == [("agreement.signed_at", message)]


@pytest.mark.parametrize("status", list(STATUSES))
def test_performance_is_recorded_only_on_resolved_disputes(status):
    state = in_status(status)
    command = lc.RecordPerformance("partial", REG + dt.timedelta(days=5))
    if status == "resolved":
        new, event = step(state, command)
        assert event == lc.Event("performance", REG + dt.timedelta(days=5), VILLAGE.id, "village", {
            "status": "partial", "checked_at": (REG + dt.timedelta(days=5)).isoformat()})
        assert (new.status, new.performance, new.version) == ("resolved", "partial", state.version + 1)
        assert new.last_move_at == state.last_move_at
    else:
        with pytest.raises(Conflict):
            lc.decide(state, command, at=REG + dt.timedelta(days=5), now=NOW)


@pytest.mark.parametrize("status", list(STATUSES))
def test_visit_is_recorded_only_after_the_dispute_concluded(status):
    state = in_status(status)
    command = lc.RecordVisit("basically_satisfied")
    if status == "open":
        with pytest.raises(Conflict) as e:
            lc.decide(state, command, at=NOW, now=NOW)
        assert "only after the dispute concluded" in e.value.detail
    else:
        new, event = step(state, command)
        assert event == lc.Event("visit", NOW, VILLAGE.id, "village", {"satisfaction": "basically_satisfied"})
        assert (new.status, new.version, new.concluded_at) == (status, state.version + 1, state.concluded_at)


# ---------------------------------------------------------------- judicial confirmation

APPLY = lc.ApplyConfirmation(court_id=uuid.UUID(int=99), referral_id=uuid.UUID(int=97))


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "resolved"])
def test_confirmation_is_refused_unless_resolved(status):
    with pytest.raises(Conflict):
        lc.decide(in_status(status), APPLY, at=NOW, now=NOW)


def test_confirmation_is_refused_for_an_oral_agreement():
    with pytest.raises(Conflict) as e:
        lc.decide(in_status("resolved", form="oral"), APPLY, at=REG + dt.timedelta(days=2), now=NOW)
    assert "written agreement" in e.value.detail


def test_confirmation_window_is_thirty_days_from_signed_at_by_the_rule_on_periods():
    state = in_status("resolved")  # signed at REG + 1 day
    signed = REG + dt.timedelta(days=1)
    last = workdays.end_of_day(workdays.local_date(signed) + dt.timedelta(days=30))  # no calendar: calendar days
    later_now = last + dt.timedelta(days=10)
    event = lc.decide(state, APPLY, at=last, now=later_now)  # back-dated to the period's last moment: allowed
    assert event == lc.Event("confirmation_applied", last, VILLAGE.id, "village", {
        "referral_id": str(APPLY.referral_id), "court_id": str(APPLY.court_id)})
    with pytest.raises(Conflict) as e:
        lc.decide(state, APPLY, at=last + dt.timedelta(microseconds=1), now=later_now)
    assert "within 30 days" in e.value.detail
    # a calendar that makes the last day a holiday moves the end to the next working day
    holiday = workdays.Calendar.of({last.year}, [workdays.CalendarDay(last.date(), "holiday", "假想假日")])
    moved = dataclasses.replace(APPLY, calendar=holiday)
    assert lc.decide(state, moved, at=last + dt.timedelta(hours=1), now=later_now).kind == "confirmation_applied"


def test_confirmation_is_refused_while_one_is_pending_and_allowed_again_after_the_decision():
    state = in_status("resolved")
    at = REG + dt.timedelta(days=2)
    state, _ = step(state, APPLY, at=at)
    assert state.pending_confirmation is True
    with pytest.raises(Conflict) as e:
        lc.decide(state, APPLY, at=at, now=NOW)
    assert "already pending" in e.value.detail
    decision = lc.DecideReferral(APPLY.referral_id, "confirmation", "rejected", "(2026)川1325民特12号")
    state, event = step(state, decision, at=at + dt.timedelta(days=1))
    assert event.detail == {"referral_id": str(APPLY.referral_id), "kind": "confirmation",
                            "decision": "rejected", "court_case_no": "(2026)川1325民特12号"}
    assert state.pending_confirmation is False
    assert state.status == "resolved"
    lc.decide(state, APPLY, at=at + dt.timedelta(days=2), now=NOW)


def test_a_litigation_decision_does_not_clear_a_pending_confirmation():
    state, _ = step(in_status("resolved"), APPLY, at=REG + dt.timedelta(days=2))
    state, _ = step(state, lc.DecideReferral(uuid.UUID(int=5), "litigation", "filed", "(2026)川1325民初1号"),
                    at=REG + dt.timedelta(days=3))
    assert state.pending_confirmation is True


# ---------------------------------------------------------------- business time

def _at_error(exc: Invalid) -> tuple[str, str]:
    assert len(exc.errors) == 1
    return exc.errors[0].field, exc.errors[0].message


@pytest.mark.parametrize("action", list(OPEN_ONLY))
def test_at_may_run_five_minutes_ahead_of_the_clock_but_no_more(action):
    command, _ = OPEN_ONLY[action]
    lc.decide(fresh(), command, at=NOW + clock.SKEW, now=NOW)
    with pytest.raises(Invalid) as e:
        lc.decide(fresh(), command, at=NOW + clock.SKEW + dt.timedelta(seconds=1), now=NOW)
    assert _at_error(e.value) == ("at", "must not be in the future")


@pytest.mark.parametrize("action", list(OPEN_ONLY))
def test_at_must_not_precede_registration(action):
    command, _ = OPEN_ONLY[action]
    lc.decide(fresh(), lc.Withdraw("x"), at=REG, now=NOW)  # exactly at registration: allowed
    with pytest.raises(Invalid) as e:
        lc.decide(fresh(), command, at=REG - dt.timedelta(seconds=1), now=NOW)
    assert _at_error(e.value) == ("at", "must not be before the dispute was registered")


@pytest.mark.parametrize("move", ["escalate", "assign"])
def test_at_must_not_precede_the_latest_move(move):
    state = fresh(org=TOWN)
    moved_at = REG + dt.timedelta(days=5)
    command = lc.Escalate(CENTER, "x") if move == "escalate" else lc.Assign(VILLAGE, "x")
    state, _ = step(state, command, at=moved_at)
    assert state.last_move_at == moved_at
    for later in (lc.Withdraw("x"), lc.Reject("x"), lc.Fail("x"), SESSION):
        with pytest.raises(Invalid) as e:
            lc.decide(state, later, at=moved_at - dt.timedelta(seconds=1), now=NOW)
        field, message = _at_error(e.value)
        assert field == "at"
        assert message.startswith("must not be before the dispute's latest move")
        lc.decide(state, later, at=moved_at, now=NOW)  # the same instant is fine


def test_the_concluding_event_bounds_later_performance_and_visits():
    resolved_at = REG + dt.timedelta(days=4)
    state, _ = step(fresh(), lc.Resolve(agreement(signed_at=resolved_at)))
    with pytest.raises(Invalid) as e:
        lc.decide(state, lc.RecordVisit("satisfied"), at=resolved_at - dt.timedelta(hours=1), now=NOW)
    assert _at_error(e.value)[0] == "at"
    with pytest.raises(Invalid):
        lc.decide(state, lc.RecordPerformance("performed", resolved_at - dt.timedelta(hours=1)),
                  at=resolved_at - dt.timedelta(hours=1), now=NOW)


def test_sessions_and_visits_do_not_raise_the_back_dating_floor():
    state = fresh()
    state, _ = step(state, lc.RecordSession(REG + dt.timedelta(days=6), "phone", (uuid.UUID(int=50),), "电话"))
    earlier = lc.RecordSession(REG + dt.timedelta(days=2), "onsite", (uuid.UUID(int=50),), "补录")
    state, event = step(state, earlier)
    assert event.at == REG + dt.timedelta(days=2)
    assert state.last_move_at == REG


def test_business_time_is_checked_before_the_status():
    """A refused command with two faults names the time first (422 before 409 in API.md)."""
    with pytest.raises(Invalid):
        lc.decide(in_status("failed"), lc.Withdraw("x"), at=NOW + dt.timedelta(hours=1), now=NOW)


def test_default_business_times_and_the_field_they_come_from():
    state = fresh()
    assert lc.business_time(state, SESSION, None, NOW) == (SESSION.held_at, "held_at")
    resolve = lc.Resolve(agreement(signed_at=AT))
    assert lc.business_time(state, resolve, None, NOW) == (AT, "agreement.signed_at")
    assert lc.business_time(state, lc.RecordPerformance("performed", AT), None, NOW) == (AT, "checked_at")
    for command in (lc.Withdraw("x"), lc.Reject("x"), lc.Fail("x"), lc.Escalate(TOWN, "x"), lc.RecordVisit("satisfied")):
        assert lc.business_time(state, command, None, NOW) == (NOW, "at")
    assert lc.business_time(state, resolve, NOW, NOW) == (NOW, "at")  # a given `at` wins


def test_a_future_agreement_is_refused_once_naming_signed_at():
    future = NOW + dt.timedelta(hours=1)
    with pytest.raises(Invalid) as e:
        step(fresh(), lc.Resolve(agreement(signed_at=future)))
    assert [(f.field, f.message) for f in e.value.errors] == [("agreement.signed_at", "must not be in the future")]


# ---------------------------------------------------------------- evolve and replay

def test_every_event_adds_one_to_the_version():
    state = fresh(org=TOWN)
    assert state.version == 1
    commands = [
        (SESSION, None),
        (lc.Assign(VILLAGE, "x"), REG + dt.timedelta(days=3)),
        (lc.Escalate(CENTER, "x"), REG + dt.timedelta(days=4)),
        (lc.Resolve(agreement(signed_at=REG + dt.timedelta(days=5))), None),
        (lc.RecordPerformance("breached", REG + dt.timedelta(days=6)), None),
        (lc.RecordVisit("dissatisfied"), REG + dt.timedelta(days=7)),
        (APPLY, REG + dt.timedelta(days=7)),
        (lc.AcknowledgeReferral(APPLY.referral_id, None), REG + dt.timedelta(days=8)),
    ]
    events = [lc.Event("registered", REG, TOWN.id, "township", {"source": "application"})]
    for i, (command, at) in enumerate(commands, start=2):
        state, event = step(state, command, at=at)
        events.append(event)
        assert state.version == i
    assert lc.replay(events, COUNTY) == state
    assert (state.entry_tier, state.highest_tier, state.concluded_tier, state.tier) == (
        "township", "county", "county", "county")
    assert state.performance == "breached"
    assert state.concluded_at == REG + dt.timedelta(days=5)


def test_concluded_at_and_tier_are_set_only_by_the_concluding_event():
    state = fresh()
    state, _ = step(state, lc.Escalate(TOWN, "x"), at=AT)
    assert (state.concluded_at, state.concluded_tier) == (None, None)
    state, _ = step(state, lc.Reject("x"), at=AT + dt.timedelta(hours=1))
    assert (state.concluded_at, state.concluded_tier) == (AT + dt.timedelta(hours=1), "township")
    state, _ = step(state, lc.RecordVisit("satisfied"), at=AT + dt.timedelta(hours=2))
    assert (state.concluded_at, state.concluded_tier) == (AT + dt.timedelta(hours=1), "township")


def test_replay_of_the_registration_alone_is_the_registered_state():
    state, event = lc.register(lc.Register(org=CENTER, source="hotline", registered_at=REG), NOW, COUNTY)
    assert lc.replay([event], COUNTY) == state


# ---------------------------------------------------------------- stated times inside the command

def test_a_session_held_in_the_future_or_before_registration_is_refused_even_with_an_explicit_at():
    for held, message in ((NOW + dt.timedelta(days=30), "must not be in the future"),
                          (REG - dt.timedelta(days=1), "must not be before the dispute was registered")):
        command = lc.RecordSession(held, "onsite", (uuid.UUID(int=50),), "x")
        with pytest.raises(Invalid) as e:
            lc.decide(fresh(), command, at=AT, now=NOW)
        assert _at_error(e.value) == ("held_at", message)


def test_performance_checked_in_the_future_or_before_registration_is_refused_even_with_an_explicit_at():
    state = in_status("resolved")
    for checked, message in ((NOW + dt.timedelta(days=30), "must not be in the future"),
                             (REG - dt.timedelta(days=1), "must not be before the dispute was registered")):
        with pytest.raises(Invalid) as e:
            lc.decide(state, lc.RecordPerformance("performed", checked), at=REG + dt.timedelta(days=2), now=NOW)
        assert _at_error(e.value) == ("checked_at", message)
