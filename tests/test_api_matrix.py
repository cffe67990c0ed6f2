"""The API's tenant matrix: every principal's token × every object of the demo world × every
endpoint and method.

What each principal may reach is written here as data, from DOMAIN.md and API.md, reading raw
rows (never the application's scoping code): `Reach` says which customers, subscriptions and
relationships a partner sees. The roles come from DOMAIN.md's table, as in the page matrix.
Every request runs in a savepoint that is rolled back, so writes do not affect the next one;
mismatches are collected and reported together. Query counts: tests/test_api_query_counts.py.
"""

import io
import json
import logging
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from customers.models import Customer, Subscription
from partnercenter.api_tokens import api_token_issue
from partnercenter.models import Partner, User
from relationships.models import CustomerRelationship, ResellerPartnership
from tests.test_tenant_matrix import DOMAIN_ROLE_TABLE

V, ASSIGN, REQ, REM = (
    "view_customers",
    "assign_support_contact",
    "request_relationship",
    "remove_relationship",
)
STAFF = ["globaladmin", "adminagent", "helpdeskagent", "salesagent", "usermgmtadmin"]
STAFF += ["fabrikam", "proseware"]
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Reach:
    """What a partner's staff see through the API, from raw rows (DOMAIN.md)."""

    partner: Partner
    capabilities: frozenset

    @property
    def customers(self) -> set:
        return set(
            CustomerRelationship.objects.filter(partner=self.partner, state="active").values_list(
                "customer_id", flat=True
            )
        )

    def subscriptions_of(self, customer_id: int) -> set:
        """A provider: the customer's subscriptions it bills; a reseller: those it supports."""
        field = "provider" if self.partner.is_provider else "support_contact"
        rows = Subscription.objects.filter(customer_id=customer_id, **{field: self.partner})
        return set(rows.values_list("uuid", flat=True)) if customer_id in self.customers else set()

    def resellers_at(self, customer_id: int) -> set:
        """The customer's active resellers the partner may see: a provider, those it has a
        partnership with (any state); a reseller, itself only."""
        active = CustomerRelationship.objects.filter(
            customer_id=customer_id, state="active", partner__kind="indirect_reseller"
        ).values_list("partner_id", flat=True)
        if not self.partner.is_provider:
            return {p for p in active if p == self.partner.pk}
        known = set(
            ResellerPartnership.objects.filter(provider=self.partner).values_list(
                "reseller_id", flat=True
            )
        )
        return {p for p in active if p in known}


def _subscriptions_to_ask() -> list[Subscription]:
    """Every subscription of Adatum (the customer of both providers and of every kind of
    reseller) and, of every other customer, one per provider and commerce type: each case of
    the scopes, at half the requests of asking all of them."""
    chosen = {}
    for row in Subscription.objects.select_related("customer", "provider").order_by("pk"):
        adatum = row.customer.domain == "adatum.example"
        key = row.pk if adatum else (row.customer_id, row.provider_id, row.commerce_type)
        chosen.setdefault(key, row)
    return list(chosen.values())


def _token(username: str) -> str:
    return api_token_issue(user=User.objects.get(username=username), name="matrix")[1]


def _call(client, token, method, path, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
    with transaction.atomic():
        response = client.generic(method, path, **kwargs)
        transaction.set_rollback(True)
    return response.status_code, json.loads(response.content)


def _expect_code(got, status, code=None):
    if got[0] != status:
        return f"{status} {code or ''}, got {got[0]} {got[1].get('code', '')}"
    if code is not None and got[1].get("code") != code:
        return f"code {code}, got {got[1].get('code')}"
    return None


@pytest.fixture(scope="module")
def api_world(django_db_setup, django_db_blocker):
    """The demo world, built once for the module and rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def unthrottled(settings, caplog):
    settings.API_RATE_LIMIT = "1000000/min"
    caplog.set_level(logging.ERROR, logger="django.request")  # 4xx are expected here


@pytest.mark.django_db
@pytest.mark.parametrize("username", STAFF)
def test_each_token_reaches_exactly_its_partners_world(api_world, unthrottled, username):
    user = User.objects.get(username=username)
    roles = {a.role for a in user.role_assignments.all()}
    capabilities = frozenset(c for role in roles for c in DOMAIN_ROLE_TABLE[role])
    reach = Reach(user.partner, capabilities)
    token, client, wrong = _token(username), Client(), []
    seen_customers = reach.customers

    def check(what, got, status, code=None):
        if problem := _expect_code(got, status, code):
            wrong.append(f"{what}: expected {problem}")

    # 1: the collection is exactly the customers the partner has a relationship with.
    status, body = _call(client, token, "GET", "/v1/customers?size=500")
    if V in capabilities:
        listed = {item["id"] for item in body["items"]}
        expected = {
            str(t)
            for t in Customer.objects.filter(pk__in=seen_customers).values_list(
                "tenant_id", flat=True
            )
        }
        if listed != expected:
            wrong.append(f"customers: {len(listed ^ expected)} differ")
    else:
        check("customers", (status, body), 403, 900150)

    for customer in Customer.objects.all():
        base = f"/v1/customers/{customer.tenant_id}"
        visible = customer.pk in seen_customers
        hidden = (404, 60003)
        lacks_view = (403, 900150)
        gate = (200, None) if visible else hidden
        if V not in capabilities:
            gate = lacks_view
        check(f"GET {customer}", _call(client, token, "GET", base), *gate)
        got = _call(client, token, "GET", base + "/subscriptions")
        check(f"subscriptions of {customer}", got, *gate)
        if got[0] == 200 and {i["id"] for i in got[1]["items"]} != {
            str(u) for u in reach.subscriptions_of(customer.pk)
        }:
            wrong.append(f"subscriptions of {customer}: not the expected set")
        got = _call(client, token, "GET", base + "/relationships")
        check(f"relationships of {customer}", got, *gate)
        if got[0] == 200 and {i["id"] for i in got[1]["items"]} != {
            str(t)
            for t in Partner.objects.filter(pk__in=reach.resellers_at(customer.pk)).values_list(
                "tenant_id", flat=True
            )
        }:
            wrong.append(f"relationships of {customer}: not the expected set")
        # 3: ending the caller's own relationship.
        got = _call(client, token, "PATCH", base, {"relationshipToPartner": "none"})
        if REM not in capabilities:
            check(f"PATCH {customer}", got, 403, 900150)
        elif not visible:
            check(f"PATCH {customer}", got, *hidden)
        else:
            billed = Subscription.objects.filter(
                customer=customer, provider=user.partner, status="active"
            ).exists()
            check(f"PATCH {customer}", got, *((400, 800002) if billed else (200, None)))

    for subscription in _subscriptions_to_ask():
        customer = subscription.customer
        path = f"/v1/customers/{customer.tenant_id}/subscriptions/{subscription.uuid}"
        if V not in capabilities:
            view_gate = (403, 900150)
        elif customer.pk not in seen_customers:
            view_gate = (404, 60003)
        elif subscription.uuid not in reach.subscriptions_of(customer.pk):
            view_gate = (404, 20003)
        else:
            view_gate = (200, None)
        check(f"GET {subscription}", _call(client, token, "GET", path), *view_gate)
        legacy = subscription.commerce_type == "legacy"
        contact_gate = view_gate if view_gate[0] != 200 or legacy else (400, 900141)
        check(
            f"GET contact of {subscription}",
            _call(client, token, "GET", path + "/supportcontact"),
            *contact_gate,
        )
        # 7: the provider itself is always eligible, so only the gates decide.
        body = {"supportTenantId": str(subscription.provider.tenant_id)}
        if view_gate[0] != 200:
            put_gate = view_gate
        elif ASSIGN not in capabilities:
            put_gate = (403, 900150)
        elif subscription.provider_id != user.partner_id:
            put_gate = (403, 2032)
        elif not legacy:
            put_gate = (400, 900141)
        else:
            put_gate = (200, None)
        got = _call(client, token, "PUT", path + "/supportcontact", body)
        check(f"PUT contact of {subscription}", got, *put_gate)
        # Another customer's subscription under this customer's id is never found (Adatum's,
        # under the first other customer: the same lookup for every subscription).
        if customer.domain != "adatum.example":
            continue
        other = Customer.objects.exclude(pk=customer.pk).order_by("pk").first()
        got = _call(
            client,
            token,
            "GET",
            f"/v1/customers/{other.tenant_id}/subscriptions/{subscription.uuid}",
        )
        if got[0] == 200:
            wrong.append(f"{subscription} found under {other}")

    assert not wrong, f"{username}: {len(wrong)} mismatches:\n" + "\n".join(wrong[:40])


@pytest.mark.django_db
def test_unknown_ids_and_paths(api_world, unthrottled):
    token, client = _token("adminagent"), Client()
    adatum = Customer.objects.get(domain="adatum.example")
    for path, code in [
        (f"/v1/customers/{UNKNOWN}", 60003),
        ("/v1/customers/not-a-guid", 60003),
        (f"/v1/customers/{adatum.tenant_id}/subscriptions/{UNKNOWN}", 20003),
        (f"/v1/customers/{adatum.tenant_id}/subscriptions/42/supportcontact", 20003),
        (f"/v1/customers/{UNKNOWN}/subscriptions/{UNKNOWN}/supportcontact", 60003),
        ("/v1/nothing", 1000),
        ("/v1/customers/x/y/z/w/v", 1000),
    ]:
        assert _call(client, token, "GET", path)[1]["code"] == code, path
