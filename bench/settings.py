"""The production settings, plus the benchmark's floor views (bench/urls.py)."""

from partnercenter.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
