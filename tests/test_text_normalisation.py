"""Text and phone numbers as DESIGN.md "Data" and API.md "Codes" say (issue 11 items 6, 7):
NFC; zero-width and bidi-control characters removed from names; other control characters
refused in names while summaries and terms keep their line breaks; phone numbers stored
in their normal form and masked to at most the last 4 digits when short; search on the
normalised form; and the migration that brings stored rows into those forms."""

from __future__ import annotations

import importlib

import pytest

from mediation import db
from tests.conftest import dispute_body, register

API = "/api/v1"
ZWSP, RLO, PDI, BOM = "\u200b", "\u202e", "\u2069", "\ufeff"


def party(name: str, **more) -> dict:
    return {"role": "applicant", "kind": "person", "name": name, **more}


async def revealed(client, world, d) -> dict:
    r = await client.get(f"{API}/disputes/{d['id']}?reveal=true", headers=world.h("village_a1"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_names_are_stored_nfc_without_invisible_characters(client, world):
    d = await register(client, world, parties=[
        party(f"张{ZWSP}三"), party(f"{RLO}李四{PDI}", role="respondent"),
        party("Rene\u0301 Dupont", role="third_party", address=f" 太平镇{BOM}一村 3 组 ")])
    names = [(p["name"], p["address"]) for p in (await revealed(client, world, d))["parties"]]
    assert names == [("张三", None), ("李四", None), ("René Dupont", "太平镇一村 3 组")]


async def test_a_name_with_an_invisible_character_is_found_by_the_plain_name(client, world):
    d = await register(client, world, parties=[party(f"张{ZWSP}三")])
    for q in ("张三", f"张{ZWSP}三", f"{RLO}张三"):
        r = await client.get(f"{API}/disputes", params={"q": q}, headers=world.h("village_a1"))
        assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [d["id"]], q


@pytest.mark.parametrize(("name", "message"), [
    ("张\n三", "must hold some visible text on one line, without control characters"),
    ("张三\t", "is fine"),          # outer whitespace is trimmed
    ("张\x07三", "must hold some visible text on one line, without control characters"),
    (f"{ZWSP}{RLO}", "must hold some visible text on one line, without control characters"),
])
async def test_control_characters_in_names_are_refused(client, world, name, message):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, parties=[party(name)]),
                          headers=world.h("village_a1"))
    if message == "is fine":
        assert r.status_code == 201 and r.json()["parties"][0]["name"] == "张三"
        return
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "parties[0].name", "message": message}]


async def test_summaries_and_terms_keep_line_breaks_and_refuse_other_controls(client, world):
    d = await register(client, world, summary="第一段\n第二段\r\n第三段\tA")
    assert d["summary"] == "第一段\n第二段\r\n第三段\tA"
    r = await client.post(f"{API}/disputes", json=dispute_body(world, summary="响铃\x07"), headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "summary",
                                   "message": "must hold some text (not only spaces) and no control characters "
                                              "other than line breaks and tabs"}]
    r = await client.post(f"{API}/disputes/{d['id']}/resolve", headers=world.h("village_a1"), json={
        "agreement": {"form": "written", "terms": "一、赔偿三千元；\n二、互不追究。", "signed_at": d["registered_at"]}})
    assert r.status_code == 200, r.text
    assert r.json()["agreement"]["terms"] == "一、赔偿三千元；\n二、互不追究。"


async def test_phone_numbers_are_stored_normal_and_masked_to_the_last_four_when_short(client, world):
    d = await register(client, world, parties=[party("张三", phone="138 1234-5678"),
                                                party("李四", role="respondent", phone="8123-4567")])
    assert [p["phone"] for p in d["parties"]] == ["138****5678", "****4567"]
    assert [p["phone"] for p in (await revealed(client, world, d))["parties"]] == ["13812345678", "81234567"]
    for phone in ("13812345678\n", "12345", "138.1234.5678"):
        r = await client.post(f"{API}/disputes", json=dispute_body(world, parties=[party("张三", phone=phone)]),
                              headers=world.h("village_a1"))
        assert r.status_code == 422, phone
        assert [e["field"] for e in r.json()["errors"]] == ["parties[0].phone"]


async def test_mediator_names_and_phones_are_normalised(client, world):
    org = world.orgs["village_a1"]
    r = await client.post(f"{API}/orgs/{org}/mediators", json={"name": f"王{ZWSP}调解", "phone": "0817-331 2345"},
                          headers=world.h("admin"))
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["phone"]) == ("王调解", "081****2345")
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT phone FROM mediators WHERE id = $1", r.json()["id"]) == "08173312345"
    r = await client.post(f"{API}/orgs/{org}/mediators", json={"name": "王\n调解"}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"


async def test_the_migration_normalises_stored_names_phones_and_search_text(client, world):
    d = await register(client, world, parties=[party("张三", phone="13812345678"), party("李四", role="respondent")])
    clean_one = await register(client, world, parties=[party("王五", phone="13900001111")])
    async with db.connection() as conn:
        # rows as the service used to store them
        await conn.execute("UPDATE dispute_parties SET name = $2, phone = $3 WHERE dispute_id = $1 AND position = 0",
                           d["id"], f"张{ZWSP}三", "138-1234-5678\n")
        await conn.execute("UPDATE dispute_parties SET name = $2, address = $3 WHERE dispute_id = $1 AND position = 1",
                           d["id"], f"{RLO}李\n四", "Rene\u0301路")
        await conn.execute("UPDATE disputes SET search_text = $2 WHERE id = $1", d["id"],
                           f"{d['case_no'].lower()} 张三与李四因宅基地边界发生纠纷 张{ZWSP}三 {RLO}李\n四")
        await conn.execute("UPDATE mediators SET name = $2, phone = '0817 331-2345' WHERE id = $1",
                           world.mediators["village_a1"], f"张{BOM}调解员")
        await conn.execute("UPDATE orgs SET name = $2 WHERE id = $1", world.orgs["village_a2"], f"太平二村{ZWSP}调委会")
        await conn.execute("UPDATE dispute_parties SET phone = 'call me' WHERE dispute_id = $1", clean_one["id"])
        before = await conn.fetchval("SELECT search_text FROM disputes WHERE id = $1", clean_one["id"])

        migration = importlib.import_module("migrations.tiaojie_2026_12_01t12_10_00_000000")
        async with conn.transaction():
            changed = await migration.normalise(conn)
        assert changed == {"parties": 2, "mediators": 1, "orgs": 1, "disputes": 1}

        parties = await conn.fetch("SELECT name, phone, address FROM dispute_parties WHERE dispute_id = $1 "
                                   "ORDER BY position", d["id"])
        assert [tuple(p) for p in parties] == [("张三", "13812345678", None), ("李 四", None, "René路")]
        assert await conn.fetchval("SELECT search_text FROM disputes WHERE id = $1", d["id"]) == (
            f"{d['case_no'].lower()} 张三与李四因宅基地边界发生纠纷 张三 李 四")
        assert tuple(await conn.fetchrow("SELECT name, phone FROM mediators WHERE id = $1",
                                         world.mediators["village_a1"])) == ("张调解员", "08173312345")
        assert await conn.fetchval("SELECT name FROM orgs WHERE id = $1", world.orgs["village_a2"]) == "太平二村调委会"
        # what cannot be made valid is left as it was; the rest is untouched
        assert await conn.fetchval("SELECT phone FROM dispute_parties WHERE dispute_id = $1", clean_one["id"]) == "call me"
        assert await conn.fetchval("SELECT search_text FROM disputes WHERE id = $1", clean_one["id"]) == before
        async with conn.transaction():
            assert await migration.normalise(conn) == {"parties": 0, "mediators": 0, "orgs": 0, "disputes": 0}
    r = await client.get(f"{API}/disputes", params={"q": "张三 李 四"}, headers=world.h("village_a1"))
    assert [i["id"] for i in r.json()["items"]] == [d["id"]]
