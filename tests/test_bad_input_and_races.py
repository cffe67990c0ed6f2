"""Issue 9's findings, each reproduced: bad input never answers 500, colliding requests get a
message instead of an IntegrityError, pages are never cached, removal pages stay flat."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers import workflows
from customers.models import Subscription
from customers.services import support_contact_assign
from partnercenter.errors import DomainError
from partnercenter.roles import Role
from relationships import services
from relationships.models import RelationshipRequest, ResellerPartnership
from tests import factories
from tests.concurrency import at_once, needs_postgresql

# Finding 5: bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["9999-12-31", "0001-01-01", "1999-12-31"])
@pytest.mark.parametrize("field", ["date_from", "date_to"])
def test_a_date_out_of_range_is_reported_not_a_500(
    client, demo_user, premium, partner_named, field, date
):
    agent = demo_user("adminagent")
    support_contact_assign(
        subscription=premium,
        contact=partner_named("Fabrikam Solutions"),
        by=agent,
        expected_version=1,
    )
    client.force_login(agent)
    page = client.get(reverse("customers:history"), {field: date})
    assert page.status_code == 200
    assert "Enter a date" in page.content.decode()
    export = client.get(reverse("customers:history_export"), {field: date})
    assert export.status_code == 200
    assert b"".join(export.streaming_content).count(b"\n") > 1  # the filter is left out


@pytest.mark.parametrize("partner", ["%C2%B2", "%D9%A3", "99999999999999999999999", "-1", "%00"])
def test_an_odd_partner_in_the_request_form_link_is_ignored(client, demo_user, adatum, partner):
    client.force_login(demo_user("adminagent"))
    url = reverse("customers:relationship_request_new", args=[adatum.pk]) + f"?partner={partner}"
    assert client.get(url).status_code == 200


# Finding 3: check-then-insert races ----------------------------------------------------------


def test_a_partnership_requested_at_the_same_moment_gets_a_message(db, monkeypatch):
    """The moment between the check and the insert, made to happen every time."""
    staff = factories.StaffUserFactory(roles=[Role.ADMIN_AGENT])
    reseller = factories.ResellerFactory()
    queryset_class = type(ResellerPartnership.objects.all())
    real_first = queryset_class.first
    calls = []

    def someone_else_was_faster(queryset):
        answer = real_first(queryset)
        calls.append(answer)
        if len(calls) == 1:  # right after the check: another request inserts the same pair
            ResellerPartnership.objects.bulk_create(
                [ResellerPartnership(provider=staff.partner, reseller=reseller)]
            )
        return answer

    monkeypatch.setattr(queryset_class, "first", someone_else_was_faster)
    with pytest.raises(DomainError, match="already exists"):
        services.reseller_partnership_request(
            provider=staff.partner, partner_id=reseller.partner_id, by=staff
        )
    # (The other request's row rolls back with this test's transaction; the PostgreSQL test
    # below checks the end state with two real connections.)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_colliding_requests_end_in_one_request_and_one_message():
    for _ in range(10):
        provider = factories.ProviderFactory()
        reseller = factories.ResellerFactory()
        customer = factories.CustomerFactory()
        factories.CustomerRelationshipFactory(partner=provider, customer=customer)
        factories.ResellerPartnershipFactory(provider=provider, reseller=reseller)
        first, second = factories.StaffUserFactory.create_batch(
            2, partner=provider, roles=[Role.ADMIN_AGENT]
        )

        def ask(by, customer=customer, reseller=reseller):
            return lambda: services.relationship_request_create(
                customer=customer, partner=reseller, include_delegated_admin=True, by=by
            )

        outcomes = at_once(ask(first), ask(second))
        made = [o for o in outcomes if isinstance(o, RelationshipRequest)]
        refused = [o for o in outcomes if isinstance(o, DomainError)]
        assert (len(made), len(refused)) == (1, 1), outcomes
        assert RelationshipRequest.objects.filter(customer=customer).count() == 1

        other = factories.ResellerFactory()

        def partner_with(by, provider=provider, other=other):
            return lambda: services.reseller_partnership_request(
                provider=provider, partner_id=other.partner_id, by=by
            )

        outcomes = at_once(partner_with(first), partner_with(second))
        assert sum(isinstance(o, ResellerPartnership) for o in outcomes) == 1, outcomes
        assert sum(isinstance(o, DomainError) for o in outcomes) == 1, outcomes


# Finding 6: no caching, flat removal pages ---------------------------------------------------


def test_signed_in_pages_and_partials_are_never_stored(client, demo_user, adatum):
    client.force_login(demo_user("adminagent"))
    for response in (
        client.get(reverse("customers:customer_list")),
        client.get(reverse("customers:customer_list"), {"q": "ad"}, HTTP_HX_REQUEST="true"),
        client.get(reverse("customers:customer_detail", args=[adatum.pk])),
    ):
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


def _designate(count, adatum, contoso, fabrikam, agent):
    for subscription in factories.SubscriptionFactory.create_batch(
        count, customer=adatum, provider=contoso
    ):
        support_contact_assign(
            subscription=subscription, contact=fabrikam, by=agent, expected_version=1
        )


@pytest.mark.parametrize(
    ("username", "url_name"),
    [
        ("adminagent", "customers:partnership_remove"),
        ("fabrikam", "customers:relationship_remove"),
        ("fabrikam", "customers:relationship_give_up_dap"),
        ("adatumadmin", "customers:delegated_admin_remove"),
        ("adatumadmin", "customers:customer_relationship_end"),
    ],
)
def test_removal_pages_cost_the_same_queries_for_1_and_20_subscriptions(
    client, demo_user, adatum, partner_named, username, url_name
):
    contoso, fabrikam = partner_named("Contoso Distribution"), partner_named("Fabrikam Solutions")
    relationship = fabrikam.customer_relationships.get(customer=adatum)
    partnership = ResellerPartnership.objects.get(provider=contoso, reseller=fabrikam)
    args = {
        "customers:partnership_remove": [partnership.pk],
        "customers:relationship_remove": [adatum.pk, relationship.pk],
        "customers:relationship_give_up_dap": [adatum.pk, relationship.pk],
        "customers:delegated_admin_remove": [relationship.pk],
        "customers:customer_relationship_end": [relationship.pk],
    }[url_name]
    client.force_login(demo_user(username))
    counts = []
    for count in (1, 19):
        _designate(count, adatum, contoso, fabrikam, demo_user("adminagent"))
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse(url_name, args=args))
        assert page.status_code == 200
        counts.append(len(queries))
    designated = Subscription.objects.filter(support_contact=fabrikam, provider=contoso).count()
    assert designated == 20
    assert counts[0] == counts[1], counts


@needs_postgresql
def test_every_row_lock_takes_only_its_own_table(demo_user, adatum, premium, partner_named):
    """Finding 6: SELECT ... FOR UPDATE joined to other tables must not lock their rows too."""
    fabrikam = partner_named("Fabrikam Solutions")
    relationship = fabrikam.customer_relationships.get(customer=adatum)
    northwind_request = services.relationship_request_create(
        customer=adatum,
        partner=partner_named("Northwind Traders IT"),
        include_delegated_admin=True,
        by=demo_user("adminagent"),
    )
    partnership = factories.ResellerPartnershipFactory(
        provider=partner_named("Contoso Distribution"), state="requested"
    )
    reseller_staff = factories.StaffUserFactory(
        partner=partnership.reseller, roles=[Role.ADMIN_AGENT]
    )
    with CaptureQueriesContext(connection) as queries:
        support_contact_assign(
            subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
        )
        services.relationship_request_accept(request=northwind_request, by=demo_user("adatumadmin"))
        services.reseller_partnership_accept(partnership=partnership, by=reseller_staff)
        workflows.delegated_admin_remove(relationship=relationship, by=demo_user("fabrikam"))
        workflows.reseller_partnership_remove(partnership=partnership, by=demo_user("adminagent"))
        workflows.customer_relationship_remove(relationship=relationship, by=demo_user("fabrikam"))
    locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert len(locking) >= 6
    for sql in locking:
        assert "FOR UPDATE OF " in sql, sql
        assert "," not in sql.rsplit("FOR UPDATE OF ", 1)[1], sql
