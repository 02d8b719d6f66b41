"""Statistics for the judicial bureau (METRICS.md): monthly figures and the cases behind them."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import Parameter

from api.guards import principal_of, roles
from api.params import Cursor, Limit, page_size
from mediation import stats

Region = Annotated[str | None, Parameter(description="Region code (6, 9 or 12 digits)")]
Month = Annotated[str | None, Parameter(description="Month YYYY-MM in Asia/Shanghai")]


class StatsController(Controller):
    path = "/stats"
    tags = ["statistics"]
    guards = [roles("admin", "bureau")]

    @get("/monthly", summary="A region's monthly figures (METRICS.md)")
    async def monthly(self, request: Request, region: Region = None, month: Month = None) -> stats.MonthlyStats:
        return await stats.monthly(principal_of(request), region, month)

    @get("/monthly/cases", summary="The disputes or events behind one figure; `total` equals the figure")
    async def cases(self, request: Request, region: Region = None, month: Month = None,
                    metric: Annotated[str | None, Parameter(description="A count key or a rate key")] = None,
                    part: Annotated[str | None, Parameter(description="numerator | denominator (rates)")] = None,
                    type: str | None = None, source: str | None = None, org_kind: str | None = None,
                    child: Annotated[str | None, Parameter(description="A child region code or `unassigned`")] = None,
                    limit: Limit = None, cursor: Cursor = None) -> stats.CaseList:
        query = stats.CaseQuery(region=region, month=month, metric=metric, part=part, type=type, source=source,
                                org_kind=org_kind, child=child)
        return await stats.cases(principal_of(request), query, limit=page_size(limit), cursor=cursor)
