"""The customer's Support page: a card per partner that supports it, with its subscriptions."""

import html
import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Subscription
from tests import factories

pytestmark = pytest.mark.django_db

SUPPORT_PAGE = reverse("customers:customer_support")

CARD = re.compile(
    r'<section class="card support-card" aria-labelledby="(?P<id>[^"]+)">(?P<body>.*?)</section>',
    re.S,
)
ROW = re.compile(r"<tr>\s*<th scope=\"row\">(?P<offer>.*?)</th>(?P<cells>.*?)</tr>", re.S)
CELL = re.compile(r'<td[^>]* data-label="(?P<label>[^"]+)">(?P<value>.*?)</td>', re.S)


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def cards(page: str) -> list[dict]:
    """Each card of the page: its heading, count line, support email and subscription rows."""
    found = []
    for card in CARD.finditer(page):
        body = card["body"]
        heading = re.search(rf'<h2 id="{card["id"]}">(.*?)</h2>', body)
        assert heading, f"the card's aria-labelledby names no heading of its own: {card['id']}"
        email = re.search(r'href="mailto:([^"]+)"', body)
        found.append(
            {
                "partner": text(heading[1]),
                "covers": text(
                    re.search(r'<p class="support-covers[^"]*"[^>]*>(.*?)</p>', body)[1]
                ),
                "email": email and email[1],
                "rows": [
                    (
                        text(row["offer"]),
                        {
                            cell["label"]: text(cell["value"])
                            for cell in CELL.finditer(row["cells"])
                        },
                    )
                    for row in ROW.finditer(body)
                ],
            }
        )
    return found


def support_page(client, customer) -> str:
    client.force_login(factories.CustomerAdminFactory(customer=customer))
    response = client.get(SUPPORT_PAGE)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def world():
    """A customer buying through two providers, supported by the first one, by two of its
    resellers, and (for one subscription of the second provider) by one of those resellers."""
    litware = factories.ProviderFactory(name="Litware Distribution")
    proseware = factories.ProviderFactory(name="Proseware Distribution")
    alpine = factories.ResellerFactory(name="Alpine IT Services")
    bellows = factories.ResellerFactory(name="bellows support")  # sorted regardless of case
    customer = factories.CustomerFactory(name="Adatum Test")

    def subscription(offer, provider=litware, contact=None, **fields):
        return factories.SubscriptionFactory(
            customer=customer,
            offer_name=offer,
            provider=provider,
            support_contact=contact,
            **fields,
        )

    subscription("Microsoft 365 E3", contact=alpine, nickname="Head office", quantity=40)
    subscription("Exchange Online Plan 1", contact=alpine, quantity=5)
    subscription("Dynamics 365 Business Central", provider=proseware, contact=alpine, quantity=3)
    subscription("Teams Essentials", contact=bellows, status=Subscription.Status.SUSPENDED)
    subscription("Office 365 E1")  # a new subscription: its provider is the contact
    subscription(
        "Microsoft 365 Business Basic", commerce_type=Subscription.CommerceType.NEW_COMMERCE
    )
    return SimpleNamespace(
        customer=customer, litware=litware, proseware=proseware, alpine=alpine, bellows=bellows
    )


def test_each_partner_supporting_the_customer_has_one_card_with_exactly_its_subscriptions(
    client, world
):
    shown = cards(support_page(client, world.customer))

    assert [card["partner"] for card in shown] == [
        "Alpine IT Services",
        "bellows support",
        "Litware Distribution",
    ]
    assert [card["email"] for card in shown] == [
        world.alpine.support_email,
        world.bellows.support_email,
        world.litware.support_email,
    ]
    assert [card["covers"] for card in shown] == [
        "Covers 3 subscriptions",
        "Covers 1 subscription",
        "Covers 2 subscriptions",
    ]
    alpine_card, bellows_card, litware_card = (card["rows"] for card in shown)
    assert alpine_card == [
        (
            "Dynamics 365 Business Central",
            {
                "Nickname": "—",
                "Quantity": "3",
                "Billed through": "Proseware Distribution",
                "Status": "Active",
            },
        ),
        (
            "Exchange Online Plan 1",
            {
                "Nickname": "—",
                "Quantity": "5",
                "Billed through": "Litware Distribution",
                "Status": "Active",
            },
        ),
        (
            "Microsoft 365 E3",
            {
                "Nickname": "Head office",
                "Quantity": "40",
                "Billed through": "Litware Distribution",
                "Status": "Active",
            },
        ),
    ]
    assert [(offer, cells["Status"]) for offer, cells in bellows_card] == [
        ("Teams Essentials", "Suspended")
    ]
    # A new commerce subscription has no designated contact: its provider supports it.
    assert [offer for offer, _ in litware_card] == [
        "Microsoft 365 Business Basic",
        "Office 365 E1",
    ]


def test_a_subscription_without_a_contact_appears_under_its_provider(client, world):
    unset = factories.SubscriptionFactory(
        customer=world.customer, provider=world.proseware, offer_name="Power BI Pro"
    )
    Subscription.objects.filter(pk=unset.pk).update(support_contact=None)

    shown = {card["partner"]: card for card in cards(support_page(client, world.customer))}

    assert list(shown) == [
        "Alpine IT Services",
        "bellows support",
        "Litware Distribution",
        "Proseware Distribution",
    ]
    assert shown["Proseware Distribution"]["email"] == world.proseware.support_email
    assert shown["Proseware Distribution"]["rows"] == [
        (
            "Power BI Pro",
            {
                "Nickname": "—",
                "Quantity": "10",
                "Billed through": "Proseware Distribution",
                "Status": "Active",
            },
        )
    ]
    assert shown["Proseware Distribution"]["covers"] == "Covers 1 subscription"


def test_another_customers_subscriptions_never_appear(client, world):
    stranger = factories.CustomerFactory(name="Someone Else")
    their_reseller = factories.ResellerFactory(name="Their Own Reseller")
    for offer, contact in (("Their Plan", their_reseller), ("Their Other Plan", world.alpine)):
        factories.SubscriptionFactory(
            customer=stranger, provider=world.litware, offer_name=offer, support_contact=contact
        )
    factories.SubscriptionFactory(
        customer=stranger, provider=world.litware, offer_name="Their Third"
    )

    page = support_page(client, world.customer)

    assert "Their" not in page
    assert their_reseller.support_email not in page
    shown = {card["partner"]: [offer for offer, _ in card["rows"]] for card in cards(page)}
    assert shown == {
        "Alpine IT Services": [
            "Dynamics 365 Business Central",
            "Exchange Online Plan 1",
            "Microsoft 365 E3",
        ],
        "bellows support": ["Teams Essentials"],
        "Litware Distribution": ["Microsoft 365 Business Basic", "Office 365 E1"],
    }


def test_a_customer_without_subscriptions_is_told_so(client):
    page = support_page(client, factories.CustomerFactory())
    assert cards(page) == []
    assert "Your organisation has no subscriptions yet." in page


def test_the_query_count_does_not_grow_with_subscriptions_or_partners(client, world):
    client.force_login(factories.CustomerAdminFactory(customer=world.customer))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(SUPPORT_PAGE).status_code == 200
        return len(captured)

    small = queries()
    for i in range(30):
        factories.SubscriptionFactory(
            customer=world.customer,
            provider=(world.litware, world.proseware)[i % 2],
            offer_name=f"Offer {i:02}",
            support_contact=factories.ResellerFactory() if i % 3 else None,
        )
    large = queries()

    assert len(cards(client.get(SUPPORT_PAGE).content.decode())) == 3 + 1 + 20
    assert small == large
