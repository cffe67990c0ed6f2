"""The bulk change's part of `make bench`: a preview, a run and an undo of `size` subscriptions.

Issue 14 asks, on PostgreSQL, for a bulk operation of 10,000 subscriptions that finishes in under
10 s with a constant number of statements per chunk, and a preview of 10,000 rows that answers
in under 300 ms (its counts and first page, not every row).

The scenario is the one the feature is for: the provider signs a support agreement with one of
its resellers, whose customers (given delegated admin privileges for it, here) hold `size` of
the provider's subscriptions; on the reseller's page, globaladmin makes it their designated
support contact, then undoes it. In this process, with Django's test client for the pages:

- the Review: the preview written (its rows, one INSERT ... SELECT) and the operation's page
  answered (the counts and the first page);
- the run: every chunk, each timed and its statements counted; then the undo, the same way (its
  rows go back to many different previous contacts);
- all of it inside one transaction rolled back at the end (the chunks' transactions become
  savepoints), so that the reused world is the same for the next run.

    .venv/bin/python -m bench.bulk             # alone, on the benchmark's world (make bench first)
"""

import os
import sys
import time
from statistics import median


def _give_the_reseller(provider, reseller, size: int) -> int:
    """Relationships with delegated admin privileges for `reseller` at the first customers of
    `provider` until they hold `size` of its legacy subscriptions; how many there are."""
    from django.db.models import Count, Q

    from customers.models import CommerceType, Customer
    from relationships.models import CustomerRelationship

    legacy = Q(subscriptions__provider=provider, subscriptions__commerce_type=CommerceType.LEGACY)
    customers = (
        Customer.objects.filter(relationships__partner=provider, relationships__state="active")
        .annotate(n=Count("subscriptions", filter=legacy))
        .filter(n__gt=0)
        .order_by("pk")
        .values_list("pk", "n")
    )
    chosen, held = [], 0
    for customer_id, n in customers.iterator(chunk_size=2000):
        chosen.append(customer_id)
        held += n
        if held >= size:
            break
    tied = set(
        CustomerRelationship.objects.live()
        .filter(partner=reseller, customer_id__in=chosen)
        .values_list("customer_id", flat=True)
    )
    CustomerRelationship.objects.filter(
        partner=reseller, customer_id__in=tied, state="active"
    ).update(delegated_admin=True)
    CustomerRelationship.objects.bulk_create(
        CustomerRelationship(partner=reseller, customer_id=c, state="active", delegated_admin=True)
        for c in chosen
        if c not in tied
    )
    return held


def _run(operation_id: int) -> tuple[float, list[float], set[int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers import bulk
    from customers.models import BulkOperation

    BulkOperation.objects.filter(pk=operation_id).update(state=BulkOperation.State.QUEUED)
    chunks, statements = [], set()
    started = time.perf_counter()
    while True:
        chunk_started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            more = bulk.bulk_operation_run_chunk(operation_id)
        if not more:
            break
        chunks.append((time.perf_counter() - chunk_started) * 1000)
        statements.add(len(queries))
    return time.perf_counter() - started, chunks, statements


def measure_bulk(client, size: int) -> str:
    from django.db import connection, transaction
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from customers import bulk
    from customers.eligibility import eligible_subscriptions
    from customers.models import CommerceType
    from demo import world
    from partnercenter.models import Partner, User
    from relationships.models import ResellerPartnership

    agent = User.objects.get(username="globaladmin")
    provider = Partner.objects.get(partner_id=world.PROVIDER["partner_id"])
    partnership = (
        ResellerPartnership.objects.filter(provider=provider, state="active")
        .select_related("reseller")
        .order_by("-pk")
        .first()
    )
    reseller = partnership.reseller
    with transaction.atomic():
        held = _give_the_reseller(provider, reseller, size)
        picked = Q(eligible_subscriptions(reseller.pk), commerce_type=CommerceType.LEGACY) & ~Q(
            support_contact_id=reseller.pk
        )
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as statements:
            operation = bulk.bulk_preview_create(
                by=agent, subscriptions=picked, contact=reseller, criteria={}
            )
        written_ms = (time.perf_counter() - started) * 1000
        page = reverse("customers:bulk_operation", args=[operation.pk])
        client.get(page)  # warm: the template, the first plans
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as page_statements:
            answer = client.get(page)
        page_ms = (time.perf_counter() - started) * 1000
        if os.environ.get("BENCH_BULK_STATEMENTS"):
            for q in [*statements.captured_queries, *page_statements.captured_queries]:
                print(q["time"], q["sql"][:300])
        assert answer.status_code == 200, answer.status_code
        run_s, chunks, chunk_statements = _run(operation.pk)
        operation.refresh_from_db()
        undo = _undo_measured(operation.pk, agent)
        transaction.set_rollback(True)
    undo_s, undo_chunks, undo_statements, undone = undo
    return "\n".join(
        [
            "## Bulk change",
            "",
            f"{reseller.name} made the designated support contact of the subscriptions of "
            f"{provider.name} where it is eligible, by globaladmin, after it was given delegated "
            f"admin privileges at the customers holding {held:,} of them; then undone. In this "
            "process, in one transaction rolled back at the end.",
            "",
            "| step | rows | time | statements |",
            "|---|--:|--:|--:|",
            f"| Review: the preview written (INSERT ... SELECT) | {operation.total:,} | "
            f"{written_ms:.0f} ms | {len(statements)} |",
            f"| Review: the operation's page (its counts and first page) | {operation.total:,} | "
            f"{page_ms:.0f} ms | {len(page_statements)} |",
            f"| **the preview in all** (target: under 300 ms) | {operation.total:,} | "
            f"**{written_ms + page_ms:.0f} ms** | |",
            f"| **Submit: every chunk** (target: under 10 s) | {operation.processed:,} | "
            f"**{run_s:.2f} s** | {_per_chunk(chunks, chunk_statements)} |",
            f"| Undo: its rows written, then every chunk | {undone.processed:,} | "
            f"{undo_s:.2f} s | {_per_chunk(undo_chunks, undo_statements)} |",
            "",
            f"Outcome: {operation.changed:,} changed, {operation.unchanged:,} unchanged, "
            f"{operation.skipped:,} skipped; the undo: {undone.changed:,} changed back, "
            f"{undone.skipped:,} skipped.",
        ]
    )


def _per_chunk(chunks: list[float], statements: set[int]) -> str:
    each = ", ".join(str(n) for n in sorted(statements))
    same = "the same in each" if len(statements) == 1 else "varying"
    return (
        f"{len(chunks)} chunks; {each} statements a chunk ({same}); a chunk in "
        f"{median(chunks or [0]):.0f} ms (median), {max(chunks or [0]):.0f} ms (slowest)"
    )


def _undo_measured(operation_id: int, agent):
    """The undo as `bulk_operation_undo` does it (its rows, then the chunks), timed."""
    from customers import bulk
    from customers.models import BulkOperation

    started = time.perf_counter()
    original_run = bulk.bulk_operation_run
    timings = {}

    def timed_run(undo_id):
        timings["run"] = _run(undo_id)

    bulk.bulk_operation_run = timed_run
    try:
        undo = bulk.bulk_operation_undo(operation_id=operation_id, by=agent)
    finally:
        bulk.bulk_operation_run = original_run
    undo = BulkOperation.objects.get(pk=undo.pk)
    if "run" not in timings:  # a large undo goes to the queue: run it here
        timings["run"] = _run(undo.pk)
        undo.refresh_from_db()
    _run_s, chunks, statements = timings["run"]
    return time.perf_counter() - started, chunks, statements, undo


def main() -> int:
    from bench.run import DEFAULT_DATABASE_URL, ROOT, serve_as_in_production, signed_in_clients

    serve_as_in_production(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(measure_bulk(signed_in_clients(["globaladmin"])["globaladmin"], size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
