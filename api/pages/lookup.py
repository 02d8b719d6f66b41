"""The parties' lookup page `/lookup`: no sign-in, plain HTML that works on a phone
without JavaScript, the same service call and the same limits as `POST /api/v1/public/lookup`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.response import Template

from api.pages.render import FormState, fmt_date, fmt_time, page, said, said_field
from api.routes.public import answer
from mediation.errors import Invalid, NotFound, RateLimited
from mediation.workdays import END_OF_DAY

TITLE = "案件进度查询"


def deadline_text(value: dt.datetime | None) -> str:
    """A period by the rule ends at the end of its last day: say so as people do (当日24时前)."""
    if value is None:
        return ""
    if value.timetz().replace(tzinfo=None) == END_OF_DAY:
        return f"{fmt_date(value)}24时前"
    return fmt_time(value)


@get("/lookup", name="page-lookup", include_in_schema=False, exclude_from_auth=True)
async def lookup_form(request: Request) -> Template:
    return page(request, "lookup.html", title=TITLE)


@post("/lookup", name="page-lookup-post", include_in_schema=False, exclude_from_auth=True, status_code=200)
async def lookup_answer(request: Request) -> Template:
    form = await request.form()
    values: dict[str, Any] = {"case_no": str(form.get("case_no") or "").strip(), "code": ""}
    try:
        found = await answer(request, values["case_no"], str(form.get("code") or ""))
    except Invalid as e:
        messages = {"case_no": "请填写案件编号(登记回执上的编号，如 511325-2026-000123)。",
                    "code": "请填写当事人手机号码或身份证号码的后4位。"}
        refused = FormState(values, {err.field: [messages.get(err.field, said_field(err))] for err in e.errors})
        return page(request, "lookup.html", status=422, title=TITLE, form=refused)
    except NotFound as e:
        return page(request, "lookup.html", status=404, title=TITLE, form=FormState(values), refusal=said(e))
    except RateLimited as e:
        minutes = max(1, (e.retry_after + 59) // 60)
        shown = page(request, "lookup.html", status=429, title=TITLE, form=FormState(values),
                     refusal=f"{said(e)}约 {minutes} 分钟后可以再查询。")
        shown.headers["Retry-After"] = str(e.retry_after)
        return shown
    return page(request, "lookup.html", title=TITLE, found=found, deadline=deadline_text(found.deadline))


LOOKUP_HANDLERS = [lookup_form, lookup_answer]
