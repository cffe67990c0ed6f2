from django.core.management.base import BaseCommand

from notifications.delivery import outbox_drain


class Command(BaseCommand):
    help = "Dispatch undispatched events and attempt due deliveries now, in this process."

    def handle(self, *args, **options):
        next_due = outbox_drain()
        self.stdout.write(f"Next delivery due: {next_due.isoformat() if next_due else 'none'}")
