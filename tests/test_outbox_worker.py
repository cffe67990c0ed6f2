"""The outbox across processes: a real `manage.py db_worker` on the test database delivers to a
receiver in this process (tests/webhook_receiver.py), is killed in the middle of a delivery, and
a worker started after it delivers the event exactly once more; an event committed while no
worker runs is delivered when one starts.

PostgreSQL only: the worker is another process, so it must see committed rows (the tests use
`transactional_db`) and share the row locks of SKIP LOCKED with whoever else drains.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from customers.services import support_contact_assign
from events.models import Event, EventType
from notifications import delivery
from notifications.models import Delivery, WebhookEndpoint
from notifications.tasks import drain_outbox
from tests import factories
from tests.webhook_receiver import WAIT_AT_MOST, Receiver, wait_until

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a worker in another process must see committed rows and share row locks: "
    "PostgreSQL (runs with the PostgreSQL suite, .ci/run)",
)


def _worker_environment() -> dict[str, str]:
    """This process's environment, pointed at the test database pytest-django created."""
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_WEBHOOKS_ALLOW_PRIVATE": "1",  # the receiver is http://127.0.0.1
        "DJANGO_SECRET_KEY": os.environ["DJANGO_SECRET_KEY"],  # pyproject's pytest env
        "DJANGO_DEBUG": "0",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }


@contextmanager
def running_worker(log: Path) -> Iterator[subprocess.Popen]:
    """`manage.py db_worker` in a process of its own; killed on the way out, whatever happens.
    Its output is printed then (pytest shows it when the test fails)."""
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-startup-delay",
                "--interval",
                "0.2",
                "--no-reload",  # one process: the one killed is the one that delivers
            ],
            cwd=ROOT,
            env=_worker_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield worker
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait(WAIT_AT_MOST)
            print(f"--- {log.name} ---\n{log.read_text(errors='replace')}")


def _waiting_drains():
    """Drains in the queue not yet started."""
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=drain_outbox.module_path
    )


def _committed_change(url: str) -> tuple[Event, WebhookEndpoint]:
    """A reseller made a subscription's designated contact, committed, with an endpoint of the
    reseller's at `url`: one support_contact.changed event, and the drain its commit asked for."""
    provider, reseller = factories.ProviderFactory(), factories.ResellerFactory()
    factories.ResellerPartnershipFactory(provider=provider, reseller=reseller)
    customer = factories.CustomerFactory()
    factories.CustomerRelationshipFactory(partner=provider, customer=customer)
    factories.CustomerRelationshipFactory(partner=reseller, customer=customer)
    subscription = factories.SubscriptionFactory(customer=customer, provider=provider)
    endpoint = WebhookEndpoint.objects.create(
        partner=reseller, url=url, event_types=[EventType.SUPPORT_CONTACT_CHANGED]
    )
    support_contact_assign(
        subscription=subscription, contact=reseller, by=None, expected_version=subscription.version
    )
    return Event.objects.get(), endpoint


def _delivered(endpoint: WebhookEndpoint):
    return Delivery.objects.filter(endpoint=endpoint, state=Delivery.State.SUCCEEDED).first()


def test_a_worker_killed_mid_delivery_loses_nothing_and_the_next_one_delivers_once(
    transactional_db, tmp_path
):
    with Receiver() as receiver:
        receiver.hold("/hook")  # the first request is never answered
        event, endpoint = _committed_change(receiver.url("/hook"))
        with running_worker(tmp_path / "first-worker.log") as first:
            assert receiver.held.wait(WAIT_AT_MOST), "the first worker never sent the webhook"
            in_flight = Delivery.objects.get(endpoint=endpoint)
            assert (in_flight.state, in_flight.attempts) == (Delivery.State.PENDING, 1)
            # Leased: not due again before the lease has passed.
            assert in_flight.next_attempt_at - timezone.now() > delivery.LEASE / 2
            first.send_signal(signal.SIGKILL)
            first.wait(WAIT_AT_MOST)
        receiver.release()  # its connection is closed unanswered

        left = Delivery.objects.get(endpoint=endpoint)
        assert (left.state, left.attempts, left.status_code) == (Delivery.State.PENDING, 1, None)
        assert left.finished_at is None
        # The lease is delivery.LEASE, 60 s, a constant no setting or variable changes, and the
        # worker's clock is another process's: the test lets the lease pass by making the killed
        # worker's leased deliveries due now.
        Delivery.objects.filter(state=Delivery.State.PENDING).update(next_attempt_at=timezone.now())
        with running_worker(tmp_path / "second-worker.log"):
            # The killed worker's drain never scheduled the next one; the new worker drains
            # when it starts.
            done = wait_until(lambda: _delivered(endpoint), "the delivery by the second worker")

    sent = [r for r in receiver.to("/hook") if r.event_id == str(event.uuid)]
    assert [r.status for r in sent] == [None, 204]  # dropped unanswered, then answered once
    assert sent[0].body == sent[1].body  # the same event id to de-duplicate by
    assert (
        sent[0].headers["Partnercenter-Delivery-Id"]
        == sent[1].headers["Partnercenter-Delivery-Id"]
        == str(done.pk)
    )
    assert (done.status_code, done.error) == (204, "")
    # The attempt cut off by the kill counts: attempts count from their lease.
    assert done.attempts == 2
    assert done.finished_at is not None


def test_an_event_committed_while_no_worker_runs_is_delivered_when_one_starts(
    transactional_db, tmp_path
):
    with Receiver() as receiver:
        event, endpoint = _committed_change(receiver.url("/hook"))
        assert _waiting_drains().count() == 1  # its commit asked for a drain; nobody runs it yet
        assert Event.objects.filter(pk=event.pk, dispatched_at__isnull=True).exists()
        assert receiver.requests == []
        with running_worker(tmp_path / "worker.log"):
            done = wait_until(lambda: _delivered(endpoint), "the delivery")
    [received] = receiver.to("/hook")
    assert (received.event_id, received.status) == (str(event.uuid), 204)
    assert done.attempts == 1


def test_a_worker_start_schedules_the_sweep_that_finds_an_event_whose_drain_was_lost(
    transactional_db, tmp_path
):
    with Receiver() as receiver:
        event, endpoint = _committed_change(receiver.url("/hook"))
        # As if the process died between its commit and asking for the drain (on commit).
        _waiting_drains().delete()
        with running_worker(tmp_path / "worker.log"):
            wait_until(lambda: _delivered(endpoint), "the delivery by the drain of its start")
    [received] = receiver.to("/hook")
    assert (received.event_id, received.status) == (str(event.uuid), 204)
