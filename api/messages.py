"""The one catalogue of messages people read: problem titles and details, field
messages, and (for the pages) labels and flash messages.

gettext's conventions: a message's id is its English text, with `{name}` placeholders
filled after translation (see `mediation.errors`); translations live in
`api/locale/<lang>/LC_MESSAGES/messages.po`, shipped with the package and read with
Babel. English needs no file: an id is its own English text. A message without a
translation falls back to English rather than failing.

To add messages: write the key where the message is raised (an argument of one of the
KEYWORDS calls below), then extract and merge with Babel,
`pybabel extract -F babel.cfg -k N_ -k add:2 -k field:2 -k NotFound ... -o /tmp/messages.pot .`
(every KEYWORDS entry as a `-k`) and
`pybabel update -i /tmp/messages.pot -d api/locale -D messages --no-fuzzy-matching`,
and translate the new entries: `tests/test_messages.py` fails while one is missing. The
problem types' titles, details and explanations are message ids too, written once in
`api/problem_types.toml` (Babel does not read that file: add their entries by hand)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any, Literal

from babel.messages.pofile import read_po

Language = Literal["en", "zh"]
DEFAULT: Language = "en"
LANGUAGES: tuple[Language, ...] = ("en", "zh")
DOMAIN = "messages"


#: the calls whose argument is a message key (Babel's keyword specs: name → argument position)
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "N_": None, "add": (2,), "field": (2,), "NotFound": None, "Forbidden": None, "Conflict": None,
    "StaleVersion": None, "Unauthorized": None, "Malformed": None, "NotAuthorizedException": None,
    "DomainError": None, "RateLimited": None,
}


def N_(key: str) -> str:  # noqa: N802 (gettext's name for "mark for extraction, translate later")
    return key


@functools.cache
def catalogue(lang: Language) -> Mapping[str, str]:
    """msgid → translation for one language, read once from the shipped .po file."""
    if lang == DEFAULT:
        return {}
    po = resources.files("api") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def translate(key: str, lang: Language = DEFAULT, params: Mapping[str, Any] | None = None) -> str:
    text = catalogue(lang).get(key, key)
    return text.format_map(params) if params else text


def negotiate(accept_language: str | None) -> Language:
    """The language of the answer: Chinese when `Accept-Language` ranks Chinese above
    English (or names Chinese and not English), otherwise English."""
    if not accept_language:
        return DEFAULT
    best: dict[str, float] = {}
    for position, part in enumerate(accept_language.split(",")):
        tag, _, rest = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        # equal weights: the one named first wins
        score = q - position * 1e-6
        best[primary] = max(best.get(primary, -1.0), score)
    if not best:
        return DEFAULT
    return max(best, key=best.__getitem__)  # type: ignore[return-value]
