"""One log line per committed change, with who made it and the request's id; none for a change
that was refused or rolled back; never a password, token or secret. And a request that fails
after its change committed says so: the change is not lost, nor made twice by a retry.

These changes must really commit (a change is logged when it commits), so each test seeds the
demo world in a database of its own transactions (tests/test_operations.py has the rest).
"""

import io
import json
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.db.models import Q
from django.urls import reverse

from customers import bulk
from customers.models import BulkOperation, SupportContactChange
from notifications.tasks import drain_outbox
from partnercenter.api_tokens import api_token_issue
from partnercenter.models import User
from tests.test_operations import _submit, console_lines


@pytest.fixture
def demo_world(transactional_db):
    """The demo world, in a database whose transactions commit: a change is logged, and counted
    as saved, when it commits, which never happens inside the transaction of a plain test."""
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def agent(client, demo_user):
    client.force_login(demo_user("adminagent"))
    return client


def _changes(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "partnercenter.changes"]


def test_a_support_contact_change_is_logged_once_with_who_and_the_request_id(
    agent, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    with console_lines() as lines:
        answer = _submit(agent, premium, fabrikam)
    assert answer.status_code == 302
    (change,) = _changes(lines)
    history = SupportContactChange.objects.get(subscription=premium, to_contact=fabrikam)
    assert change["change"] == "support_contact.changed"
    assert change["about"]["changes"] == [history.pk]
    assert change["user"] == "adminagent"
    assert change["request_id"] == answer["X-Request-ID"]


def test_a_refused_change_logs_no_change(agent, premium, partner_named):
    history = SupportContactChange.objects.filter(subscription=premium).count()
    with console_lines() as lines:
        answer = _submit(agent, premium, partner_named("Trey Research"))  # not eligible
    assert answer.status_code == 200  # the form again, with the refusal
    assert SupportContactChange.objects.filter(subscription=premium).count() == history
    assert _changes(lines) == []


def test_a_user_change_is_logged_once(client, demo_user):
    admin, agent = demo_user("usermgmtadmin"), demo_user("salesagent")
    client.force_login(admin)
    with console_lines() as lines:
        answer = client.post(
            reverse("partnercenter:user_deactivate", args=[agent.pk]), {"confirm": "1"}
        )
    assert answer.status_code in (200, 302)
    assert not User.objects.get(pk=agent.pk).is_active
    (change,) = _changes(lines)
    assert (change["change"], change["about"], change["user"]) == (
        "user.deactivated",
        {"user": agent.pk},
        "usermgmtadmin",
    )


def test_no_password_or_token_reaches_the_log(client, demo_user):
    with console_lines() as lines:
        client.post(
            reverse("partnercenter:login"),
            {"username": "adminagent", "password": "partnercenter-demo"},
        )
        client.post(reverse("partnercenter:api_tokens"), {"name": "ci", "expires_in_days": "30"})
    text = json.dumps(lines)
    assert "partnercenter-demo" not in text
    assert "pc_" not in text.replace('"prefix"', "")
    issued = [line for line in lines if line.get("change") == "api_token.issued"]
    assert len(issued) == 1
    assert set(issued[0]["about"]) == {"token", "prefix", "user"}


def test_a_failure_after_the_change_committed_says_it_was_saved(agent, premium, partner_named):
    agent.raise_request_exception = False
    fabrikam = partner_named("Fabrikam Solutions")
    gone = OperationalError("the database went away")
    with mock.patch("customers.views.redirect", side_effect=gone):
        answer = _submit(agent, premium, fabrikam)
    assert answer.status_code == 503
    assert "Your change was saved" in answer.content.decode()
    assert SupportContactChange.objects.filter(subscription=premium, to_contact=fabrikam).exists()


def test_an_api_put_that_fails_after_committing_says_it_was_saved(
    client, demo_user, premium, partner_named
):
    _, raw = api_token_issue(user=demo_user("adminagent"), name="ops")
    fabrikam = partner_named("Fabrikam Solutions")
    client.raise_request_exception = False
    gone = OperationalError("the database went away")
    with mock.patch("api.endpoints._support_contact_answer", side_effect=gone):
        answer = client.put(
            f"/v1/customers/{premium.customer.tenant_id}/subscriptions/{premium.uuid}"
            "/supportcontact",
            data={"supportTenantId": str(fabrikam.tenant_id)},
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
    assert answer.status_code == 503
    assert answer.json()["errorName"] == "ServiceUnavailable"
    assert "Your change was saved" in answer.json()["description"]
    assert SupportContactChange.objects.filter(subscription=premium, to_contact=fabrikam).exists()


def test_a_task_workers_lines_carry_the_tasks_id(demo_world):
    task = drain_outbox.enqueue()
    with console_lines() as lines:  # verbosity 1: the worker logs each task at INFO
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=1)
    (finished,) = [
        line
        for line in lines
        if f"Task id={task.id} " in line["message"] and "SUCCESSFUL" in line["message"]
    ]
    assert finished["request_id"] == f"task-{task.id}"
    assert lines[-1]["request_id"] != f"task-{task.id}"  # and it ends with the task


def test_a_bulk_change_run_by_a_worker_logs_its_author(
    demo_user, adatum, partner_named, monkeypatch
):
    agent = demo_user("adminagent")
    monkeypatch.setattr(bulk, "BACKGROUND_ABOVE", 0)  # every operation goes to the queue
    operation = bulk.bulk_preview_create(
        by=agent,
        subscriptions=Q(customer=adatum),
        contact=partner_named("Fabrikam Solutions"),
        criteria={},
    )
    operation = bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    assert operation.state == BulkOperation.State.QUEUED
    with console_lines() as lines:
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=1)
    operation.refresh_from_db()
    assert operation.state == BulkOperation.State.DONE
    changes = _changes(lines)
    assert {c["change"] for c in changes} == {
        "support_contact.changed",
        "bulk_operation.completed",
    }
    assert {c["user"] for c in changes} == {"adminagent"}
    assert all(c["request_id"].startswith("task-") for c in changes)
