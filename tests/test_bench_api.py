"""The API benchmark's smoke run: a tiny world, a second per call, so `make bench-api` cannot rot.

It runs the real script (gunicorn, wrk, its own PostgreSQL database, reused when present) in a
subprocess; the figures are not judged here, only that every call was served, answered 200 and
measured, and that every PUT that changed the contact wrote its history row.
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
SMOKE_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_bench_api_smoke"


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is missing (make test installs it)")
@pytest.mark.skipif(not postgresql_reachable(), reason="the benchmark needs PostgreSQL")
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="runs with the PostgreSQL suite (.ci/run)"
)
def test_the_api_benchmark_measures_every_call_of_a_tiny_world(tmp_path):
    out = tmp_path / "smoke.md"
    env = {**os.environ, "BENCH_API_DATABASE_URL": SMOKE_DATABASE_URL}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "-m", "bench.api", "--smoke", f"--out={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = out.read_text()
    rows = {
        match["call"]: match
        for match in re.finditer(
            r"^\| (?P<call>[^|]+?) \| (?P<queries>\d+) \| (?P<cpu>[\d.]+) \| [\d.]+ \| "
            r"(?P<rate>\d+) \|.*\| (?P<answers>[^|]*) \|$",
            report,
            re.MULTILINE,
        )
    }
    assert set(rows) == {
        "floor: /bench/floor/ (session + user)",
        "floor: /v1/bench/floor/ (no auth)",
        "floor: /v1/bench/floor/token/ (bearer token)",
        "GET supportcontact",
        "PUT supportcontact (a change)",
        "PUT supportcontact (the current contact: no-op)",
    }
    assert rows["floor: /v1/bench/floor/ (no auth)"]["queries"] == "0"
    for call, row in rows.items():
        assert float(row["cpu"]) > 0, call
        assert int(row["rate"]) > 0, call
        assert re.fullmatch(r"\d+ × 200", row["answers"].strip()), (call, row["answers"])
    assert "Notes:" not in report, report
    changes = re.search(r"\(a change\): (\d+) answered 200, (\d+) history rows written", report)
    assert changes, report
    answered, written = int(changes[1]), int(changes[2])
    assert answered > 0
    # Every change wrote its row; one cut off by wrk's stop per connection may have written too.
    assert answered <= written <= answered + 2
    assert "## Where the time goes" in report
