"""Risk levels (风险等级: 红黄绿) as pure rules, with every threshold in one place.

A dispute's effective level is the higher of what a person assessed last and what the
rules give from the facts at the moment asked (`assess`). The rules and their levels are
API.md's: `group` (persons ≥ 5) and `large_group` (≥ 30), `repeat` (a party's ID number in
another dispute registered in the 12 months before), `escalated_twice`, `overdue` (open
past the deadline, so it appears and disappears with the clock: computed when read, never
written back), `petition`, and the intake risks a person records (→ red). A person may set
a lower level; it is recorded, but the rules' level shows. Once a dispute has concluded,
only the person's assessment counts (otherwise green).

No database here: the service gathers `Facts` and asks. `level_sql` writes the same rules
as one SQL expression for list filters, from the same constants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Level = Literal["green", "yellow", "red"]
LEVELS: dict[str, str] = {"green": "绿色(一般)", "yellow": "黄色(关注)", "red": "红色(高危)"}
RANK: dict[str, int] = {"green": 0, "yellow": 1, "red": 2}

# ---------------------------------------------------------------- the thresholds, in one place
GROUP_PERSONS = 5             # 群体性纠纷
LARGE_GROUP_PERSONS = 30
REPEAT_MONTHS = 12            # a party seen in another dispute registered this long before
ESCALATIONS_FOR_YELLOW = 2

#: every reason with the level it raises and its label; the order answers list them in
REASONS: dict[str, tuple[Level, str]] = {
    "large_group": ("red", "涉及人数众多(30人以上)"),
    "criminal_risk": ("red", "有民转刑风险"),
    "suicide_risk": ("red", "有自杀风险"),
    "group_petition_risk": ("red", "有群体性上访风险"),
    "group_fight_risk": ("red", "有群体性械斗风险"),
    "group": ("yellow", "群体性纠纷(5人以上)"),
    "repeat": ("yellow", "当事人12个月内再次发生纠纷"),
    "escalated_twice": ("yellow", "两次以上上移"),
    "overdue": ("yellow", "超期未结"),
    "petition": ("yellow", "信访转办"),
}
#: the reasons a person records at intake or in an assessment (the others the rules find)
INTAKE_RISKS: dict[str, str] = {
    code: REASONS[code][1] for code in ("criminal_risk", "suicide_risk", "group_petition_risk", "group_fight_risk")}


def higher(a: Level, b: Level) -> Level:
    return a if RANK[a] >= RANK[b] else b


@dataclass(frozen=True)
class Assessment:
    """What a person set last (`risk_assessed`, or registration's intake risks)."""

    level: Level
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facts:
    """A dispute as it stood at the moment asked."""

    concluded: bool
    source: str
    persons_involved: int
    deadline: dt.datetime
    escalations: int
    repeat: bool
    assessment: Assessment | None = None


@dataclass(frozen=True)
class Risk:
    level: Level
    assessed: Level | None
    reasons: tuple[str, ...]


def rule_reasons(facts: Facts, at: dt.datetime) -> list[str]:
    """The reasons the facts give at `at` (intake risks included), in `REASONS` order."""
    if facts.concluded:
        return []
    found = set(facts.assessment.reasons if facts.assessment else ())
    if facts.persons_involved >= LARGE_GROUP_PERSONS:
        found.add("large_group")
    if facts.persons_involved >= GROUP_PERSONS:
        found.add("group")
    if facts.repeat:
        found.add("repeat")
    if facts.escalations >= ESCALATIONS_FOR_YELLOW:
        found.add("escalated_twice")
    if facts.deadline < at:
        found.add("overdue")
    if facts.source == "petition":
        found.add("petition")
    return [code for code in REASONS if code in found]


def assess(facts: Facts, at: dt.datetime) -> Risk:
    reasons = rule_reasons(facts, at)
    level: Level = "green"
    for code in reasons:
        level = higher(level, REASONS[code][0])
    assessed = facts.assessment.level if facts.assessment else None
    if assessed is not None:
        level = higher(level, assessed)
    return Risk(level=level, assessed=assessed, reasons=tuple(reasons))


def latest_assessment(events: Iterable[tuple[dt.datetime, int, Assessment]], before: dt.datetime | None = None
                      ) -> Assessment | None:
    """The last assessment by business time (ties by event order), optionally before a moment."""
    best = None
    for at, seq, assessment in events:
        if before is not None and at >= before:
            continue
        if best is None or (at, seq) > (best[0], best[1]):
            best = (at, seq, assessment)
    return None if best is None else best[2]


def repeat_window_start(registered_at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """`REPEAT_MONTHS` before registration, in calendar months in Beijing time (29 Feb → 28 Feb)."""
    local = registered_at.astimezone(tz)
    months = local.year * 12 + local.month - 1 - REPEAT_MONTHS
    year, month = divmod(months, 12)
    day = local.day
    while True:
        try:
            return local.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


# ---------------------------------------------------------------- when the level last rose

@dataclass(frozen=True)
class Change:
    """Something that may change the level: an escalation or an assessment, at its business time."""

    at: dt.datetime
    seq: int
    escalation: bool = False
    assessment: Assessment | None = None


def reached_at(base: Facts, registered_at: dt.datetime, changes: Sequence[Change], now: dt.datetime) -> dt.datetime:
    """When an open dispute last rose to the level it has `now`: replays its level from
    registration over escalations, assessments and the deadline passing."""
    points: list[tuple[dt.datetime, int, Change | None]] = [(c.at, c.seq, c) for c in changes]
    if base.deadline < now:
        points.append((base.deadline, 1 << 30, None))  # overdue begins just after the deadline
    points.sort(key=lambda p: (p[0], p[1]))
    escalations = 0
    assessment: Assessment | None = None
    history: list[tuple[dt.datetime, Level]] = [(registered_at, assess(base_at(base, 0, None), registered_at).level)]
    for at, _, change in points:
        if at > now:
            break
        if change is not None and change.escalation:
            escalations += 1
        if change is not None and change.assessment is not None:
            assessment = change.assessment
        moment = at if change is not None else at + dt.timedelta(microseconds=1)
        history.append((moment, assess(base_at(base, escalations, assessment), moment).level))
    current = history[-1][1]
    risen = history[0][0]
    for (_, before), (moment, after) in zip(history, history[1:]):
        if RANK[before] < RANK[current] <= RANK[after]:
            risen = moment
    return risen


def base_at(base: Facts, escalations: int, assessment: Assessment | None) -> Facts:
    return Facts(concluded=False, source=base.source, persons_involved=base.persons_involved,
                 deadline=base.deadline, escalations=escalations, repeat=base.repeat, assessment=assessment)


# ---------------------------------------------------------------- the same rules in SQL

def level_sql(*, concluded: str, source: str, persons: str, deadline: str, escalations: str, repeat: str,
              assessed: str, intake: str, at: str) -> str:
    """The effective level as one SQL expression over the given column expressions
    (`intake` a text[] of recorded reasons), built from the constants above."""
    red_intake = ", ".join(f"'{c}'" for c in INTAKE_RISKS)
    rules_red = f"({persons} >= {LARGE_GROUP_PERSONS} OR coalesce({intake}, '{{}}') && ARRAY[{red_intake}]::text[])"
    rules_yellow = (f"({persons} >= {GROUP_PERSONS} OR {repeat} OR {escalations} >= {ESCALATIONS_FOR_YELLOW} "
                    f"OR {deadline} < {at} OR {source} = 'petition')")
    return (f"(CASE WHEN {concluded} THEN coalesce({assessed}, 'green') "
            f"WHEN {rules_red} OR {assessed} = 'red' THEN 'red' "
            f"WHEN {rules_yellow} OR {assessed} = 'yellow' THEN 'yellow' ELSE 'green' END)")
