"""`make bench-scaleout`'s smoke run: two servers behind HAProxy, so the script cannot rot.

It runs the real script (two gunicorn servers, HAProxy, Redis, its own PostgreSQL database) in
a subprocess, one worker a server and a dozen Submits; every check it makes must pass.
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
SMOKE_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/partnercenter_scaleout_smoke"
SMOKE_CACHE_URL = "redis://127.0.0.1:6379/14"  # a Redis database of its own, emptied by the run


def _redis_reachable() -> bool:
    import redis

    try:
        return redis.Redis.from_url(SMOKE_CACHE_URL, socket_connect_timeout=3).ping()
    except redis.RedisError:
        return False


def _haproxy() -> str | None:
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")


@pytest.mark.skipif(not _haproxy(), reason="HAProxy is missing (make test installs it)")
@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is missing (make test installs it)")
@pytest.mark.skipif(not _redis_reachable(), reason="the scale-out run needs Redis")
@pytest.mark.skipif(not postgresql_reachable(), reason="the scale-out run needs PostgreSQL")
# The script uses a database of its own, so one run per .ci/run is enough: the PostgreSQL pass.
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="runs with the PostgreSQL suite (.ci/run)"
)
def test_two_servers_behind_haproxy_serve_one_world(tmp_path):
    out = tmp_path / "scaleout.md"
    env = {
        **os.environ,
        "SCALEOUT_DATABASE_URL": SMOKE_DATABASE_URL,
        "SCALEOUT_CACHE_URL": SMOKE_CACHE_URL,
    }
    for inherited in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_CACHE_URL"):
        env.pop(inherited, None)
    run = subprocess.run(
        [sys.executable, "-m", "bench.scaleout", "--smoke", f"--out={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = out.read_text()
    assert "FAIL" not in report, report
    checks = re.findall(r"^PASS (.*)$", report, re.MULTILINE)
    for what in (
        "the same session cookie opens the customers page on server b",
        "lock that address",
        "the header is trusted only from 127.0.0.1",
        "12 Submits posted at once through the balancer",
        "both servers served them",
        "the eligibility invariant holds",
        "two servers behind HAProxy",
    ):
        assert any(what in check for check in checks), what
    assert re.search(
        r"^\| floor \(session \+ user\) \| two servers behind HAProxy \| \d+ ", report, re.M
    )
