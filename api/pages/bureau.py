"""The bureau's pages: a region's month (mediation.stats) with charts, every figure a
link to the cases behind it, the xlsx and csv downloads, and freezing the month
(mediation.reports) with the frozen-versus-live view. Bureau and admin only."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from api.guards import principal_of, roles, signed_in
from api.pages.charts import bar_chart
from api.pages.render import page, said, see_other
from mediation import clock, early_warning, exports, reports, risk, stats
from mediation.codes import DISPUTE_TYPES
from mediation.errors import Conflict, Invalid, NotFound

GUARDS = [signed_in, roles("admin", "bureau")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def last_month() -> str:
    today = clock.now().astimezone(clock.TZ).date()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def shift(month: str, by: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + mon - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _region(request: Request, region: str | None) -> str | None:
    who = principal_of(request)
    return region or who.region_code


def cases_url(region: str, month: str, metric: str, **extra: str | None) -> str:
    query = {"region": region, "month": month, "metric": metric, **{k: v for k, v in extra.items() if v}}
    return "/ui/bureau/cases?" + urlencode(query)


@get("/bureau", name="page-bureau", guards=GUARDS, include_in_schema=False)
async def month_page(request: Request, region: str | None = None, month: str | None = None,
                     done: str | None = None) -> Template:
    region = _region(request, region)
    month = month or last_month()
    who = principal_of(request)
    if region is None:
        return page(request, "bureau.html", title="月度统计", figures=None, month=month, region="", done=done)
    figures = await stats.monthly(who, region, month)
    code = figures.region.code
    try:
        report = await reports.get(who, code, month)
    except NotFound:
        report = None
    children = [c for c in figures.children if c.region is not None]
    rate_chart = bar_chart(
        "各下级区划调解成功率（%）",
        [(c.region.name, round((c.rates["success_rate"].rate or 0) * 100, 1)) for c in children])
    type_chart = bar_chart(
        "各类纠纷受理数",
        [(DISPUTE_TYPES[t], cell.received) for t, cell in
         sorted(figures.by_type.items(), key=lambda kv: -kv[1].received) if cell.received])
    ended = month < f"{clock.now().astimezone(clock.TZ):%Y-%m}"
    return page(request, "bureau.html", title=f"{figures.region.name} {month} 月度统计", figures=figures,
                region=code, month=month, prev_month=shift(month, -1), next_month=shift(month, 1),
                report=report, rate_chart=rate_chart, type_chart=type_chart, children=children,
                counts=stats.COUNTS, rates=stats.RATES, durations=stats.DURATIONS, cases_url=cases_url,
                may_freeze=ended and report is None, done=done)


@get("/bureau/cases", name="page-bureau-cases", guards=GUARDS, include_in_schema=False)
async def cases(request: Request, region: str | None = None, month: str | None = None, metric: str | None = None,
                part: str | None = None, type: str | None = None, source: str | None = None,
                org_kind: str | None = None, child: str | None = None, cursor: str | None = None) -> Template:
    query = stats.CaseQuery(region=_region(request, region), month=month or last_month(), metric=metric,
                            part=part, type=type, source=source, org_kind=org_kind, child=child)
    found = await stats.cases(principal_of(request), query, limit=50, cursor=cursor)
    metric_label = (stats.COUNT_BY_KEY[metric].label if metric in stats.COUNT_BY_KEY
             else stats.RATE_BY_KEY[metric].label + ("（分子）" if part == "numerator" else "（分母）"))
    filters = {"part": part, "type": type, "source": source, "org_kind": org_kind, "child": child}
    next_url = (cases_url(found.region.code, found.month, found.metric, **filters, cursor=found.next_cursor)
                if found.next_cursor else None)
    return page(request, "bureau_cases.html", title=f"{metric_label} · {found.region.name} {found.month}", found=found,
                type_label=DISPUTE_TYPES.get(type or "", ""), next_url=next_url)


@get("/bureau/trend", name="page-bureau-trend", guards=GUARDS, include_in_schema=False)
async def trend(request: Request, region: str | None = None, month: str | None = None) -> Template:
    """Twelve months to `month`, with 环比 and 同比 of each."""
    month = month or last_month()
    found = await stats.trend(principal_of(request), _region(request, region), shift(month, -11), month)
    chart = bar_chart("近 12 个月受理数", [(m.month, m.counts["received"]) for m in found.months])
    return page(request, "bureau_trend.html", title=f"{found.region.name} 近 12 个月", trend=found, month=month,
                chart=chart, cases_url=cases_url)


@get("/bureau/hotspots", name="page-bureau-hotspots", guards=GUARDS, include_in_schema=False)
async def hotspots(request: Request, region: str | None = None, month: str | None = None) -> Template:
    month = month or last_month()
    found = await stats.hotspots(principal_of(request), _region(request, region), month)
    chart = bar_chart("受理最多的村（社区）", [(v.region.name, v.received) for v in found.villages[:10]])
    return page(request, "bureau_hotspots.html", title=f"{found.region.name} {month} 热点", hot=found, month=month,
                chart=chart, cases_url=cases_url)


@get("/bureau/warnings", name="page-bureau-warnings", guards=GUARDS, include_in_schema=False)
async def warnings(request: Request, region: str | None = None, level: str = "yellow",
                   cursor: str | None = None) -> Template:
    """预警: the open red and yellow disputes of the region, the most recent rise first (GET /warnings)."""
    level = level if level in ("red", "yellow") else "yellow"
    found = await early_warning.list_warnings(
        principal_of(request), early_warning.WarningFilters(region=_region(request, region), level=level),
        limit=100, cursor=cursor)
    return page(request, "bureau_warnings.html", title="风险预警", found=found, level=level,
                region=_region(request, region) or "", levels=risk.LEVELS,
                reason_labels={code: label for code, (_, label) in risk.REASONS.items()})


async def _download(request: Request, region: str | None, month: str | None, ext: str) -> Response[bytes]:
    figures = await stats.monthly(principal_of(request), _region(request, region), month or last_month())
    content = exports.xlsx(figures) if ext == "xlsx" else exports.csv_bytes(figures)
    ascii_name = f"tiaojie-{figures.region.code}-{figures.month}.{ext}"
    disposition = (f"attachment; filename=\"{ascii_name}\"; "
                   f"filename*=UTF-8''{quote(exports.filename(figures, ext))}")
    return Response(content=content, media_type=XLSX if ext == "xlsx" else "text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})


@get("/bureau/month.xlsx", name="page-bureau-xlsx", guards=GUARDS, include_in_schema=False)
async def month_xlsx(request: Request, region: str | None = None, month: str | None = None) -> Response[bytes]:
    return await _download(request, region, month, "xlsx")


@get("/bureau/month.csv", name="page-bureau-csv", guards=GUARDS, include_in_schema=False)
async def month_csv(request: Request, region: str | None = None, month: str | None = None) -> Response[bytes]:
    return await _download(request, region, month, "csv")


@post("/bureau/freeze", name="page-bureau-freeze", guards=GUARDS, include_in_schema=False, status_code=303)
async def freeze(request: Request) -> Redirect | Template:
    form = await request.form()
    region, month = str(form.get("region") or ""), str(form.get("month") or "")
    try:
        await reports.freeze(principal_of(request), region, month)
    except (Invalid, Conflict) as e:
        detail: Any = said(e)
        return page(request, "error.html", status=e.status, title="未能上报", detail=detail)
    return see_other("/ui/bureau?" + urlencode({"region": region, "month": month, "done": "frozen"}))


BUREAU_HANDLERS = [month_page, cases, trend, hotspots, warnings, month_xlsx, month_csv, freeze]
