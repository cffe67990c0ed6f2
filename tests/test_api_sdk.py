"""The API driven by Microsoft's own client: `partnercenterservices` 0.1.2 (AutoRest, msrest),
authenticated with `BasicTokenAuthentication`, `version="1"`, on the demo world, as API.md's
"Done when" lists. Every call goes through the SDK's operation for its endpoint
(tests/api_client.py `Endpoints`); a plain request only for what the SDK cannot send (endpoint
10's `dap=true`, a body key in another case, a method no SDK operation uses).
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from microsoft.store.partnercenterservices.models import (
    MicrosoftPartnerSdkContractsV1Customer as SdkCustomer,
)
from microsoft.store.partnercenterservices.models import (
    MicrosoftPartnerSdkContractsV1SubscriptionsSupportContact as SdkSupportContact,
)

from customers.models import Customer, Subscription, SupportContactChange
from partnercenter import services
from partnercenter.api_tokens import api_token_issue, api_token_revoke
from partnercenter.models import ApiToken, Partner, User
from partnercenter.roles import Role
from relationships.models import CustomerRelationship, RelationshipRequest, RelationshipState
from tests.api_client import DjangoClientAdapter, Endpoints, PlainCalls, sdk_client

JSON_UTF8 = "application/json; charset=utf-8"


@dataclass
class Caller:
    """One token's view of the API: the SDK's endpoints, plain calls, the token and its user."""

    api: Endpoints
    call: PlainCalls
    token: ApiToken
    user: User


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """Seeded once for the module; each test's writes are rolled back."""


@pytest.fixture
def caller(demo_world):
    def caller(username: str, **issue_kwargs) -> Caller:
        user = User.objects.get(username=username)
        token, raw = api_token_issue(user=user, name="sdk test", **issue_kwargs)
        client, call = sdk_client(raw)
        return Caller(Endpoints(client), call, token, user)

    return caller


@pytest.fixture
def contoso(partner_named):
    return partner_named("Contoso Distribution")


@pytest.fixture
def fabrikam(partner_named):
    return partner_named("Fabrikam Solutions")


@pytest.fixture
def new_commerce(adatum):
    return adatum.subscriptions.get(offer_name="Microsoft 365 Business Basic")


@pytest.fixture
def dynamics(adatum):
    """Billed through Proseware; Fabrikam Solutions is its designated support contact."""
    return adatum.subscriptions.get(offer_name="Dynamics 365 Business Central Essentials")


def body(raw) -> dict:
    """The JSON of a raw SDK answer (or a plain response), after checking its content type."""
    response = getattr(raw, "response", raw)
    assert response.headers["Content-Type"] == JSON_UTF8
    assert not response.content.startswith(b"\xef\xbb\xbf")  # no BOM
    return json.loads(response.content.decode("utf-8"))


def ok(raw):
    """The SDK's model of a 200 answer."""
    assert raw.response.status_code == 200, (raw.response.status_code, raw.response.text)
    assert raw.output is not None
    body(raw)
    return raw.output


def assert_error(raw, status, code, data=None, error_name=None) -> dict:
    """An error answer as API.md's Errors section has it; the SDK itself returned None."""
    response = getattr(raw, "response", raw)
    assert response.status_code == status, (response.status_code, response.text)
    if hasattr(raw, "output"):
        assert raw.output is None
    error = body(raw)
    assert type(error["code"]) is int, error
    assert error["code"] == code, error
    assert isinstance(error["description"], str)
    assert 0 < len(error["description"]) <= 1024
    assert isinstance(error["data"], list)
    assert all(isinstance(d, str) for d in error["data"])
    assert error["source"] == "partnercenter"
    assert "Traceback" not in response.text
    if data is not None:
        assert error["data"] == data, error
    if error_name is not None:
        assert error["errorName"] == error_name, error
    return error


def contact_of(partner: Partner) -> SdkSupportContact:
    """The body the SDK sends to name `partner` (`name` is informational)."""
    return SdkSupportContact(
        support_tenant_id=str(partner.tenant_id),
        support_mpn_id=partner.partner_id,
        name=partner.name,
    )


def api_history(subscription) -> list[SupportContactChange]:
    return list(
        subscription.support_contact_changes.filter(through=SupportContactChange.Through.API)
    )


def unchanged(subscription) -> tuple:
    """What a refused PUT must leave as it was."""
    subscription.refresh_from_db()
    return (
        subscription.support_contact_id,
        subscription.version,
        subscription.support_contact_changes.count(),
    )


def seen_on_pages(user, customer) -> set[str]:
    """The ids of `customer`'s subscriptions that `user`'s pages show (the access policy)."""
    visible = Subscription.objects.restrict(user, "view").filter(customer=customer)
    return {str(u) for u in visible.values_list("uuid", flat=True)}


def all_customer_names(api: Endpoints, *, size=10, filter=None) -> list[str]:
    """Every customer, page by page as the SDK pages: `links.next`'s headers, `next`."""
    page = ok(api.customers(size=size, filter=filter))
    names, pages = [], 0
    while True:
        pages += 1
        assert pages < 100, "paging does not end"
        assert page.total_count == len(page.items)
        assert page.attributes.object_type == "Collection"
        names += [c.company_profile.company_name for c in page.items]
        if page.links is None or page.links.next is None:
            return names
        assert len(page.items) == size
        assert page.links.next.method == "GET"
        headers = {h.key: h.value for h in page.links.next.headers}
        assert list(headers) == ["MS-ContinuationToken"]
        page = ok(api.customers(size=size, seek_operation="next", custom_headers=headers))


# 1. Customers, paged and filtered ------------------------------------------------------------


def test_paging_all_customers_by_ten_finds_adatum_exactly_once(caller):
    adminagent = caller("adminagent")
    names = all_customer_names(adminagent.api)
    assert names.count("Adatum Corporation") == 1
    visible = Customer.objects.restrict(adminagent.user, "view")
    assert len(names) == visible.count() > 10
    assert sorted(names) == sorted(visible.values_list("name", flat=True))
    # What the SDK sent for a next page: the header from links.next and seekOperation=next.
    last = adminagent.call.sent[-1]
    assert urlsplit(last.url).query == "size=10&seekOperation=next"
    assert last.headers["MS-ContinuationToken"]


def test_customers_added_while_paging_are_neither_repeated_nor_skipped(caller, contoso):
    adminagent = caller("adminagent")
    before = set(Customer.objects.restrict(adminagent.user, "view").values_list("name", flat=True))
    first = ok(adminagent.api.customers(size=10))
    names = [c.company_profile.company_name for c in first.items]
    for name in ("Aaron's Early Bird Ltd", "Zyxel Late Comer Ltd"):
        customer = Customer.objects.create(name=name, domain=f"{name.split()[1].lower()}.example")
        CustomerRelationship.objects.create(partner=contoso, customer=customer)
    page = first
    while page.links is not None and page.links.next is not None:
        headers = {h.key: h.value for h in page.links.next.headers}
        page = ok(adminagent.api.customers(size=10, seek_operation="next", custom_headers=headers))
        names += [c.company_profile.company_name for c in page.items]
    assert len(names) == len(set(names))
    assert set(names) == before | {"Zyxel Late Comer Ltd"}


def test_a_page_that_is_not_the_last_has_the_token_twice(caller):
    raw = caller("adminagent").api.customers(size=10)
    page = body(raw)
    assert page["totalCount"] == 10
    assert page["links"]["next"] == {
        "uri": "/customers?size=10&seekOperation=Next",
        "method": "GET",
        "headers": [{"key": "MS-ContinuationToken", "value": page["continuationToken"]}],
    }
    adatum = next(c for c in page["items"] if c["companyProfile"]["domain"] == "adatum.example")
    assert "allowDelegatedAccess" not in adatum


def test_a_tampered_continuation_token_is_refused(caller):
    api = caller("adminagent").api
    token = body(api.customers(size=10))["continuationToken"]
    raw = api.customers(
        size=10, seek_operation="next", custom_headers={"MS-ContinuationToken": token + "x"}
    )
    assert_error(raw, 400, 800002)


@pytest.mark.parametrize(("field", "prefix"), [("CompanyName", "adatum"), ("Domain", "ADATUM.ex")])
def test_both_filters_find_adatum(caller, adatum, field, prefix):
    api = caller("adminagent").api
    query = json.dumps({"Field": field, "Value": prefix, "Operator": "starts_with"})
    names = all_customer_names(api, filter=query)
    assert names.count("Adatum Corporation") == 1
    page = ok(api.customers(filter=query))
    found = next(c for c in page.items if c.id == str(adatum.tenant_id))
    assert found.company_profile.domain == "adatum.example"
    assert found.company_profile.tenant_id == str(adatum.tenant_id)
    key = "company_name" if field == "CompanyName" else "domain"
    assert all(
        getattr(c.company_profile, key).casefold().startswith(prefix.casefold()) for c in page.items
    )


@pytest.mark.parametrize(
    "query",
    [
        json.dumps({"Field": "Email", "Value": "a", "Operator": "starts_with"}),
        json.dumps({"Field": "CompanyName", "Value": "a", "Operator": "equals"}),
        "not json",
    ],
)
def test_any_other_filter_is_refused(caller, query):
    assert_error(caller("adminagent").api.customers(filter=query), 400, 800002)


def test_a_negative_size_is_refused(caller):
    assert_error(caller("adminagent").api.customers(size=-1), 400, 800002)


# 2. One customer -----------------------------------------------------------------------------


def test_adatum_as_contoso_sees_it(caller, adatum):
    raw = caller("adminagent").api.customer(str(adatum.tenant_id).upper())
    customer = ok(raw)
    assert customer.id == str(adatum.tenant_id)
    assert customer.company_profile.company_name == "Adatum Corporation"
    assert customer.company_profile.domain == "adatum.example"
    assert customer.allow_delegated_access is True
    assert customer.relationship_to_partner == "reseller"
    assert customer.links.itself.uri == f"/customers/{adatum.tenant_id}"
    assert customer.attributes.object_type == "Customer"
    assert body(raw)["companyProfile"]["attributes"] == {"objectType": "CustomerCompanyProfile"}


@pytest.mark.parametrize("customer_id", ["not-a-guid", "00000000-0000-4000-8000-000000000000"])
def test_an_unknown_customer_is_404(caller, customer_id):
    assert_error(caller("adminagent").api.customer(customer_id), 404, 60003)


# 4.-6. Subscriptions and their support contact -----------------------------------------------


def test_adatums_subscriptions_as_contoso_sees_them(caller, adatum):
    raw = caller("adminagent").api.subscriptions(adatum.tenant_id)
    collection = ok(raw)
    offers = {s.offer_name for s in collection.items}
    assert {"Office 365 Business Premium", "Microsoft 365 E3"} <= offers
    product_types = {s["offerName"]: s["productType"]["id"] for s in body(raw)["items"]}
    assert product_types["Office 365 Business Premium"] == "OnlineServices"
    assert "OnlineServicesNCE" in product_types.values()
    # Proseware's subscription of the same customer is not Contoso's to see.
    assert "Dynamics 365 Business Central Essentials" not in offers
    assert collection.total_count == len(collection.items) == 3


def test_a_subscription_as_the_sdk_reads_it(caller, adatum, premium):
    subscription = ok(caller("adminagent").api.subscription(adatum.tenant_id, premium.uuid))
    assert subscription.id == str(premium.uuid)
    assert subscription.offer_name == "Office 365 Business Premium"
    assert subscription.friendly_name == "Head office"
    assert subscription.quantity == 25
    assert subscription.status == "active"
    assert subscription.billing_cycle == "monthly"
    assert subscription.auto_renew_enabled is True
    assert subscription.attributes.etag == str(premium.version)
    assert subscription.creation_date is not None


def test_an_unknown_or_another_customers_subscription_is_404(caller, adatum, premium):
    api = caller("adminagent").api
    assert_error(api.subscription(adatum.tenant_id, uuid.uuid4()), 404, 20003)
    assert_error(api.subscription(adatum.tenant_id, "not-a-guid"), 404, 20003)
    other = Subscription.objects.exclude(customer=adatum).filter(provider=premium.provider).first()
    assert_error(api.subscription(adatum.tenant_id, other.uuid), 404, 20003)
    assert_error(api.subscription(other.customer.tenant_id, premium.uuid), 404, 20003)
    assert_error(api.subscriptions(uuid.uuid4()), 404, 60003)
    assert_error(api.support_contact(uuid.uuid4(), premium.uuid), 404, 60003)
    assert_error(api.support_contact(adatum.tenant_id, uuid.uuid4()), 404, 20003)


def test_the_first_subscriptions_contact_is_contoso_distribution(caller, adatum, premium, contoso):
    raw = caller("adminagent").api.support_contact(adatum.tenant_id, premium.uuid)
    contact = ok(raw)
    assert contact.name == "Contoso Distribution"
    assert contact.support_tenant_id == str(contoso.tenant_id)
    assert contact.support_mpn_id == contoso.partner_id
    assert contact.attributes.etag == str(premium.version)
    assert contact.attributes.object_type == "SupportContact"
    assert contact.links.itself.uri == (
        f"/customers/{adatum.tenant_id}/subscriptions/{premium.uuid}/supportcontact"
    )
    assert raw.response.headers["ETag"].strip('"') == str(premium.version)


def test_new_commerce_has_no_support_contact(caller, adatum, new_commerce):
    api = caller("adminagent").api
    assert_error(api.support_contact(adatum.tenant_id, new_commerce.uuid), 400, 900141)
    before = unchanged(new_commerce)
    raw = api.support_contact_update(
        adatum.tenant_id, new_commerce.uuid, contact_of(new_commerce.provider)
    )
    assert_error(raw, 400, 900141, error_name="NewCommerceNotSupported")
    assert unchanged(new_commerce) == before


# 7. PUT the support contact ------------------------------------------------------------------


def test_put_fabrikam_then_read_it_back_with_one_api_history_entry(
    caller, adatum, premium, contoso, fabrikam
):
    adminagent = caller("adminagent")
    api = adminagent.api
    version = premium.version
    contact = ok(api.support_contact_update(adatum.tenant_id, premium.uuid, contact_of(fabrikam)))
    assert contact.name == "Fabrikam Solutions"
    assert contact.support_tenant_id == str(fabrikam.tenant_id)
    assert contact.support_mpn_id == fabrikam.partner_id
    assert contact.attributes.etag == str(version + 1)

    read_back = ok(api.support_contact(adatum.tenant_id, premium.uuid))
    assert (read_back.name, read_back.support_tenant_id) == (
        "Fabrikam Solutions",
        str(fabrikam.tenant_id),
    )
    premium.refresh_from_db()
    assert premium.support_contact == fabrikam
    assert premium.version == version + 1
    [change] = api_history(premium)
    assert change.changed_by == adminagent.user
    assert (change.from_contact, change.to_contact) == (contoso, fabrikam)
    assert change.api_token == adminagent.token

    # The SDK re-sends a PUT after a 5xx: the same body again answers 200 and records nothing.
    ok(api.support_contact_update(adatum.tenant_id, premium.uuid, contact_of(fabrikam)))
    assert len(api_history(premium)) == 1


def test_put_by_one_id_or_the_other_and_keys_in_any_case(caller, adatum, premium, fabrikam):
    adminagent = caller("adminagent")
    by_mpn = SdkSupportContact(support_mpn_id=fabrikam.partner_id)
    raw = adminagent.api.support_contact_update(adatum.tenant_id, premium.uuid, by_mpn)
    assert ok(raw).name == "Fabrikam Solutions"
    # The C# sample's PascalCase keys; the provider back by its tenant id alone.
    path = f"/v1/customers/{adatum.tenant_id}/subscriptions/{premium.uuid}/supportcontact"
    response = adminagent.call(
        "PUT", path, json={"SupportTenantId": str(premium.provider.tenant_id), "Links": {}}
    )
    assert response.status_code == 200, response.text
    assert body(response)["name"] == "Contoso Distribution"


@pytest.mark.parametrize(
    ("reseller", "reason"),
    [
        ("Trey Research", "no_relationship"),
        ("Northwind Traders IT", "no_delegated_admin"),
        ("Alpine IT Services", "partnership_not_active"),
        ("Proseware Distribution", "unknown_partner"),
    ],
)
def test_put_an_ineligible_partner_is_refused_and_changes_nothing(
    caller, adatum, premium, partner_named, reseller, reason
):
    before = unchanged(premium)
    raw = caller("adminagent").api.support_contact_update(
        adatum.tenant_id, premium.uuid, contact_of(partner_named(reseller))
    )
    assert_error(raw, 400, 800016, data=[reason], error_name="SupportContactNotEligible")
    assert unchanged(premium) == before


def test_put_ids_of_two_different_partners_is_an_unknown_partner(
    caller, adatum, premium, fabrikam, partner_named
):
    before = unchanged(premium)
    mixed = SdkSupportContact(
        support_tenant_id=str(fabrikam.tenant_id),
        support_mpn_id=partner_named("Northwind Traders IT").partner_id,
    )
    raw = caller("adminagent").api.support_contact_update(adatum.tenant_id, premium.uuid, mixed)
    assert_error(raw, 400, 800016, data=["unknown_partner"])
    assert unchanged(premium) == before


def test_put_without_an_id_is_invalid_input(caller, adatum, premium):
    before = unchanged(premium)
    raw = caller("adminagent").api.support_contact_update(
        adatum.tenant_id, premium.uuid, SdkSupportContact(name="Fabrikam Solutions")
    )
    assert_error(raw, 400, 800002)
    assert unchanged(premium) == before


def test_a_stale_if_match_is_refused_and_a_current_one_accepted(caller, adatum, premium, fabrikam):
    api = caller("adminagent").api
    etag = ok(api.support_contact(adatum.tenant_id, premium.uuid)).attributes.etag
    before = unchanged(premium)
    stale = {"If-Match": f'"{int(etag) + 7}"'}
    raw = api.support_contact_update(
        adatum.tenant_id, premium.uuid, contact_of(fabrikam), custom_headers=stale
    )
    assert_error(raw, 400, 2055, error_name="EtagNoLongerValid")
    assert unchanged(premium) == before
    current = {"If-Match": f'"{etag}"'}
    ok(
        api.support_contact_update(
            adatum.tenant_id, premium.uuid, contact_of(fabrikam), custom_headers=current
        )
    )
    # The etag just used is now stale (unquoted this time).
    raw = api.support_contact_update(
        adatum.tenant_id,
        premium.uuid,
        contact_of(premium.provider),
        custom_headers={"If-Match": etag},
    )
    assert_error(raw, 400, 2055)


def test_the_sales_agent_may_read_but_not_put(caller, adatum, premium, fabrikam):
    api = caller("salesagent").api
    ok(api.support_contact(adatum.tenant_id, premium.uuid))
    before = unchanged(premium)
    raw = api.support_contact_update(adatum.tenant_id, premium.uuid, contact_of(fabrikam))
    assert_error(raw, 403, 900150, error_name="RoleNotAllowed")
    assert unchanged(premium) == before


def test_a_reseller_that_supports_a_subscription_may_not_change_it(
    caller, adatum, dynamics, fabrikam
):
    api = caller("fabrikam").api
    assert ok(api.support_contact(adatum.tenant_id, dynamics.uuid)).name == "Fabrikam Solutions"
    before = unchanged(dynamics)
    raw = api.support_contact_update(adatum.tenant_id, dynamics.uuid, contact_of(dynamics.provider))
    assert_error(raw, 403, 2032, error_name="AccessDenied")
    assert unchanged(dynamics) == before


# 401: no, bad, expired, revoked token; inactive user ------------------------------------------


def assert_unauthorized(raw, code):
    assert_error(raw, 401, code)
    challenge = raw.response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="partnercenter"')
    assert ('error="invalid_token"' in challenge) == (code == 400)


def test_no_token_is_401_800001(demo_world, adatum, premium, fabrikam):
    client, _ = sdk_client(None)
    api = Endpoints(client)
    assert_unauthorized(api.customers(), 800001)
    before = unchanged(premium)
    raw = api.support_contact_update(adatum.tenant_id, premium.uuid, contact_of(fabrikam))
    assert_unauthorized(raw, 800001)
    assert unchanged(premium) == before


def test_a_signed_in_session_without_a_token_is_401(demo_user, adatum):
    adapter = DjangoClientAdapter()
    adapter.django_client.force_login(demo_user("adminagent"))
    client, _ = sdk_client(None, adapter=adapter)
    assert_unauthorized(Endpoints(client).customer(adatum.tenant_id), 800001)


def test_a_bad_token_is_401_400(caller):
    real = caller("adminagent")
    ok(real.api.organization_profile())
    known_prefix = real.token.prefix
    for token in ["nonsense", f"pc_{known_prefix}_" + "A" * 43, "pc_000000000000_" + "A" * 43]:
        client, _ = sdk_client(token)
        assert_unauthorized(Endpoints(client).organization_profile(), 400)


def test_an_expired_revoked_or_deactivated_token_is_401_400(caller, adatum):
    expired = caller("adminagent", expires_in=timedelta(seconds=1))
    an_hour_ago = timezone.now() - timedelta(hours=1)
    ApiToken.objects.filter(pk=expired.token.pk).update(
        created_at=an_hour_ago - timedelta(seconds=1), expires_at=an_hour_ago
    )
    assert_unauthorized(expired.api.customer(adatum.tenant_id), 400)

    revoked = caller("adminagent")
    ok(revoked.api.customer(adatum.tenant_id))
    api_token_revoke(token=revoked.token, by=revoked.user)
    assert_unauthorized(revoked.api.customer(adatum.tenant_id), 400)

    deactivated = caller("helpdeskagent")
    ok(deactivated.api.customer(adatum.tenant_id))
    services.user_deactivate(user=deactivated.user, by=User.objects.get(username="globaladmin"))
    assert_unauthorized(deactivated.api.customer(adatum.tenant_id), 400)


def test_a_role_change_applies_on_the_next_call(caller, adatum, premium, fabrikam):
    agent = caller("helpdeskagent")
    ok(agent.api.support_contact(adatum.tenant_id, premium.uuid))
    globaladmin = User.objects.get(username="globaladmin")
    services.user_roles_set(user=agent.user, roles=[Role.USER_MANAGEMENT_ADMIN], by=globaladmin)
    assert_error(agent.api.support_contact(adatum.tenant_id, premium.uuid), 403, 900150)
    assert ok(agent.api.mpn_profile()).partner_name == "Contoso Distribution"
    services.user_roles_set(user=agent.user, roles=[Role.ADMIN_AGENT], by=globaladmin)
    ok(agent.api.support_contact_update(adatum.tenant_id, premium.uuid, contact_of(fabrikam)))


# 3. PATCH the customer: remove the caller's relationship --------------------------------------


def test_a_provider_with_active_subscriptions_cannot_remove_its_relationship(
    caller, adatum, contoso
):
    api = caller("adminagent").api
    raw = api.customer_update(adatum.tenant_id, SdkCustomer(relationship_to_partner="none"))
    error = assert_error(raw, 400, 800002, error_name="ActiveSubscriptionsExist")
    active = adatum.subscriptions.filter(provider=contoso, status="active")
    assert sorted(error["data"]) == sorted(str(u) for u in active.values_list("uuid", flat=True))
    assert CustomerRelationship.objects.get(
        partner=contoso, customer=adatum, state=RelationshipState.ACTIVE
    ).delegated_admin
    ok(api.customer(adatum.tenant_id))


def test_a_patch_other_than_relationship_none_is_invalid_input(caller, adatum):
    api = caller("adminagent").api
    raw = api.customer_update(adatum.tenant_id, SdkCustomer(relationship_to_partner="reseller"))
    assert_error(raw, 400, 800002)


def test_patch_needs_remove_relationship(caller, adatum):
    raw = caller("helpdeskagent").api.customer_update(
        adatum.tenant_id, SdkCustomer(relationship_to_partner="none")
    )
    assert_error(raw, 403, 900150)


def test_a_reseller_removes_its_own_relationship_and_no_longer_sees_the_customer(
    caller, adatum, dynamics, fabrikam
):
    reseller = caller("fabrikam")
    raw = reseller.api.customer_update(
        adatum.tenant_id, SdkCustomer(relationship_to_partner="none")
    )
    customer = ok(raw)
    assert customer.relationship_to_partner == "none"
    assert customer.id == str(adatum.tenant_id)
    assert_error(reseller.api.customer(adatum.tenant_id), 404, 60003)
    assert not CustomerRelationship.objects.filter(
        partner=fabrikam, customer=adatum, state=RelationshipState.ACTIVE
    ).exists()
    # Proseware's subscription that Fabrikam supported falls back, recorded as such.
    dynamics.refresh_from_db()
    assert dynamics.support_contact_id == dynamics.provider_id
    [fallback] = dynamics.support_contact_changes.filter(
        through=SupportContactChange.Through.RELATIONSHIP_REMOVAL
    )
    assert fallback.changed_by == reseller.user


# 8. A customer's relationships; 9. the caller's partnerships ---------------------------------


def test_adatums_relationships_list_the_resellers_contoso_may_see(caller, adatum):
    adminagent = caller("adminagent")
    raw = adminagent.api.customer_relationships(adatum.tenant_id)
    collection = ok(raw)
    names = {r.name for r in collection.items}
    expected = set(
        CustomerRelationship.objects.restrict(adminagent.user, "view")
        .filter(
            customer=adatum,
            state=RelationshipState.ACTIVE,
            partner__kind=Partner.Kind.INDIRECT_RESELLER,
        )
        .values_list("partner__name", flat=True)
    )
    assert names == expected
    assert {"Fabrikam Solutions", "Northwind Traders IT"} <= names
    assert not names & {"Trey Research", "Proseware Distribution", "Contoso Distribution"}
    for item in body(raw)["items"]:
        partner = Partner.objects.get(name=item["name"])
        assert item == {
            "id": str(partner.tenant_id),
            "name": partner.name,
            "relationshipType": "is_indirect_cloud_solution_provider_of",
            "state": "active",
            "mpnId": partner.partner_id,
            "partnerId": partner.partner_id,
            "attributes": {"objectType": "PartnerRelationship"},
        }
    assert_error(adminagent.api.customer_relationships(uuid.uuid4()), 404, 60003)


def test_contosos_partnerships_both_ways(caller):
    api = caller("adminagent").api
    # The SDK's casing of the value.
    raw = api.relationships("isIndirectCloudSolutionProviderOf")
    resellers = {r.name: r for r in ok(raw).items}
    assert {"Fabrikam Solutions", "Northwind Traders IT", "Trey Research"} <= set(resellers)
    assert "Coho Systems" not in resellers  # removed
    assert resellers["Alpine IT Services"].state == "requested"
    assert resellers["Fabrikam Solutions"].state == "active"
    assert (
        resellers["Fabrikam Solutions"].relationship_type
        == "is_indirect_cloud_solution_provider_of"
    )
    assert ok(api.relationships("IsIndirectResellerOf")).items == []


def test_a_resellers_partnerships_both_ways(caller):
    api = caller("fabrikam").api
    providers = {r.name: r for r in ok(api.relationships("isIndirectResellerOf")).items}
    assert set(providers) == {"Contoso Distribution", "Proseware Distribution"}
    assert {r.relationship_type for r in providers.values()} == {"is_indirect_reseller_of"}
    assert ok(api.relationships("IsIndirectCloudSolutionProviderOf")).items == []


@pytest.mark.parametrize("relationship_type", [None, "isFriendOf"])
def test_a_missing_or_unknown_relationship_type_is_invalid_input(caller, relationship_type):
    assert_error(caller("adminagent").api.relationships(relationship_type), 400, 800002)


# 10. Relationship request URL ----------------------------------------------------------------


def test_a_relationship_request_url_for_contoso_and_for_an_active_reseller(caller, partner_named):
    adminagent = caller("adminagent")
    own = ok(adminagent.api.relationship_request())
    assert own.attributes.object_type == "RelationshipRequest"
    assert urlsplit(own.url).scheme in {"http", "https"}
    assert urlsplit(own.url).netloc
    trey = partner_named("Trey Research")
    for_trey = ok(adminagent.api.relationship_request(trey.tenant_id)).url
    assert urlsplit(for_trey).netloc == urlsplit(own.url).netloc
    assert for_trey != own.url
    # dap=true is no SDK parameter: a plain request.
    response = adminagent.call("GET", "/v1/customers/relationshiprequests?dap=true")
    assert response.status_code == 200, response.text
    assert body(response)["url"] not in {own.url, for_trey}
    assert not RelationshipRequest.objects.exists()  # the GET stores nothing


@pytest.mark.parametrize(
    ("reseller", "reason"),
    [
        ("Alpine IT Services", "partnership_not_active"),  # requested
        ("Coho Systems", "partnership_not_active"),  # removed
        ("Proseware Distribution", "unknown_partner"),
        (None, "unknown_partner"),
    ],
)
def test_a_relationship_request_url_for_no_active_reseller_is_refused(
    caller, partner_named, reseller, reason
):
    tenant_id = partner_named(reseller).tenant_id if reseller else uuid.uuid4()
    raw = caller("adminagent").api.relationship_request(tenant_id)
    assert_error(raw, 400, 800016, data=[reason], error_name="NotAnActiveReseller")


def test_a_relationship_request_url_needs_request_relationship(caller):
    assert_error(caller("helpdeskagent").api.relationship_request(), 403, 900150)


def test_a_customer_admin_who_opens_the_url_gets_a_request_to_answer(
    caller, demo_user, adatum, partner_named
):
    adminagent = caller("adminagent")
    trey = partner_named("Trey Research")
    url = urlsplit(ok(adminagent.api.relationship_request(trey.tenant_id)).url)
    browser = DjangoClientAdapter().django_client
    browser.force_login(demo_user("adatumadmin"))
    response = browser.get(url.path + (f"?{url.query}" if url.query else ""))
    assert response.status_code in {200, 302}
    request = RelationshipRequest.objects.get(partner=trey, customer=adatum)
    assert request.requested_by == adminagent.user
    assert request.include_delegated_admin is False


# 11., 12. Profiles ---------------------------------------------------------------------------


def test_the_profiles_are_the_callers_partners(caller, contoso):
    api = caller("usermgmtadmin").api  # any staff: no capability needed
    organization = ok(api.organization_profile())
    assert organization.id == organization.tenant_id == str(contoso.tenant_id)
    assert organization.company_name == "Contoso Distribution"
    assert organization.email == contoso.support_email
    assert organization.profile_type == "organization_profile"
    assert organization.attributes.object_type == "OrganizationProfile"
    mpn = ok(api.mpn_profile())
    assert (mpn.partner_name, mpn.mpn_id) == ("Contoso Distribution", "4870001")
    assert mpn.profile_type == "mpn_profile"
    assert mpn.attributes.object_type == "MpnProfile"


# Multi-channel: a reseller's and the second provider's tokens see what their pages show -------


def test_a_resellers_token_sees_only_what_its_pages_show(
    caller, adatum, premium, dynamics, fabrikam
):
    reseller = caller("fabrikam")
    api = reseller.api
    names = all_customer_names(api)
    assert sorted(names) == sorted(
        Customer.objects.restrict(reseller.user, "view").values_list("name", flat=True)
    )
    assert names.count("Adatum Corporation") == 1
    assert ok(api.customer(adatum.tenant_id)).allow_delegated_access is True

    def subscription_ids():
        return {s.id for s in ok(api.subscriptions(adatum.tenant_id)).items}

    # Only the subscriptions it is the designated contact of: never Contoso's others.
    assert subscription_ids() == {str(dynamics.uuid)} == seen_on_pages(reseller.user, adatum)
    assert_error(api.subscription(adatum.tenant_id, premium.uuid), 404, 20003)
    assert_error(api.support_contact(adatum.tenant_id, premium.uuid), 404, 20003)
    relationships = {r.name for r in ok(api.customer_relationships(adatum.tenant_id)).items}
    assert relationships <= {"Fabrikam Solutions"}
    assert ok(api.organization_profile()).company_name == "Fabrikam Solutions"

    # Once Contoso designates it for Premium, Premium shows too (read only).
    contoso_agent = caller("adminagent")
    ok(
        contoso_agent.api.support_contact_update(
            adatum.tenant_id, premium.uuid, contact_of(fabrikam)
        )
    )
    assert subscription_ids() == {str(dynamics.uuid), str(premium.uuid)}
    assert subscription_ids() == seen_on_pages(reseller.user, adatum)
    assert ok(api.subscription(adatum.tenant_id, premium.uuid)).offer_name == (
        "Office 365 Business Premium"
    )
    raw = api.support_contact_update(adatum.tenant_id, premium.uuid, contact_of(premium.provider))
    assert_error(raw, 403, 2032)


def test_the_second_providers_token_never_sees_contosos_subscriptions(
    caller, adatum, premium, dynamics, contoso
):
    proseware = caller("proseware")
    api = proseware.api
    names = all_customer_names(api)
    assert sorted(names) == sorted(
        Customer.objects.restrict(proseware.user, "view").values_list("name", flat=True)
    )
    assert "Adatum Corporation" in names
    subscriptions = ok(api.subscriptions(adatum.tenant_id)).items
    assert {s.id for s in subscriptions} == {str(dynamics.uuid)}
    assert {s.id for s in subscriptions} == seen_on_pages(proseware.user, adatum)
    contosos = adatum.subscriptions.filter(provider=contoso)
    assert contosos.count() == 3
    for subscription in contosos:
        assert_error(api.subscription(adatum.tenant_id, subscription.uuid), 404, 20003)
        assert_error(api.support_contact(adatum.tenant_id, subscription.uuid), 404, 20003)
    before = unchanged(premium)
    raw = api.support_contact_update(adatum.tenant_id, premium.uuid, contact_of(contoso))
    assert_error(raw, 404, 20003)
    assert unchanged(premium) == before
    relationships = {r.name for r in ok(api.customer_relationships(adatum.tenant_id)).items}
    assert relationships <= {"Fabrikam Solutions"}  # its own reseller, never Contoso's
    resellers = {r.name for r in ok(api.relationships("isIndirectCloudSolutionProviderOf")).items}
    assert resellers == {"Fabrikam Solutions"}
    assert ok(api.mpn_profile()).partner_name == "Proseware Distribution"


# Exact keys, as API.md's Resources section has them ---------------------------------------


def test_the_resources_have_exactly_api_mds_keys(caller, adatum, premium, contoso):
    api = caller("adminagent").api
    customer_uri = f"/customers/{adatum.tenant_id}"
    customer = body(api.customer(adatum.tenant_id))
    assert customer == {
        "id": str(adatum.tenant_id),
        "companyProfile": {
            "tenantId": str(adatum.tenant_id),
            "domain": "adatum.example",
            "companyName": "Adatum Corporation",
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        "relationshipToPartner": "reseller",
        "allowDelegatedAccess": True,
        "links": {"self": {"uri": customer_uri, "method": "GET", "headers": []}},
        "attributes": {"objectType": "Customer"},
    }
    subscription_uri = f"{customer_uri}/subscriptions/{premium.uuid}"
    subscription = body(api.subscription(adatum.tenant_id, premium.uuid))
    assert subscription == {
        "id": str(premium.uuid),
        "offerName": "Office 365 Business Premium",
        "friendlyName": "Head office",
        "quantity": 25,
        "unitType": "Licenses",
        "creationDate": premium.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": "active",
        "autoRenewEnabled": True,
        "billingType": "license",
        "billingCycle": "monthly",
        "termDuration": "P1Y",
        "partnerId": None,
        "contractType": "subscription",
        "productType": {"id": "OnlineServices", "displayName": "OnlineServices"},
        "links": {"self": {"uri": subscription_uri, "method": "GET", "headers": []}},
        "attributes": {"etag": str(premium.version), "objectType": "Subscription"},
    }
    collection = body(api.subscriptions(adatum.tenant_id))
    assert set(collection) == {"totalCount", "items", "links", "attributes"}
    assert collection["attributes"] == {"objectType": "Collection"}
    assert subscription in collection["items"]
    assert body(api.support_contact(adatum.tenant_id, premium.uuid)) == {
        "supportTenantId": str(contoso.tenant_id),
        "supportMpnId": "4870001",
        "name": "Contoso Distribution",
        "links": {
            "self": {"uri": f"{subscription_uri}/supportcontact", "method": "GET", "headers": []}
        },
        "attributes": {"etag": str(premium.version), "objectType": "SupportContact"},
    }
    assert body(api.organization_profile()) == {
        "id": str(contoso.tenant_id),
        "tenantId": str(contoso.tenant_id),
        "companyName": "Contoso Distribution",
        "email": "support@contoso-distribution.example",
        "profileType": "organization_profile",
        "attributes": {"objectType": "OrganizationProfile"},
    }
    assert body(api.mpn_profile()) == {
        "partnerName": "Contoso Distribution",
        "mpnId": "4870001",
        "profileType": "mpn_profile",
        "attributes": {"objectType": "MpnProfile"},
    }
    request = body(api.relationship_request())
    assert set(request) == {"url", "attributes"}
    assert request["attributes"] == {"objectType": "RelationshipRequest"}


# Conventions the SDK relies on ---------------------------------------------------------------


def test_request_and_correlation_ids_are_echoed_or_made(caller):
    api = caller("adminagent").api
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    raw = api.mpn_profile(ms_request_id=request_id, ms_correlation_id=correlation_id)
    assert raw.response.headers["MS-RequestId"] == request_id
    assert raw.response.headers["MS-CorrelationId"] == correlation_id
    fresh = api.mpn_profile().response.headers
    assert uuid.UUID(fresh["MS-RequestId"])
    assert uuid.UUID(fresh["MS-CorrelationId"])
    error = api.customer("not-a-guid").response.headers
    assert uuid.UUID(error["MS-RequestId"])


def test_the_description_follows_x_locale_then_accept_language(
    caller, adatum, premium, partner_named
):
    adminagent = caller("adminagent")
    api, client = adminagent.api, adminagent.api.client
    trey = contact_of(partner_named("Trey Research"))

    def description(**kwargs):
        raw = api.support_contact_update(adatum.tenant_id, premium.uuid, trey, **kwargs)
        return assert_error(raw, 400, 800016, data=["no_relationship"])["description"]

    # The SDK's own accept-language: en-US.
    assert description() == (
        "Trey Research cannot be the designated support contact: no relationship with this "
        "customer."
    )
    client.config.accept_language = "de-DE"
    german = (
        "Trey Research kann nicht designierter Supportkontakt sein: keine Beziehung zu diesem "
        "Kunden."
    )
    assert description() == german
    client.config.accept_language = "en-US"
    assert description(custom_headers={"X-Locale": "de-DE"}) == german


def test_paths_with_a_slash_unknown_paths_and_other_methods(caller):
    call = caller("adminagent").call
    assert call("GET", "/v1/profiles/mpn/").status_code == 200
    assert_error(call("GET", "/v1/nothing/here"), 404, 1000)
    response = call("DELETE", "/v1/profiles/mpn")
    assert_error(response, 405, 0)
    assert "GET" in response.headers["Allow"]
