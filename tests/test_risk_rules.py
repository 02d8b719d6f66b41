"""Risk levels as pure rules (no database): each reason raises exactly its level, a
person's higher assessment wins, a lower one is recorded but the rules' level shows,
overdue follows the injected clock, and when a warning last rose."""

from __future__ import annotations

import datetime as dt

import pytest

from mediation import clock, risk
from mediation.risk import Assessment, Change, Facts, assess, reached_at

REG = dt.datetime(2026, 3, 2, 9, 0, tzinfo=clock.TZ)
DEADLINE = REG + dt.timedelta(days=30)
NOW = REG + dt.timedelta(days=3)


def facts(**over) -> Facts:
    base = dict(concluded=False, source="application", persons_involved=2, deadline=DEADLINE, escalations=0,
                repeat=False, assessment=None)
    base.update(over)
    return Facts(**base)


def test_an_ordinary_dispute_is_green_with_no_reasons():
    assert assess(facts(), NOW) == risk.Risk(level="green", assessed=None, reasons=())


@pytest.mark.parametrize(("over", "level", "reasons"), [
    ({"persons_involved": 4}, "green", ()),
    ({"persons_involved": 5}, "yellow", ("group",)),
    ({"persons_involved": 29}, "yellow", ("group",)),
    ({"persons_involved": 30}, "red", ("large_group", "group")),
    ({"repeat": True}, "yellow", ("repeat",)),
    ({"escalations": 1}, "green", ()),
    ({"escalations": 2}, "yellow", ("escalated_twice",)),
    ({"source": "petition"}, "yellow", ("petition",)),
    ({"source": "police"}, "green", ()),
    ({"assessment": Assessment("green", ("criminal_risk",))}, "red", ("criminal_risk",)),
    ({"assessment": Assessment("green", ("suicide_risk",))}, "red", ("suicide_risk",)),
    ({"assessment": Assessment("green", ("group_petition_risk",))}, "red", ("group_petition_risk",)),
    ({"assessment": Assessment("green", ("group_fight_risk",))}, "red", ("group_fight_risk",)),
])
def test_each_reason_raises_exactly_its_level(over, level, reasons):
    r = assess(facts(**over), NOW)
    assert (r.level, r.reasons) == (level, reasons)


def test_overdue_appears_and_disappears_with_the_clock():
    f = facts()
    assert assess(f, DEADLINE).reasons == ()
    assert assess(f, DEADLINE + dt.timedelta(microseconds=1)) == risk.Risk("yellow", None, ("overdue",))
    assert assess(f, NOW).level == "green"  # the clock set back: gone again


def test_a_persons_higher_assessment_wins():
    r = assess(facts(persons_involved=6, assessment=Assessment("red")), NOW)
    assert r == risk.Risk(level="red", assessed="red", reasons=("group",))


def test_a_lower_assessment_is_recorded_but_the_rules_level_shows():
    r = assess(facts(persons_involved=40, assessment=Assessment("green")), NOW)
    assert r == risk.Risk(level="red", assessed="green", reasons=("large_group", "group"))


def test_a_concluded_dispute_counts_only_the_persons_assessment():
    assert assess(facts(concluded=True, persons_involved=40, source="petition"), DEADLINE + dt.timedelta(days=9)
                  ) == risk.Risk("green", None, ())
    assert assess(facts(concluded=True, assessment=Assessment("yellow", ("suicide_risk",))), NOW
                  ) == risk.Risk("yellow", "yellow", ())


def test_the_latest_assessment_is_by_business_time_then_event_order():
    a, b, c = Assessment("red"), Assessment("yellow"), Assessment("green")
    t = REG + dt.timedelta(days=1)
    events = [(t, 5, a), (t, 7, b), (t - dt.timedelta(hours=1), 9, c)]
    assert risk.latest_assessment(events) == b
    assert risk.latest_assessment(events, before=t) == c
    assert risk.latest_assessment([]) is None


def test_the_repeat_window_is_twelve_calendar_months_in_beijing_time():
    assert risk.repeat_window_start(REG, clock.TZ) == dt.datetime(2025, 3, 2, 9, 0, tzinfo=clock.TZ)
    leap = dt.datetime(2028, 2, 29, 0, 30, tzinfo=clock.TZ)
    assert risk.repeat_window_start(leap, clock.TZ) == dt.datetime(2027, 2, 28, 0, 30, tzinfo=clock.TZ)


def test_reached_at_is_when_the_level_last_rose_to_where_it_is():
    e1, e2 = REG + dt.timedelta(days=1), REG + dt.timedelta(days=2)
    # two escalations: yellow from the second
    changes = [Change(e1, 2, escalation=True), Change(e2, 3, escalation=True)]
    assert reached_at(facts(), REG, changes, NOW) == e2
    # then an assessment makes it red, later lowered to yellow again: yellow since the second escalation
    red, down = REG + dt.timedelta(days=2, hours=1), REG + dt.timedelta(days=2, hours=2)
    changes += [Change(red, 4, assessment=Assessment("red")), Change(down, 5, assessment=Assessment("green"))]
    assert reached_at(facts(), REG, changes, NOW) == e2
    # yellow at registration (a group) and never higher
    assert reached_at(facts(persons_involved=7), REG, [], NOW) == REG
    # overdue: from the moment after the deadline
    late = DEADLINE + dt.timedelta(days=1)
    assert reached_at(facts(), REG, [], late) == DEADLINE + dt.timedelta(microseconds=1)
