"""The benchmark's smoke run: a tiny world, a second per page, so `make bench` cannot rot.

It runs the real script (gunicorn, wrk, its own PostgreSQL database) in a subprocess; the
figures are not judged here, only that every page was served and measured.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.local_services import postgresql_reachable

ROOT = Path(__file__).resolve().parent.parent
SMOKE_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_bench_smoke"


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is missing (make test installs it)")
@pytest.mark.skipif(not postgresql_reachable(), reason="the benchmark needs PostgreSQL")
# The script uses a database of its own, so one run per .ci/run is enough: the PostgreSQL pass.
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="runs with the PostgreSQL suite (.ci/run)"
)
def test_the_benchmark_measures_every_page_of_a_tiny_world(tmp_path):
    out = tmp_path / "smoke.md"
    env = {**os.environ, "BENCH_DATABASE_URL": SMOKE_DATABASE_URL}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--rebuild", f"--out={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = out.read_text()
    rows = {
        match["page"]: match
        for match in re.finditer(
            r"^\| (?P<page>[^|]+?) \| (?P<queries>\d+) \| (?P<cpu>[\d.]+) \| [\d.]+ \|"
            r"[^|]*\| (?P<rate>\d+) \|",
            report,
            re.MULTILINE,
        )
    }
    expected = {
        "floor (session + user)",
        "dashboard",
        "customers list",
        "customers search (htmx)",
        "customers list, deep page",
        "customers of one contact, most subscriptions first",
        "customer page",
        "subscription page",
        "customer's Support page",
        "Submit (htmx)",
        "History page",
        "History, one contact",
        "History, deep page",
        "admin changelist",
        "admin search",
        "admin change page",
    }
    assert set(rows) == expected
    assert rows["floor (session + user)"]["queries"] == "2"
    for page, row in rows.items():
        assert float(row["cpu"]) > 0, page
        assert int(row["rate"]) > 0, page
    assert "Notes:" not in report, report  # every answer 2xx/3xx, every Submit landed
    assert re.search(r"History CSV export: [\d,]+ rows", report)
    # One task worker delivering webhooks (bench/webhooks.py): every one delivered, and measured.
    assert re.search(r"\*\*webhooks delivered per second\*\* [^|]*\| \*\*[1-9][\d,]*\*\*", report)
    assert re.search(r"Outcome: [\d,]+ succeeded, 0 pending, 0 failed", report), report
