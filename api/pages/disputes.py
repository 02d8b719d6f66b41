"""The mediator's pages: the work list, search, registering a dispute and the dispute
page with the actions its status allows. Every change goes through the same service
functions as the API (`mediation.disputes`), so the checks and messages are the same."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

from litestar import Request, get, post
from litestar.response import Redirect, Template

from api import messages
from api.pages import forms
from api.pages.render import FormState, page, said, see_other
from api.guards import principal_of, signed_in
from mediation import clock, disputes, lifecycle, worklist
from mediation.access import Principal
from mediation.dispute_views import Dispute
from mediation.codes import DISPUTE_TYPES, PERFORMANCE, SOURCES
from mediation.errors import Collector, Conflict, Invalid
from mediation.idnumbers import resident_id_problem

#: every action form of the dispute page, in the order shown, with its title
ACTION_TITLES: dict[str, str] = {
    "sessions": "记录调解", "escalate": "上移", "assign": "分流交办", "resolve": "调解成功（达成协议）",
    "fail": "调解不成", "refer": "引导诉讼", "confirmation": "申请司法确认", "withdraw": "撤回/终止",
    "reject": "不予受理", "performance": "记录履行情况", "visit": "回访",
}


def principal(request: Request) -> Principal:
    return principal_of(request)


def available_actions(d: Dispute, who: Principal, now: dt.datetime) -> list[str]:
    """Exactly the actions the lifecycle would accept now from this principal."""
    if not who.may_act_on_dispute(org_id=d.org_id):
        return []
    status = d.status
    if status == "open":
        actions = ["sessions"]
        if d.tier != "county":
            actions.append("escalate")
        actions += ["assign", "resolve", "fail"]
        if d.source != "court_entrusted":
            actions.append("refer")
        return [*actions, "withdraw", "reject"]
    actions = []
    if status == "resolved":
        agreement = d.agreement
        pending = any(r.kind == "confirmation" and r.status != "decided" for r in d.referrals)
        try:  # the answer keeps the agreement's time as recorded (text)
            signed = dt.datetime.fromisoformat(agreement.signed_at) if agreement and agreement.signed_at else None
        except ValueError:
            signed = None
        if (agreement is not None and agreement.form == "written" and not pending and signed is not None
                and now <= lifecycle.confirmation_window_ends(signed)):
            actions.append("confirmation")
        actions.append("performance")
    return [*actions, "visit"]


# ---------------------------------------------------------------- lists

@get("/", name="page-home", guards=[signed_in], include_in_schema=False)
async def home(request: Request) -> Redirect:
    role = principal(request).role
    return see_other({"mediator": "/ui/work", "bureau": "/ui/bureau"}.get(role, "/ui/disputes"))


@get("/work", name="page-work", guards=[signed_in], include_in_schema=False)
async def work(request: Request) -> Template:
    work = await worklist.work_list(principal(request))
    return page(request, "work.html", title="待办案件", work=work)


@get("/disputes", name="page-disputes", guards=[signed_in], include_in_schema=False)
async def search(request: Request, q: str | None = None, status: str | None = None, type: str | None = None,
                 overdue: bool = False, cursor: str | None = None) -> Template:
    filters = disputes.ListFilters(q=q or None, status=status or None, type=type or None, overdue=overdue)
    values = {"q": q or "", "status": status or "", "type": type or "", "overdue": "1" if overdue else ""}
    try:
        found = await disputes.list_disputes(principal(request), filters, limit=30, cursor=cursor or None)
    except Invalid as e:
        return page(request, "search.html", status=422, title="案件查询", found=None,
                    form=FormState.refused(values, e))
    return page(request, "search.html", title="案件查询", found=found, form=FormState(values))


# ---------------------------------------------------------------- registering

#: the API's own messages for a bad resident ID, for the check made as one types (static/ui/forms.js)
ID_MESSAGES = {
    "format": messages.translate(resident_id_problem("1") or "", "zh"),
    "birth": messages.translate(resident_id_problem("110105194913310021") or "", "zh"),
    "check": messages.translate(resident_id_problem("110105194912310021") or "", "zh"),
}

REGISTRATION_FIELDS = {"org_id", "type", "source", "summary", "occurred_on", "amount", "persons_involved", "parties"}


def _registration_page(request: Request, state: FormState, count: int, *, status: int = 200) -> Template:
    known = REGISTRATION_FIELDS | {f"parties[{i}].{f}" for i in range(count) for f in forms.PARTY_FIELDS}
    return page(request, "register.html", status=status, title="登记纠纷", form=state, party_count=count, known=known,
                id_messages=ID_MESSAGES,
                dispute_types=DISPUTE_TYPES, sources={k: v for k, v in SOURCES.items() if k != "court_entrusted"})


@get("/disputes/new", name="page-register", guards=[signed_in], include_in_schema=False)
async def register_form(request: Request) -> Template:
    return _registration_page(request, FormState({"source": "application"}), 2)


@post("/disputes/new", name="page-register-post", guards=[signed_in], include_in_schema=False, status_code=303)
async def register(request: Request) -> Template | Redirect:
    """One form, three buttons: add a party row, remove one, or register. Adding and
    removing re-render the form with everything typed (no JavaScript needed)."""
    form = await request.form()
    count = forms.party_count(form)
    rows = forms.parties(form, count)
    op = str(form.get("op") or "save")
    values = {k: v for k, v in forms.as_values(form).items() if not k.startswith("parties[")}
    if op == "add_party":
        rows.append({f: "" for f in forms.PARTY_FIELDS})
    elif op.startswith("remove_party:") and len(rows) > 1:
        index = op.partition(":")[2]
        if index.isdigit() and int(index) < len(rows):
            rows.pop(int(index))
    if op != "save":
        return _registration_page(request, FormState({**values, **forms.parties_as_values(rows)}), len(rows))

    who = principal(request)
    errors = Collector()
    data = SimpleNamespace(
        org_id=who.org_id if who.role == "mediator" else forms.text(form, "org_id"),
        type=forms.text(form, "type"), source=forms.text(form, "source"), summary=forms.text(form, "summary"),
        parties=forms.party_inputs(rows), region_code=None, registered_at=None,
        occurred_on=forms.date(errors, form, "occurred_on"), amount=forms.text(form, "amount"),
        persons_involved=forms.whole_number(errors, form, "persons_involved"), deadline=None)
    shown = {**values, **forms.parties_as_values(rows)}
    try:
        if errors:
            disputes.validate_registration(data)  # the service's own checks, to name every bad field at once
            errors.raise_if_any()
        created = await disputes.register(who, data)
    except Invalid as e:
        e.errors[:0] = [x for x in errors.errors if x not in e.errors]
        return _registration_page(request, FormState.refused(shown, e), len(rows), status=422)
    return see_other(f"/ui/disputes/{created.id}?done=registered")


# ---------------------------------------------------------------- one dispute

async def dispute_page(request: Request, dispute_id: uuid.UUID, *, state: FormState | None = None,
                       status: int = 200, done: str | None = None) -> Template:
    who = principal(request)
    d = await disputes.get(who, dispute_id)
    now = clock.now()
    actions = available_actions(d, who, now)
    ids = {d.org_id, *(e.org_id for e in d.events if e.org_id)}
    for e in d.events:
        for key in ("from_org_id", "court_id"):
            if e.detail.get(key):
                ids.add(uuid.UUID(e.detail[key]))
        ids.update(uuid.UUID(m) for m in e.detail.get("mediator_ids", ()))
    ids.update(r.court_id for r in d.referrals)
    county = d.case_no[:6]
    orgs = await worklist.county_orgs(county) if {"escalate", "assign"} & set(actions) else []
    rank = lifecycle.TIER_RANK
    names = await worklist.names(list(ids))
    mediators = await worklist.active_mediators(d.org_id) if "sessions" in actions else []
    courts = await worklist.county_courts(county) if {"refer", "confirmation"} & set(actions) else []
    return page(
        request, "dispute.html", status=status, title=f"案件 {d.case_no}", d=d, actions=actions,
        action_titles=ACTION_TITLES, names={**names, **{str(k): v for k, v in names.items()}},
        form=state or FormState(), blank=FormState(),
        escalate_to=_options(o for o in orgs if rank[o.tier] > rank[d.tier]),
        assign_to=_options(o for o in orgs if rank[o.tier] <= rank[d.tier] and o.id != d.org_id),
        mediators=_options(mediators), courts=_options(courts),
        performance_options=[(k, v) for k, v in PERFORMANCE.items() if k != "pending"],
        done=done, may_print=who.may_reveal(org_id=d.org_id))


def _options(choices) -> list[tuple[str, str]]:
    return [(str(c.id), c.name) for c in choices]


@get("/disputes/{dispute_id:uuid}", name="page-dispute", guards=[signed_in], include_in_schema=False)
async def dispute(request: Request, dispute_id: uuid.UUID, done: str | None = None) -> Template:
    return await dispute_page(request, dispute_id, done=done)


def _action_data(action: str, form, errors: Collector) -> SimpleNamespace:
    common = {"version": forms.version(form), "note": forms.text(form, "note"), "at": None}
    if action == "sessions":
        return SimpleNamespace(**common, held_at=forms.local_time(errors, form, "held_at"),
                               method=forms.text(form, "method"), summary=forms.text(form, "summary"),
                               mediator_ids=[str(v) for v in form.getall("mediator_ids", [])])
    if action in ("escalate", "assign"):
        return SimpleNamespace(**common, to_org_id=forms.text(form, "to_org_id"), reason=forms.text(form, "reason"))
    if action == "resolve":
        agreement = SimpleNamespace(
            form=forms.text(form, "agreement.form"), terms=forms.text(form, "agreement.terms"),
            signed_at=forms.local_time(errors, form, "agreement.signed_at"),
            amount=forms.text(form, "agreement.amount"),
            performance_due=forms.date(errors, form, "agreement.performance_due"))
        return SimpleNamespace(**common, agreement=agreement, prevented=[str(v) for v in form.getall("prevented", [])])
    if action == "fail":
        return SimpleNamespace(**common, reason=forms.text(form, "reason"), channel=forms.text(form, "channel"))
    if action in ("withdraw", "reject"):
        return SimpleNamespace(**common, reason=forms.text(form, "reason"))
    if action == "refer":
        return SimpleNamespace(**common, court_id=forms.text(form, "court_id"), reason=forms.text(form, "reason"))
    if action == "confirmation":
        return SimpleNamespace(**common, court_id=forms.text(form, "court_id"))
    if action == "performance":
        return SimpleNamespace(**common, status=forms.text(form, "status"),
                               checked_at=forms.local_time(errors, form, "checked_at"))
    return SimpleNamespace(**common, satisfaction=forms.text(form, "satisfaction"))


@post("/disputes/{dispute_id:uuid}/{action:str}", name="page-dispute-action", guards=[signed_in],
      include_in_schema=False, status_code=303)
async def act(request: Request, dispute_id: uuid.UUID, action: str) -> Template | Redirect:
    if action not in ACTION_TITLES:
        return await dispute_page(request, dispute_id, status=404)
    form = await request.form()
    errors = Collector()
    data = _action_data(action, form, errors)
    try:
        errors.raise_if_any()
        await disputes.transition(principal(request), dispute_id, action, data)
    except Invalid as e:
        return await dispute_page(request, dispute_id, status=422,
                                  state=FormState.refused(forms.as_values(form), e, action))
    except Conflict as e:
        # stale version or a state the lifecycle refuses: the page as it is now, saying why
        state = FormState(forms.as_values(form), {"_": [said(e)]}, action)
        return await dispute_page(request, dispute_id, status=409, state=state)
    return see_other(f"/ui/disputes/{dispute_id}?done={action}")


DISPUTE_HANDLERS = [home, work, search, register_form, register, dispute, act]
