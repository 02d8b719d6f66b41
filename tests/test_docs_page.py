"""The OpenAPI document and the API docs page (API.md "Operations"): `/schema/openapi.json`
lists the contract's paths, and `/schema` renders Swagger UI in a real headless Chromium
while loading nothing from anywhere but the service itself."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent

CORE_PATHS = {
    "/healthz": {"get"},
    "/api/v1/regions": {"get", "post"},
    "/api/v1/regions/{code}": {"get"},
    "/api/v1/orgs": {"get", "post"},
    "/api/v1/orgs/{org_id}": {"get"},
    "/api/v1/orgs/{org_id}/mediators": {"get", "post"},
    "/api/v1/disputes": {"get", "post"},
    "/api/v1/disputes/{dispute_id}": {"get"},
    **{f"/api/v1/disputes/{{dispute_id}}/{action}": {"post"} for action in (
        "sessions", "escalate", "assign", "resolve", "fail", "refer", "withdraw", "reject", "performance", "visit",
        "confirmation")},
    "/api/v1/audit": {"get"},
}
COURT_PATHS = {
    "/api/v1/courts": {"get", "post"},
    "/api/v1/courts/{court_id}": {"patch"},
    "/api/v1/courts/{court_id}/secrets": {"post"},
    "/api/v1/courts/{court_id}/roster": {"get", "post"},
    "/api/v1/courts/{court_id}/roster/{org_id}": {"delete"},
    "/api/v1/court/referrals": {"get"},
    "/api/v1/court/referrals/{referral_id}": {"get"},
    "/api/v1/court/referrals/{referral_id}/ack": {"post"},
    "/api/v1/court/referrals/{referral_id}/decision": {"post"},
    "/api/v1/court/entrustments": {"post"},
    "/api/v1/court/entrustments/{dispute_id}": {"get"},
}


async def test_openapi_lists_the_contract_paths(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, methods in CORE_PATHS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    # bodies are described: the registration names its fields
    post = paths["/api/v1/disputes"]["post"]
    assert "requestBody" in post


async def test_openapi_lists_the_court_paths(client):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    missing = {p: sorted(m - set(paths.get(p, {}))) for p, m in COURT_PATHS.items() if not m <= set(paths.get(p, {}))}
    assert missing == {}


async def test_docs_page_html_names_no_other_origin(client):
    r = await client.get("/schema")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "swagger-ui-bundle.js" in html
    # every asset the page names is a same-origin path (the inline spec may hold example URLs)
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert assets, html[:500]
    assert [a for a in assets if not a.startswith("/") or a.startswith("//")] == []
    for marker in ("unpkg.com", "jsdelivr", "cdnjs", "googleapis"):
        assert marker not in html, marker
    for asset in ("/static/docs/swagger-ui-bundle.js", "/static/docs/swagger-ui.css",
                  "/static/docs/swagger-ui-standalone-preset.js"):
        a = await client.get(asset)
        assert a.status_code == 200, asset
        assert len(a.content) > 1000


# ---------------------------------------------------------------- a real browser

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(database_url, pool, tmp_path):
    """The app under a real uvicorn on 127.0.0.1, using the test database."""
    port = _free_port()
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "TIAOJIE_DATA_DIR": str(tmp_path / "data")}
    code = (
        "import uvicorn; from api.app import create_app; "
        f"uvicorn.run(create_app(run_worker=False), host='127.0.0.1', port={port}, log_config=None, access_log=False)"
    )
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {(tmp_path / 'server.log').read_text(errors='replace')}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {(tmp_path / 'server.log').read_text(errors='replace')}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _need_browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"chromium not installed: {CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as e:
        pytest.skip(f"chromium not installed: the playwright package is missing ({e})")


async def test_docs_page_in_chromium_loads_only_same_origin_assets(served, tmp_path):
    _need_browser()
    from playwright.async_api import async_playwright

    requests: list[str] = []
    failed: list[str] = []
    bad_answers: list[tuple[int, str]] = []
    console_errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page()
            page.on("request", lambda req: requests.append(req.url))
            page.on("requestfailed", lambda req: failed.append(req.url))
            page.on("response", lambda res: bad_answers.append((res.status, res.url)) if res.status >= 400 else None)
            page.on("console", lambda msg: console_errors.append(f"{msg.text} at {msg.location.get('url')}")
                    if msg.type == "error" else None)
            response = await page.goto(f"{served}/schema", wait_until="networkidle")
            assert response is not None and response.status == 200
            # Swagger UI rendered the operations of the document
            await page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
            summaries = await page.locator(".opblock-summary-path").all_inner_texts()
            flat = [s.replace("\u200b", "") for s in summaries]
            assert "/api/v1/disputes" in flat
            assert "/api/v1/disputes/{dispute_id}/escalate" in flat
            assert await page.locator(".swagger-ui .info .title").first.inner_text() != ""
            title = await page.title()
            await page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
        finally:
            await browser.close()
    assert title == "tiaojie 调解 API"
    origin = urllib.parse.urlsplit(served)
    others = [u for u in requests if not u.startswith(("data:", "blob:"))
              and urllib.parse.urlsplit(u)[:2] != origin[:2]]
    assert others == [], f"the docs page loaded from other origins: {others}"
    assert f"{served}/schema" in requests
    assert any(u.endswith("/static/docs/swagger-ui-bundle.js") for u in requests)
    assert failed == [], failed
    assert bad_answers == [], bad_answers
    assert console_errors == []
