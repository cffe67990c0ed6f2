"""Bulk changes of designated support contacts: preview, submit, stale and ineligible rows,
chunks, the task queue, undo, and the pages (plain forms and htmx)."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from customers import bulk
from customers.bulk import bulk_operation_run_chunk, bulk_preview, bulk_preview_create
from customers.models import (
    BulkItem,
    BulkOperation,
    BulkOutcome,
    CommerceType,
    SkipReason,
    Subscription,
    SupportContactChange,
)
from customers.services import support_contact_assign
from customers.workflows import delegated_admin_remove
from relationships.models import CustomerRelationship, ResellerPartnership
from tests import factories

pytestmark = pytest.mark.django_db

E3, PREMIUM, BASIC = (
    "Microsoft 365 E3",
    "Office 365 Business Premium",
    "Microsoft 365 Business Basic",
)


@pytest.fixture
def agent(demo_user):
    return demo_user("adminagent")


@pytest.fixture
def fabrikam(partner_named):
    return partner_named("Fabrikam Solutions")


@pytest.fixture
def contoso(partner_named):
    return partner_named("Contoso Distribution")


def _adatums(adatum, *offers):
    return [
        adatum.subscriptions.get(offer_name=o, provider__name="Contoso Distribution")
        for o in offers
    ]


def _preview(agent, adatum, contact, offers=None):
    chosen = Q(customer=adatum)
    if offers:
        chosen &= Q(pk__in=[s.pk for s in _adatums(adatum, *offers)])
    return bulk_preview_create(by=agent, subscriptions=chosen, contact=contact, criteria={})


def _outcomes(operation) -> dict[str, tuple[str, str]]:
    return {
        i.subscription.offer_name: (i.outcome, i.reason)
        for i in BulkItem.objects.filter(operation=operation).select_related("subscription")
    }


def _contacts(adatum) -> dict[str, str]:
    return {
        s.offer_name: s.effective_support_contact.name
        for s in adatum.subscriptions.filter(provider__name="Contoso Distribution")
    }


# The service -------------------------------------------------------------------------------


def test_a_preview_changes_nothing_and_counts_what_submit_would_do(agent, adatum, fabrikam):
    before = _contacts(adatum)
    operation = _preview(agent, adatum, fabrikam)
    preview = bulk_preview(operation)
    assert (preview.total, preview.to_change, preview.unchanged) == (3, 2, 0)
    assert preview.skipped == [(SkipReason.NEW_COMMERCE.label, 1)]
    assert [r.outcome for r in preview.rows].count(BulkOutcome.CHANGED) == 2
    assert _contacts(adatum) == before
    assert not SupportContactChange.objects.filter(through="bulk").exists()
    assert operation.state == BulkOperation.State.PREVIEW


def test_submit_changes_each_eligible_row_with_one_history_row_each(agent, adatum, fabrikam):
    operation = _preview(agent, adatum, fabrikam)
    operation = bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    assert operation.state == BulkOperation.State.DONE
    assert (operation.changed, operation.unchanged, operation.skipped) == (2, 0, 1)
    assert _contacts(adatum)[E3] == _contacts(adatum)[PREMIUM] == "Fabrikam Solutions"
    changes = SupportContactChange.objects.filter(bulk_operation=operation)
    assert changes.count() == 2
    assert set(changes.values_list("through", flat=True)) == {"bulk"}
    assert set(changes.values_list("changed_by", flat=True)) == {agent.pk}
    assert _outcomes(operation)[BASIC] == ("skipped", "new_commerce")
    # Every changed subscription moved one version: the stale check of every other writer.
    for subscription in Subscription.objects.filter(support_contact=fabrikam, customer=adatum):
        assert subscription.version == 2


def test_a_row_changed_since_the_preview_is_skipped_not_overwritten(
    agent, adatum, fabrikam, partner_named, demo_user
):
    operation = _preview(agent, adatum, fabrikam, [E3, PREMIUM])
    (e3,) = _adatums(adatum, E3)
    alpine = _eligible(partner_named)
    support_contact_assign(
        subscription=e3, contact=alpine, by=demo_user("helpdeskagent"), expected_version=e3.version
    )
    operation = bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    assert _outcomes(operation) == {
        E3: ("skipped", "changed_since"),
        PREMIUM: ("changed", ""),
    }
    e3.refresh_from_db()
    assert e3.support_contact == alpine


def test_eligibility_is_decided_again_at_submit(agent, adatum, fabrikam, demo_user):
    operation = _preview(agent, adatum, fabrikam, [E3, PREMIUM])
    assert bulk_preview(operation).to_change == 2
    delegated_admin_remove(
        relationship=CustomerRelationship.objects.get(partner=fabrikam, customer=adatum),
        by=demo_user("adatumadmin"),
    )
    operation = bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    assert operation.changed == 0
    assert set(_outcomes(operation).values()) == {("skipped", "no_delegated_admin")}
    assert "Fabrikam Solutions" not in _contacts(adatum).values()


def test_a_partner_the_provider_does_not_know_is_skipped(agent, adatum):
    stranger = factories.ResellerFactory(name="Stranger Reseller")
    operation = bulk.bulk_operation_submit(
        operation_id=_preview(agent, adatum, stranger).pk, by=agent
    )
    assert operation.changed == 0
    assert _outcomes(operation)[E3] == ("skipped", "not_a_reseller")


def test_only_the_subscriptions_the_user_may_assign_are_taken(agent, adatum, fabrikam):
    operation = _preview(agent, adatum, fabrikam)
    providers = set(
        BulkItem.objects.filter(operation=operation).values_list(
            "subscription__provider__name", flat=True
        )
    )
    assert providers == {"Contoso Distribution"}  # not Proseware's subscription at Adatum


def test_a_role_taken_away_before_submit_skips_every_row(agent, adatum, fabrikam):
    operation = _preview(agent, adatum, fabrikam, [E3])
    BulkOperation.objects.filter(pk=operation.pk).update(state=BulkOperation.State.QUEUED)
    agent.role_assignments.all().delete()
    factories.RoleAssignmentFactory(user=agent, role="sales_agent")
    bulk.bulk_operation_run(operation.pk)
    assert _outcomes(operation) == {E3: ("skipped", "no_access")}


def test_submitting_twice_or_someone_elses_preview_is_refused(agent, adatum, fabrikam, demo_user):
    operation = _preview(agent, adatum, fabrikam)
    with pytest.raises(bulk.BulkRefused, match="Only the person"):
        bulk.bulk_operation_submit(operation_id=operation.pk, by=demo_user("helpdeskagent"))
    bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    with pytest.raises(bulk.BulkRefused, match="already submitted"):
        bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    assert SupportContactChange.objects.filter(bulk_operation=operation).count() == 2


def test_another_providers_staff_cannot_submit_or_undo(agent, adatum, fabrikam, demo_user):
    operation = _preview(agent, adatum, fabrikam)
    with pytest.raises(bulk.BulkRefused):
        bulk.bulk_operation_submit(operation_id=operation.pk, by=demo_user("proseware"))
    done = bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    with pytest.raises(bulk.BulkRefused):
        bulk.bulk_operation_undo(operation_id=done.pk, by=demo_user("proseware"))


# Chunks and the queue ----------------------------------------------------------------------


def _worker_runs_the_queue(monkeypatch):
    """`db_worker --batch` in this process. Its connection housekeeping between tasks would close
    the test's transaction (on PostgreSQL), so it is left out; the rest is the real worker."""
    monkeypatch.setattr(
        "django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None
    )
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def _eligible(partner_named, name="Alpine IT Services"):
    """Alpine: a relationship with DAP at Adatum, and its partnership with Contoso made active."""
    alpine = partner_named(name)
    ResellerPartnership.objects.filter(
        reseller=alpine, provider__name="Contoso Distribution"
    ).update(state="active")
    return alpine


def _many(adatum, contoso, n):
    factories.SubscriptionFactory.create_batch(
        n, customer=adatum, provider=contoso, commerce_type=CommerceType.LEGACY
    )


def _statements_of_one_chunk(agent, adatum, contact, size) -> int:
    operation = _preview(agent, adatum, contact)
    BulkOperation.objects.filter(pk=operation.pk).update(state=BulkOperation.State.QUEUED)
    with CaptureQueriesContext(connection) as queries:
        assert bulk_operation_run_chunk(operation.pk, size=size)
    assert BulkItem.objects.filter(operation=operation, outcome="pending").count() > 0
    return len(queries)


def test_a_chunk_takes_the_same_statements_whatever_its_size(agent, adatum, fabrikam, contoso):
    _many(adatum, contoso, 60)
    small = _statements_of_one_chunk(agent, adatum, fabrikam, 5)
    large = _statements_of_one_chunk(agent, adatum, fabrikam, 50)
    assert small == large
    assert large <= 13  # 12, and the outbox's one INSERT of the chunk's event


def test_a_large_operation_runs_on_the_task_queue(
    agent, adatum, fabrikam, contoso, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bulk, "BACKGROUND_ABOVE", 10)
    monkeypatch.setattr(bulk, "CHUNK", 7)
    _many(adatum, contoso, 20)
    operation = _preview(agent, adatum, fabrikam)
    with django_capture_on_commit_callbacks(execute=True):
        operation = bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    assert operation.state == BulkOperation.State.QUEUED
    assert operation.changed == 0  # nothing yet: the worker does it
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    _worker_runs_the_queue(monkeypatch)
    operation.refresh_from_db()
    assert operation.state == BulkOperation.State.DONE
    assert (operation.changed, operation.skipped) == (operation.total - 1, 1)
    assert (
        SupportContactChange.objects.filter(bulk_operation=operation).count() == operation.changed
    )


def test_an_operation_whose_worker_died_is_resumed_where_it_stopped(
    agent, adatum, fabrikam, contoso, monkeypatch, django_capture_on_commit_callbacks
):
    _many(adatum, contoso, 12)
    operation = _preview(agent, adatum, fabrikam)
    BulkOperation.objects.filter(pk=operation.pk).update(state=BulkOperation.State.QUEUED)
    assert bulk_operation_run_chunk(operation.pk, size=5)  # then the worker died
    long_ago = timezone.now() - bulk.STALLED_AFTER - timedelta(seconds=1)
    BulkOperation.objects.filter(pk=operation.pk).update(progressed_at=long_ago)
    operation.refresh_from_db()
    assert bulk.is_stalled(operation)
    with django_capture_on_commit_callbacks(execute=True):
        assert bulk.bulk_operations_resume() == [operation.pk]
    _worker_runs_the_queue(monkeypatch)
    operation.refresh_from_db()
    assert operation.state == BulkOperation.State.DONE
    assert operation.processed == operation.total
    assert (
        SupportContactChange.objects.filter(bulk_operation=operation).count() == operation.changed
    )


# Undo --------------------------------------------------------------------------------------


def _done(agent, adatum, contact, offers=None):
    return bulk.bulk_operation_submit(
        operation_id=_preview(agent, adatum, contact, offers).pk, by=agent
    )


def test_undo_puts_each_changed_row_back_and_is_recorded(agent, adatum, fabrikam):
    before = _contacts(adatum)
    done = _done(agent, adatum, fabrikam)
    undo = bulk.bulk_operation_undo(operation_id=done.pk, by=agent)
    assert undo.kind == BulkOperation.Kind.UNDO
    assert undo.undoes == done
    assert (undo.total, undo.changed, undo.skipped) == (2, 2, 0)
    assert _contacts(adatum) == before
    assert SupportContactChange.objects.filter(bulk_operation=undo, through="bulk").count() == 2
    with pytest.raises(bulk.BulkRefused, match="already undone"):
        bulk.bulk_operation_undo(operation_id=done.pk, by=agent)
    with pytest.raises(bulk.BulkRefused, match="cannot itself be undone"):
        bulk.bulk_operation_undo(operation_id=undo.pk, by=agent)


def test_undo_skips_a_row_changed_again_or_whose_contact_is_no_longer_eligible(
    agent, adatum, fabrikam, contoso, partner_named, demo_user
):
    alpine = _eligible(partner_named)
    first = _done(agent, adatum, alpine, [E3, PREMIUM])
    assert first.changed == 2, _outcomes(first)
    second = _done(agent, adatum, fabrikam, [E3, PREMIUM])  # both from Alpine to Fabrikam
    (e3,) = _adatums(adatum, E3)
    support_contact_assign(  # E3 changes again after the second bulk change
        subscription=e3, contact=contoso, by=agent, expected_version=e3.version
    )
    delegated_admin_remove(  # and Alpine is no longer eligible at Adatum
        relationship=CustomerRelationship.objects.get(partner=alpine, customer=adatum),
        by=demo_user("adatumadmin"),
    )
    undo = bulk.bulk_operation_undo(operation_id=second.pk, by=agent)
    assert _outcomes(undo) == {
        E3: ("skipped", "changed_since"),
        PREMIUM: ("skipped", "no_delegated_admin"),
    }
    assert _contacts(adatum)[PREMIUM] == "Fabrikam Solutions"


def test_undo_is_refused_after_24_hours(agent, adatum, fabrikam):
    done = _done(agent, adatum, fabrikam)
    later = timezone.now() + bulk.UNDO_WINDOW + timedelta(minutes=1)
    assert "24 hours" in bulk.undo_refusal(done, now=later)
    BulkOperation.objects.filter(pk=done.pk).update(
        finished_at=timezone.now() - bulk.UNDO_WINDOW - timedelta(minutes=1)
    )
    with pytest.raises(bulk.BulkRefused, match="24 hours"):
        bulk.bulk_operation_undo(operation_id=done.pk, by=agent)


# The pages ---------------------------------------------------------------------------------


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_customer_page_flow_without_javascript(client, agent, adatum, fabrikam):
    client.force_login(agent)
    page = client.get(reverse("customers:customer_detail", args=[adatum.pk]))
    ticks = re.findall(r'name="subscription" value="(\d+)"', page.content.decode())
    assert len(ticks) == 3  # Contoso's three; not Proseware's
    assert "Northwind Traders IT is not offered: no delegated admin privileges" in _text(page)
    review = client.post(
        reverse("customers:customer_bulk_review", args=[adatum.pk]),
        {"subscription": ticks, "contact": fabrikam.pk},
    )
    operation = BulkOperation.objects.get()
    assert review["Location"] == reverse("customers:bulk_operation", args=[operation.pk])
    preview = _text(client.get(review["Location"]))
    assert "2 to change" in preview
    assert "1 skipped" in preview
    submitted = client.post(reverse("customers:bulk_operation_submit", args=[operation.pk]))
    assert submitted.status_code == 302
    summary = client.get(submitted["Location"])
    assert "2 changed, 0 unchanged, 1 skipped." in _text(summary)
    assert "Changed: Contoso Distribution → Fabrikam Solutions" in _text(summary)
    history = client.get(reverse("customers:history") + f"?bulk={operation.pk}")
    assert len(history.context["rows"]) == 2
    assert f"Bulk change #{operation.pk}" in _text(history)


def test_the_customer_page_flow_with_htmx_swaps_in_place(client, agent, adatum, fabrikam):
    client.force_login(agent)
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "bulk-operation"}
    review = client.post(
        reverse("customers:customer_bulk_review", args=[adatum.pk]),
        {"all": "on", "contact": fabrikam.pk},
        **htmx,
    )
    operation = BulkOperation.objects.get()
    assert review.status_code == 200
    assert review["HX-Push-Url"] == reverse("customers:bulk_operation", args=[operation.pk])
    assert "<html" not in review.content.decode()
    assert "Review the bulk change" in _text(review)
    done = client.post(reverse("customers:bulk_operation_submit", args=[operation.pk]), **htmx)
    assert "Bulk change done" in _text(done)
    assert 'id="announcer"' not in done.content.decode() or "2 changed" in _text(done)
    undone = client.post(reverse("customers:bulk_operation_undo", args=[operation.pk]), **htmx)
    assert "Undo done" in _text(undone)
    assert undone["HX-Push-Url"] == reverse(
        "customers:bulk_operation", args=[operation.undone_by.pk]
    )


def test_a_review_without_a_tick_or_a_contact_says_so_and_creates_nothing(
    client, agent, adatum, fabrikam, partner_named
):
    client.force_login(agent)
    url = reverse("customers:customer_bulk_review", args=[adatum.pk])
    empty = client.post(url, {"contact": fabrikam.pk})
    assert "Tick the subscriptions to change" in _text(empty)
    northwind = partner_named("Northwind Traders IT")  # not eligible: not offered
    forged = client.post(url, {"all": "on", "contact": northwind.pk})
    assert "cannot be chosen" in _text(forged)
    proseware_subscription = adatum.subscriptions.get(provider__name="Proseware Distribution")
    theirs = client.post(url, {"subscription": [proseware_subscription.pk], "contact": fabrikam.pk})
    assert "no longer one you may change" in _text(theirs)
    assert not BulkOperation.objects.exists()


def test_the_reseller_page_previews_where_the_reseller_is_eligible(client, agent, fabrikam):
    client.force_login(agent)
    partnership = ResellerPartnership.objects.get(
        provider__name="Contoso Distribution", reseller=fabrikam
    )
    page = client.get(reverse("customers:partnership_detail", args=[partnership.pk]))
    assert "Make Fabrikam Solutions the designated support contact" in _text(page)
    review = client.post(
        reverse("customers:reseller_bulk_review", args=[partnership.pk]),
        {"customer": "", "offer": "", "current": ""},
    )
    operation = BulkOperation.objects.get()
    assert operation.criteria["partnership"] == partnership.pk
    items = BulkItem.objects.filter(operation=operation).select_related("subscription")
    eligible_at = set(
        CustomerRelationship.objects.filter(
            partner=fabrikam, state="active", delegated_admin=True
        ).values_list("customer_id", flat=True)
    )
    assert items
    assert all(i.subscription.customer_id in eligible_at for i in items)
    assert all(i.subscription.provider.name == "Contoso Distribution" for i in items)
    assert all(i.subscription.support_contact_id != fabrikam.pk for i in items)
    assert bulk_preview(operation).to_change == len(items)
    assert review.status_code == 302
    narrowed = client.post(
        reverse("customers:reseller_bulk_review", args=[partnership.pk]),
        {"customer": "adatum", "offer": "E3", "current": "Contoso Distribution"},
    )
    latest = BulkOperation.objects.latest("pk")
    assert narrowed.status_code == 302
    assert [i.subscription.offer_name for i in latest.items.select_related("subscription")] == [E3]


def test_a_reseller_page_filter_naming_nobody_is_reported(client, agent, fabrikam):
    client.force_login(agent)
    partnership = ResellerPartnership.objects.get(
        provider__name="Contoso Distribution", reseller=fabrikam
    )
    response = client.post(
        reverse("customers:reseller_bulk_review", args=[partnership.pk]),
        {"current": "Nobody at all"},
    )
    assert "No designated support contact of your subscriptions matches" in _text(response)
    assert not BulkOperation.objects.exists()


def test_staff_without_the_assign_capability_and_other_providers_are_kept_out(
    client, agent, adatum, fabrikam, demo_user
):
    operation = _preview(agent, adatum, fabrikam)
    url = reverse("customers:bulk_operation", args=[operation.pk])
    client.force_login(demo_user("salesagent"))
    assert client.get(url).status_code == 403
    client.force_login(demo_user("proseware"))
    assert client.get(url).status_code == 404
    assert (
        client.post(reverse("customers:bulk_operation_submit", args=[operation.pk])).status_code
        == 404
    )
    client.force_login(demo_user("helpdeskagent"))  # a colleague who assigns: sees, cannot submit
    assert "only they can submit it" in _text(client.get(url))


def test_a_stalled_operation_offers_resume(client, agent, adatum, fabrikam):
    operation = _preview(agent, adatum, fabrikam)
    BulkOperation.objects.filter(pk=operation.pk).update(
        state=BulkOperation.State.RUNNING,
        progressed_at=timezone.now() - timedelta(hours=1),
    )
    client.force_login(agent)
    page = client.get(reverse("customers:bulk_operation", args=[operation.pk]))
    assert "Resume" in _text(page)
    assert "hx-trigger" not in page.content.decode()


def test_a_running_operation_polls_its_progress(client, agent, adatum, fabrikam):
    operation = _preview(agent, adatum, fabrikam)
    BulkOperation.objects.filter(pk=operation.pk).update(state=BulkOperation.State.RUNNING)
    client.force_login(agent)
    page = client.get(reverse("customers:bulk_operation", args=[operation.pk]))
    assert 'hx-trigger="every 1s"' in page.content.decode()
    assert "0 of 3 subscriptions done." in _text(page)
