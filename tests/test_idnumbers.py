"""Identity numbers (API.md "Codes" and "Personal data"): the GB 11643 and GB 32100 check
characters, real birth dates, and masking."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mediation import fields
from mediation.errors import Collector
from mediation.idnumbers import (
    credit_code_check_char,
    credit_code_problem,
    mask_id_number,
    mask_phone,
    resident_id_check_char,
    resident_id_problem,
)
from tests.conftest import dispute_body

ID_ALPHABET = "0123456789X"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# ---------------------------------------------------------------- known samples

def reference_resident_check(first17: str) -> str:
    """GB 11643-1999 written from the standard: weights 2^(17-i) mod 11, check (12 - S) mod 11, 10 is X."""
    s = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17))
    r = (12 - s % 11) % 11
    return "X" if r == 10 else str(r)


def reference_credit_check(first17: str) -> str:
    """GB 32100-2015 from the standard: weights 3^i mod 31, check 31 - (S mod 31), 31 is 0."""
    s = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def test_known_resident_id_is_valid():
    assert resident_id_check_char("11010519491231002") == "X"
    assert resident_id_problem("11010519491231002X") is None


@pytest.mark.parametrize("first17,check", [
    ("11010519491231002", "X"),
    ("51132519900307001", "9"),
    ("44030420000229123", "6"),   # 29 February of a leap year
    ("65010219000101000", "8"),   # the first possible year
])
def test_resident_id_check_characters(first17, check):
    assert resident_id_check_char(first17) == check
    assert resident_id_problem(first17 + check) is None


def test_known_credit_code_is_valid():
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert credit_code_problem("91350100M000100Y43") is None


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_published_credit_codes_are_valid(code):
    assert credit_code_problem(code) is None, code
    assert credit_code_check_char(code[:17]) == code[17]


@pytest.mark.parametrize("value,problem", [
    ("11010519491231002Y", "must be 18 characters: 17 digits and a check digit or X"),
    ("110105194912310021", "check character does not match (GB 11643)"),
    ("11010519491231002x", "must be 18 characters: 17 digits and a check digit or X"),
    ("1101051949123100", "must be 18 characters: 17 digits and a check digit or X"),
    ("11010519491231002X0", "must be 18 characters: 17 digits and a check digit or X"),
    ("110105491231002", "must be 18 characters: 17 digits and a check digit or X"),  # old 15-digit form
    ("", "must be 18 characters: 17 digits and a check digit or X"),
    ("１１０１０５１９４９１２３１００２Ｘ", "must be 18 characters: 17 digits and a check digit or X"),
])
def test_malformed_resident_ids(value, problem):
    assert resident_id_problem(value) == problem


def _with_check(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


@pytest.mark.parametrize("birth", ["19490230", "19490229", "19000229", "19491331", "19490001", "19491200",
                                   "18991231", "00000000", "21000101"])
def test_impossible_birth_dates_are_refused(birth):
    value = _with_check("110105" + birth + "002")
    assert resident_id_problem(value) == "contains an impossible birth date"


def test_birth_tomorrow_is_refused_today_accepted():
    today = dt.date.today()
    assert resident_id_problem(_with_check("110105" + today.strftime("%Y%m%d") + "002")) is None
    tomorrow = today + dt.timedelta(days=1)
    assert resident_id_problem(_with_check("110105" + tomorrow.strftime("%Y%m%d") + "002")) == (
        "contains an impossible birth date")


def test_leap_day_2000_is_accepted():
    assert resident_id_problem(_with_check("11010520000229002")) is None


@pytest.mark.parametrize("value,problem", [
    ("91350100M000100Y44", "check character does not match (GB 32100)"),
    ("91350100M000100Y4", "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z"),
    ("91350100I000100Y43", "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z"),
    ("91350100m000100Y43", "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z"),
    ("91350100M000100Z43", "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z"),
])
def test_bad_credit_codes(value, problem):
    assert credit_code_problem(value) == problem


# ---------------------------------------------------------------- properties

birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today())
resident_bodies = st.builds(
    lambda area, born, seq: area + born.strftime("%Y%m%d") + seq,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    birth_dates,
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)


@given(body=resident_bodies)
def test_any_resident_body_with_its_check_char_validates(body):
    assert resident_id_check_char(body) == reference_resident_check(body)
    value = body + resident_id_check_char(body)
    assert len(value) == 18
    assert resident_id_problem(value) is None


@given(body=resident_bodies, position=st.integers(0, 17), replacement=st.sampled_from(ID_ALPHABET))
def test_any_single_character_change_of_a_resident_id_is_refused(body, position, replacement):
    value = body + resident_id_check_char(body)
    assume(value[position] != replacement)
    changed = value[:position] + replacement + value[position + 1:]
    assert resident_id_problem(changed) is not None


@given(body=st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_any_credit_code_body_with_its_check_char_validates(body):
    assert credit_code_check_char(body) == reference_credit_check(body)
    assert credit_code_problem(body + credit_code_check_char(body)) is None


@given(body=st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17), position=st.integers(0, 17),
       replacement=st.sampled_from(USCC_ALPHABET + "IOSVZ"))
def test_any_single_character_change_of_a_credit_code_is_refused(body, position, replacement):
    value = body + credit_code_check_char(body)
    assume(value[position] != replacement)
    changed = value[:position] + replacement + value[position + 1:]
    assert credit_code_problem(changed) is not None


@given(body=resident_bodies, i=st.integers(0, 16))
def test_swapping_two_adjacent_digits_of_a_resident_id_is_refused(body, i):
    value = body + resident_id_check_char(body)
    assume(value[i] != value[i + 1])
    swapped = value[:i] + value[i + 1] + value[i] + value[i + 2:]
    assert resident_id_problem(swapped) is not None


# ---------------------------------------------------------------- masking

@pytest.mark.parametrize("value,masked", [
    ("11010519491231002X", "1101**********002X"),
    ("511325199003070017", "5113**********0017"),
    ("91350100M000100Y43", "9135**********0Y43"),
    ("12345678", "********"),
    ("123", "***"),
    ("", ""),
    (None, None),
])
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize("value,masked", [
    ("13812345678", "138****5678"),
    ("13800000001", "138****0001"),
    ("08173312345", "081****2345"),
    ("+8613812345678", "+86*******5678"),
    ("81234567", "****4567"),        # a short number shows its last 4 digits only
    ("1234567", "***4567"),
    ("1234", "****"),
    ("", ""),
    (None, None),
])
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


@given(st.text(alphabet="0123456789X", min_size=9, max_size=30))
def test_masking_keeps_only_first_four_and_last_four(value):
    masked = mask_id_number(value)
    assert len(masked) == len(value)
    assert masked[:4] == value[:4] and masked[-4:] == value[-4:]
    assert set(masked[4:-4]) <= {"*"}


@given(st.text(alphabet="0123456789", min_size=5, max_size=16))
def test_phone_masking_shows_at_most_the_last_four_and_hides_most(value):
    masked = mask_phone(value)
    assert len(masked) == len(value) and masked[-4:] == value[-4:]
    shown = sum(c != "*" for c in masked)
    assert shown <= 4 or (len(value) >= 11 and masked[:3] == value[:3] and shown == 7)
    assert masked.count("*") >= len(value) // 3


@pytest.mark.parametrize("phone,stored", [
    ("13812345678", "13812345678"), ("0817-3312345", "08173312345"), ("+8613812345678", "+8613812345678"),
    ("+86 138-1234-5678", "+8613812345678"), ("138 1234 5678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"), ("1234567", "1234567"), ("123456789012345", "123456789012345"),
    ("12345", None), ("1234567890123456", None), ("call me", None), ("13812345678\n", None), ("138.1234.5678", None),
    ("++8613812345678", None), ("86+13812345678", None), ("", None), ("-", None),
])
def test_phone_numbers_are_validated_and_stored_in_their_normal_form(phone, stored):
    errors = Collector()
    assert fields.phone(errors, "phone", phone) == stored
    assert bool(errors.errors) is (stored is None)


# ---------------------------------------------------------------- through the API

async def test_api_accepts_lowercase_x_and_stores_it_upper(client, world):
    body = dispute_body(world)
    body["parties"][0]["id_number"] = " 11010519491231002x "
    r = await client.post("/api/v1/disputes", json=body, headers=world.h("village_a1"))
    assert r.status_code == 201, r.text
    assert r.json()["parties"][0]["id_number"] == "1101**********002X"
    full = await client.get(f"/api/v1/disputes/{r.json()['id']}?reveal=true", headers=world.h("village_a1"))
    assert full.json()["parties"][0]["id_number"] == "11010519491231002X"


async def test_api_checks_the_number_by_party_kind(client, world):
    parties = [
        {"role": "applicant", "kind": "person", "name": "张三", "id_number": "91350100M000100Y43"},
        {"role": "respondent", "kind": "organization", "name": "某公司", "id_number": "11010519491231002X"},
        {"role": "respondent", "kind": "organization", "name": "某合作社", "id_number": "91350100M000100Y43"},
    ]
    r = await client.post("/api/v1/disputes", json=dispute_body(world, parties=parties), headers=world.h("village_a1"))
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "parties[0].id_number", "message": "must be 18 characters: 17 digits and a check digit or X"},
        {"field": "parties[1].id_number", "message": "check character does not match (GB 32100)"},
    ]
