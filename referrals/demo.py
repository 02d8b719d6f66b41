"""The demo county's court: 西充县人民法院 (川1325) with its roster, cases it entrusted to
mediation, litigation referrals and judicial-confirmation applications sent to it, and
some of its decisions — all through the real services, so the court API has something
to show after `make run`. Runs after `mediation.demo.load`; a second run changes nothing."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from types import SimpleNamespace

from mediation import clock, db, disputes, idnumbers
from mediation.access import Principal
from mediation.demo import COUNTY, COUNTY12
from referrals import courts, install, service

COURT_CODE = "川1325"
COURT_NAME = "西充县人民法院"
ADMIN = Principal(role="admin", actor="system:demo")
SEED = 1325


def _person_id(rng: random.Random) -> str:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 50))
    body = f"{COUNTY}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return body + idnumbers.resident_id_check_char(body)


def _between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A time in the middle of [start, end] (never at either edge, never after `end`)."""
    return start + (end - start) * rng.uniform(0.2, 0.8) if end > start else start


async def load(*, entrustments: int = 24, referrals: int = 8, confirmations: int = 10) -> str:
    install()  # the demo refers and applies for confirmation through the dispute service
    async with db.connection() as conn:
        if await conn.fetchval("SELECT 1 FROM courts WHERE code = $1", COURT_CODE):
            return f"demo court {COURT_NAME} already registered, nothing changed"
        if not await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", COUNTY12):
            return "demo county not loaded; no court added"
        roster = [r["id"] for r in await conn.fetch(
            "SELECT id FROM orgs WHERE county_code = $1 AND kind IN ('county_center', 'township_committee') "
            "ORDER BY tier DESC, region_code", COUNTY)]
    rng = random.Random(SEED)
    court = await courts.create_court(ADMIN, name=COURT_NAME, code=COURT_CODE, region_code=COUNTY)
    court_id = uuid.UUID(str(court["id"]))
    for org_id in roster:
        await courts.add_to_roster(ADMIN, court_id, org_id)
    as_court = Principal(role="court", actor=f"court:{court_id}", court_id=court_id, county_code=COUNTY)
    now = clock.now()

    # 委托调解: cases filed first (民初), entrusted with the parties' consent, over 3 months
    year = now.astimezone(clock.TZ).year
    concluded = 0
    for i in range(entrustments):
        received = now - dt.timedelta(days=rng.uniform(1, 90))
        simple = rng.random() < 0.4
        data = SimpleNamespace(
            court_case_no=f"({year})川1325民初{300 + i}号", kind="in_litigation",
            procedure="simple" if simple else "ordinary", org_id=rng.choice(roster),
            type=rng.choice(["contract", "damages", "labor", "traffic", "marriage_family", "housing_homestead"]),
            summary=rng.choice(["借款合同纠纷，原告请求归还借款及利息", "机动车交通事故责任纠纷", "追索劳动报酬纠纷",
                                "房屋租赁合同纠纷", "离婚后财产纠纷", "相邻关系纠纷"]),
            parties=[SimpleNamespace(role="applicant", kind="person", name=rng.choice("王李张刘陈杨黄赵") + "某",
                                     id_number=_person_id(rng), phone=f"139{rng.randrange(10**8):08d}", address=None),
                     SimpleNamespace(role="respondent", kind="person", name=rng.choice("周吴郑孙何罗") + "某",
                                     id_number=None, phone=None, address=None)],
            region_code=None, deadline=None, registered_at=received, occurred_on=None, amount=None,
            persons_involved=None)
        entrusted = await service.entrust(as_court, data)
        limit = dt.timedelta(days=7 if simple else 15)
        if received + limit < now and rng.random() < 0.85:
            ended = received + limit * rng.uniform(0.3, 0.95)
            dispute_id = entrusted.id
            if rng.random() < 0.65:
                await disputes.transition(ADMIN, dispute_id, "resolve", SimpleNamespace(
                    agreement=SimpleNamespace(form="written", terms="双方自愿达成调解协议，被告分期支付款项。",
                                              signed_at=ended, amount=rng.randrange(2, 80) * 1000,
                                              performance_due=None),
                    prevented=[], at=None, note=None, version=None))
            else:
                await disputes.transition(ADMIN, dispute_id, "fail", SimpleNamespace(
                    reason="双方分歧较大，调解不成，退回法院审理。", channel="litigation", at=ended, note=None,
                    version=None))
            concluded += 1

    # litigation referrals: open local disputes the parties now take to court
    # each at a time of its own between the dispute's latest move and now, so the court's
    # side spreads over the demo year like everything else
    async with db.connection() as conn:
        open_rows = await conn.fetch(
            "SELECT id, last_move_at FROM disputes WHERE county_code = $1 AND status = 'open' "
            "AND source <> 'court_entrusted' ORDER BY registered_at LIMIT $2", COUNTY, referrals)
        written = await conn.fetch(
            """SELECT id, last_move_at, (agreement->>'signed_at')::timestamptz AS signed_at FROM disputes
               WHERE county_code = $1 AND status = 'resolved' AND agreement_form = 'written'
                   AND source <> 'court_entrusted' ORDER BY concluded_at, id""", COUNTY)
    # written agreements from across the year, each applied for within its 30 days
    confirmable = [written[i * len(written) // confirmations] for i in range(min(confirmations, len(written)))]
    decided = 0
    for r in open_rows:
        await disputes.transition(ADMIN, r["id"], "refer", SimpleNamespace(
            court_id=court_id, reason="调解不成，当事人坚持起诉，引导诉讼。", note=None, version=None,
            at=_between(rng, r["last_move_at"], now)))
    for r in confirmable:
        window_end = min(now, r["signed_at"] + dt.timedelta(days=29))
        await disputes.transition(ADMIN, r["id"], "confirmation", SimpleNamespace(
            court_id=court_id, note=None, version=None, at=_between(rng, r["last_move_at"], window_end)))

    # the court works through part of what it received
    pending = await service.list_referrals(as_court, status="pending", limit=500)
    for n, item in enumerate(pending.items):
        referral_id = item.id
        if n % 3 == 2:
            continue  # still waiting
        decided_at = _between(rng, item.created_at, now)
        if item.kind == "litigation":
            number = f"({year})川1325民初{500 + n}号"
            if n % 3 == 0:   # filed some time after the referral (an acknowledgement would be dated now)
                await service.decide(as_court, referral_id, SimpleNamespace(
                    decision="filed", court_case_no=number, decided_at=decided_at, note=None))
                decided += 1
            else:
                await service.acknowledge(as_court, referral_id, SimpleNamespace(court_case_no=number))
        else:
            await service.decide(as_court, referral_id, SimpleNamespace(
                decision="confirmed" if n % 4 else "rejected", court_case_no=f"({year})川1325民特{40 + n}号",
                decided_at=decided_at, note=None))
            decided += 1
    return (f"demo court {COURT_NAME} ({COURT_CODE}): {len(roster)} orgs on its roster, {entrustments} entrusted "
            f"cases ({concluded} concluded), {len(open_rows)} litigation referrals, {len(confirmable)} "
            f"confirmation applications, {decided} decisions; its API token: `tiaojie token create --role court "
            f"--court {court_id}`")
