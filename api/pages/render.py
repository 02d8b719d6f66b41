"""Rendering a page: the template, what every page knows (who is signed in, the code
labels, the field errors of a refused form and what was typed), and the HTML error page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.response import Redirect, Template

from api import messages
from api.pages.session import sign_in_url
from mediation import clock, codes
from mediation.errors import DomainError, FieldError, Invalid

HTML = "text/html; charset=utf-8"


def said_field(error: FieldError) -> str:
    """A field's refusal in Chinese, from the one message catalogue (pages always speak Chinese)."""
    return messages.translate(error.key, "zh", error.params)


def said(exc: DomainError) -> str:
    """A refusal's detail in Chinese, from the one message catalogue."""
    if isinstance(exc, Invalid):
        return "；".join(f"{said_field(e)}" for e in exc.errors)
    return messages.translate(exc.key, "zh", exc.params)


class FormState:
    """What a refused form shows again: the values as typed and the errors by field."""

    def __init__(self, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
                 action: str | None = None) -> None:
        self.values = values or {}
        self.errors = errors or {}
        self.action = action

    @classmethod
    def refused(cls, values: dict[str, Any], exc: Invalid, action: str | None = None) -> FormState:
        errors: dict[str, list[str]] = {}
        for e in exc.errors:
            errors.setdefault(e.field, []).append(said_field(e))
        return cls(values, errors, action)

    def value(self, name: str, default: Any = "") -> Any:
        v = self.values.get(name)
        return default if v is None else v

    def values_of(self, name: str) -> list[str]:
        v = self.values.get(name)
        if v is None:
            return []
        return list(v) if isinstance(v, list | tuple) else [v]

    def error(self, name: str) -> str | None:
        found = self.errors.get(name)
        return "；".join(found) if found else None

    def other_errors(self, known: set[str]) -> list[tuple[str, str]]:
        """Errors on fields the form has no input for (shown at its top)."""
        return [(f, m) for f, ms in self.errors.items() if f not in known for m in ms]


def fmt_time(value: dt.datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return clock.local(value).strftime("%Y-%m-%d %H:%M")


def fmt_date(value: dt.date | dt.datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = clock.local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def label(table: dict[str, str], code: str | None) -> str:
    return "" if code is None else table.get(code, code)


COMMON = {
    "codes": codes, "fmt_time": fmt_time, "fmt_date": fmt_date, "label": label,
}


def page(request: Request, template: str, *, status: int = 200, title: str = "", **context: Any) -> Template:
    me = request.scope.get("auth")
    return Template(template_name=template, status_code=status, media_type=HTML,
                    context={**COMMON, "me": me, "title": title, "now": clock.now(), "form": FormState(),
                             "path": request.url.path, **context})


def see_other(url: str) -> Redirect:
    return Redirect(path=url, status_code=303)


# ---------------------------------------------------------------- errors as pages

_TITLES = {400: "请求有误", 403: "无权进行此操作", 404: "找不到该页面或案件", 405: "不支持的请求方式",
           409: "当前状态不允许此操作", 413: "提交的内容过大", 422: "填写有误", 500: "系统出错"}


def error_response(request: Request, status: int, detail: str | None = None) -> Template:
    return page(request, "error.html", status=status, title=_TITLES.get(status, "出错了"), detail=detail,
                status_code=status)


def _domain(request: Request, exc: DomainError) -> Any:
    return error_response(request, exc.status, said(exc) if exc.status in (403, 409, 422) else None)


def _http(request: Request, exc: HTTPException) -> Any:
    if isinstance(exc, NotAuthorizedException):  # no session: sign in, then come back
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other(sign_in_url(target if request.method == "GET" else None))
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return error_response(request, 403, "表单已过期或来源不明（缺少有效的 CSRF 令牌），请刷新页面后重新提交。")
    if isinstance(exc, NotFoundException):
        return error_response(request, 404)
    return error_response(request, exc.status_code)


PAGE_EXCEPTION_HANDLERS = {DomainError: _domain, HTTPException: _http}
