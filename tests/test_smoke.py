async def test_register_and_read(client, world):
    from tests.conftest import register

    d = await register(client, world)
    assert d["case_no"].startswith("511325-")
    r = await client.get(f"/api/v1/disputes/{d['id']}", headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
