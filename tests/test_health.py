"""/healthz and /readyz: open to anyone, JSON, never cached, cheap; /readyz names what fails."""

import logging
import socket
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client, override_settings
from django.urls import reverse

from partnercenter import health

pytestmark = pytest.mark.django_db

HEALTHZ, READYZ = reverse("partnercenter:healthz"), reverse("partnercenter:readyz")
ALL_OK = {"database": "ok", "migrations": "ok", "cache": "ok", "tasks": "ok"}


def _cache_control(response) -> set[str]:
    return {d.strip() for d in response["Cache-Control"].split(",")}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once the socket closes: nothing listens there


def _unapply_last_migration(app: str) -> None:
    """The database without `app`'s last migration recorded (rolled back with the test)."""
    name = max(name for label, name in health.migration_leaves() if label == app)
    MigrationRecorder(connection).record_unapplied(app, name)


def test_healthz_answers_ok_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(HEALTHZ)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_readyz_answers_each_check_ok_with_one_query(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client.get(READYZ)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": ALL_OK}


@pytest.mark.parametrize("url", [HEALTHZ, READYZ])
def test_a_visitor_without_a_session_is_answered_and_given_no_cookie(url):
    client = Client()
    response = client.get(url)
    assert response.status_code == 200  # not sent to the sign-in page
    assert not response.cookies
    assert not client.cookies


@pytest.mark.parametrize("url", [HEALTHZ, READYZ])
def test_a_signed_in_user_gets_the_same_answer(client, url):
    from tests.factories import StaffUserFactory

    client.force_login(StaffUserFactory())
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("url", [HEALTHZ, READYZ])
def test_the_answers_are_never_stored_and_carry_no_content_security_policy(client, url):
    response = client.get(url)
    assert "no-store" in _cache_control(response)
    assert "Content-Security-Policy" not in response
    assert "MS-RequestId" not in response  # the API's middleware leaves them alone


@pytest.mark.parametrize("url", [HEALTHZ, READYZ])
def test_head_is_answered_without_a_body(client, url):
    response = client.head(url)
    assert response.status_code == 200
    assert response.content == b""
    assert "no-store" in _cache_control(response)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("url", [HEALTHZ, READYZ])
def test_other_methods_are_refused(client, url, method):
    response = client.generic(method, url)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert "no-store" in _cache_control(response)


def test_readyz_names_the_migrations_when_one_is_not_applied(client):
    _unapply_last_migration("customers")
    response = client.get(READYZ)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {**ALL_OK, "migrations": "pending"},
    }


def test_readyz_names_the_task_queue_when_its_table_is_not_migrated(client):
    _unapply_last_migration("django_tasks_database")
    response = client.get(READYZ)
    assert response.status_code == 503
    assert response.json()["checks"] == {**ALL_OK, "migrations": "pending", "tasks": "not migrated"}


def test_readyz_names_the_database_when_it_cannot_be_reached(client):
    refused = OperationalError('connection to server at "127.0.0.1", port 5432 failed')
    with mock.patch.object(connection, "cursor", side_effect=refused):
        response = client.get(READYZ)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": "unreachable",
            "migrations": "unknown",
            "cache": "ok",
            "tasks": "unreachable",  # its queue is a table of that database
        },
    }


def test_readyz_names_the_cache_when_its_server_is_away(client):
    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
    with override_settings(
        CACHES={"default": {**redis, "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}
    ):
        response = client.get(READYZ)
    assert response.status_code == 503
    assert response.json()["checks"] == {**ALL_OK, "cache": "unreachable"}


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}})
def test_readyz_names_a_cache_that_keeps_nothing(client):
    response = client.get(READYZ)
    assert response.status_code == 503
    assert response.json()["checks"] == {**ALL_OK, "cache": "not storing"}


@override_settings(
    TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
)
def test_a_task_queue_outside_the_database_is_not_checked(client):
    response = client.get(READYZ)
    assert response.status_code == 200
    assert response.json()["checks"] == {**ALL_OK, "tasks": "not configured"}


def test_the_migrations_shipped_are_read_from_disk_once():
    assert health.migration_leaves() is health.migration_leaves()
    assert ("django_tasks_database", "0021_conditional_partial_index_ordering") in (
        health.migration_leaves()
    )


@pytest.mark.parametrize("url", [HEALTHZ, READYZ])
def test_a_health_check_logs_nothing_at_info(client, caplog, url):
    caplog.set_level(logging.DEBUG)
    assert client.get(url).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


@override_settings(SECURE_SSL_REDIRECT=True)
def test_behind_tls_a_probe_over_plain_http_gets_the_answer_not_a_redirect(client):
    """A redirect would read as healthy to most probes, whatever /readyz would have said."""
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("refused")):
        assert client.get(READYZ).status_code == 503
    assert client.get(HEALTHZ).status_code == 200
    assert client.get(reverse("partnercenter:login")).status_code == 301
