"""Every (role × URL × method), generated from the role table: who gets in, who gets 403.

EXPECTED_POLICIES names what each URL needs; `partnercenter/roles.py` says which roles grant
it. A URL missing from EXPECTED_POLICIES fails the first test, so none can slip through.
"""

import pytest
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from customers import bulk
from customers.services import support_contact_assign
from partnercenter.api_tokens import api_token_issue
from partnercenter.roles import Capability, Role, roles_with
from tests import factories
from tests.urlwalk import product_routes

PUBLIC, SIGNED_IN, STAFF, CUSTOMER_ADMIN = "public", "signed_in", "partner_staff", "customer_admin"
INVITEE = "invitee"  # any signed-in user may follow the link; only the customer's admin gets in
LANGUAGE = "language"  # open to everyone, and always answers with a redirect
# Public, but a signed-in user is sent home (the sign-in page).
SIGN_IN_PAGE = "sign_in_page"
# Any staff user, on a token: its owner and their partner's global admin revoke it; other staff
# get 404.
OWN_TOKEN = "own_token"
DECLARED = {SIGN_IN_PAGE: PUBLIC, INVITEE: SIGNED_IN, LANGUAGE: PUBLIC, OWN_TOKEN: STAFF}

# url name -> {method: policy}; methods not listed answer 405.
EXPECTED_POLICIES = {
    "partnercenter:login": {"GET": SIGN_IN_PAGE, "POST": SIGN_IN_PAGE},
    "partnercenter:logout": {"POST": SIGNED_IN},
    "partnercenter:password_set": {"GET": PUBLIC, "POST": PUBLIC},
    "partnercenter:password_set_done": {"GET": PUBLIC},
    "partnercenter:two_step": {"GET": SIGNED_IN},
    "partnercenter:two_step_setup": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "partnercenter:two_step_qr": {"GET": SIGNED_IN},
    "partnercenter:two_step_verify": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "partnercenter:two_step_recovery_codes": {"POST": SIGNED_IN},
    "partnercenter:two_step_turn_off": {"POST": SIGNED_IN},
    "partnercenter:home": {"GET": SIGNED_IN},
    "partnercenter:my_access": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "dashboard:dashboard": {"GET": Capability.VIEW_CUSTOMERS},
    "dashboard:support_contacts": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:customer_list": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:customer_detail": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:customer_relationships": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:subscription_detail": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:subscription_support_contact": {"POST": Capability.ASSIGN_SUPPORT_CONTACT},
    "customers:support_contact_change": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:history": {"GET": Capability.VIEW_HISTORY},
    "customers:customer_bulk_review": {"POST": Capability.ASSIGN_SUPPORT_CONTACT},
    "customers:partnership_detail": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:reseller_bulk_review": {"POST": Capability.ASSIGN_SUPPORT_CONTACT},
    "customers:bulk_operation": {"GET": Capability.ASSIGN_SUPPORT_CONTACT},
    "customers:bulk_operation_submit": {"POST": Capability.ASSIGN_SUPPORT_CONTACT},
    "customers:bulk_operation_undo": {"POST": Capability.ASSIGN_SUPPORT_CONTACT},
    "customers:history_export": {"GET": Capability.VIEW_HISTORY},
    "customers:supported_subscriptions": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:supported_subscriptions_export": {"GET": Capability.VIEW_CUSTOMERS},
    "partnercenter:user_list": {"GET": Capability.MANAGE_USERS},
    "partnercenter:user_add": {"GET": Capability.MANAGE_USERS, "POST": Capability.MANAGE_USERS},
    "partnercenter:user_detail": {"GET": Capability.MANAGE_USERS},
    "partnercenter:user_roles": {"POST": Capability.MANAGE_USERS},
    "partnercenter:user_deactivate": {"POST": Capability.MANAGE_USERS},
    "partnercenter:user_reactivate": {"POST": Capability.MANAGE_USERS},
    "partnercenter:user_set_password_link": {"POST": Capability.MANAGE_USERS},
    "partnercenter:user_two_step_reset": {"POST": Capability.MANAGE_USERS},
    "partnercenter:support_profile": {"GET": Capability.VIEW_SUPPORT_PROFILE},
    "partnercenter:support_profile_update": {"POST": Capability.EDIT_SUPPORT_PROFILE},
    "partnercenter:api_tokens": {"GET": STAFF, "POST": STAFF},
    "api_pages:reference": {"GET": STAFF},
    "partnercenter:api_token_revoke": {"POST": OWN_TOKEN},
    "notifications:webhook_list": {
        "GET": Capability.MANAGE_WEBHOOKS,
        "POST": Capability.MANAGE_WEBHOOKS,
    },
    "notifications:webhook_detail": {
        "GET": Capability.MANAGE_WEBHOOKS,
        "POST": Capability.MANAGE_WEBHOOKS,
    },
    "notifications:webhook_secret_roll": {"POST": Capability.MANAGE_WEBHOOKS},
    "notifications:webhook_test": {"POST": Capability.MANAGE_WEBHOOKS},
    "notifications:delivery_resend": {"POST": Capability.MANAGE_WEBHOOKS},
    "customers:customer_admin_home": {"GET": CUSTOMER_ADMIN},
    "customers:customer_support": {"GET": CUSTOMER_ADMIN},
    "customers:relationship_request_new": {
        "GET": Capability.REQUEST_RELATIONSHIP,
        "POST": Capability.REQUEST_RELATIONSHIP,
    },
    "customers:relationship_request_detail": {"GET": Capability.REQUEST_RELATIONSHIP},
    "customers:relationship_remove": {
        "GET": Capability.REMOVE_RELATIONSHIP,
        "POST": Capability.REMOVE_RELATIONSHIP,
    },
    "customers:partnerships": {"GET": Capability.VIEW_CUSTOMERS},
    "customers:partnership_request": {"POST": Capability.REQUEST_RELATIONSHIP},
    "relationships:partnership_accept": {"POST": Capability.REQUEST_RELATIONSHIP},
    "relationships:partnership_decline": {"POST": Capability.REQUEST_RELATIONSHIP},
    "customers:partnership_remove": {
        "GET": Capability.REMOVE_RELATIONSHIP,
        "POST": Capability.REMOVE_RELATIONSHIP,
    },
    "customers:relationship_give_up_dap": {
        "GET": Capability.REMOVE_RELATIONSHIP,
        "POST": Capability.REMOVE_RELATIONSHIP,
    },
    "customers:customer_relationship_end": {"GET": CUSTOMER_ADMIN, "POST": CUSTOMER_ADMIN},
    "relationships:customer_partner_relationships": {"GET": CUSTOMER_ADMIN},
    "relationships:invitation_accept": {"POST": CUSTOMER_ADMIN},
    "relationships:invitation_decline": {"POST": CUSTOMER_ADMIN},
    "customers:delegated_admin_remove": {"GET": CUSTOMER_ADMIN, "POST": CUSTOMER_ADMIN},
    "relationships:invitation": {"GET": INVITEE},
    "relationships:relationship_request_link": {"GET": CUSTOMER_ADMIN},
    "partnercenter:set_language": {"POST": LANGUAGE},
    # Load balancers' probes (JSON): GET and HEAD, for anyone (tests/test_health.py).
    "partnercenter:healthz": {"GET": PUBLIC},
    "partnercenter:readyz": {"GET": PUBLIC},
}
# Pages used by a reseller's staff (the others: the provider's). Role users sit on that side.
RESELLER_SIDE = {
    "relationships:partnership_accept",
    "relationships:partnership_decline",
    "customers:supported_subscriptions",
    "customers:supported_subscriptions_export",
}

USERS = ["anonymous", *[r.value for r in Role], "no_role", "customer_admin"]
ROUTES = product_routes()


def test_every_url_has_an_expected_policy():
    assert {r.name for r in ROUTES} == set(EXPECTED_POLICIES)


def test_each_views_declared_policy_matches_the_expected_one():
    for route in ROUTES:
        declared = route.view.access_policy
        wanted = {DECLARED.get(p, str(p)) for p in EXPECTED_POLICIES[route.name].values()}
        assert declared.removeprefix("capability:") in wanted, route


def _expected_status(user: str, policy) -> set[int]:
    if policy == LANGUAGE:
        return {302}
    if policy == PUBLIC:
        return {200}
    if policy == SIGN_IN_PAGE:
        return {200} if user == "anonymous" else {302}
    if user == "anonymous":
        return {302}
    if policy == SIGNED_IN:
        return {200, 302}
    if policy == INVITEE:
        return {302} if user == "customer_admin" else {403}
    if policy == CUSTOMER_ADMIN:
        return {200, 302} if user == "customer_admin" else {403}
    if policy == STAFF:
        return {403} if user == "customer_admin" else {200}
    if policy == OWN_TOKEN:  # the token of the provider's user without a role
        if user == "customer_admin":
            return {403}
        return {302} if user in ("no_role", Role.GLOBAL_ADMIN.value) else {404}
    granted = user in {r.value for r in roles_with(policy)}
    return {200, 302} if granted else {403}


@pytest.fixture(scope="module")
def world_of_module(django_db_setup, django_db_blocker):
    """The world built once for the module's 1,700 requests, rolled back at its end (each
    test's own writes are rolled back to it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(world_of_module, db):
    return world_of_module


def _build_world():
    subscription = factories.SubscriptionFactory()
    provider, customer = subscription.provider, subscription.customer
    # The provider's own relationship: the one its staff (and the customer's admin) may end.
    relationship = factories.CustomerRelationshipFactory(partner=provider, customer=customer)
    reseller = factories.ResellerPartnershipFactory(provider=provider).reseller
    factories.CustomerRelationshipFactory(customer=customer, partner=reseller)
    change = support_contact_assign(
        subscription=subscription, contact=reseller, by=None, expected_version=1
    )
    asking = factories.ResellerFactory()
    partnership = factories.ResellerPartnershipFactory(
        provider=provider, reseller=asking, state="requested"
    )
    invitation = factories.RelationshipRequestFactory(
        partner=asking, requested_through=provider, customer=customer
    )
    users = {}
    for side, partner in (("provider", provider), ("reseller", asking)):
        for role in Role:
            users[side, role.value] = factories.StaffUserFactory(partner=partner, roles=[role])
        users[side, "no_role"] = factories.StaffUserFactory(partner=partner)
    delivery = factories.DeliveryFactory(endpoint__partner=provider)
    admin = factories.CustomerAdminFactory(customer=customer)
    users["provider", "customer_admin"] = users["reseller", "customer_admin"] = admin
    kwargs = {
        "user_id": users["provider", "no_role"].pk,
        "customer_id": customer.pk,
        "subscription_id": subscription.pk,
        "change_id": change.pk,
        "relationship_id": relationship.pk,
        "request_id": invitation.pk,
        "partnership_id": partnership.pk,
        "uidb64": "sample",
        "token": invitation.token,
        "token_id": api_token_issue(user=users["provider", "no_role"], name="Sync")[0].pk,
        "link": "sample-link",
        "endpoint_id": delivery.endpoint_id,
        "delivery_id": delivery.pk,
        "operation_id": bulk.bulk_preview_create(
            by=users["provider", Role.ADMIN_AGENT.value],
            subscriptions=Q(pk=subscription.pk),
            contact=provider,
            criteria={},
        ).pk,
    }
    return users, kwargs


def _url(route, kwargs):
    return reverse(route.name, kwargs={k: kwargs[k] for k in route.params})


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("user", USERS)
def test_role_url_method(client, world, user, route, method):
    users, kwargs = world
    if user != "anonymous":
        side = "reseller" if route.name in RESELLER_SIDE else "provider"
        client.force_login(users[side, user])
    response = client.generic(method, _url(route, kwargs))
    policy = EXPECTED_POLICIES[route.name].get(method)
    public = route.view.access_policy == PUBLIC
    if policy is None:
        expected = {302} if user == "anonymous" and not public else {405}
    else:
        expected = _expected_status(user, policy)
    assert response.status_code in expected, (user, route.name, method, response.status_code)
    if user == "anonymous" and response.status_code == 302 and not public:
        assert response.url.startswith("/accounts/login/")
