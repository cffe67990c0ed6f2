"""The outbox's drain on Django's task queue, and how it stays scheduled.

A committed event asks for a drain (`drain_when_committed`): it brings the waiting drain forward
(an UPDATE, so a change costs the outbox one INSERT, its event); every drain schedules the next one
for when the next retry is due, and at least every minute: that recurring drain is the sweep
that finds what a crash left behind (an event committed just before its process died, a
delivery whose worker was killed). Starting a worker (`manage.py db_worker`) schedules one too,
so the chain survives every worker having died.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Least
from django.utils import timezone
from django_tasks import TaskResultStatus, task, task_backends
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max

from notifications.delivery import outbox_drain

SWEEP_EVERY = timedelta(minutes=1)


@task()
def drain_outbox() -> None:
    """Deliver what is due, then make sure the next drain is scheduled."""
    drain_schedule(outbox_drain())


def drain_when_committed(sender, instance, created: bool, **kwargs) -> None:
    if created:
        # Robust: a database gone just after the commit must not fail the change that was
        # made; the next sweep (within SWEEP_EVERY) delivers what this would have hurried.
        transaction.on_commit(drain_soon, robust=True)


def drain_soon() -> None:
    """Ask for a drain now: bring the waiting one forward (one UPDATE), or enqueue one when
    none waits (no worker has started yet, or every one is running)."""
    if not _hurried(timezone.now()):
        drain_outbox.enqueue()


def drain_schedule(at: datetime | None = None) -> None:
    """Make sure a drain starts by `at`, and within SWEEP_EVERY in any case."""
    at = min(at or timezone.now() + SWEEP_EVERY, timezone.now() + SWEEP_EVERY)
    if not _waiting(at):
        drain_outbox.using(run_after=at).enqueue()


def _hurried(now: datetime) -> int:
    """Make every drain not yet started start now; how many there were."""
    if (waiting := _not_started()) is None:
        return 0
    return waiting.update(run_after=Least("run_after", Value(now)))


def _not_started():
    """The drains waiting in the queue; None without the database backend (no queue to
    look in: callers enqueue)."""
    if not isinstance(task_backends[drain_outbox.backend], DatabaseBackend):
        return None
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.READY,
        task_path=drain_outbox.module_path,
        backend_name=drain_outbox.backend,
    )


def _waiting(by: datetime) -> bool:
    """Whether a drain not yet started will start by `by`."""
    if (waiting := _not_started()) is None:
        return False
    return waiting.filter(Q(run_after=get_date_max()) | Q(run_after__lte=by)).exists()
