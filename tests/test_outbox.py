"""The outbox: every write records exactly its events in its own transaction, a rolled-back or
refused change records none, Submit pays one INSERT for it, and the drain turns each event into
its deliveries once."""

import io
import json
import logging
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Max, Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from customers import bulk, workflows
from customers.models import BulkOperation, SupportContactChange
from customers.services import ContactNotEligible, support_contact_assign
from events.models import Event, EventType
from notifications.delivery import outbox_drain
from notifications.models import Delivery
from notifications.tasks import drain_outbox, drain_soon
from partnercenter.api_tokens import api_token_issue
from partnercenter.errors import DomainError
from partnercenter.models import NotificationTopic, Partner
from relationships import services as relationships
from relationships.models import CustomerRelationship, ResellerPartnership
from tests import factories

pytestmark = pytest.mark.django_db

EVENTS = Event._meta.db_table
HISTORY = SupportContactChange._meta.db_table
TASKS = DBTaskResult._meta.db_table
CHANGED = EventType.SUPPORT_CONTACT_CHANGED


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """Seeded once for the module; each test's writes are rolled back."""


@pytest.fixture
def agent(demo_user):
    return demo_user("adminagent")


@pytest.fixture
def fabrikam(partner_named):
    return partner_named("Fabrikam Solutions")


@contextmanager
def recording():
    """The events recorded inside the block, as (type, data), oldest first."""
    since = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    found: list[tuple[str, dict]] = []
    yield found
    found += [(e.type, e.data) for e in Event.objects.filter(pk__gt=since).order_by("pk")]


def history_since(mark: int, **filters) -> list[int]:
    rows = SupportContactChange.objects.filter(pk__gt=mark, **filters).order_by("pk")
    return list(rows.values_list("pk", flat=True))


def last_history_pk() -> int:
    return SupportContactChange.objects.aggregate(last=Max("pk"))["last"] or 0


def submit(client, subscription, contact, version=None):
    url = reverse(
        "customers:subscription_support_contact", args=[subscription.customer_id, subscription.pk]
    )
    version = subscription.version if version is None else version
    return client.post(url, {"contact": contact.pk, "version": version})


def api_call(method: str, path: str, token: str, body: dict):
    return Client().generic(
        method,
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def api_put(token, subscription, body):
    customer = subscription.customer.tenant_id
    path = f"/v1/customers/{customer}/subscriptions/{subscription.uuid}/supportcontact"
    return api_call("PUT", path, token, body)


def api_relationship_end(user, customer):
    token = api_token_issue(user=user, name="outbox")[1]
    return api_call(
        "PATCH", f"/v1/customers/{customer.tenant_id}", token, {"relationshipToPartner": "none"}
    )


def about(partner, customer, delegated_admin: bool) -> dict:
    """A customer relationship event's data."""
    return {"partner": partner.pk, "customer": customer.pk, "delegated_admin": delegated_admin}


def assign(subscription, contact, by):
    subscription.refresh_from_db()
    return support_contact_assign(
        subscription=subscription, contact=contact, by=by, expected_version=subscription.version
    )


# Every write path --------------------------------------------------------------------------


def test_a_submit_records_one_event_naming_its_history_row(client, agent, premium, fabrikam):
    client.force_login(agent)
    with recording() as events:
        assert submit(client, premium, fabrikam).status_code == 302
    change = SupportContactChange.objects.get(subscription=premium, through="form")
    assert events == [(CHANGED, {"changes": [change.pk], "operation": None})]


def test_an_api_put_records_one_event_naming_its_history_row(agent, premium, fabrikam):
    token = api_token_issue(user=agent, name="outbox")[1]
    with recording() as events:
        answer = api_put(token, premium, {"supportMpnId": fabrikam.partner_id})
    assert answer.status_code == 200
    change = SupportContactChange.objects.get(subscription=premium, through="api")
    assert events == [(CHANGED, {"changes": [change.pk], "operation": None})]


def test_an_api_patch_ending_a_relationship_records_it_and_its_fall_back(
    demo_user, adatum, fabrikam
):
    mark = last_history_pk()
    with recording() as events:
        assert api_relationship_end(demo_user("fabrikam"), adatum).status_code == 200
    changes = history_since(mark, through="relationship_removal")
    assert len(changes) == 1  # Proseware's subscription at Adatum, designated to Fabrikam
    assert events == [
        (EventType.RELATIONSHIP_ENDED, about(fabrikam, adatum, False)),
        (CHANGED, {"changes": changes, "operation": None}),
    ]


def _preview(agent, customer, contact):
    return bulk.bulk_preview_create(
        by=agent, subscriptions=Q(customer=customer), contact=contact, criteria={}
    )


def test_a_bulk_change_records_its_changes_then_its_completion(agent, adatum, fabrikam):
    operation = _preview(agent, adatum, fabrikam)
    with recording() as events:
        operation = bulk.bulk_operation_submit(operation_id=operation.pk, by=agent)
    assert operation.changed == 2
    changes = history_since(0, bulk_operation=operation)
    assert events == [
        (CHANGED, {"changes": changes, "operation": operation.pk}),
        (EventType.BULK_OPERATION_COMPLETED, {"operation": operation.pk}),
    ]


def test_each_chunk_of_a_bulk_change_that_changed_something_records_one_event(
    agent, adatum, fabrikam, partner_named
):
    contoso = partner_named("Contoso Distribution")
    factories.SubscriptionFactory.create_batch(4, customer=adatum, provider=contoso)
    operation = _preview(agent, adatum, fabrikam)
    BulkOperation.objects.filter(pk=operation.pk).update(state=BulkOperation.State.QUEUED)
    chunks_that_changed = 0
    while True:
        mark = last_history_pk()
        with recording() as events:
            more = bulk.bulk_operation_run_chunk(operation.pk, size=2)
        if not more:
            assert events == [(EventType.BULK_OPERATION_COMPLETED, {"operation": operation.pk})]
            break
        changed = history_since(mark)
        expected = [(CHANGED, {"changes": changed, "operation": operation.pk})] if changed else []
        assert events == expected
        chunks_that_changed += bool(changed)
    operation.refresh_from_db()
    assert (operation.changed, chunks_that_changed) == (6, 4)


def test_an_undo_records_its_changes_and_its_completion_as_an_operation_of_its_own(
    agent, adatum, fabrikam
):
    done = bulk.bulk_operation_submit(operation_id=_preview(agent, adatum, fabrikam).pk, by=agent)
    with recording() as events:
        undo = bulk.bulk_operation_undo(operation_id=done.pk, by=agent)
    assert undo.changed == 2
    assert events == [
        (CHANGED, {"changes": history_since(0, bulk_operation=undo), "operation": undo.pk}),
        (EventType.BULK_OPERATION_COMPLETED, {"operation": undo.pk}),
    ]


def test_ending_a_partnership_records_the_end_and_exactly_the_fallen_back_changes(
    agent, premium, fabrikam
):
    assign(premium, fabrikam, agent)
    partnership = ResellerPartnership.objects.get(provider=premium.provider, reseller=fabrikam)
    mark = last_history_pk()
    with recording() as events:
        fallen_back = workflows.reseller_partnership_remove(partnership=partnership, by=agent)
    assert premium.pk in {c.subscription_id for c in fallen_back}
    changes = [c.pk for c in fallen_back]
    assert changes == history_since(mark, through="relationship_removal")
    assert events == [
        (EventType.PARTNERSHIP_ENDED, {"partnership": partnership.pk}),
        (CHANGED, {"changes": changes, "operation": None}),
    ]


@pytest.mark.parametrize(
    ("workflow", "event_type"),
    [
        (workflows.customer_relationship_remove, EventType.RELATIONSHIP_ENDED),
        (workflows.delegated_admin_remove, EventType.DELEGATED_ADMIN_REMOVED),
    ],
    ids=["relationship ended", "DAP withdrawn"],
)
def test_ending_a_relationship_or_dap_records_it_and_exactly_the_fallen_back_changes(
    agent, demo_user, adatum, premium, fabrikam, workflow, event_type
):
    assign(premium, fabrikam, agent)
    relationship = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum)
    mark = last_history_pk()
    with recording() as events:
        fallen_back = workflow(relationship=relationship, by=demo_user("adatumadmin"))
    # Contoso's Premium and Proseware's Dynamics subscription, both designated to Fabrikam.
    assert {c.subscription.provider.name for c in fallen_back} == {
        "Contoso Distribution",
        "Proseware Distribution",
    }
    changes = [c.pk for c in fallen_back]
    assert changes == history_since(mark, through="relationship_removal")
    assert events == [
        (event_type, about(fabrikam, adatum, False)),
        (CHANGED, {"changes": changes, "operation": None}),
    ]


def test_ending_a_relationship_nothing_rested_on_records_the_end_alone(
    demo_user, adatum, partner_named
):
    northwind = partner_named("Northwind Traders IT")
    relationship = CustomerRelationship.objects.get(partner=northwind, customer=adatum)
    with recording() as events:
        fallen_back = workflows.customer_relationship_remove(
            relationship=relationship, by=demo_user("adatumadmin")
        )
    assert fallen_back == []
    assert events == [(EventType.RELATIONSHIP_ENDED, about(northwind, adatum, False))]


def test_a_relationship_request_its_acceptance_and_a_decline_each_record_one_event(
    agent, demo_user, adatum, partner_named
):
    northwind, trey = partner_named("Northwind Traders IT"), partner_named("Trey Research")
    admin = demo_user("adatumadmin")
    with recording() as requested:
        dap = relationships.relationship_request_create(
            customer=adatum, partner=northwind, include_delegated_admin=True, by=agent
        )
    with recording() as accepted:
        relationships.relationship_request_accept(request=dap, by=admin)
    plain = relationships.relationship_request_create(
        customer=adatum, partner=trey, include_delegated_admin=False, by=agent
    )
    with recording() as declined:
        relationships.relationship_request_decline(request=plain, by=admin)
    assert requested == [(EventType.RELATIONSHIP_REQUESTED, about(northwind, adatum, True))]
    assert accepted == [(EventType.RELATIONSHIP_ACCEPTED, about(northwind, adatum, True))]
    assert declined == [(EventType.RELATIONSHIP_DECLINED, about(trey, adatum, False))]


def test_a_partnership_request_its_acceptance_and_a_decline_each_record_one_event(
    agent, partner_named
):
    contoso = partner_named("Contoso Distribution")
    accepting, declining = factories.ResellerFactory.create_batch(2)
    for reseller, answer, answered in (
        (accepting, relationships.reseller_partnership_accept, EventType.PARTNERSHIP_ACCEPTED),
        (declining, relationships.reseller_partnership_decline, EventType.PARTNERSHIP_DECLINED),
    ):
        with recording() as requested:
            partnership = relationships.reseller_partnership_request(
                provider=contoso, partner_id=reseller.partner_id, by=agent
            )
        staff = factories.StaffUserFactory(partner=reseller, roles=["admin_agent"])
        with recording() as answers:
            answer(partnership=partnership, by=staff)
        assert requested == [(EventType.PARTNERSHIP_REQUESTED, {"partnership": partnership.pk})]
        assert answers == [(answered, {"partnership": partnership.pk})]


# Rolled back or refused: nothing -----------------------------------------------------------


def test_a_change_rolled_back_after_its_service_ran_records_and_enqueues_nothing(
    agent, demo_user, adatum, premium, fabrikam, django_capture_on_commit_callbacks
):
    relationship = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        assign(premium, fabrikam, agent)
        workflows.delegated_admin_remove(relationship=relationship, by=demo_user("adatumadmin"))
        assert Event.objects.count() == 3  # recorded in this transaction
        transaction.set_rollback(True)
    assert callbacks == []
    assert not Event.objects.exists()
    assert not DBTaskResult.objects.exists()
    premium.refresh_from_db()
    assert premium.support_contact.name == "Contoso Distribution"


def test_a_stale_or_ineligible_submit_records_nothing(
    client, agent, demo_user, premium, fabrikam, partner_named
):
    loaded = premium.version
    assign(premium, fabrikam, demo_user("helpdeskagent"))  # someone else, meanwhile
    client.force_login(agent)
    with recording() as events:
        stale = submit(client, premium, partner_named("Contoso Distribution"), version=loaded)
        premium.refresh_from_db()
        ineligible = submit(client, premium, partner_named("Northwind Traders IT"))
    assert stale.status_code == 302  # back to the page, which shows the current contact
    assert "no delegated admin privileges" in ineligible.content.decode()
    assert events == []
    assert premium.support_contact == fabrikam
    assert SupportContactChange.objects.filter(subscription=premium).count() == 1


def test_a_service_that_refuses_records_nothing(agent, demo_user, premium, partner_named):
    northwind = partner_named("Northwind Traders IT")
    with recording() as events:
        with pytest.raises(ContactNotEligible):
            assign(premium, northwind, agent)
        with pytest.raises(DomainError, match="already exists"):
            relationships.reseller_partnership_request(
                provider=premium.provider, partner_id=northwind.partner_id, by=agent
            )
        with pytest.raises(DomainError, match="already has a relationship"):
            relationships.relationship_request_create(
                customer=premium.customer,
                partner=partner_named("Fabrikam Solutions"),
                include_delegated_admin=True,
                by=agent,
            )
        with pytest.raises(DomainError, match="no delegated admin privileges"):
            workflows.delegated_admin_remove(
                relationship=CustomerRelationship.objects.get(
                    partner=northwind, customer=premium.customer
                ),
                by=demo_user("adatumadmin"),
            )
    assert events == []


def test_a_refused_api_call_records_nothing(agent, premium):
    token = api_token_issue(user=agent, name="outbox")[1]
    with recording() as events:
        unknown = api_put(token, premium, {"supportMpnId": "9999999"})
        malformed = api_put(token, premium, {"nothing": "useful"})
        still_billing = api_relationship_end(agent, premium.customer)  # Contoso bills Adatum
    assert [a.status_code for a in (unknown, malformed, still_billing)] == [400, 400, 400]
    assert json.loads(still_billing.content)["errorName"] == "ActiveSubscriptionsExist"
    assert events == []


# What the outbox costs a Submit ------------------------------------------------------------


def _savepoint_around(sqls: list[str], index: int) -> str:
    """The name of the innermost savepoint open at statement `index`."""
    open_ = []
    for sql in sqls[:index]:
        if sql.startswith("SAVEPOINT "):
            open_.append(sql.split()[1])
        elif sql.startswith(("RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")):
            open_.remove(sql.split()[-1])
    assert open_, "the statement runs in no transaction of its own"
    return open_[-1]


def test_a_submit_pays_one_insert_for_the_outbox_in_the_transaction_of_its_change(
    client, agent, premium, fabrikam
):
    client.force_login(agent)
    with CaptureQueriesContext(connection) as queries:
        assert submit(client, premium, fabrikam).status_code == 302
    sqls = [q["sql"] for q in queries.captured_queries]
    touching = [i for i, sql in enumerate(sqls) if f'"{EVENTS}"' in sql]
    assert [sqls[i].split(" (")[0] for i in touching] == [f'INSERT INTO "{EVENTS}"']
    event_at = touching[0]
    (history_at,) = [i for i, sql in enumerate(sqls) if sql.startswith(f'INSERT INTO "{HISTORY}"')]
    assert _savepoint_around(sqls, event_at) == _savepoint_around(sqls, history_at)
    assert f"RELEASE SAVEPOINT {_savepoint_around(sqls, event_at)}" in sqls[event_at:]


@pytest.mark.parametrize("waiting", [False, True], ids=["none waiting", "one waiting"])
def test_the_commit_of_a_submit_brings_the_waiting_drain_forward_inserting_only_if_none_waits(
    client, agent, premium, fabrikam, django_capture_on_commit_callbacks, waiting
):
    if waiting:
        drain_outbox.using(run_after=timezone.now() + timedelta(minutes=1)).enqueue()
    client.force_login(agent)
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        assert submit(client, premium, fabrikam).status_code == 302
        submitted = len(queries.captured_queries)
    hook = [q["sql"].split(" (")[0].split(" SET ")[0] for q in queries.captured_queries[submitted:]]
    assert callbacks.count(drain_soon) == 1
    assert hook == [f'UPDATE "{TASKS}"'] + ([] if waiting else [f'INSERT INTO "{TASKS}"'])
    drains = DBTaskResult.objects.filter(task_path=drain_outbox.module_path)
    assert drains.count() == 1
    assert drains.ready().count() == 1  # due now: the one waiting was brought forward


# The demo world ----------------------------------------------------------------------------


def test_seeding_the_demo_world_and_growing_it_records_no_event(db):
    call_command(
        "seed_demo", "--customers", "3", "--history", "5", "--seed", "1", stdout=io.StringIO()
    )
    assert SupportContactChange.objects.filter(through="form").exists()  # written by a service
    assert not Event.objects.exists()


# Dispatch ----------------------------------------------------------------------------------


def _deliveries() -> list[tuple[str, str, str, str]]:
    return sorted(Delivery.objects.values_list("event__type", "partner__name", "address", "state"))


FABRIKAM_EMAILED = (CHANGED, "Fabrikam Solutions", "help@fabrikam.example", "succeeded")


def test_the_drain_emails_a_reseller_that_wants_it_never_the_provider_and_only_once(
    agent, premium, fabrikam, mailoutbox
):
    assign(premium, fabrikam, agent)
    outbox_drain()
    assert _deliveries() == [FABRIKAM_EMAILED]
    assert [m.to for m in mailoutbox] == [["help@fabrikam.example"]]
    assert Event.objects.get().dispatched_at is not None
    outbox_drain()
    assert _deliveries() == [FABRIKAM_EMAILED]
    assert Delivery.objects.get().attempts == 1
    assert len(mailoutbox) == 1


def test_the_notification_address_wins_over_the_support_email(agent, premium, fabrikam, mailoutbox):
    Partner.objects.filter(pk=fabrikam.pk).update(notification_email="tickets@fabrikam.example")
    assign(premium, fabrikam, agent)
    outbox_drain()
    assert [m.to for m in mailoutbox] == [["tickets@fabrikam.example"]]


@pytest.mark.parametrize(
    "profile",
    [
        {"notification_topics": [NotificationTopic.CONTACT_LOST]},
        {"notification_topics": []},
        {"support_email": "", "notification_email": ""},
    ],
    ids=["topic unticked", "every topic unticked", "no address"],
)
def test_a_reseller_that_unticked_the_topic_or_has_no_address_gets_no_email(
    agent, premium, fabrikam, mailoutbox, profile
):
    Partner.objects.filter(pk=fabrikam.pk).update(**profile)
    assign(premium, fabrikam, agent)
    outbox_drain()
    assert _deliveries() == []
    assert mailoutbox == []
    assert Event.objects.get().dispatched_at is not None


def test_providers_hear_of_their_customers_relationship_events_only_when_they_opted_in(
    demo_user, adatum, fabrikam, partner_named, mailoutbox
):
    relationship = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum)
    contoso = partner_named("Contoso Distribution")
    contoso.notification_topics = [NotificationTopic.RELATIONSHIPS]
    contoso.save(update_fields=["notification_topics"])
    workflows.delegated_admin_remove(relationship=relationship, by=demo_user("adatumadmin"))
    outbox_drain()
    assert _deliveries() == [
        # Contoso opted in; Proseware, serving Adatum through Fabrikam too, did not.
        (EventType.DELEGATED_ADMIN_REMOVED, contoso.name, contoso.support_email, "succeeded"),
        FABRIKAM_EMAILED,  # it stops supporting Proseware's subscription at Adatum
    ]
    assert len(mailoutbox) == 2


def test_an_event_that_cannot_be_rendered_blocks_no_other(
    agent, premium, fabrikam, mailoutbox, caplog
):
    broken = Event.objects.create(type=EventType.BULK_OPERATION_COMPLETED, data={"operation": 0})
    assign(premium, fabrikam, agent)
    with caplog.at_level(logging.ERROR, logger="notifications.delivery"):
        outbox_drain()
    assert str(broken.uuid) in caplog.text
    assert _deliveries() == [FABRIKAM_EMAILED]
    assert [m.to for m in mailoutbox] == [["help@fabrikam.example"]]
    assert not Event.objects.filter(dispatched_at__isnull=True).exclude(pk=broken.pk).exists()
    # Not lost either: it stays undispatched, and the next drain tries it again.
    assert Event.objects.get(pk=broken.pk).dispatched_at is None
