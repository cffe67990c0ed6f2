import time

from django.core.management.base import BaseCommand, CommandError

from demo import scale, world
from partnercenter.errors import DomainError
from partnercenter.models import Partner

SIZE_OPTIONS = {
    "resellers": "Add N more indirect resellers of the demo provider, a third of them with a "
    "few of its customers.",
    "customers": "Add N more customers of the demo provider, with 1–5 subscriptions each.",
    "history": "Add N changes of the demo provider's designated support contacts over the "
    "last two years.",
}


class Command(BaseCommand):
    help = (
        "Create the demo world (idempotent); --resellers, --customers and --history grow it "
        "to a distributor's size."
    )

    def add_arguments(self, parser):
        for option, help_text in SIZE_OPTIONS.items():
            parser.add_argument(f"--{option}", type=int, default=0, metavar="N", help=help_text)
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed for the options (repeatable runs)."
        )

    def handle(self, *args, seed: int | None, **options):
        sizes = {option: options[option] for option in SIZE_OPTIONS}
        for option, count in sizes.items():
            if count < 0:
                raise CommandError(f"--{option} must be 0 or more.")
        try:
            report = world.seed_demo_world()
        except DomainError as error:
            # A demo world changed by hand (e.g. Fabrikam's DAP withdrawn) cannot take the
            # multi-channel part as docs/domain.md describes it; nothing was added.
            raise CommandError(
                f"The multi-channel part of the demo world could not be added: {error.message} "
                "Nothing changed."
            ) from error
        if "base" in report.parts:
            self.stdout.write(self.style.SUCCESS("Demo world created: " + _summary(report)))
        elif report.changed:
            self.stdout.write(
                self.style.SUCCESS(
                    "Multi-channel part of the demo world added: " + _summary(report)
                )
            )
        else:
            self.stdout.write("Demo world already present; nothing changed.")

        if any(sizes.values()):
            self._grow(sizes, seed)

        self.stdout.write(f"\nDemo users (password: {world.DEMO_PASSWORD}):")
        for user in world.DEMO_USERS:
            what = user.role.label if user.role else "customer admin"
            self.stdout.write(f"  {user.username:<15} {what} at {user.organisation}")

    def _grow(self, sizes: dict[str, int], seed: int | None) -> None:
        started = time.monotonic()
        provider = Partner.objects.get(partner_id=world.PROVIDER["partner_id"])
        more = scale.grow(provider, **sizes, seed=seed)
        scale.analyze_bulk_tables()
        seconds = time.monotonic() - started
        added = _summary(more)[:-1] if more.changed else "nothing"
        self.stdout.write(self.style.SUCCESS(f"Added {added} in {seconds:.1f} s."))
        for note in more.notes:
            self.stdout.write(note)
        self.stdout.write("Planner statistics refreshed (ANALYZE).")


def _summary(report: scale.SeedReport) -> str:
    return ", ".join(f"{count} {what}" for what, count in report.created.items()) + "."
