from django.core.management.base import BaseCommand, CommandError

from demo import world
from partnercenter.errors import DomainError
from partnercenter.models import Partner


class Command(BaseCommand):
    help = "Create the demo world (idempotent); --customers N adds N more customers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers",
            type=int,
            default=0,
            metavar="N",
            help="Add N more customers of the demo provider, with 1–5 subscriptions each.",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed for --customers (repeatable runs)."
        )

    def handle(self, *args, customers: int, seed: int | None, **options):
        if customers < 0:
            raise CommandError("--customers must be 0 or more.")
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

        if customers:
            provider = Partner.objects.get(partner_id=world.PROVIDER["partner_id"])
            more = world.add_customers(
                names=world.generated_company_names(customers, seed=seed),
                provider=provider,
                resellers=world.active_resellers_of(provider),
                seed=seed,
            )
            self.stdout.write(self.style.SUCCESS("Added " + _summary(more)))
            if world.analyze_bulk_tables():
                self.stdout.write("Planner statistics refreshed (ANALYZE).")

        self.stdout.write(f"\nDemo users (password: {world.DEMO_PASSWORD}):")
        for user in world.DEMO_USERS:
            what = user.role.label if user.role else "customer admin"
            self.stdout.write(f"  {user.username:<15} {what} at {user.organisation}")


def _summary(report: world.SeedReport) -> str:
    return ", ".join(f"{count} {what}" for what, count in report.created.items()) + "."
