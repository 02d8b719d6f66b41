"""The `tiaojie` console script, run as a real subprocess against the test database."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from mediation import accounts, db, orgs, regions
from mediation.access import SYSTEM

TIAOJIE = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "tiaojie"
DATA = Path(__file__).resolve().parent.parent / "mediation" / "data"


@pytest.fixture
def tiaojie(database_url, pool, tmp_path):
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "TIAOJIE_DATA_DIR": str(tmp_path / "data"),
           "TIAOJIE_LOG_LEVEL": "WARNING"}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        # generous: the demo loads 3,000 disputes, and a shared CI machine may be busy
        return subprocess.run([str(TIAOJIE), *args], env=env, input=stdin, capture_output=True, text=True,
                              timeout=600)
    return run


async def fetch(sql: str, *args):
    async with db.connection() as conn:
        return await conn.fetch(sql, *args)


async def fetchval(sql: str, *args):
    async with db.connection() as conn:
        return await conn.fetchval(sql, *args)


async def nothing_written() -> bool:
    tokens = await fetchval("SELECT count(*) FROM api_tokens")
    return tokens == 0 and await fetchval("SELECT count(*) FROM audit_log") == 0


# ---------------------------------------------------------------- regions import

SMALL_CSV = """code,name
51,四川省
5113,南充市
511325,西充县
511325101,太平镇
511325101201,青龙村
511399101,无县镇
511325199201,无镇村
"""


async def test_regions_import_writes_levels_and_parents_and_reports_orphans(tiaojie, tmp_path):
    f = tmp_path / "regions.csv"
    f.write_text(SMALL_CSV, encoding="utf-8")
    r = tiaojie("regions", "import", str(f))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "read 7, written 5, skipped 2 (parent missing: 511399101000, 511325199201…)" in r.stderr
    rows = {x["code"]: (x["name"], x["level"], x["parent_code"], x["prefix"]) for x in
            await fetch("SELECT code, name, level, parent_code, prefix FROM regions")}
    assert rows == {
        "510000000000": ("四川省", "province", None, "51"),
        "511300000000": ("南充市", "city", "510000000000", "5113"),
        "511325000000": ("西充县", "county", "511300000000", "511325"),
        "511325101000": ("太平镇", "township", "511325000000", "511325101"),
        "511325101201": ("青龙村", "village", "511325101000", "511325101201"),
    }


async def test_regions_import_twice_leaves_the_same_rows(tiaojie, tmp_path):
    f = tmp_path / "regions.csv"
    f.write_text(SMALL_CSV, encoding="utf-8-sig")      # a byte-order mark, as spreadsheets save
    assert tiaojie("regions", "import", str(f)).returncode == 0
    first = await fetch("SELECT code, name, level, parent_code FROM regions ORDER BY code")
    f.write_text(SMALL_CSV.replace("青龙村", "青龙社区"), encoding="utf-8")
    r = tiaojie("regions", "import", str(f))
    assert r.returncode == 0, r.stderr
    second = await fetch("SELECT code, name, level, parent_code FROM regions ORDER BY code")
    assert len(second) == len(first) == 5
    assert {x["code"]: x["name"] for x in second}["511325101201"] == "青龙社区"   # renamed in place


async def test_regions_import_of_the_shipped_folder_loads_the_whole_country(tiaojie):
    r = tiaojie("regions", "import", str(DATA))
    assert r.returncode == 0, r.stderr
    assert "skipped 0" in r.stderr
    by_level = dict(await fetch("SELECT level, count(*) FROM regions GROUP BY level"))
    # the files list 342 cities and 41,352 township-level rows; 东莞市, 中山市 and 儋州市 are both a
    # city and a county (441900 …: the county wins) and streets.csv lists 金门县 as `350527000`
    assert by_level == {"province": 31, "city": 339, "county": 2978, "township": 41351}
    assert await fetchval("SELECT count(*) FROM regions WHERE level = 'township' AND parent_code IS NULL") == 0
    rows = {x["code"]: (x["name"], x["level"], x["parent_code"]) for x in await fetch(
        "SELECT code, name, level, parent_code FROM regions WHERE code = ANY($1::text[])",
        ["511325000000", "511325101000", "441900000000", "441900003000"])}
    assert rows["511325000000"] == ("西充县", "county", "511300000000")
    assert rows["511325101000"] == ("太平镇", "township", "511325000000")
    assert rows["441900000000"][1:] == ("county", "440000000000")            # 东莞市 hangs under the province
    assert rows["441900003000"][1:] == ("township", "441900000000")


async def test_regions_import_of_a_missing_file_fails_and_writes_nothing(tiaojie, tmp_path):
    r = tiaojie("regions", "import", str(tmp_path / "nope.csv"))
    assert r.returncode != 0
    assert "nope.csv" in r.stderr
    assert await fetchval("SELECT count(*) FROM regions") == 0


async def test_regions_import_of_a_missing_file_says_so_in_one_line(tiaojie, tmp_path):
    r = tiaojie("regions", "import", str(tmp_path / "nope.csv"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("tiaojie: ") and "nope.csv" in r.stderr


async def test_regions_import_of_a_bad_code_names_it_and_writes_nothing(tiaojie, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("code,name\n51,四川省\n5113251,七位码\n", encoding="utf-8")
    r = tiaojie("regions", "import", str(f))
    assert r.returncode == 2
    assert "code: must be a region code of 6, 9 or 12 digits" in r.stderr
    assert await fetchval("SELECT count(*) FROM regions") == 0


# ---------------------------------------------------------------- tokens

async def make_org() -> uuid.UUID:
    await regions.import_rows([("51", "四川省", None), ("5113", "南充市", None), ("511325", "西充县", "county"),
                               ("511325101", "太平镇", None), ("511325101201", "青龙村", None)])
    org = await orgs.create_org(SYSTEM, name="青龙村人民调解委员会", tier="village", kind="village_committee",
                                region_code="511325101201")
    async with db.connection() as conn:
        await conn.execute("DELETE FROM audit_log")
    return org["id"]


async def test_mediator_token_is_printed_alone_and_authenticates_until_revoked(tiaojie):
    org_id = await make_org()
    r = tiaojie("token", "create", "--role", "mediator", "--org", str(org_id), "--name", "qinglong-1")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert r.stdout == token + "\n" and token.startswith("tj_") and " " not in token
    who = await accounts.authenticate(token)
    assert who is not None
    assert (who.role, who.actor, who.org_id, who.county_code) == ("mediator", "token:qinglong-1", org_id, "511325")
    stored = await fetch("SELECT name, role, org_id, region_code, token_hash, revoked_at FROM api_tokens")
    assert [(s["name"], s["role"], s["org_id"], s["region_code"], s["revoked_at"]) for s in stored] == [
        ("qinglong-1", "mediator", org_id, None, None)]
    assert stored[0]["token_hash"] != token and token not in stored[0]["token_hash"]
    assert [tuple(x) for x in await fetch("SELECT actor, action, entity_id FROM audit_log")] == [
        ("cli", "token.create", "qinglong-1")]

    r = tiaojie("token", "revoke", "qinglong-1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and "revoked qinglong-1" in r.stderr
    assert await accounts.authenticate(token) is None
    assert await fetchval("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE name = 'qinglong-1'")

    again = tiaojie("token", "revoke", "qinglong-1")
    assert again.returncode == 2
    assert "no active token named or starting with 'qinglong-1'" in again.stderr


async def test_bureau_and_admin_tokens_carry_their_scope(tiaojie):
    await make_org()
    r = tiaojie("token", "create", "--role", "bureau", "--region", "511325", "--name", "xichong-bureau")
    assert r.returncode == 0, r.stderr
    who = await accounts.authenticate(r.stdout.strip())
    assert (who.role, who.region_code, who.region_prefix) == ("bureau", "511325000000", "511325")

    r = tiaojie("token", "create", "--role", "admin")
    assert r.returncode == 0, r.stderr
    who = await accounts.authenticate(r.stdout.strip())
    assert who.role == "admin" and who.actor.startswith("token:admin-")


async def test_token_revoke_by_prefix(tiaojie):
    r = tiaojie("token", "create", "--role", "admin", "--name", "ops")
    token = r.stdout.strip()
    r = tiaojie("token", "revoke", token[:10])
    assert r.returncode == 0, r.stderr
    assert "revoked ops" in r.stderr
    assert await accounts.authenticate(token) is None


@pytest.mark.parametrize(("args", "message"), [
    (("--role", "bureau"), "region: a bureau token needs --region"),
    (("--role", "bureau", "--region", "511399"), "region: region 511399000000 is not registered"),
    (("--role", "bureau", "--region", "51132"), "region: must be a region code of 6, 9 or 12 digits"),
    (("--role", "mediator"), "org: a mediator token needs --org"),
    (("--role", "mediator", "--org", "00000000-0000-0000-0000-000000000001"),
     "org: org 00000000-0000-0000-0000-000000000001 does not exist"),
    (("--role", "court"), "court: a court token needs --court"),
])
async def test_token_create_refuses_bad_scope_and_writes_nothing(tiaojie, args, message):
    await make_org()
    r = tiaojie("token", "create", *args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert await nothing_written()


async def test_token_create_refuses_an_org_that_is_not_an_id(tiaojie):
    r = tiaojie("token", "create", "--role", "mediator", "--org", "qinglong")
    assert r.returncode == 2
    assert r.stdout == "" and "Invalid value for '--org': 'qinglong' is not an id" in r.stderr
    assert await nothing_written()


async def test_token_create_refuses_an_unknown_role(tiaojie):
    r = tiaojie("token", "create", "--role", "superuser")
    assert r.returncode == 2
    assert r.stdout == "" and "'superuser' is not one of 'admin', 'bureau', 'mediator', 'court', 'metrics'" in r.stderr
    assert await nothing_written()


async def test_token_create_refuses_a_taken_name(tiaojie):
    first = tiaojie("token", "create", "--role", "admin", "--name", "ops")
    assert first.returncode == 0
    r = tiaojie("token", "create", "--role", "admin", "--name", "ops")
    assert r.returncode == 2
    assert r.stdout == "" and "a token named 'ops' already exists" in r.stderr
    assert await fetchval("SELECT count(*) FROM api_tokens") == 1
    assert await accounts.authenticate(first.stdout.strip()) is not None


# ---------------------------------------------------------------- demo

async def test_demo_command_loads_the_county_and_its_court_once(tiaojie):
    r = tiaojie("demo")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "demo loaded (" in r.stderr
    assert "西充县 511325: 23 乡镇(街道), 301 村(社区), 328 调解组织, 1725 调解员, 3000 件纠纷" in r.stderr
    assert "demo court 西充县人民法院 (川1325): 24 orgs on its roster, 24 entrusted cases" in r.stderr
    assert await fetchval("SELECT count(*) FROM disputes WHERE source <> 'court_entrusted'") == 3000
    assert await fetchval("SELECT count(*) FROM disputes WHERE source = 'court_entrusted'") == 24
    r = tiaojie("demo")
    assert r.returncode == 0, r.stderr
    assert ("demo already loaded, nothing changed: 西充县 511325: 23 乡镇(街道), 301 村(社区), 328 调解组织, "
            "1725 调解员, 3024 件纠纷") in r.stderr
    assert "demo court 西充县人民法院 already registered, nothing changed" in r.stderr
    assert await fetchval("SELECT count(*) FROM disputes") == 3024


# ---------------------------------------------------------------- options that do not fit, lists, expiry

@pytest.mark.parametrize(("args", "message"), [
    (("--role", "admin", "--org", "00000000-0000-0000-0000-000000000001"), "org: an admin token takes no --org"),
    (("--role", "admin", "--region", "511325"), "region: an admin token takes no --region"),
    (("--role", "metrics", "--court", "00000000-0000-0000-0000-000000000001"), "court: a metrics token takes no --court"),
    (("--role", "bureau", "--region", "511325", "--org", "00000000-0000-0000-0000-000000000001"),
     "org: a bureau token takes no --org (it takes --region)"),
    (("--role", "mediator", "--region", "511325"), "region: a mediator token takes no --region (it takes --org)"),
])
async def test_token_create_refuses_options_that_do_not_fit_the_role_and_writes_nothing(tiaojie, args, message):
    await make_org()
    r = tiaojie("token", "create", *args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.count(message) == 1            # printed once
    assert await nothing_written()


async def test_token_list_shows_scope_expiry_use_and_state_but_never_the_token(tiaojie):
    await make_org()
    bureau = tiaojie("token", "create", "--role", "bureau", "--region", "511325", "--name", "xichong",
                     "--expires-in", "30").stdout.strip()
    admin = tiaojie("token", "create", "--role", "admin", "--name", "ops").stdout.strip()
    assert tiaojie("token", "revoke", "ops").returncode == 0
    await accounts.authenticate(bureau)
    r = tiaojie("token", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "SCOPE", "CREATED", "EXPIRES", "LAST", "USED", "STATE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"xichong", "ops"}
    assert "bureau  西充县 511325000000" in rows["xichong"] and rows["xichong"].endswith("active")
    assert rows["ops"].endswith("revoked") and " - " in rows["ops"]     # never used
    expires = await fetchval("SELECT expires_at - created_at FROM api_tokens WHERE name = 'xichong'")
    assert expires.days == 30
    assert await fetchval("SELECT last_used_at IS NOT NULL FROM api_tokens WHERE name = 'xichong'")
    for secret in (bureau, admin):
        assert secret not in r.stdout and secret[:10] not in r.stdout


async def test_an_expired_token_no_longer_authenticates(pool):
    created = await accounts.create_token(role="admin", name="short", expires_in_days=1)
    assert await accounts.authenticate(created.token) is not None
    async with db.connection() as conn:
        await conn.execute("UPDATE api_tokens SET created_at = now() - interval '3 days', "
                           "expires_at = now() - interval '1 second' WHERE name = 'short'")
    assert await accounts.authenticate(created.token) is None
    assert [(t.name, t.state) for t in await accounts.list_tokens()] == [("short", "expired")]


async def test_last_used_is_written_at_most_once_per_interval(pool, monkeypatch):
    created = await accounts.create_token(role="admin", name="busy")
    assert await fetchval("SELECT last_used_at FROM api_tokens") is None
    await accounts.authenticate(created.token)
    first = await fetchval("SELECT last_used_at FROM api_tokens")
    assert first is not None
    for _ in range(5):
        await accounts.authenticate(created.token)
    assert await fetchval("SELECT last_used_at FROM api_tokens") == first   # no write per request
    monkeypatch.setattr(accounts, "LAST_USED_EVERY_SECONDS", 0.0)
    await accounts.authenticate(created.token)
    assert await fetchval("SELECT last_used_at FROM api_tokens") > first


async def test_a_metrics_token_is_not_an_api_principal(pool):
    created = await accounts.create_token(role="metrics", name="prometheus")
    assert await accounts.authenticate(created.token) is None
    assert await accounts.token_role(created.token) == "metrics"


# ---------------------------------------------------------------- users

async def test_user_create_without_a_password_is_refused_unless_asked_disabled(tiaojie):
    org_id = await make_org()
    r = tiaojie("user", "create", "wang", "--role", "mediator", "--org", str(org_id))
    assert r.returncode == 2
    assert r.stderr.count("--password-stdin") == 1 and "--disabled" in r.stderr
    assert await fetchval("SELECT count(*) FROM users") == 0

    r = tiaojie("user", "create", "wang", "--role", "mediator", "--org", str(org_id), "--disabled")
    assert r.returncode == 0, r.stderr
    assert await fetchval("SELECT password_hash IS NULL AND disabled_at IS NOT NULL FROM users") is True
    listed = tiaojie("user", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:3] == ["wang", "mediator", "青龙村人民调解委员会"]
    assert listed.stdout.splitlines()[1].endswith("disabled")

    r = tiaojie("user", "password", "wang", "--password-stdin", stdin="short\n")
    assert r.returncode == 2 and "password: 密码至少 8 个字符" in r.stderr
    r = tiaojie("user", "password", "wang", "--password-stdin", stdin="correct horse\n")
    assert r.returncode == 0, r.stderr
    assert tiaojie("user", "list").stdout.splitlines()[1].endswith("active")
    stored = await fetchval("SELECT password_hash FROM users")
    assert stored.startswith("$argon2") and "correct horse" not in stored

    assert tiaojie("user", "disable", "wang").returncode == 0
    assert tiaojie("user", "list").stdout.splitlines()[1].endswith("disabled")
    r = tiaojie("user", "disable", "li")
    assert r.returncode == 2 and r.stderr == "tiaojie: no user named 'li'\n"
    actions = [x["action"] for x in await fetch("SELECT action FROM audit_log ORDER BY at, id")]
    assert actions == ["user.create", "user.password_reset", "user.enable", "user.disable"]


async def test_user_create_with_a_password_from_stdin(tiaojie):
    await make_org()
    r = tiaojie("user", "create", "zhao", "--role", "bureau", "--region", "511325", "--password-stdin",
                stdin="a long password\n")
    assert r.returncode == 0, r.stderr
    assert uuid.UUID(r.stdout.strip())
    r = tiaojie("user", "create", "qian", "--role", "admin", "--region", "511325", "--password-stdin",
                stdin="a long password\n")
    assert r.returncode == 2 and "region: an admin user takes no --region" in r.stderr
    assert await fetchval("SELECT count(*) FROM users") == 1


# ---------------------------------------------------------------- no second, empty database

def test_commands_refuse_a_data_folder_without_a_database_and_create_nothing(tmp_path):
    empty = tmp_path / "elsewhere" / ".tiaojie"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIAOJIE_")}
    env |= {"TIAOJIE_DATA_DIR": str(empty), "TIAOJIE_LOG_LEVEL": "WARNING"}
    for args in (("token", "create", "--role", "admin"), ("token", "list"), ("user", "list"), ("worker",)):
        r = subprocess.run([str(TIAOJIE), *args], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stdout == ""
        assert r.stderr.startswith(f"tiaojie: no tiaojie database in {empty} (looked for {empty / 'pg'}); "
                                   "set TIAOJIE_DATA_DIR to the folder `tiaojie serve` uses")
        assert r.stderr.count("tiaojie:") == 1 and "Traceback" not in r.stderr
    assert not empty.exists()


async def test_commands_refuse_an_external_database_without_the_schema(tiaojie, database_url):
    import asyncpg

    from tests.conftest import scratch_database

    async with scratch_database(database_url, "tiaojie_empty") as empty_url:
        env = {**os.environ, "TIAOJIE_DATABASE_URL": empty_url, "TIAOJIE_LOG_LEVEL": "WARNING"}
        r = subprocess.run([str(TIAOJIE), "token", "list"], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 1
        assert "holds no tiaojie data; run `tiaojie migrate` to set it up" in r.stderr
        conn = await asyncpg.connect(empty_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        finally:
            await conn.close()


async def test_regions_import_of_a_file_without_region_rows_fails(tiaojie, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("this is not a division-code file\n", encoding="utf-8")
    r = tiaojie("regions", "import", str(f))
    assert r.returncode == 2
    assert f"tiaojie: {f}: no region rows found" in r.stderr
    assert await fetchval("SELECT count(*) FROM regions") == 0


# ---------------------------------------------------------------- help and errors

def test_every_command_and_option_has_help_text():
    import click

    from api.cli import cli

    def walk(command, path):
        yield path, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}")

    for path, command in walk(cli, "tiaojie"):
        assert command.help, path
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{path} {param.opts}"
                assert param.show_default is not False
    from click.testing import CliRunner
    out = " ".join(CliRunner().invoke(cli, ["token", "create", "--help"]).output.split())
    assert "[default: 365; 1<=x<=3650]" in out and "[default: none]" in out


async def test_an_error_is_printed_once_on_stderr(tiaojie):
    r = tiaojie("token", "revoke", "nobody-at-all")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == "tiaojie: no active token named or starting with 'nobody-at-all'\n"


def test_serve_refuses_to_print_the_admin_token_without_a_terminal(tiaojie):
    r = tiaojie("serve", "--print-admin-token", "--port", "1")
    assert r.returncode == 2
    assert "--print-admin-token needs a terminal" in r.stderr and "--admin-token-file" in r.stderr
    assert "tj_" not in r.stderr + r.stdout


def test_serve_writes_the_admin_token_to_an_owner_only_file_and_never_to_the_log(database_url, tmp_path):
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "TIAOJIE_LOG_LEVEL": "INFO"}
    token_file = tmp_path / "admin-token"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(TIAOJIE), "serve", "--port", str(port), "--admin-token-file", str(token_file)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        token = token_file.read_text().strip()
        assert token.startswith("tj_")
        assert token_file.stat().st_mode & 0o777 == 0o600
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert token not in log.read_text() and token[:10] not in log.read_text()
        assert f"admin token written to {token_file}" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
