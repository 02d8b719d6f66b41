"""A real `tiaojie serve` on 127.0.0.1 with its own database, seeded with real objects
through the API (a county with its towns and villages, organisations, a mediator, a
court with its roster, disputes, referrals and an entrustment), for the tests that read
the service from outside as a court's developer would: schemathesis and a generated client."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import VALID_ID

STARTUP_SECONDS = 240


@dataclass
class Served:
    base_url: str
    admin: str
    mediator: str
    court: str
    ids: dict[str, str] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, who)}"}


def database_url_for(url: str, name: str) -> str:
    """The same server, another database."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiaojie(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("tiaojie")
    return [str(script), *args] if script.exists() else [sys.executable, "-c", "from api.cli import main; main()", *args]


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(tiaojie(*args), env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@contextlib.contextmanager
def serve(database_url: str, tmp: Path):
    """Start `tiaojie serve` on a free port; yield (base URL, environment); stop it."""
    port = free_port()
    env = {**os.environ, "TIAOJIE_DATABASE_URL": database_url, "TIAOJIE_DATA_DIR": str(tmp / "data")}
    log = (tmp / "serve.log").open("w")
    process = subprocess.Popen(tiaojie("serve", "--host", "127.0.0.1", "--port", str(port)), env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, (tmp / "serve.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "tiaojie serve did not answer /healthz"
            time.sleep(0.3)
        yield base, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ago(**delta: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(**delta)).isoformat()


DATABASE = "tiaojie_served"


async def served_service(database_url: str, pool, tmp: Path):
    """A served, seeded service on a database of its own (for a session fixture)."""
    await pool.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    await pool.execute(f"CREATE DATABASE {DATABASE}")
    with serve(database_url_for(database_url, DATABASE), tmp) as (base, env):
        yield seed(base, env)


def ok(r: httpx.Response, status: int = 201) -> dict:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json() if r.content else {}


#: the demo county's chain of regions, province to village
REGION_CHAIN = [("51", "四川省"), ("5113", "南充市"), ("511325", "西充县"), ("511325101", "太平镇"),
                ("511325101201", "青龙村")]


def register_regions(c: httpx.Client, admin: dict[str, str]) -> None:
    for code, name in REGION_CHAIN:
        ok(c.post("/regions", json={"code": code, "name": name}, headers=admin))


def seed(base: str, env: dict[str, str]) -> Served:
    """Everything the operations need to get past 404, made through the real API."""
    admin = cli(env, "token", "create", "--role", "admin", "--name", "served-admin")
    a = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as c:
        register_regions(c, a)
        county = ok(c.post("/orgs", json={"name": "西充县矛盾纠纷多元化解中心", "tier": "county",
                                           "kind": "county_center", "region_code": "511325"}, headers=a))
        town = ok(c.post("/orgs", json={"name": "太平镇人民调解委员会", "tier": "township",
                                         "kind": "township_committee", "region_code": "511325101"}, headers=a))
        village = ok(c.post("/orgs", json={"name": "青龙村人民调解委员会", "tier": "village",
                                            "kind": "village_committee", "region_code": "511325101201"}, headers=a))
        mediator = ok(c.post(f"/orgs/{village['id']}/mediators", json={"name": "王调解"}, headers=a))
        court = ok(c.post("/courts", json={"name": "西充县人民法院", "code": "川1325", "region_code": "511325"},
                           headers=a))
        ok(c.post(f"/courts/{court['id']}/roster", json={"org_id": village["id"]}, headers=a))
        m = {"Authorization": "Bearer " + cli(env, "token", "create", "--role", "mediator", "--org", village["id"],
                                             "--name", "served-mediator")}
        k = {"Authorization": f"Bearer {court['api_token']}"}

        def register(summary: str) -> dict:
            return ok(c.post("/disputes", json={
                "org_id": village["id"], "type": "neighbor", "source": "application", "summary": summary,
                "registered_at": ago(hours=2),
                "parties": [{"role": "applicant", "kind": "person", "name": "张三", "id_number": VALID_ID,
                             "phone": "13812345678"}, {"role": "respondent", "kind": "person", "name": "李四"}]},
                headers=m))

        open_dispute = register("张三与李四因宅基地边界发生纠纷")
        resolved = register("赵五与钱六因借款发生纠纷")
        ok(c.post(f"/disputes/{resolved['id']}/resolve", json={"agreement": {
            "form": "written", "terms": "钱六于月底前归还借款", "signed_at": ago(hours=1)}},
            headers=m), 200)
        confirmation = ok(c.post(f"/disputes/{resolved['id']}/confirmation", json={"court_id": court["id"]},
                                  headers=m), 200)["referrals"][0]
        referred = register("孙七与周八因合同履行发生纠纷")
        litigation = ok(c.post(f"/disputes/{referred['id']}/refer",
                                json={"court_id": court["id"], "reason": "当事人要求诉讼"}, headers=m), 200)
        entrusted = ok(c.post("/court/entrustments", json={
            "court_case_no": "(2026)川1325民初1号", "kind": "in_litigation", "org_id": village["id"],
            "type": "contract", "summary": "买卖合同纠纷", "parties": [
                {"role": "applicant", "kind": "person", "name": "吴九"}]}, headers=k))
        return Served(base_url=base, admin=admin, mediator=m["Authorization"][7:], court=court["api_token"], ids={
            "county_org": county["id"], "town_org": town["id"], "org_id": village["id"],
            "mediator_id": mediator["id"], "court_id": court["id"], "dispute_id": open_dispute["id"],
            "resolved_id": resolved["id"], "referred_id": referred["id"], "entrusted_id": entrusted["id"],
            "confirmation_referral": confirmation["id"], "litigation_referral": litigation["referrals"][0]["id"],
            "code": "511325101201"})
