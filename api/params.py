"""The query, header and path parameters the controllers share, declared once."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar.connection import ASGIConnection
from litestar.params import Parameter

from mediation.pagination import check_limit

Limit = Annotated[int | None, Parameter(description="Page size, 1–500 (default 50)")]
Cursor = Annotated[str | None, Parameter(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Parameter(header="If-Match", description='The version, e.g. "3"', required=False)]
IdempotencyKey = Annotated[str | None, Parameter(
    header="Idempotency-Key", required=False,
    description="Per court; repeating it with the same JSON body answers the first answer again, "
                "with a different body 409")]


def page_size(limit: int | None) -> int:
    """The `limit` a list runs with: the default when absent, 422 outside 1–500."""
    return check_limit(limit)


def path_id(connection: ASGIConnection, name: str) -> uuid.UUID:
    """A `{name:uuid}` path parameter, for guards (which run before the handler's own
    parameters are parsed)."""
    value = connection.path_params[name]
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
