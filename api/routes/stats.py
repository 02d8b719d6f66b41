"""Statistics for the judicial bureau (METRICS.md): monthly figures and the cases behind them."""

from __future__ import annotations

from typing import Annotated

from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter

from api.guards import ADMIN, principal_of, roles
from api.params import (
    Child,
    Cursor,
    DisputeType,
    Limit,
    Metric,
    Month,
    MonthPath,
    OrgKind,
    Part,
    RegionPath,
    RequiredRegion,
    Source,
    page_size,
)
from api.schemas import STATS_MONTH_RE, ReportIn
from mediation import exports, reports, stats

STATS_READERS = roles("admin", "bureau")


class StatsController(Controller):
    path = "/stats"
    tags = ["statistics"]
    guards = [STATS_READERS]

    @get("/monthly", summary="A region's monthly figures (METRICS.md)")
    async def monthly(self, request: Request, region: RequiredRegion, month: Month) -> stats.MonthlyStats:
        return await stats.monthly(principal_of(request), region, month)

    @get("/monthly/cases", summary="The disputes or events behind one figure; `total` equals the figure")
    async def cases(self, request: Request, region: RequiredRegion, month: Month,
                    metric: Metric, part: Part = None, type: DisputeType = None, source: Source = None,
                    org_kind: OrgKind = None, child: Child = None,
                    limit: Limit = None, cursor: Cursor = None) -> stats.CaseList:
        query = stats.CaseQuery(region=region, month=month, metric=metric, part=part, type=type, source=source,
                                org_kind=org_kind, child=child)
        return await stats.cases(principal_of(request), query, limit=page_size(limit), cursor=cursor)

    @get("/trend", summary="Monthly figures over up to 60 months with 环比 (mom) and 同比 (yoy)")
    async def trend(self, request: Request, region: RequiredRegion,
                    start: Annotated[str, Parameter(query="from", pattern=STATS_MONTH_RE, required=True,
                                                    description="First month YYYY-MM, from 2000-01")],
                    to: Annotated[str, Parameter(pattern=STATS_MONTH_RE, required=True,
                                                 description="Last month YYYY-MM, at most 60 months after `from`")],
                    ) -> stats.Trend:
        return await stats.trend(principal_of(request), region, start, to)

    @get("/hotspots", summary="热点: busiest child regions and villages, types, group disputes")
    async def hotspots(self, request: Request, region: RequiredRegion, month: Month) -> stats.Hotspots:
        return await stats.hotspots(principal_of(request), region, month)

    @get("/monthly.xlsx", summary="The monthly figures as an Excel workbook (Chinese headings)",
         media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    async def monthly_xlsx(self, request: Request, region: RequiredRegion, month: Month) -> Response[bytes]:
        figures = await stats.monthly(principal_of(request), region, month)
        return _download(exports.xlsx(figures), figures, "xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @get("/monthly.csv", summary="The monthly figures as CSV (UTF-8 with BOM), one row per figure",
         media_type="text/csv; charset=utf-8")
    async def monthly_csv(self, request: Request, region: RequiredRegion, month: Month) -> Response[bytes]:
        figures = await stats.monthly(principal_of(request), region, month)
        return _download(exports.csv_bytes(figures), figures, "csv", "text/csv; charset=utf-8")


class ReportController(Controller):
    path = "/reports"
    tags = ["statistics"]
    guards = [STATS_READERS]

    @post("/", summary="Freeze a region's ended month (上报)", status_code=201, opt={"problems": [404]})
    async def freeze(self, request: Request, data: ReportIn) -> reports.Report:
        return await reports.freeze(principal_of(request), data.region, data.month)

    @get("/{region:str}/{month:str}", summary="A frozen report: frozen figures, live figures, the difference")
    async def read(self, request: Request, region: RegionPath, month: MonthPath) -> reports.Report:
        return await reports.get(principal_of(request), region, month)

    @post("/{region:str}/{month:str}/reopen", summary="Reopen a frozen month (admin)", status_code=200,
          guards=[ADMIN])
    async def reopen(self, request: Request, region: RegionPath, month: MonthPath) -> reports.Report:
        return await reports.reopen(principal_of(request), region, month)


def _download(content: bytes, figures: stats.MonthlyStats, ext: str, media_type: str) -> Response[bytes]:
    filename = exports.filename(figures, ext)
    ascii_name = f"tiaojie-{figures.region.code}-{figures.month}.{ext}"
    return Response(content=content, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"})
