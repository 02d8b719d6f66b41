"""The HTTP layer itself: every route answers OPTIONS and HEAD without a server error,
and the court side is wired by one explicit call (importing it changes nothing)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from litestar.routes import HTTPRoute

ROOT = Path(__file__).resolve().parents[1]


def concrete(path: str) -> str:
    """A request path for a route pattern: ids that exist nowhere, a plausible code."""
    def value(match: re.Match) -> str:
        kind = match.group(2)
        return str(uuid.UUID(int=7)) if kind == "uuid" else "511325000000"
    return re.sub(r"\{(\w+):(\w+)\}", value, path)


def http_paths(app) -> list[str]:
    return sorted({concrete(r.path) for r in app.routes if isinstance(r, HTTPRoute)})


async def test_every_route_answers_options_with_allow_and_never_500(client, app, world):
    paths = http_paths(app)
    assert "/api/v1/disputes/" + str(uuid.UUID(int=7)) in paths  # the walk covers guarded routes
    methods = {concrete(r.path): r.methods for r in app.routes if isinstance(r, HTTPRoute)}
    assert methods["/api/v1/orgs/" + str(uuid.UUID(int=7)) + "/mediators"] == {"GET", "POST", "OPTIONS"}
    for path in paths:
        for headers in ({}, world.h("admin"), world.h("village_a1")):
            r = await client.options(path, headers=headers)
            assert r.status_code == 204, (path, r.status_code, r.text)
            # every method the path answers, as the OpenAPI document lists them (not only the first handler's)
            assert set(r.headers["allow"].split(", ")) == methods[path], path


async def test_every_route_answers_head_without_a_server_error(client, app, world):
    statuses = {}
    for path in http_paths(app):
        for who, headers in (("nobody", {}), ("admin", world.h("admin")), ("mediator", world.h("village_a1"))):
            r = await client.head(path, headers=headers)
            assert r.status_code < 500, (path, who, r.status_code)
            statuses[(path, who)] = r.status_code
    # no route serves HEAD, so the router refuses it (405 with Allow) before anyone reads data
    assert {s for (path, _), s in statuses.items() if path.startswith("/api/v1")} == {405}


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_court_side_changes_nothing():
    out = run_python(
        "import referrals, referrals.service, referrals.subscribers, referrals.courts, referrals.worker\n"
        "import api.routes.court_api, api.routes.courts, api.routes.deliveries\n"
        "from mediation import disputes, signals\n"
        "print(len(signals._bus.subscribers), sorted(disputes._added_actions))")
    assert out == "0 []"


def test_the_app_factory_installs_the_court_side_once():
    out = run_python(
        "from mediation import disputes, signals\n"
        "from api.app import create_app\n"
        "create_app(manage_database=False, run_worker=False)\n"
        "create_app(manage_database=False, run_worker=False)\n"
        "print(len(signals._bus.subscribers), sorted(disputes._added_actions))")
    assert out == "1 ['confirmation', 'refer', 'risk']"


def test_referrals_imports_no_litestar():
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "referrals").glob("*.py")
            if re.search(r"^\s*(from|import) litestar", p.read_text(), re.M)]
    assert hits == []


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD"])
async def test_unknown_paths_answer_without_a_server_error(client, method):
    r = await client.request(method, "/api/v1/nothing-here")
    assert r.status_code in (401, 404, 405), r.status_code
