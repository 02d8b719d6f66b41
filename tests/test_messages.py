"""The message catalogue (API.md "Conventions"): every message a person reads has a
Chinese translation, the API answers in Chinese when `Accept-Language` prefers it, and
no library wording reaches a client. Pure tests (no database) come first."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from api import messages
from api.messages import KEYWORDS, negotiate, translate
from api.problems import PROBLEM_TYPES
from tests.conftest import dispute_body

CHINESE = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"



def extracted_keys() -> set[str]:
    keys: set[str] = set()
    for package in ("api", "mediation", "referrals"):
        for _, _, message, _, _ in extract_from_dir(ROOT / package, method_map=[("**.py", "python")],
                                                     keywords=KEYWORDS):
            if isinstance(message, str) and message:
                keys.add(message)
    # the problem types' texts live in their own table (api/problem_types.toml)
    keys |= {text for p in PROBLEM_TYPES.values() for text in (p.title, p.detail, p.explanation) if text}
    return keys


def test_every_extracted_message_has_a_chinese_translation():
    keys = extracted_keys()
    assert len(keys) > 80
    # the pages' own texts are written in Chinese (pages are always Chinese): their own translation
    missing = sorted(k for k in keys if k not in messages.catalogue("zh") and not CHINESE.search(k))
    assert missing == [], ("add their Chinese to api/locale/zh/LC_MESSAGES/messages.po "
                           "(api/messages.py says how)")


@pytest.mark.parametrize("header,lang", [
    (None, "en"), ("", "en"), ("en-US,en;q=0.9", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("zh", "zh"),
    ("en-GB, zh;q=0.5", "en"), ("fr, zh;q=0.5", "zh"), ("fr", "en"), ("zh;q=0, en", "en"),
    ("en;q=0.4, zh-TW;q=0.6", "zh"), ("zh, en", "zh"), ("en, zh", "en"), ("*", "en"), ("zh;q=abc", "en"),
])
def test_chinese_only_when_the_client_prefers_it(header, lang):
    assert negotiate(header) == lang


def test_placeholders_are_filled_after_translation():
    assert translate("must be at most {max} characters", "en", {"max": 2000}) == "must be at most 2000 characters"
    assert translate("must be at most {max} characters", "zh", {"max": 2000}) == "最多 2000 个字符"
    assert translate("a text nobody translated", "zh") == "a text nobody translated"


# ---------------------------------------------------------------- over HTTP

async def test_a_refused_registration_reads_in_chinese(client, world):
    body = dispute_body(world, summary="x" * 2001, amount=-1)
    del body["type"]
    r = await client.post(f"{API}/disputes", json=body,
                          headers={**world.h("village_a1"), "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert r.status_code == 422
    problem = r.json()
    assert problem["title"] == "数据有误"
    assert problem["errors"] == [
        {"field": "type", "message": "必填"},
        {"field": "summary", "message": "最多 2000 个字符"},
        {"field": "amount", "message": "不得为负数"},
    ]
    assert problem["detail"] == "type: 必填; summary: 最多 2000 个字符; amount: 不得为负数"


async def test_a_domain_refusal_reads_in_chinese(client, world):
    r = await client.post(f"{API}/disputes", json=dispute_body(world, "village_a2"),
                          headers={**world.h("village_a1"), "Accept-Language": "zh"})
    assert r.status_code == 403
    assert r.json()["detail"] == "调解员只能在本组织登记纠纷"
    assert r.json()["title"] == "无权操作"


async def test_401_reads_in_chinese(client):
    r = await client.get(f"{API}/disputes", headers={"Accept-Language": "zh"})
    assert r.status_code == 401
    assert r.json()["detail"] == "请求须带 `Authorization: Bearer <令牌>` 头。"


MONEY = "must be an amount in yuan, not negative, with at most two decimals, such as 3000.00"


@pytest.mark.parametrize("value,field,message", [
    ({"org_id": 17}, "org_id", "must be an id (a UUID such as 3f2b8c1e-…)"),
    ({"registered_at": 1700000000}, "registered_at", "must be a date and time such as 2026-03-01T09:30:00+08:00"),
    ({"persons_involved": "3"}, "persons_involved", "must be a whole number"),
    ({"summary": ["x"]}, "summary", "must be text"),
    ({"parties": []}, "parties", "must not be empty"),
    ({"region_code": "5113"}, "region_code", "must be a region code of 6, 9 or 12 digits"),
    ({"amount": "12.345"}, "amount", MONEY),
    ({"amount": True}, "amount", MONEY),
])
async def test_no_library_wording_and_strict_types(client, world, value, field, message):
    """Litestar would read "3" as 3 and a number as a time; the document says otherwise,
    so the service refuses them too, in its own words."""
    r = await client.post(f"{API}/disputes", json={**dispute_body(world), **value}, headers=world.h("village_a1"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": field, "message": message}]
    assert "Expected" not in r.text and "`" not in r.json()["errors"][0]["message"]


async def test_an_error_inside_the_agreement_names_the_nested_field(client, world):
    from tests.conftest import register

    dispute = await register(client, world, "village_a1")
    r = await client.post(f"{API}/disputes/{dispute['id']}/resolve",
                          json={"agreement": {"form": "written", "terms": "赔偿", "signed_at": "soon"}},
                          headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "agreement.signed_at", "message": "must be a date and time such as 2026-03-01T09:30:00+08:00"}]


async def test_a_bad_query_parameter_is_named_in_plain_words(client, world):
    r = await client.get(f"{API}/disputes?limit=many", headers=world.h("admin"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "limit", "message": "must be a whole number"}]


async def test_refusals_that_name_a_value_and_refused_parameters_read_in_chinese(client, world):
    zh = {**world.h("admin"), "Accept-Language": "zh"}
    r = await client.get(f"{API}/stats/monthly", params={"region": "990000", "month": "2026-10"}, headers=zh)
    assert r.status_code == 404
    assert r.json()["detail"] == "区划 990000000000 未登记"
    r = await client.get(f"{API}/disputes", params={"registered_from": "2026-10-02", "registered_to": "2026-10-01",
                                                  "limit": "0", "sort": "x"}, headers=zh)
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "limit", "message": "不得小于 1"},
        {"field": "sort", "message": "不是本请求的参数"},
    ]
    r = await client.get(f"{API}/disputes", params={"registered_from": "2026-10-02", "registered_to": "2026-10-01"},
                         headers=zh)
    assert r.json()["errors"] == [{"field": "registered_to", "message": "应晚于 registered_from"}]


async def test_a_stale_version_and_an_unknown_dispute_read_in_chinese(client, world):
    """The dispute service's refusals that name a value are catalogue keys too."""
    import uuid

    from tests.conftest import register

    dispute = await register(client, world, "village_a1")
    zh = {**world.h("village_a1"), "Accept-Language": "zh"}
    r = await client.post(f"{API}/disputes/{dispute['id']}/withdraw", json={"reason": "撤回", "version": 7}, headers=zh)
    assert r.status_code == 409
    assert r.json()["detail"] == "纠纷已是第 1 版，不是第 7 版；请重新读取后再试"
    unknown = uuid.uuid4()
    r = await client.get(f"{API}/disputes/{unknown}", headers={**world.h("admin"), "Accept-Language": "zh"})
    assert r.status_code == 404 and r.json()["detail"] == f"未找到纠纷 {unknown}"


#: the calls whose argument at this position is a message key (mediation.errors)
MESSAGE_ARGUMENT = {"field": 1, "add": 1, **{name: 0 for name in (
    "DomainError", "NotFound", "Forbidden", "Conflict", "StaleVersion", "Unauthorized", "RateLimited", "Malformed")}}


def test_no_message_is_built_as_an_f_string():
    """A key that changes with every value cannot be translated: values go in placeholders."""
    found = []
    for package in ("api", "mediation", "referrals"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                at = MESSAGE_ARGUMENT.get(name)
                arg = node.args[at] if at is not None and len(node.args) > at else None
                if isinstance(arg, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in arg.values):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
