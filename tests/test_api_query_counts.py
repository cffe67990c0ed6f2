"""The query count of every API endpoint is the same in a small and a large world."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.services import support_contact_assign
from partnercenter.models import Partner
from tests.test_api_matrix import _call, _token
from tests.test_query_counts import _grow


@pytest.fixture
def api_world(demo_world, settings):
    settings.API_RATE_LIMIT = "1000000/min"


def _endpoints(adatum, premium) -> list[tuple[str, str, dict | None]]:
    contoso = Partner.objects.get(name="Contoso Distribution")
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    current = premium.effective_support_contact
    other = fabrikam if current == contoso else contoso
    base = f"/v1/customers/{adatum.tenant_id}"
    subscription = f"{base}/subscriptions/{premium.uuid}"
    return [
        ("GET", "/v1/customers?size=10", None),
        (
            "GET",
            '/v1/customers?filter={"Field":"Domain","Value":"ada","Operator":"starts_with"}',
            None,
        ),
        ("GET", base, None),
        ("GET", base + "/subscriptions", None),
        ("GET", subscription, None),
        ("GET", subscription + "/supportcontact", None),
        # A change (the other one of Contoso and Fabrikam), and the current contact again.
        ("PUT", subscription + "/supportcontact", {"supportTenantId": str(other.tenant_id)}),
        ("PUT", subscription + "/supportcontact", {"supportMpnId": current.partner_id}),
        ("GET", base + "/relationships", None),
        ("GET", "/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf", None),
        (
            "GET",
            f"/v1/customers/relationshiprequests?indirectResellerId={fabrikam.tenant_id}",
            None,
        ),
        ("GET", "/v1/profiles/organization", None),
        ("GET", "/v1/profiles/mpn", None),
        ("PATCH", base, {"relationshipToPartner": "none"}),
    ]


def _query_counts(token) -> dict[str, int]:
    adatum = Customer.objects.get(domain="adatum.example")
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    client, counts = Client(), {}
    for number, (method, path, body) in enumerate(_endpoints(adatum, premium)):
        with CaptureQueriesContext(connection) as queries:
            status, _ = _call(client, token, method, path, body)
        assert status in (200, 400), (method, path, status)
        counts[f"{number} {method} {path.split('?')[0][-40:]}"] = len(queries)
    return counts


def test_query_counts_are_the_same_in_a_small_and_a_large_world(api_world):
    token = _token("adminagent")
    # Premium's contact as the large world leaves it (Fabrikam): the same calls in both.
    adatum = Customer.objects.get(domain="adatum.example")
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    support_contact_assign(
        subscription=premium,
        contact=Partner.objects.get(name="Fabrikam Solutions"),
        by=None,
        expected_version=premium.version,
    )
    small = _query_counts(token)
    _grow(extra_customers=60, extra_resellers=20, extra_subscriptions=30, history=50)
    large = _query_counts(token)
    assert small == large
    assert max(small.values()) <= 16, small
