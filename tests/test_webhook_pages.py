"""The webhook pages and the support profile's notification settings, as people use them: a
global admin registers an endpoint and sees its secret once, changes it, rolls its secret,
sends a test event, re-sends a delivery; nobody reaches another partner's endpoints."""

import json
import socket

import pytest
from django.urls import reverse

from events.models import Event, EventType
from notifications.models import Delivery, WebhookEndpoint
from notifications.tasks import drain_soon
from partnercenter.models import Partner, User
from partnercenter.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db

LIST = reverse("notifications:webhook_list")
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "deliveries-section"}
# What the fake resolver below answers: one public host, one that resolves to a private address.
PUBLIC_HOST, PRIVATE_HOST = "hooks.psa.example", "intranet.psa.example"
ADDRESSES = {PUBLIC_HOST: "93.184.215.14", PRIVATE_HOST: "10.1.2.3"}


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


@pytest.fixture(autouse=True)
def resolver(monkeypatch, settings):
    """DNS as the tests say, so that no lookup leaves the machine; production's SSRF rules."""
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in ADDRESSES:
            return real(ADDRESSES[host], port, *args, **kwargs)
        if host.endswith(".example"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr("notifications.destinations.socket.getaddrinfo", getaddrinfo)


@pytest.fixture
def admin(client, demo_user):
    """Contoso's global admin, signed in."""
    client.force_login(demo_user("globaladmin"))
    return demo_user("globaladmin")


def contoso() -> Partner:
    return Partner.objects.get(name="Contoso Distribution")


def endpoint_of(partner: Partner, **fields) -> WebhookEndpoint:
    fields.setdefault("url", f"https://{PUBLIC_HOST}/partnercenter")
    return factories.WebhookEndpointFactory(partner=partner, **fields)


def failed_delivery(endpoint: WebhookEndpoint) -> Delivery:
    return factories.DeliveryFactory(endpoint=endpoint)


def detail(endpoint, suffix="") -> str:
    return reverse("notifications:webhook_detail", args=[endpoint.pk]) + suffix


def register(client, **overrides):
    data = {
        "url": f"https://{PUBLIC_HOST}/partnercenter",
        "description": "PSA tickets",
        "event_types": [EventType.SUPPORT_CONTACT_CHANGED, EventType.RELATIONSHIP_ENDED],
        **overrides,
    }
    return client.post(LIST, data)


# Who gets in ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "status"),
    [(None, 302), ("adminagent", 403), ("usermgmtadmin", 403), ("globaladmin", 200)],
)
def test_only_a_global_admin_opens_the_webhook_pages(client, demo_user, username, status):
    endpoint = endpoint_of(contoso())
    if username:
        client.force_login(demo_user(username))
    for url in (LIST, detail(endpoint)):
        response = client.get(url)
        assert response.status_code == status, (username, url)
        if status == 302:
            assert response.url.startswith(reverse("partnercenter:login"))
    if username != "globaladmin":  # nor do their writes get through
        secret = endpoint.secret
        for url in (
            LIST,
            detail(endpoint),
            detail(endpoint, "test/"),
            detail(endpoint, "roll-secret/"),
        ):
            assert client.post(url).status_code == status, (username, url)
        assert not Event.objects.filter(type=EventType.TEST).exists()
        assert WebhookEndpoint.objects.get().secret == secret


def test_the_navigation_offers_webhooks_to_global_admins_only(client, demo_user):
    client.force_login(demo_user("globaladmin"))
    assert f'href="{LIST}"' in client.get(reverse("partnercenter:my_access")).content.decode()
    client.force_login(demo_user("adminagent"))
    assert f'href="{LIST}"' not in client.get(reverse("partnercenter:my_access")).content.decode()


def test_my_access_shows_the_capability(client, admin):
    page = client.get(reverse("partnercenter:my_access")).content.decode()
    assert "Register webhook endpoints and see their deliveries" in page


# Registering ---------------------------------------------------------------------------------


def test_a_new_endpoints_secret_is_shown_once_and_only_once(client, admin):
    response = register(client)
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(partner=contoso())
    assert endpoint.url == f"https://{PUBLIC_HOST}/partnercenter"
    assert endpoint.description == "PSA tickets"
    assert endpoint.event_types == [EventType.SUPPORT_CONTACT_CHANGED, EventType.RELATIONSHIP_ENDED]
    assert endpoint.created_by == admin
    assert endpoint.secret.startswith("whsec_")
    page = response.content.decode()
    assert endpoint.secret in page
    assert "shown only this once" in page
    assert "Partnercenter-Signature: t=" in page  # how to verify it
    assert "no-store" in response["Cache-Control"]
    # Never again: not on the list, not on the endpoint's page (only its first characters).
    assert endpoint.secret not in client.get(LIST).content.decode()
    again = client.get(detail(endpoint)).content.decode()
    assert endpoint.secret not in again
    assert endpoint.secret[:10] + "…" in again


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://127.0.0.1/hook", "resolves to a private, loopback or link-local address"),
        ("https://[::1]:8443/hook", "resolves to a private, loopback or link-local address"),
        (f"https://{PRIVATE_HOST}/hook", "resolves to a private, loopback or link-local address"),
        ("https://169.254.169.254/latest/meta-data/", "private, loopback or link-local"),
        (f"http://{PUBLIC_HOST}/hook", "A webhook URL must start with https://."),
        ("https://nowhere.example/hook", "The host nowhere.example could not be found."),
        ("https://user:pw@hooks.psa.example/", "needs a host name and no user name"),
        ("", "Enter the https:// address that receives the events."),
    ],
)
def test_a_url_that_may_not_receive_webhooks_is_refused_with_the_reason(
    client, admin, url, message
):
    response = register(client, url=url)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["url"]
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_private_addresses_are_allowed_when_the_setting_says_so(client, admin, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    register(client, url="http://127.0.0.1:8031/hook")
    assert WebhookEndpoint.objects.get().url == "http://127.0.0.1:8031/hook"


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "Choose at least one event."),
        (["webhook.test"], "Choose events from the list."),
        (["customer.deleted"], "Choose events from the list."),
    ],
)
def test_events_must_be_chosen_from_the_list(client, admin, events, message):
    response = register(client, event_types=events)
    assert list(response.context["form"].errors) == ["event_types"]
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_list_shows_the_partners_endpoints(client, admin):
    endpoint_of(contoso(), description="PSA tickets")
    endpoint_of(contoso(), url=f"https://{PUBLIC_HOST}/off", active=False)
    page = client.get(LIST).content.decode()
    assert f"https://{PUBLIC_HOST}/partnercenter" in page
    assert "PSA tickets" in page
    assert "Designated support contact changed" in page
    assert "Inactive" in page


# One endpoint --------------------------------------------------------------------------------


def test_an_endpoint_is_changed_and_the_page_says_so(client, admin):
    endpoint = endpoint_of(contoso())
    response = client.post(
        detail(endpoint),
        {"description": "Ticketing", "event_types": [EventType.PARTNERSHIP_ENDED]},
    )
    assert response.status_code == 302
    assert response.url == detail(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.description == "Ticketing"
    assert endpoint.event_types == [EventType.PARTNERSHIP_ENDED]
    assert endpoint.active is False  # unticked
    assert "The endpoint was saved." in client.get(response.url).content.decode()


def test_a_change_without_events_is_refused_and_changes_nothing(client, admin):
    endpoint = endpoint_of(contoso(), description="As it was")
    before = WebhookEndpoint.objects.values().get(pk=endpoint.pk)
    response = client.post(detail(endpoint), {"description": "New", "active": "on"})
    assert response.status_code == 200
    assert "Choose at least one event." in response.content.decode()
    assert WebhookEndpoint.objects.values().get(pk=endpoint.pk) == before


def test_rolling_the_secret_shows_the_new_one_once(client, admin):
    endpoint = endpoint_of(contoso())
    old = endpoint.secret
    response = client.post(detail(endpoint, "roll-secret/"))
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    page = response.content.decode()
    assert endpoint.secret in page
    assert old not in page
    assert "The previous secret no longer works" in page
    assert endpoint.secret not in client.get(detail(endpoint)).content.decode()


def test_a_test_event_is_recorded_for_the_endpoint(
    client, admin, django_capture_on_commit_callbacks
):
    endpoint = endpoint_of(contoso())
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(detail(endpoint, "test/"))
    assert response.status_code == 302
    assert response.url == detail(endpoint)
    event = Event.objects.get(type=EventType.TEST)
    assert event.data == {"endpoint": endpoint.pk}
    assert any(getattr(c, "__name__", "") == "drain_soon" for c in callbacks)
    assert "A test event is on its way" in client.get(response.url).content.decode()


def test_a_test_event_with_htmx_answers_with_the_deliveries(client, admin):
    endpoint = endpoint_of(contoso())
    response = client.post(detail(endpoint, "test/"), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<section class="card" id="deliveries-section"')
    assert "A test event is on its way" in page
    assert Event.objects.filter(type=EventType.TEST).count() == 1


def test_an_inactive_endpoint_gets_no_test_event(client, admin):
    endpoint = endpoint_of(contoso(), active=False)
    response = client.post(detail(endpoint, "test/"), follow=True)
    assert "The endpoint is inactive: activate it to send it a test event." in (
        response.content.decode()
    )
    assert not Event.objects.filter(type=EventType.TEST).exists()


def test_the_deliveries_are_listed_newest_first_with_what_happened(client, admin):
    endpoint = endpoint_of(contoso())
    failed = failed_delivery(endpoint)
    newer = factories.DeliveryFactory(
        event=failed.event,
        endpoint=endpoint,
        state=Delivery.State.SUCCEEDED,
        attempts=1,
        status_code=204,
        error="",
    )
    response = client.get(detail(endpoint))
    assert [d.pk for d in response.context["deliveries"]] == [newer.pk, failed.pk]
    page = response.content.decode()
    assert str(failed.event.uuid) in page
    assert "HTTP 503" in page
    assert "Failed" in page
    assert "Delivered" in page


def test_the_deliveries_are_paged(client, admin):
    endpoint = endpoint_of(contoso())
    first = failed_delivery(endpoint)
    factories.DeliveryFactory.create_batch(30, event=first.event, endpoint=endpoint)
    page = client.get(detail(endpoint)).context["deliveries"]
    assert len(page) == 25
    assert page.has_next
    rest = client.get(detail(endpoint), {"after": page.next_token}).context["deliveries"]
    assert len(rest) == 6
    assert rest.object_list[-1].pk == first.pk
    forged = client.get(detail(endpoint), {"after": "garbled"}).content.decode()
    assert "This page link is not valid here" in forged


def test_resending_makes_a_second_delivery_and_keeps_the_first(
    client, admin, django_capture_on_commit_callbacks
):
    endpoint = endpoint_of(contoso())
    first = failed_delivery(endpoint)
    before = Delivery.objects.values().get(pk=first.pk)
    url = reverse("notifications:delivery_resend", args=[endpoint.pk, first.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url)
    assert response.status_code == 302
    assert response.url == detail(endpoint)
    assert drain_soon in callbacks
    assert Delivery.objects.values().get(pk=first.pk) == before  # nothing lost
    again = Delivery.objects.exclude(pk=first.pk).get()
    assert (again.event_id, again.channel, again.endpoint_id, again.partner_id, again.body) == (
        first.event_id,
        first.channel,
        first.endpoint_id,
        first.partner_id,
        first.body,
    )
    assert again.state == Delivery.State.PENDING
    assert again.attempts == 0
    assert again.next_attempt_at == again.created_at > first.created_at  # due now
    assert json.loads(again.body)["id"] == str(first.event.uuid)  # the same event id
    assert "is sent again" in client.get(response.url).content.decode()


def test_resending_with_htmx_shows_the_new_delivery_on_top(client, admin):
    endpoint = endpoint_of(contoso())
    first = failed_delivery(endpoint)
    url = reverse("notifications:delivery_resend", args=[endpoint.pk, first.pk])
    response = client.post(url, **HTMX)
    assert response.status_code == 200
    again = Delivery.objects.exclude(pk=first.pk).get()
    page = response.content.decode()
    assert page.index(f"/deliveries/{again.pk}/resend/") < page.index(
        f"/deliveries/{first.pk}/resend/"
    )
    assert "is sent again" in page


def test_a_delivery_to_an_inactive_endpoint_is_not_resent(client, admin):
    endpoint = endpoint_of(contoso())
    first = failed_delivery(endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    url = reverse("notifications:delivery_resend", args=[endpoint.pk, first.pk])
    page = client.post(url, follow=True).content.decode()
    assert "The endpoint is inactive: activate it to re-send a delivery." in page
    assert Delivery.objects.count() == 1


# Another partner's ---------------------------------------------------------------------------


@pytest.mark.parametrize("other", ["Proseware Distribution", "Fabrikam Solutions"])
def test_another_partners_endpoint_and_deliveries_are_not_found(client, admin, other):
    theirs = endpoint_of(Partner.objects.get(name=other))
    delivery = failed_delivery(theirs)
    mine = endpoint_of(contoso(), url=f"https://{PUBLIC_HOST}/mine")
    endpoints, deliveries = (
        list(WebhookEndpoint.objects.values().order_by("pk")),
        list(Delivery.objects.values().order_by("pk")),
    )
    assert theirs.url not in client.get(LIST).content.decode()
    assert client.get(detail(theirs)).status_code == 404
    for url, data in (
        (detail(theirs), {"description": "Mine now", "event_types": ["webhook.test"]}),
        (detail(theirs, "roll-secret/"), {}),
        (detail(theirs, "test/"), {}),
        (reverse("notifications:delivery_resend", args=[theirs.pk, delivery.pk]), {}),
        # Their delivery under my endpoint: not found either.
        (reverse("notifications:delivery_resend", args=[mine.pk, delivery.pk]), {}),
    ):
        assert client.post(url, data).status_code == 404, url
        assert client.post(url, data, **HTMX).status_code == 404, url
    assert list(WebhookEndpoint.objects.values().order_by("pk")) == endpoints
    assert list(Delivery.objects.values().order_by("pk")) == deliveries
    assert not Event.objects.filter(type=EventType.TEST).exists()


def test_the_policy_gives_each_partner_its_own_endpoints_and_their_deliveries(demo_user):
    """The pages find a delivery under an endpoint already found through the policy; the
    delivery's own scope is asked here, allowed and denied side by side."""
    mine = failed_delivery(endpoint_of(contoso()))
    theirs = failed_delivery(endpoint_of(Partner.objects.get(name="Proseware Distribution")))
    email = factories.DeliveryFactory(
        endpoint=None, partner=contoso(), channel="email", address="alerts@contoso.example"
    )
    admin, agent = demo_user("globaladmin"), demo_user("adminagent")
    prosewares = factories.StaffUserFactory(partner=theirs.partner, roles=[Role.GLOBAL_ADMIN])
    for action in ("view", "resend"):
        assert list(Delivery.objects.restrict(admin, action)) == [mine]
        assert list(Delivery.objects.restrict(prosewares, action)) == [theirs]
        assert not Delivery.objects.restrict(agent, action).exists()
    for action in ("view", "edit"):
        assert list(WebhookEndpoint.objects.restrict(admin, action)) == [mine.endpoint]
        assert list(WebhookEndpoint.objects.restrict(prosewares, action)) == [theirs.endpoint]
        assert not WebhookEndpoint.objects.restrict(agent, action).exists()
    assert email not in Delivery.objects.restrict(admin, "view")


def test_a_resellers_global_admin_manages_the_resellers_endpoints_only(client):
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    reseller_admin = factories.StaffUserFactory(partner=fabrikam, roles=[Role.GLOBAL_ADMIN])
    theirs = endpoint_of(fabrikam, url=f"https://{PUBLIC_HOST}/fabrikam")
    contosos = endpoint_of(contoso(), url=f"https://{PUBLIC_HOST}/contoso")
    client.force_login(reseller_admin)
    page = client.get(LIST).content.decode()
    assert theirs.url in page
    assert contosos.url not in page
    assert client.get(detail(theirs)).status_code == 200
    assert client.get(detail(contosos)).status_code == 404
    register(client, url=f"https://{PUBLIC_HOST}/second")
    assert WebhookEndpoint.objects.filter(partner=fabrikam).count() == 2


def test_a_partner_has_at_most_twenty_endpoints(client, admin):
    for i in range(20):
        endpoint_of(contoso(), url=f"https://{PUBLIC_HOST}/{i}")
    response = register(client)
    assert "the most it may have" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 20


# The support profile's notifications ---------------------------------------------------------

PROFILE = {
    "support_email": "support@contoso-distribution.example",
    "support_phone": "+1 425 555 0100",
    "support_website": "https://support.contoso-distribution.example",
    "support_hours": "Mon–Fri",
}


def save_profile(client, **notifications):
    data = {**PROFILE, "notification_language": "en", **notifications}
    return client.post(reverse("partnercenter:support_profile_update"), data)


def test_the_notification_settings_are_saved(client, demo_user):
    client.force_login(demo_user("adminagent"))
    response = save_profile(
        client,
        notification_email="alerts@contoso-distribution.example",
        notification_language="de",
        notification_topics=["relationships", "partnerships"],
    )
    assert response.status_code == 302
    partner = contoso()
    assert partner.notification_email == "alerts@contoso-distribution.example"
    assert partner.notification_language == "de"
    assert partner.notification_topics == ["relationships", "partnerships"]
    page = client.get(response.url).content.decode()
    assert 'value="alerts@contoso-distribution.example"' in page
    assert '<option value="de" selected>' in page


def test_an_empty_notification_email_says_the_support_email_is_used(client, demo_user):
    client.force_login(demo_user("adminagent"))
    save_profile(client, notification_email="", notification_topics=["relationships"])
    partner = contoso()
    assert partner.notification_email == ""
    assert partner.notification_address == "support@contoso-distribution.example"
    page = client.get(reverse("partnercenter:support_profile")).content.decode()
    assert "Empty: notifications go to the support email, support@contoso-distribution.example" in (
        page
    )


def test_a_provider_is_offered_only_the_topics_that_concern_providers(client, demo_user):
    client.force_login(demo_user("adminagent"))
    page = client.get(reverse("partnercenter:support_profile")).content.decode()
    assert 'value="relationships"' in page
    assert 'value="partnerships"' in page
    assert 'value="contact_gained"' not in page
    assert 'value="contact_lost"' not in page
    before = Partner.objects.values().get(pk=contoso().pk)
    response = save_profile(client, notification_topics=["contact_gained"])
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["notification_topics"]
    assert "Choose notification topics from the list." in response.content.decode()
    assert Partner.objects.values().get(pk=contoso().pk) == before


def test_a_reseller_chooses_the_contact_topics(client, demo_user):
    client.force_login(demo_user("fabrikam"))
    page = client.get(reverse("partnercenter:support_profile")).content.decode()
    assert 'value="contact_gained"' in page
    assert 'value="contact_lost"' in page
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    response = client.post(
        reverse("partnercenter:support_profile_update"),
        {
            "support_email": fabrikam.support_email,
            "notification_language": "nl",
            "notification_topics": ["contact_lost", "contact_gained"],
        },
    )
    assert response.status_code == 302
    fabrikam.refresh_from_db()
    assert fabrikam.notification_topics == ["contact_gained", "contact_lost"]
    assert fabrikam.notification_language == "nl"
    assert fabrikam.wants("contact_gained")
    assert not fabrikam.wants("relationships")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("notification_email", "alerts-at-contoso", "Enter a valid email address."),
        ("notification_language", "xx", "Choose a language from the list."),
        ("notification_language", "", "This field is required."),
        ("notification_topics", "everything", "Choose notification topics from the list."),
    ],
)
def test_bad_notification_settings_are_refused_and_change_nothing(
    client, demo_user, field, value, message
):
    client.force_login(demo_user("globaladmin"))
    before = Partner.objects.values().get(pk=contoso().pk)
    response = save_profile(client, **{field: value})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert message in response.content.decode()
    assert Partner.objects.values().get(pk=contoso().pk) == before


def test_who_may_only_view_the_profile_sees_the_notification_settings_read_only(client, demo_user):
    Partner.objects.filter(pk=contoso().pk).update(
        notification_language="hu", notification_topics=["relationships"]
    )
    client.force_login(demo_user("usermgmtadmin"))
    page = client.get(reverse("partnercenter:support_profile")).content.decode()
    assert "The support email, support@contoso-distribution.example" in page
    assert "Hungarian" in page
    assert "Customer relationships: requested, accepted, declined, DAP removed, ended" in page
    assert 'name="notification_topics"' not in page
    assert save_profile(client, notification_language="de").status_code == 403
    assert User.objects.get(username="usermgmtadmin").partner.notification_language == "hu"
