"""Settings come from the environment, and production refuses a missing secret key."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models.signals import post_migrate, pre_migrate
from django.db.transaction import TransactionManagementError

from partnercenter.statement_timeout import statement_timeout_lifted

ROOT = Path(__file__).resolve().parent.parent


def _load_settings(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="partnercenter.settings")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            " print(settings.DEBUG, settings.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_a_secret_key_and_debug_off_the_site_refuses_to_start():
    result = _load_settings()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_on_allows_the_development_key():
    result = _load_settings(DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True")


def test_debug_is_off_unless_asked_for():
    result = _load_settings(DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("False")


def test_database_url_switches_to_postgresql():
    result = _load_settings(
        DJANGO_SECRET_KEY="x" * 50, DATABASE_URL="postgres://postgres@127.0.0.1:5432/pc"
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout


def _print_setting(expression: str, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="partnercenter.settings", DJANGO_DEBUG="1")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print({expression})",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_a_cache_url_each_process_caches_in_its_own_memory():
    result = _print_setting("settings.CACHES['default']['BACKEND']")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache"


def test_a_cache_url_shares_one_redis_between_servers():
    result = _print_setting(
        "settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION']",
        DJANGO_CACHE_URL="redis://127.0.0.1:6379/1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://127.0.0.1:6379/1",
    ]


@pytest.mark.parametrize(
    ("debug", "asked", "format_"),
    [("1", "", "text"), ("0", "", "json"), ("0", "text", "text"), ("1", "json", "json")],
)
def test_logs_are_json_lines_in_production_and_readable_in_development(debug, asked, format_):
    script = (
        "import django, logging; django.setup();"
        " logging.getLogger('partnercenter.requests').info('hello')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="partnercenter.settings",
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_DEBUG=debug,
        DJANGO_LOG_FORMAT=asked,
    )
    logged = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    ).stderr.strip()
    if format_ == "json":
        line = json.loads(logged)
        assert (line["message"], line["request_id"], line["level"]) == ("hello", "-", "INFO")
    else:
        assert logged.endswith("INFO partnercenter.requests [- -] hello")


def test_an_unknown_log_format_refuses_to_start():
    result = _load_settings(DJANGO_SECRET_KEY="x" * 50, DJANGO_LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "DJANGO_LOG_FORMAT is text or json." in result.stderr


def test_trusted_proxies_are_addresses_or_networks():
    result = _print_setting(
        "settings.SIGNIN_TRUSTED_PROXIES", DJANGO_TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8,::1"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['127.0.0.1', '10.0.0.0/8', '::1']"
    wrong = _print_setting("1", DJANGO_TRUSTED_PROXIES="127.0.0.1,proxy.internal")
    assert wrong.returncode != 0
    assert "DJANGO_TRUSTED_PROXIES: 'proxy.internal' is not an IP address" in wrong.stderr


def test_prepared_statements_are_asked_for_on_postgresql_only():
    options = "settings.DATABASES['default'].get('OPTIONS', {})"
    postgres = "postgres://u@127.0.0.1:5432/db"
    prepared = _print_setting(options, DATABASE_URL=postgres, DJANGO_DB_PREPARED_STATEMENTS="1")
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.stdout.strip() == (
        "{'server_side_binding': True, 'prepare_threshold': 5, "
        "'options': '-c plan_cache_mode=force_custom_plan -c statement_timeout=5000'}"
    )
    assert _print_setting(options, DATABASE_URL=postgres).stdout.strip() == (
        "{'options': '-c statement_timeout=5000'}"
    )
    sqlite = _print_setting(
        options, DATABASE_URL="sqlite:///unused.sqlite3", DJANGO_DB_PREPARED_STATEMENTS="1"
    )
    assert "prepare_threshold" not in sqlite.stdout


def test_persistent_connections_are_checked_before_use():
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    setting = "settings.DATABASES['default']['CONN_HEALTH_CHECKS']"
    assert _print_setting(setting).stdout.strip() == "True"
    assert _print_setting(setting, DJANGO_CONN_HEALTH_CHECKS="0").stdout.strip() == "False"


def test_the_statement_timeout_is_set_on_postgresql_connections_only():
    options = "settings.DATABASES['default'].get('OPTIONS', {}).get('options')"
    postgres = "postgres://u@127.0.0.1:5432/db"
    longer = _print_setting(options, DATABASE_URL=postgres, DJANGO_DB_STATEMENT_TIMEOUT_MS="30000")
    assert longer.stdout.strip() == "-c statement_timeout=30000"
    none = _print_setting(options, DATABASE_URL=postgres, DJANGO_DB_STATEMENT_TIMEOUT_MS="0")
    assert none.stdout.strip() == "None"
    # Server settings the database URL already gives are kept.
    searched = _print_setting(options, DATABASE_URL=postgres + "?options=-c%20search_path%3Dpc")
    assert searched.stdout.strip() == "-c search_path=pc -c statement_timeout=5000"
    sqlite = _print_setting(options, DATABASE_URL="sqlite:///unused.sqlite3")
    assert sqlite.stdout.strip() == "None"
    wrong = _print_setting("1", DJANGO_DB_STATEMENT_TIMEOUT_MS="-1")
    assert wrong.returncode != 0
    assert "DJANGO_DB_STATEMENT_TIMEOUT_MS is milliseconds" in wrong.stderr


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the statement timeout is PostgreSQL's"
)


def _statement_timeout(conn=connection) -> str:
    with conn.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@on_postgresql
@pytest.mark.django_db
def test_a_new_connection_cancels_statements_after_5_seconds():
    fresh = connections.create_connection("default")
    try:
        assert _statement_timeout(fresh) == "5s"
    finally:
        fresh.close()


@on_postgresql
@pytest.mark.django_db(transaction=True)  # a transaction of its own, not a test's savepoint
def test_seeding_a_big_world_lifts_the_timeout_for_its_transaction_only():
    with transaction.atomic():
        statement_timeout_lifted()
        assert _statement_timeout() == "0"
    assert _statement_timeout() == "5s"


def test_the_timeout_is_lifted_in_a_transaction_only():
    with pytest.raises(TransactionManagementError):
        statement_timeout_lifted()


@on_postgresql
@pytest.mark.django_db
def test_migrations_run_without_the_timeout_and_restore_it_when_done():
    config = apps.get_app_config("partnercenter")
    signal = {"app_config": config, "verbosity": 0, "interactive": False, "using": "default"}
    pre_migrate.send(sender=config, plan=[], apps=apps, **signal)
    assert _statement_timeout() == "0"
    post_migrate.send(sender=config, plan=[], apps=apps, **signal)
    assert _statement_timeout() == "5s"
