from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from notifications.tasks import drain_schedule


class Command(DatabaseWorkerCommand):
    help = (
        "Run a database background worker (django-tasks-db's), draining the outbox first: a "
        "worker started after every worker died picks up what they left."
    )

    def handle(self, *args, **options):
        drain_schedule(timezone.now())
        return super().handle(*args, **options)
