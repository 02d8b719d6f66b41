"""Printable papers of a case (People's Mediation Law Art. 27–29): the 人民调解协议书 of a
resolved dispute, and the case-file cover with the session records (卷宗封面、调解记录).
They carry full names and ID numbers, so opening one is a reveal: only for those who may
reveal, and audited by the same service call the API's `?reveal=true` makes."""

from __future__ import annotations

import uuid

from litestar import Request, get
from litestar.response import Template

from api.pages.render import page
from api.guards import principal_of, signed_in
from mediation import disputes, worklist
from mediation.dispute_views import Dispute
from mediation.errors import Conflict


async def _revealed(request: Request, dispute_id: uuid.UUID) -> tuple[Dispute, dict]:
    d = await disputes.get(principal_of(request), dispute_id, reveal=True)
    ids = {d.org_id}
    for e in d.events:
        ids.update(uuid.UUID(m) for m in e.detail.get("mediator_ids", ()))
    names = await worklist.names(list(ids))
    return d, {**names, **{str(k): v for k, v in names.items()}}


def _mediators(d: Dispute, names: dict) -> list[str]:
    seen: dict[str, None] = {}
    for e in d.events:
        if e.kind == "session" and e.org_id == d.org_id:
            for m in e.detail.get("mediator_ids", ()):
                seen.setdefault(names.get(m, ""), None)
    return [n for n in seen if n]


@get("/disputes/{dispute_id:uuid}/print/agreement", name="page-print-agreement", guards=[signed_in],
     include_in_schema=False)
async def agreement(request: Request, dispute_id: uuid.UUID) -> Template:
    d, names = await _revealed(request, dispute_id)
    if d.status != "resolved" or d.agreement is None or d.agreement.form != "written":
        raise Conflict("只有调解成功并达成书面协议的案件才有人民调解协议书")
    return page(request, "print_agreement.html", title=f"人民调解协议书 {d.case_no}", d=d, names=names,
                mediators=_mediators(d, names))


@get("/disputes/{dispute_id:uuid}/print/file", name="page-print-file", guards=[signed_in], include_in_schema=False)
async def case_file(request: Request, dispute_id: uuid.UUID) -> Template:
    d, names = await _revealed(request, dispute_id)
    sessions = [e for e in d.events if e.kind == "session"]
    return page(request, "print_file.html", title=f"卷宗 {d.case_no}", d=d, names=names, sessions=sessions,
                mediators=_mediators(d, names))


DOCUMENT_HANDLERS = [agreement, case_file]
