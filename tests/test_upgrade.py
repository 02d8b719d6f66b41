"""Upgrading: a database made by a release (tests/upgrade_data/, made by `python -m tests.upgrade`,
which says how and when to regenerate it) is restored as a clerk would, migrated to head by
`tiaojie migrate`, and then answers every dispute and every monthly figure as that release did."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os

from tests import upgrade
from tests.conftest import scratch_database
from tests.served import cli


async def test_a_release_database_migrates_to_head_with_every_dispute_and_monthly_figure_unchanged(database_url,
                                                                                                   pool):
    expected = json.loads(gzip.decompress(upgrade.EXPECTED.read_bytes()))
    assert len(expected["disputes"]) >= 100 and len(expected["monthly"]) >= 12
    async with scratch_database(database_url, "tiaojie_upgrade") as url:
        env = {**os.environ, "TIAOJIE_DATABASE_URL": url}
        cli(env, "restore", str(upgrade.DUMP))
        cli(env, "migrate")
        done = cli(env, "migrate", "--check")   # nothing left pending
        assert done == ""
        actual = await upgrade.read_answers(url, dt.datetime.fromisoformat(expected["frozen_at"]))
    assert set(actual["disputes"]) == set(expected["disputes"])
    assert set(actual["monthly"]) == set(expected["monthly"])
    found = upgrade.differences({"disputes": expected["disputes"], "monthly": expected["monthly"]}, actual)
    assert found == [], "\n".join(found[:40])
