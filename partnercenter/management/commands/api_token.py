from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from partnercenter.api_tokens import MAX_LIFETIME, api_token_issue
from partnercenter.errors import DomainError
from partnercenter.models import User


class Command(BaseCommand):
    help = (
        "Issue an API token acting as the partner staff user USERNAME and print it, and nothing "
        "else; it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--expires-in",
            type=int,
            default=3600,
            metavar="SECONDS",
            help=f"Lifetime in seconds, 1 to {int(MAX_LIFETIME.total_seconds())} (90 days); "
            "default 3600.",
        )
        parser.add_argument(
            "--name", default="manage.py api_token", help="What the token is for (shown in lists)."
        )

    def handle(self, *args, username, expires_in, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        if not 0 < expires_in <= MAX_LIFETIME.total_seconds():
            raise CommandError(
                f"--expires-in must be 1 to {int(MAX_LIFETIME.total_seconds())} seconds (90 days)."
            )
        try:
            _token, raw = api_token_issue(
                user=user, name=name, expires_in=timedelta(seconds=expires_in)
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(raw)
