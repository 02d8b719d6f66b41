"""Admin pages: people who sign in (create, disable, reset a password, lift a lockout),
organisations and their mediators, and the court handoff (referrals, entrustments, the
webhook deliveries with a retry for dead ones). Admins only; the same services as the API."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from api.pages import forms
from api.pages.render import FormState, page, said, said_field, see_other
from api.guards import ADMIN, principal_of, signed_in
from mediation import accounts, orgs, web_sessions, worklist
from mediation.codes import ORG_KINDS, ROLES, TIERS
from mediation.errors import Collector, Conflict, Invalid
from referrals import courts, worker

USER_ROLES = {k: v for k, v in ROLES.items() if k != "court"}


GUARDS = [signed_in, ADMIN]


def _who(request: Request):
    return principal_of(request)


#: Above this many committees or courts the forms take a pasted id instead of a list to
#: pick from (a county has a few hundred committees; a province-wide service has thousands).
MAX_CHOICES = 500


async def _choices(request: Request) -> dict[str, list[tuple[str, str]] | None]:
    """What the user and token forms offer to pick from: committees as "name（tier）" in
    region order, courts by code; None (a pasted id instead) when there are too many."""
    who = _who(request)
    org_page = await orgs.list_orgs(who, limit=MAX_CHOICES)
    court_page = await courts.list_courts(who, limit=MAX_CHOICES)
    return {
        "org_choices": None if org_page["total"] > MAX_CHOICES else
        [(str(o["id"]), f"{o['name']}（{TIERS[o['tier']]}）") for o in org_page["items"]],
        "court_choices": None if court_page["total"] > MAX_CHOICES else
        [(str(c["id"]), f"{c['name']}（{c['code']}）") for c in court_page["items"]],
    }


# ---------------------------------------------------------------- users

async def _users_page(request: Request, *, state: FormState | None = None, status: int = 200,
                      done: str | None = None) -> Template:
    return page(request, "admin_users.html", status=status, title="用户管理", users=await web_sessions.list_users(),
                form=state or FormState({"role": "mediator"}), roles=USER_ROLES, done=done,
                **await _choices(request))


@get("/admin/users", name="page-admin-users", guards=GUARDS, include_in_schema=False)
async def users(request: Request, done: str | None = None) -> Template:
    return await _users_page(request, done=done)


@post("/admin/users", name="page-admin-users-create", guards=GUARDS, include_in_schema=False, status_code=303)
async def create_user(request: Request) -> Template | Redirect:
    form = await request.form()
    errors = Collector()
    password = forms.text(form, "password")
    web_sessions.check_new_password(errors, "password", password)
    org_id = forms.optional_id(errors, form, "org_id")
    try:
        errors.raise_if_any()
        await accounts.create_user(username=forms.text(form, "username") or "", role=forms.text(form, "role") or "",
                                   region=forms.text(form, "region"), org_id=org_id, password=password,
                                   actor=_who(request).actor)
    except Invalid as e:
        return await _users_page(request, state=FormState.refused(forms.as_values(form), e), status=422)
    except Conflict as e:
        state = FormState(forms.as_values(form), {"username": [said(e)]})
        return await _users_page(request, state=state, status=409)
    return see_other("/ui/admin/users?done=created")


@post("/admin/users/{user_id:uuid}/{change:str}", name="page-admin-user-change", guards=GUARDS,
      include_in_schema=False, status_code=303)
async def change_user(request: Request, user_id: uuid.UUID, change: str) -> Template | Redirect:
    form = await request.form()
    admin = _who(request)
    try:
        if change == "unlock":
            await web_sessions.unlock(admin, user_id)
        elif change in ("disable", "enable"):
            await web_sessions.set_disabled(admin, user_id, change == "disable")
        elif change == "password":
            await web_sessions.reset_password(admin, user_id, forms.text(form, "password") or "")
        else:
            return await _users_page(request, status=404)
    except Invalid as e:
        state = FormState({}, {f"{user_id}.{x.field}": [said_field(x)] for x in e.errors})
        return await _users_page(request, state=state, status=422)
    return see_other(f"/ui/admin/users?done={change}")


# ---------------------------------------------------------------- orgs and mediators

async def _orgs_page(request: Request, *, q: str | None = None, state: FormState | None = None,
                     status: int = 200, done: str | None = None) -> Template:
    found = await orgs.list_orgs(_who(request), q=q or None, limit=100)
    return page(request, "admin_orgs.html", status=status, title="调解组织", found=found, q=q or "",
                form=state or FormState(), tiers=TIERS, kinds=ORG_KINDS, done=done)


@get("/admin/orgs", name="page-admin-orgs", guards=GUARDS, include_in_schema=False)
async def org_list(request: Request, q: str | None = None, done: str | None = None) -> Template:
    return await _orgs_page(request, q=q, done=done)


@post("/admin/orgs", name="page-admin-orgs-create", guards=GUARDS, include_in_schema=False, status_code=303)
async def create_org(request: Request) -> Template | Redirect:
    form = await request.form()
    try:
        created = await orgs.create_org(_who(request), name=forms.text(form, "name"), tier=forms.text(form, "tier"),
                                        kind=forms.text(form, "kind"), region_code=forms.text(form, "region_code"))
    except (Invalid, Conflict) as e:
        state = (FormState.refused(forms.as_values(form), e) if isinstance(e, Invalid)
                 else FormState(forms.as_values(form), {"name": [said(e)]}))
        return await _orgs_page(request, state=state, status=e.status)
    return see_other(f"/ui/admin/orgs/{created['id']}?done=created")


async def _org_page(request: Request, org_id: uuid.UUID, *, state: FormState | None = None,
                    status: int = 200, done: str | None = None) -> Template:
    who = _who(request)
    org = await orgs.get_org(who, org_id)
    mediators = await orgs.list_mediators(who, org_id, limit=500)  # a committee has 3 to 9
    return page(request, "admin_org.html", status=status, title=org["name"], org=org, mediators=mediators["items"],
                form=state or FormState(), done=done)


@get("/admin/orgs/{org_id:uuid}", name="page-admin-org", guards=GUARDS, include_in_schema=False)
async def org_detail(request: Request, org_id: uuid.UUID, done: str | None = None) -> Template:
    return await _org_page(request, org_id, done=done)


@post("/admin/orgs/{org_id:uuid}/mediators", name="page-admin-mediator-add", guards=GUARDS,
      include_in_schema=False, status_code=303)
async def add_mediator(request: Request, org_id: uuid.UUID) -> Template | Redirect:
    form = await request.form()
    try:
        await orgs.add_mediator(_who(request), org_id, name=forms.text(form, "name"), phone=forms.text(form, "phone"))
    except Invalid as e:
        return await _org_page(request, org_id, state=FormState.refused(forms.as_values(form), e), status=422)
    return see_other(f"/ui/admin/orgs/{org_id}?done=mediator")


@post("/admin/orgs/{org_id:uuid}/mediators/{mediator_id:uuid}/{change:str}", name="page-admin-mediator-change",
      guards=GUARDS, include_in_schema=False, status_code=303)
async def change_mediator(request: Request, org_id: uuid.UUID, mediator_id: uuid.UUID, change: str) -> Redirect:
    await orgs.update_mediator(_who(request), org_id, mediator_id, active=change == "activate")
    return see_other(f"/ui/admin/orgs/{org_id}?done={'activated' if change == 'activate' else 'deactivated'}")


# ---------------------------------------------------------------- API tokens

async def _tokens_page(request: Request, *, state: FormState | None = None, status: int = 200,
                       created: accounts.CreatedToken | None = None, done: str | None = None) -> Template:
    return page(request, "admin_tokens.html", status=status, title="API 令牌", tokens=await accounts.list_tokens(),
                form=state or FormState({"role": "mediator", "expires_in": "365"}), roles=ROLES, created=created,
                done=done, **await _choices(request))


@get("/admin/tokens", name="page-admin-tokens", guards=GUARDS, include_in_schema=False)
async def tokens(request: Request, done: str | None = None) -> Template:
    return await _tokens_page(request, done=done)


@post("/admin/tokens", name="page-admin-tokens-create", guards=GUARDS, include_in_schema=False, status_code=200)
async def create_token(request: Request) -> Template:
    """The token is shown once, on the answer to this form, and never again."""
    form = await request.form()
    errors = Collector()
    ids = {name: forms.optional_id(errors, form, name) for name in ("org_id", "court_id")}
    expires_in = forms.whole_number(errors, form, "expires_in")
    try:
        errors.raise_if_any()
        created = await accounts.create_token(role=forms.text(form, "role") or "", region=forms.text(form, "region"),
                                              org_id=ids["org_id"], court_id=ids["court_id"],
                                              name=forms.text(form, "name"), expires_in_days=expires_in or 365,
                                              actor=_who(request).actor)
    except Invalid as e:
        return await _tokens_page(request, state=FormState.refused(forms.as_values(form), e), status=422)
    except Conflict as e:
        return await _tokens_page(request, state=FormState(forms.as_values(form), {"name": [said(e)]}), status=409)
    return await _tokens_page(request, created=created)


@post("/admin/tokens/revoke", name="page-admin-tokens-revoke", guards=GUARDS, include_in_schema=False,
      status_code=303)
async def revoke_token(request: Request) -> Redirect:
    form = await request.form()
    await accounts.revoke_token(forms.text(form, "name") or "", actor=_who(request).actor)
    return see_other("/ui/admin/tokens?done=revoked")


# ---------------------------------------------------------------- court handoff

@get("/court", name="page-court", guards=[signed_in], include_in_schema=False)
async def court(request: Request, done: str | None = None) -> Template:
    """Every reader sees the referrals and entrustments of its disputes; an admin also the
    dead webhook deliveries, each with a retry button."""
    who = _who(request)
    dead = await worker.list_deliveries(status="dead", limit=100) if who.is_admin else None
    return page(request, "court.html", title="诉调对接", handoffs=await worklist.handoffs(who), dead=dead, done=done)


@post("/court/deliveries/{message_id:str}/retry", name="page-delivery-retry", guards=GUARDS,
      include_in_schema=False, status_code=303)
async def retry_delivery(request: Request, message_id: str) -> Redirect:
    await worker.retry_delivery(message_id, actor=_who(request).actor)
    return see_other("/ui/court?done=retry")


ADMIN_HANDLERS: list[Any] = [users, create_user, change_user, org_list, create_org, org_detail, add_mediator,
                             change_mediator, tokens, create_token, revoke_token, court, retry_delivery]
