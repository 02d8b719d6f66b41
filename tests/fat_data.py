"""The fattest disputes API.md allows, shared by the bounded-answers test and
bench/memory.py: 200 parties with 200-character names, 500-character addresses, an ID
number and a phone number each, and a 2,000-character summary."""

from __future__ import annotations

MAX_PARTIES = 200
NAME_CHARS, ADDRESS_CHARS, SUMMARY_CHARS = 200, 500, 2000
FAT_ID = "11010519491231002X"
FAT_PHONE = "+8613812345678"


def _text(seed: str, n: int) -> str:
    """`n` characters of Chinese text that differ from party to party."""
    base = "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
    body = (seed + base * (n // len(base) + 2))
    return body[:n]


def fat_parties(i: int = 0, n: int = MAX_PARTIES) -> list[dict]:
    return [{"role": "applicant" if p % 2 == 0 else "respondent", "kind": "person",
             "name": _text(f"{i}号{p}", NAME_CHARS), "address": _text(f"四川省南充市西充县{i}-{p}", ADDRESS_CHARS),
             "id_number": FAT_ID, "phone": FAT_PHONE} for p in range(n)]


def fat_dispute(org_id: str, i: int = 0) -> dict:
    """A registration body for `POST /disputes` at `org_id`."""
    return {"org_id": org_id, "type": "land_forest", "source": "application",
            "summary": _text(f"第{i}宗纠纷", SUMMARY_CHARS), "parties": fat_parties(i)}


def fat_entrustment(org_id: str, i: int = 0) -> dict:
    """A `POST /court/entrustments` body with the same fat parties."""
    return {"court_case_no": f"(2026)川1325民初{10000 + i}号", "kind": "in_litigation", "org_id": org_id,
            "type": "contract", "summary": _text(f"第{i}宗委托", SUMMARY_CHARS), "parties": fat_parties(i)}
