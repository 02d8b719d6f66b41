"""Who is asking, and what they may read and do (the scoping rules of API.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mediation.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    role: str                      # admin | bureau | mediator | court
    actor: str                     # "token:<name>", "user:<id>", "court:<id>"
    region_code: str | None = None  # bureau: its region (12 digits)
    region_prefix: str | None = None
    org_id: uuid.UUID | None = None  # mediator: its org
    county_code: str | None = None  # mediator: its org's county; court: its county
    court_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    # -- disputes

    def may_read_dispute(self, *, region_code: str, handler_org_ids, court_id=None) -> bool:
        if self.role == "admin":
            return True
        if self.role == "bureau":
            return region_code.startswith(self.region_prefix or "\0")
        if self.role == "mediator":
            return self.org_id in handler_org_ids
        if self.role == "court":
            return court_id is not None and court_id == self.court_id
        return False

    def may_act_on_dispute(self, *, org_id: uuid.UUID) -> bool:
        return self.role == "admin" or (self.role == "mediator" and self.org_id == org_id)

    def may_reveal(self, *, org_id: uuid.UUID) -> bool:
        """Full ID and phone numbers: admins and the mediators of the holding org."""
        return self.may_act_on_dispute(org_id=org_id)

    def dispute_filter(self, args: list) -> str:
        """A SQL condition on `disputes d` limiting a list to what this principal reads."""
        if self.role == "admin":
            return "TRUE"
        if self.role == "bureau":
            args.append((self.region_prefix or "") + "%")
            return f"d.region_code LIKE ${len(args)}"
        if self.role == "mediator":
            args.append([self.org_id])
            return f"d.handler_org_ids @> ${len(args)}::uuid[]"
        if self.role == "court":
            args.append(self.court_id)
            return f"d.court_id = ${len(args)}"
        return "FALSE"

    # -- registry

    def may_read_org(self, *, region_code: str, county_code: str) -> bool:
        if self.role == "admin":
            return True
        if self.role == "bureau":
            return region_code.startswith(self.region_prefix or "\0")
        if self.role in ("mediator", "court"):
            return county_code == self.county_code
        return False

    def org_filter(self, args: list) -> str:
        if self.role == "admin":
            return "TRUE"
        if self.role == "bureau":
            args.append((self.region_prefix or "") + "%")
            return f"o.region_code LIKE ${len(args)}"
        if self.role in ("mediator", "court"):
            args.append(self.county_code)
            return f"o.county_code = ${len(args)}"
        return "FALSE"

    def require_admin(self, what: str = "change the registry") -> None:
        if self.role != "admin":
            raise Forbidden("only an admin may {what}", what=what)


SYSTEM = Principal(role="admin", actor="system")
