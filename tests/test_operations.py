"""What someone on call relies on: every request's id, in a header, on the error page and in every
log line of that request; one log line per committed change, never a secret; error pages that
say whether anything changed, in the user's language; a database that is away answered with a
503 and Retry-After, on pages and under /v1/ alike.

The fault tests (tests/test_faults.py) prove the same against a real PostgreSQL that is
restarted, filled or made read-only; these prove each answer through the test client.
"""

import io
import json
import logging
import re
import uuid
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import InternalError, OperationalError
from django.test import override_settings
from django.urls import reverse

from partnercenter.api_tokens import api_token_issue
from partnercenter.error_views import database_unavailable
from partnercenter.models import User

pytestmark = pytest.mark.django_db

CUSTOMERS = "/customers/"


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """Each test's writes roll back to the demo world seeded once for the module."""


@pytest.fixture
def agent(client, demo_user):
    client.force_login(demo_user("adminagent"))
    return client


@contextmanager
def console_lines():
    """The lines the configured console handler writes meanwhile (JSON in tests, as in
    production), parsed."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        handler.setStream(previous)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines())


def _submit(client, subscription, contact):
    return client.post(
        reverse(
            "customers:subscription_support_contact",
            args=[subscription.customer_id, subscription.pk],
        ),
        {"contact": contact.pk, "version": subscription.version},
    )


# Request ids ------------------------------------------------------------------------------------


def test_every_answer_carries_a_request_id_of_its_own(client):
    first, second = client.get("/healthz"), client.get(reverse("partnercenter:login"))
    assert uuid.UUID(first["X-Request-ID"]) != uuid.UUID(second["X-Request-ID"])


@pytest.mark.parametrize("header", ["X-Request-ID", "MS-RequestId"])
def test_the_id_a_load_balancer_or_caller_sends_is_kept(client, header):
    answer = client.get(reverse("partnercenter:login"), headers={header: "lb-7f3a.42"})
    assert answer["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.parametrize(
    "sent", ["two words", 'quote"d', "line\nbreak", "x" * 129, "-starts-with-a-dash", ""]
)
def test_an_id_that_could_forge_a_log_line_is_replaced(client, sent):
    answer = client.get("/healthz", headers={"X-Request-ID": sent})
    assert uuid.UUID(answer["X-Request-ID"])


def test_the_api_answers_the_same_id_as_ms_request_id(client, demo_user):
    _, raw = api_token_issue(user=demo_user("adminagent"), name="ops")
    answer = client.get(
        "/v1/customers", headers={"Authorization": f"Bearer {raw}", "X-Request-ID": "abc-1"}
    )
    assert answer.status_code == 200
    assert answer["X-Request-ID"] == answer["MS-RequestId"] == "abc-1"


# Logs -------------------------------------------------------------------------------------------


def test_a_request_is_one_line_with_its_id_user_status_and_duration(agent):
    with console_lines() as lines:
        answer = agent.get(CUSTOMERS, headers={"X-Request-ID": "req-1"})
    (line,) = [line for line in lines if line["logger"] == "partnercenter.requests"]
    assert line["request_id"] == answer["X-Request-ID"] == "req-1"
    assert line["user"] == "adminagent"
    assert (line["level"], line["method"], line["path"], line["status"]) == (
        "INFO",
        "GET",
        CUSTOMERS,
        200,
    )
    assert line["duration_ms"] >= 0
    assert line["message"].startswith("GET /customers/ 200 ")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_a_passing_health_check_is_not_logged_at_info(client, path):
    with console_lines() as lines:
        assert client.get(path).status_code == 200
    assert lines == []


def test_a_set_password_link_is_logged_by_its_route_not_its_token(client):
    with console_lines() as lines:
        client.get("/accounts/set-password/MQ/abcdef-0123456789abcdef/")
    (line,) = [line for line in lines if line["logger"] == "partnercenter.requests"]
    assert "abcdef" not in line["path"]
    assert "<token>" in line["path"]


# Error pages ------------------------------------------------------------------------------------


def _reference(answer) -> str:
    return re.search(r"<code>([^<]+)</code>", answer.content.decode()).group(1)


def test_not_found_shows_the_request_id_inside_the_site(agent):
    answer = agent.get("/customers/999999/")
    assert answer.status_code == 404
    assert _reference(answer) == answer["X-Request-ID"]
    assert "There is nothing here, or it is not yours to see." in answer.content.decode()


def test_a_wrong_role_gets_403_with_the_request_id(client, demo_user):
    client.force_login(demo_user("salesagent"))
    answer = client.get(reverse("partnercenter:user_list"))
    assert answer.status_code == 403
    assert _reference(answer) == answer["X-Request-ID"]


def test_a_request_that_cannot_be_read_gets_400(client):
    answer = client.get(reverse("partnercenter:login"), headers={"Host": "not-ours.example"})
    assert answer.status_code == 400
    assert "nothing was changed" in answer.content.decode()
    assert _reference(answer) == answer["X-Request-ID"]


def test_a_defect_gets_500_saying_nothing_changed_and_no_traceback(agent, premium):
    agent.raise_request_exception = False
    with mock.patch("customers.views._subscription_context", side_effect=KeyError("boom")):
        answer = agent.get(
            reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk])
        )
    content = answer.content.decode()
    assert answer.status_code == 500
    assert "Nothing was changed." in content
    assert "Traceback" not in content
    assert "boom" not in content
    assert _reference(answer) == answer["X-Request-ID"]


def test_a_database_that_is_away_gets_503_with_retry_after(agent, premium):
    agent.raise_request_exception = False
    refused = OperationalError("connection refused")
    with mock.patch("customers.views._subscription_context", side_effect=refused):
        answer = agent.get(
            reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk])
        )
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert "Nothing was changed." in answer.content.decode()
    assert _reference(answer) == answer["X-Request-ID"]


def test_a_database_away_before_any_view_still_gets_the_503_page(agent):
    """The session is read by middleware, before a view: the 503 page reads nothing."""
    agent.raise_request_exception = False
    with mock.patch(
        "django.contrib.sessions.backends.db.SessionStore.load",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    ):
        answer = agent.get(CUSTOMERS)
    assert answer.status_code == 503
    assert "Nothing was changed." in answer.content.decode()


def test_a_read_only_database_counts_as_unavailable():
    class ReadOnly(Exception):
        sqlstate = "25006"  # read_only_sql_transaction: psycopg raises it as an InternalError

    error = InternalError("cannot execute UPDATE in a read-only transaction")
    error.__cause__ = ReadOnly()
    assert database_unavailable(error)
    assert not database_unavailable(InternalError("a defect"))
    assert not database_unavailable(KeyError("a defect"))


def test_the_503_page_is_rendered_without_a_query(rf, django_assert_num_queries):
    from partnercenter.error_views import unavailable

    request = rf.get("/customers/")
    request.id = "r-9"
    with django_assert_num_queries(0):
        answer = unavailable(request)
    assert answer.status_code == 503
    assert "r-9" in answer.content.decode()


@override_settings(LANGUAGE_CODE="en")
def test_the_503_page_speaks_the_users_language(agent, premium):
    agent.raise_request_exception = False
    user = User.objects.get(username="adminagent")
    user.language = "de"
    user.save(update_fields=["language"])
    with mock.patch("customers.views._subscription_context", side_effect=OperationalError("x")):
        answer = agent.get(
            reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk])
        )
    assert answer.status_code == 503
    assert '<html lang="de">' in answer.content.decode()
    assert "Nothing was changed." not in answer.content.decode()


# The API ----------------------------------------------------------------------------------------


def test_the_api_answers_a_database_away_with_its_503_error(client, demo_user):
    _, raw = api_token_issue(user=demo_user("adminagent"), name="ops")
    client.raise_request_exception = False
    refused = OperationalError("refused")
    with mock.patch("api.endpoints.representations.collection", side_effect=refused):
        answer = client.get("/v1/customers", headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 503
    assert answer["Content-Type"].startswith("application/json")
    assert answer.json()["errorName"] == "ServiceUnavailable"
    assert answer["MS-RequestId"] == answer["X-Request-ID"]


def test_the_api_answers_a_database_away_before_its_endpoint_with_503_json(client):
    """Under /v1/ Django's own 503 page (from the middleware) becomes the API's error."""
    client.raise_request_exception = False
    with mock.patch("api.auth.api_token_authenticate", side_effect=OperationalError("refused")):
        answer = client.get("/v1/customers", headers={"Authorization": "Bearer pc_x_y"})
    assert answer.status_code == 503
    assert answer.json()["errorName"] == "ServiceUnavailable"


# Sign-in lockout ----------------------------------------------------------------------------------


def test_the_sign_in_lockout_says_when_to_retry(client, settings):
    settings.AXES_FAILURE_LIMIT = 1
    login = reverse("partnercenter:login")
    client.post(login, {"username": "adminagent", "password": "wrong"})
    answer = client.post(login, {"username": "adminagent", "password": "wrong"})
    assert answer.status_code == 429
    assert int(answer["Retry-After"]) >= 60
    assert _reference(answer) == answer["X-Request-ID"]


def test_a_refusal_for_an_unavailable_database_is_logged_once_without_a_traceback(agent):
    """In an outage every request is one: one warning each, not a traceback per layer."""
    agent.raise_request_exception = False
    with (
        console_lines() as lines,
        mock.patch(
            "django.contrib.sessions.backends.db.SessionStore.load",
            side_effect=OperationalError("the database system is shutting down"),
        ),
    ):
        answer = agent.get(CUSTOMERS)
    (refusal,) = [line for line in lines if line["logger"] == "django.request"]
    assert refusal["level"] == "WARNING"
    assert "exc_info" not in refusal
    assert refusal["message"] == (
        "Service Unavailable: /customers/ (the database system is shutting down)"
    )
    assert refusal["request_id"] == answer["X-Request-ID"]


def test_a_defect_is_still_logged_with_its_traceback(agent, premium):
    agent.raise_request_exception = False
    with (
        console_lines() as lines,
        mock.patch("customers.views._subscription_context", side_effect=KeyError("boom")),
    ):
        agent.get(reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk]))
    (error,) = [line for line in lines if line["logger"] == "django.request"]
    assert error["level"] == "ERROR"
    assert "KeyError: 'boom'" in error["exc_info"]
