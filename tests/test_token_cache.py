"""The bearer middleware reuses a token's Principal for a few seconds (api.auth): a
revocation in this process acts at once, one made elsewhere within the cache time."""

import asyncio

import pytest

from api import auth
from mediation import accounts, db

API = "/api/v1"


@pytest.fixture
def short_cache(monkeypatch):
    monkeypatch.setattr(auth, "TOKEN_CACHE_SECONDS", 0.3)
    auth._token_cache.clear()
    yield
    auth._token_cache.clear()


async def test_a_token_revoked_by_another_process_stops_working_within_the_cache_time(client, world, short_cache):
    headers = world.h("village_a1")
    assert (await client.get(f"{API}/orgs", headers=headers)).status_code == 200
    # what `tiaojie token revoke` does from another process: this process is not told
    async with db.transaction() as conn:
        await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE name = 'm-village_a1'")
    assert (await client.get(f"{API}/orgs", headers=headers)).status_code == 200  # still cached
    await asyncio.sleep(0.35)
    r = await client.get(f"{API}/orgs", headers=headers)
    assert r.status_code == 401
    assert r.json()["detail"] == "The token is unknown or revoked."


async def test_a_token_revoked_in_this_process_stops_working_at_once(client, world, short_cache):
    headers = world.h("village_a1")
    other = world.h("village_a2")
    assert (await client.get(f"{API}/orgs", headers=headers)).status_code == 200
    assert (await client.get(f"{API}/orgs", headers=other)).status_code == 200
    assert await accounts.revoke_token("m-village_a1") == "m-village_a1"
    assert (await client.get(f"{API}/orgs", headers=headers)).status_code == 401
    assert (await client.get(f"{API}/orgs", headers=other)).status_code == 200


async def test_unknown_tokens_are_not_cached(client, world, short_cache):
    r = await client.get(f"{API}/orgs", headers={"Authorization": "Bearer tj_not-a-token"})
    assert r.status_code == 401
    assert auth._token_cache == {}
    assert (await client.get(f"{API}/orgs", headers=world.h("admin"))).status_code == 200
    assert len(auth._token_cache) == 1
