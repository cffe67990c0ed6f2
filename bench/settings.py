"""The production settings, plus the benchmark's floor views (bench/urls.py)."""

import os

from partnercenter.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# An experiment for `bench.api --prepared`: parameters bound by the server, and each statement
# prepared once it has run 5 times on a connection, so that PostgreSQL plans it no more.
if os.environ.get("BENCH_PREPARED_STATEMENTS") == "1":
    DATABASES["default"]["OPTIONS"] = {  # noqa: F405
        **DATABASES["default"].get("OPTIONS", {}),  # noqa: F405
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
