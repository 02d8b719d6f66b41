"""Driving the pages over HTTP the way a browser does without JavaScript: fetch a form,
post it with its CSRF token and the session cookie."""

from __future__ import annotations

import html
import re
import urllib.parse

from mediation import accounts

PASSWORD = "correct horse 9"
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]*)"')


def csrf_token(page_html: str) -> str:
    found = _TOKEN.search(page_html)
    assert found, page_html[:2000]
    return html.unescape(found.group(1))


async def user(world, username: str, role: str = "mediator", org: str | None = "village_a1",
               region: str | None = None) -> None:
    await accounts.create_user(username=username, role=role, password=PASSWORD,
                               org_id=world.orgs[org] if role == "mediator" else None, region=region)


async def post_form(client, form_url: str, action_url: str, data: dict | list, **kw):
    """GET the page holding the form (for its token), then POST the form."""
    page = await client.get(form_url)
    assert page.status_code == 200, (form_url, page.status_code, page.text[:500])
    body = list(data.items()) if isinstance(data, dict) else list(data)
    return await post_pairs(client, action_url, [("_csrf_token", csrf_token(page.text)), *body], **kw)


async def post_pairs(client, url: str, pairs: list[tuple[str, str]], **kw):
    """A form body with repeated fields (httpx's `data=` takes a dict only)."""
    return await client.post(url, content=urllib.parse.urlencode(pairs).encode(),
                             headers={"content-type": "application/x-www-form-urlencoded"}, **kw)


async def sign_in(client, username: str, password: str = PASSWORD):
    return await post_form(client, "/ui/signin", "/ui/signin", {"username": username, "password": password})
