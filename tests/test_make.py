"""The two commands of the Makefile: `make run` serves without installing the test extras."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_make_run_installs_the_service_without_the_test_extras():
    plan = subprocess.run(["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "pip install --quiet -e ." in plan
    assert "[test]" not in plan


def test_make_test_installs_the_test_extras():
    plan = subprocess.run(["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "pip install --quiet -e '.[test]'" in plan
