"""Signing in and out, and changing one's own password."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from api.pages.render import FormState, page, said, see_other
from api.guards import signed_in
from api.pages.session import COOKIE, _cookie, safe_next
from mediation import web_sessions
from mediation.errors import Invalid, Unauthorized


def session_cookie(request: Request, value: str, *, max_age: int | None = None) -> Cookie:
    return Cookie(key=COOKIE, value=value, path="/", httponly=True, samesite="strict",
                  secure=request.app.state.settings.cookie_secure, max_age=max_age)


@get("/signin", name="page-signin", include_in_schema=False)
async def signin_form(request: Request, next: str | None = None) -> Template:
    return page(request, "signin.html", title="登录", next=safe_next(next))


@post("/signin", name="page-signin-post", include_in_schema=False, status_code=303)
async def signin(request: Request) -> Template | Redirect:
    form = await request.form()
    username = str(form.get("username") or "")
    target = safe_next(form.get("next"))
    try:
        signed = await web_sessions.sign_in(username, str(form.get("password") or ""),
                                            replacing=_cookie(request.scope, COOKIE))
    except Unauthorized as e:
        state = FormState({"username": username}, {"password": [said(e)]})
        return page(request, "signin.html", status=401 if not isinstance(e, web_sessions.AccountLocked) else 423,
                    title="登录", next=target, form=state, refusal=said(e))
    redirect = see_other(target)
    redirect.cookies.append(session_cookie(request, signed.token))
    return redirect


@post("/signout", name="page-signout", include_in_schema=False, status_code=303)
async def signout(request: Request) -> Redirect:
    await web_sessions.sign_out(_cookie(request.scope, COOKIE))
    redirect = see_other("/ui/signin")
    redirect.cookies.append(session_cookie(request, "", max_age=0))
    return redirect


@get("/password", name="page-password", guards=[signed_in], include_in_schema=False)
async def password_form(request: Request) -> Template:
    return page(request, "password.html", title="修改密码")


@post("/password", name="page-password-post", guards=[signed_in], include_in_schema=False, status_code=303)
async def change_password(request: Request) -> Template | Redirect:
    form = await request.form()
    try:
        await web_sessions.change_password(
            request.scope["auth"].id, current=str(form.get("current") or ""), new=str(form.get("new") or ""),
            repeat=str(form.get("new_repeat") or ""), keep_token=_cookie(request.scope, COOKIE) or "")
    except Invalid as e:
        return page(request, "password.html", status=422, title="修改密码", form=FormState.refused({}, e))
    return page(request, "password.html", title="修改密码", done=True, status=200)


ACCOUNT_HANDLERS = [signin_form, signin, signout, password_form, change_password]
