"""The pages of the demo world as each kind of user opens them, for the browser-wide gates
(accessibility, phone widths): every product route a GET serves, bound to objects of that
user's world, kept where it answers an HTML page (200)."""

from django.db.models import Q
from django.test import Client
from django.urls import reverse

from customers import bulk
from customers.models import BulkOperation, Customer, Subscription, SupportContactChange
from customers.services import support_contact_assign
from notifications.models import WebhookEndpoint
from partnercenter.models import Partner, User
from partnercenter.policy import Action
from relationships.models import CustomerRelationship, RelationshipRequest, ResellerPartnership
from relationships.services import relationship_request_create
from tests import factories
from tests.test_access_matrix import EXPECTED_POLICIES
from tests.urlwalk import product_routes

# GET routes that are not pages of their own, and why.
NOT_PAGES = {
    "partnercenter:home": "sends each user on to their start page",
    "relationships:relationship_request_link": "makes the request, then sends the admin to it",
    "customers:history_export": "a CSV file",
    "customers:supported_subscriptions_export": "a CSV file",
    "partnercenter:two_step_qr": "an image",
    "partnercenter:healthz": "JSON for load balancers",
    "partnercenter:readyz": "JSON for load balancers",
    "partnercenter:two_step_verify": "only while signing in with two-step verification on, "
    "which no demo user has",
}
# Every page: the gates hold themselves to having been shown each of them.
PAGES = {name for name, methods in EXPECTED_POLICIES.items() if "GET" in methods} - set(NOT_PAGES)

# One user of each kind; the global admin holds every capability of the provider's staff.
USERS = {
    "provider": "globaladmin",
    "reseller": "fabrikam",
    "customer_admin": "adatumadmin",
    "signed_out": None,
}
CANDIDATES = 5  # objects tried per route, the first that answers a page wins


def _candidates(user, param: str) -> list[dict]:
    """Path arguments for `param`, with the parents it hangs under."""

    def visible(model):
        objects = model.objects.restrict(user, Action.VIEW) if user else model.objects.none()
        return list(objects.order_by("pk")[:CANDIDATES])

    if param == "change_id":
        return [
            {
                "change_id": c.pk,
                "subscription_id": c.subscription_id,
                "customer_id": c.subscription.customer_id,
            }
            for c in visible(SupportContactChange)
        ]
    if param == "subscription_id":
        return [
            {"subscription_id": s.pk, "customer_id": s.customer_id} for s in visible(Subscription)
        ]
    if param == "relationship_id":
        mine = CustomerRelationship.objects.filter(
            customer_id=user.customer_id if user and user.customer_id else None
        ) or visible(CustomerRelationship)
        return [{"relationship_id": r.pk, "customer_id": r.customer_id} for r in mine]
    if param == "request_id":
        return [
            {"request_id": r.pk, "customer_id": r.customer_id} for r in visible(RelationshipRequest)
        ]
    if param == "partnership_id":
        return [{"partnership_id": p.pk} for p in visible(ResellerPartnership)]
    if param == "customer_id":
        return [{"customer_id": c.pk} for c in visible(Customer)]
    if param == "operation_id":
        return [{"operation_id": o.pk} for o in visible(BulkOperation)]
    if param == "endpoint_id":
        return [{"endpoint_id": e.pk} for e in visible(WebhookEndpoint)]
    if param == "user_id":  # the users a user manages (none but admins may see any)
        managed = User.objects.restrict(user, Action.MANAGE) if user else User.objects.none()
        return [{"user_id": u.pk} for u in managed.order_by("pk")[:CANDIDATES]]
    return []


_LEADING = ("change_id", "subscription_id", "relationship_id", "request_id", "partnership_id")


def pages_of(username: str | None) -> list[str]:
    """The HTML pages `username` (None: signed out) opens in the demo world."""
    user = User.objects.get(username=username) if username else None
    client = Client()
    if user:
        client.force_login(user)
    pages = []
    for route in product_routes():
        params = set(route.params)
        leading = next((p for p in (*_LEADING, *sorted(params)) if p in params), None)
        bindings = _candidates(user, leading) if leading else [{}]
        for values in bindings:
            if not params <= set(values):
                continue
            url = route.url(**values)
            response = client.get(url)
            if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
                pages.append(url)
                break
    return pages


def world_in_use() -> dict[str, list[str]]:
    """The demo world, plus what its tables show once in use: a change of a designated support
    contact and a pending relationship request. Answers the pages no link leads to, per user."""
    globaladmin = User.objects.get(username="globaladmin")
    adatum = Customer.objects.get(domain="adatum.example")
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    contoso = Partner.objects.get(name="Contoso Distribution")
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    change = support_contact_assign(
        subscription=premium,
        contact=fabrikam,
        by=globaladmin,
        expected_version=premium.version,
    )
    request = relationship_request_create(
        customer=adatum,
        partner=Partner.objects.get(name="Northwind Traders IT"),
        include_delegated_admin=True,
        by=globaladmin,
    )
    # A bulk change done (its summary, with Undo) and one previewed (its review).
    done = bulk.bulk_preview_create(
        by=globaladmin, subscriptions=Q(customer=adatum), contact=contoso, criteria={}
    )
    bulk.bulk_operation_submit(operation_id=done.pk, by=globaladmin)
    previewed = bulk.bulk_preview_create(
        by=globaladmin, subscriptions=Q(customer=adatum), contact=fabrikam, criteria={}
    )
    # A webhook endpoint with a failed delivery (its error shown) and a delivered one.
    endpoint = factories.WebhookEndpointFactory(
        partner=contoso, url="https://93.184.215.14/partnercenter/events", created_by=globaladmin
    )
    factories.DeliveryFactory(endpoint=endpoint, error="ConnectTimeoutError: timed out after 5 s")
    factories.DeliveryFactory(endpoint=endpoint, state="succeeded", status_code=204, error="")
    not_found = "/no-such-page/"
    return {
        "provider": [
            reverse("customers:bulk_operation", args=[done.pk]),
            reverse("customers:bulk_operation", args=[previewed.pk]),
            reverse("customers:support_contact_change", args=[adatum.pk, premium.pk, change.pk]),
            reverse("dashboard:support_contacts"),
            reverse("notifications:webhook_detail", args=[endpoint.pk]),
            reverse("relationships:invitation", args=[request.token]),  # the customer's link
            not_found,
        ],
        "reseller": [reverse("partnercenter:user_list")],  # not theirs: 403
        "customer_admin": [reverse("customers:customer_list")],
        "signed_out": [
            reverse("partnercenter:password_set", args=["MQ", "no-such-token"]),
            reverse("partnercenter:password_set_done"),
            not_found,
        ],
    }
