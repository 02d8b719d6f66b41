"""Server memory under fat list requests (issue 11, item 1).

Starts `tiaojie serve` on an embedded PostgreSQL (or TIAOJIE_DATABASE_URL), registers
200 of the fattest disputes API.md allows (tests/fat_data.py: 200 parties with
200-character names and 500-character addresses), refers all of them to a court, then
sends 8 concurrent `GET /disputes?limit=500` (as the mediator) and 8 concurrent
`GET /court/referrals?limit=500` (as the court), two rounds each, sampling the server's
RSS (/proc/PID/status VmRSS) every 20 ms. Prints a Markdown table for bench/README.md:
RSS idle, after loading, peak during each load, and 5 s after; and the size of each
answer. Memory is measured here, never asserted in tests.

    .venv/bin/python bench/memory.py [--disputes 200] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

from tests.fat_data import fat_dispute  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """The peak RSS of `pid` while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def setup(base: str, url: str, admin: str, n: int) -> tuple[str, str, str]:
    """A county with one village committee, its mediator's token, a court with the
    committee on its roster and its token."""
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as c:
        for code, name, level in (("511325", "西充县", "county"), ("511325101", "太平镇", "township"),
                                  ("511325101201", "太平一村", "village")):
            r = c.post("/api/v1/regions", json={"code": code, "name": name, "level": level})
            assert r.status_code in (201, 409), r.text
        r = c.post("/api/v1/orgs", json={"name": "太平一村人民调解委员会", "tier": "village",
                                          "kind": "village_committee", "region_code": "511325101201"})
        assert r.status_code == 201, r.text
        org = r.json()["id"]
        r = c.post("/api/v1/courts", json={"name": "西充县人民法院", "code": f"川{uuid.uuid4().int % 10000:04d}",
                                            "region_code": "511325"})
        assert r.status_code == 201, r.text
        court = r.json()
        r = c.post(f"/api/v1/courts/{court['id']}/roster", json={"org_id": org})
        assert r.status_code == 201, r.text
    mediator = common.tiaojie("token", "create", "--role", "mediator", "--org", org,
                              "--name", f"bench-{uuid.uuid4().hex[:8]}", url=url)
    return org, mediator, court


async def load(port: int, org: str, mediator: str, court_id: str, n: int) -> None:
    clients = [common.RawHttp("127.0.0.1", port, mediator) for _ in range(4)]

    async def one(c: common.RawHttp, i: int) -> None:
        status, body = await c.request("POST", "/api/v1/disputes", json.dumps(fat_dispute(org, i)).encode())
        assert status == 201, body[:300]
        dispute_id = json.loads(body)["id"]
        status, body = await c.request("POST", f"/api/v1/disputes/{dispute_id}/refer",
                                       json.dumps({"court_id": court_id, "reason": "起诉"}).encode())
        assert status == 200, body[:300]

    for start in range(0, n, 4):
        await asyncio.gather(*(one(clients[k], start + k) for k in range(min(4, n - start))))
    for c in clients:
        await c.close()


async def hammer(port: int, token: str, path: str, concurrency: int, rounds: int) -> tuple[list[int], list[float]]:
    """`rounds` times, `concurrency` requests at once, each on a new connection (a slow
    round would outlast the server's 5 s keep-alive). Sizes and seconds of each answer."""
    sizes, seconds = [], []

    async def one() -> tuple[int, bytes, float]:
        c = common.RawHttp("127.0.0.1", port, token)
        t0 = time.monotonic()
        try:
            status, body = await c.request("GET", path)
        finally:
            await c.close()
        return status, body, time.monotonic() - t0

    for _ in range(rounds):
        answers = await asyncio.gather(*(one() for _ in range(concurrency)))
        assert all(status == 200 for status, _, _ in answers), answers[0][1][:300]
        sizes += [len(body) for _, body, _ in answers]
        seconds += [s for _, _, s in answers]
    return sizes, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--disputes", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--log", type=Path, default=Path("/tmp/tiaojie-bench-memory.log"), help="the server's log")
    args = ap.parse_args(argv)
    db = common.Database()
    url = db.start()
    server = None
    try:
        common.tiaojie("migrate", url=url)
        admin = common.tiaojie("token", "create", "--role", "admin", "--name", f"bench-admin-{uuid.uuid4().hex[:8]}",
                               url=url)
        server = common.Server(url=url, log_path=args.log)
        server.start()
        pid = server.proc.pid
        time.sleep(1)
        rows = [("idle, after start", rss_mib(pid), "")]
        org, mediator, court = setup(server.base, url, admin, args.disputes)
        court_token = court["api_token"]
        t0 = time.monotonic()
        asyncio.run(load(server.port, org, mediator, court["id"], args.disputes))
        rows.append((f"after registering and referring {args.disputes} fat disputes "
                     f"({time.monotonic() - t0:.0f} s)", rss_mib(pid), ""))
        for label, token, path in (("GET /disputes?limit=500 (mediator)", mediator, "/api/v1/disputes?limit=500"),
                                   ("GET /court/referrals?limit=500 (court)", court_token,
                                    "/api/v1/court/referrals?limit=500")):
            with Sampler(pid) as s:
                sizes, seconds = asyncio.run(hammer(server.port, token, path, args.concurrency, args.rounds))
            rows.append((f"peak during {args.rounds} rounds of {args.concurrency} concurrent {label}", s.peak,
                         f"{max(sizes):,} bytes each, {min(seconds):.2f}–{max(seconds):.2f} s"))
            time.sleep(5)
            rows.append(("5 s later", rss_mib(pid), ""))
        print(f"\nMachine: {common.machine()}\n")
        print("| moment | server RSS (MiB) | answer |\n|---|---|---|")
        for label, mib, note in rows:
            print(f"| {label} | {mib:,.0f} | {note} |")
    finally:
        if server is not None:
            server.stop()
        db.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
