"""Webhooks as a receiver sees them: a real HTTP/1.1 server on 127.0.0.1 (tests/webhook_receiver.py)
gets each event's signed JSON from the outbox's drain, run here as a worker runs it.

What is proven: the envelope and the API's shapes; the signature, checked by a receiver's own
implementation written here from the documented scheme; who receives what (subscribed, active,
each partner only its own world); the retry schedule with the clock moved (30 s doubling to an
hour, failed past 24 hours), timeouts and redirects as failures, one failing endpoint delaying
no other; and the guard against request forgery.
"""

import hashlib
import hmac
import json
import re
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from api import representations
from customers.models import Subscription
from customers.services import support_contact_assign
from customers.workflows import reseller_partnership_remove
from events.models import Event, EventType
from events.services import event_record
from notifications import delivery as delivery_module
from notifications.delivery import outbox_drain
from notifications.destinations import RefusedDestination, destination
from notifications.models import Delivery, WebhookEndpoint, new_secret
from relationships.models import CustomerRelationship, ResellerPartnership
from tests import factories
from tests.webhook_receiver import SIGNATURE_HEADER, Receiver

pytestmark = pytest.mark.django_db

HOUR = 3600
REPLAY_WINDOW = 300  # seconds: how old a signature the reference receiver accepts


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """Seeded once for the module; each test's writes are rolled back."""


@pytest.fixture(autouse=True)
def _receivers_on_this_machine(settings):
    """The receiver listens on 127.0.0.1 over plain http: allowed for development and tests."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


class Clock:
    """`django.utils.timezone.now` (what delivery.py reads) moved forward by `offset`; real
    time keeps flowing underneath, so every reading is later than the one before."""

    def __init__(self, real_now):
        self._real_now = real_now
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self._real_now() + self.offset

    def move_to(self, moment: datetime) -> None:
        """From now on, the clock reads `moment` or a little later."""
        self.offset = moment - self._real_now()


@pytest.fixture
def clock(monkeypatch):
    moved = Clock(timezone.now)
    monkeypatch.setattr("django.utils.timezone.now", moved.now)
    return moved


def drain() -> None:
    """What a worker's drain_outbox task does, here in the test's process."""
    outbox_drain(budget_seconds=30)


def endpoint_for(partner, url: str, types=(EventType.SUPPORT_CONTACT_CHANGED,), **more):
    return WebhookEndpoint.objects.create(partner=partner, url=url, event_types=list(types), **more)


def send_test_event(endpoint: WebhookEndpoint) -> Event:
    """A test event (the endpoints page's "Send a test event"): addressed to `endpoint` alone,
    whatever it subscribed to."""
    return event_record(EventType.TEST, endpoint=endpoint.pk)


def signature_verifies(header: str, body: bytes, secret: str, *, now: float) -> bool:
    """A receiver's check, written from the documented scheme (not from notifications/signing.py):
    `Partnercenter-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`,
    compared in constant time, and refused when older than the replay window."""
    try:
        fields = dict(item.strip().split("=", 1) for item in header.split(","))
        sent_at, given = fields["t"], fields["v1"]
        age = now - int(sent_at)
    except (KeyError, ValueError):
        return False
    if abs(age) > REPLAY_WINDOW:
        return False
    expected = hmac.new(secret.encode(), sent_at.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), given)


def retry_waits_by_the_spec() -> list[int]:
    """Seconds between attempts as issue 15 and delivery.py's docstring put it: 30 s, doubling,
    at most an hour, while the next attempt still falls within 24 hours of the delivery's
    creation (when its first attempt is made)."""
    waits, since_first = [], 0
    while True:
        wait = min(30 * 2 ** len(waits), HOUR)
        if since_first + wait > 24 * HOUR:
            return waits
        waits.append(wait)
        since_first += wait


# A support-contact change, as the reseller's endpoint receives it -------------------------------


@pytest.fixture
def fabrikam_made_contact(receiver, premium, partner_named, demo_user):
    """adminagent makes Fabrikam the designated contact of Adatum's Premium; Fabrikam's
    endpoint receives the event."""
    fabrikam = partner_named("Fabrikam Solutions")
    endpoint = endpoint_for(fabrikam, receiver.url("/fabrikam"))
    change = support_contact_assign(
        subscription=premium,
        contact=fabrikam,
        by=demo_user("adminagent"),
        expected_version=premium.version,
    )
    drain()
    [event] = Event.objects.filter(type=EventType.SUPPORT_CONTACT_CHANGED)
    assert event.data["changes"] == [change.pk]
    [received] = receiver.to("/fabrikam")
    return endpoint, event, received


def test_a_support_contact_change_reaches_the_resellers_endpoint_in_the_apis_shapes(
    fabrikam_made_contact, premium, adatum, partner_named
):
    endpoint, event, received = fabrikam_made_contact
    body = json.loads(received.body)
    assert set(body) == {"id", "type", "createdAt", "data"}
    assert body["id"] == str(event.uuid)
    assert body["type"] == "support_contact.changed"
    assert body["createdAt"] == event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Partnercenter-Event-Id"] == str(event.uuid)
    assert received.headers["Partnercenter-Event-Type"] == "support_contact.changed"

    premium.refresh_from_db()
    contoso, fabrikam = partner_named("Contoso Distribution"), partner_named("Fabrikam Solutions")
    # The contact as GET .../supportcontact shows it, but for the etag: an event is a moment,
    # not a resource to PUT back.
    as_the_api_shows_it = representations.support_contact(premium, adatum)
    del as_the_api_shows_it["attributes"]["etag"]
    assert as_the_api_shows_it["supportTenantId"] == str(fabrikam.tenant_id)
    [change] = body["data"]["supportContactChanges"]
    assert body["data"]["operationId"] is None
    assert change["supportContact"] == as_the_api_shows_it
    assert change["previousSupportContact"]["supportTenantId"] == str(contoso.tenant_id)
    assert change["previousSupportContact"]["name"] == "Contoso Distribution"
    assert change["customer"]["id"] == str(adatum.tenant_id)
    assert change["customer"]["companyName"] == adatum.name
    assert change["customer"]["links"]["self"]["uri"] == f"/customers/{adatum.tenant_id}"
    assert change["subscription"]["id"] == str(premium.uuid)
    assert change["subscription"]["offerName"] == "Office 365 Business Premium"
    assert change["subscription"]["links"]["self"]["uri"] == (
        f"/customers/{adatum.tenant_id}/subscriptions/{premium.uuid}"
    )
    assert change["through"] == "form"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", change["changedAt"])

    delivered = Delivery.objects.get(endpoint=endpoint)
    assert (delivered.state, delivered.status_code, delivered.attempts) == ("succeeded", 204, 1)
    assert delivered.body.encode() == received.body


def test_the_signature_verifies_with_a_receivers_own_implementation(fabrikam_made_contact):
    endpoint, _event, received = fabrikam_made_contact
    header = received.headers[SIGNATURE_HEADER]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    now = time.time()
    assert signature_verifies(header, received.body, endpoint.secret, now=now)

    tampered = received.body.replace(b'"name":"Fabrikam Solutions"', b'"name":"Fabrikam Solution"')
    assert tampered != received.body
    assert not signature_verifies(header, tampered, endpoint.secret, now=now)
    assert not signature_verifies(header, received.body, new_secret(), now=now)
    sent_at = int(re.match(r"t=(\d+)", header)[1])
    later = header.replace(f"t={sent_at}", f"t={sent_at + 1}")
    assert not signature_verifies(later, received.body, endpoint.secret, now=now)
    # The same request replayed an hour later is refused by the receiver's window.
    assert not signature_verifies(header, received.body, endpoint.secret, now=now + HOUR)


def _readme_verifier():
    """The `verified` function the README gives receivers, as the README prints it."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (code,) = [
        block
        for block in re.findall(r"```python\n(.*?)```", readme, re.S)
        if "def verified" in block
    ]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["verified"]


def test_the_readmes_verification_example_accepts_a_real_delivery_and_nothing_else(
    fabrikam_made_contact,
):
    verified = _readme_verifier()
    endpoint, _event, received = fabrikam_made_contact
    header = received.headers[SIGNATURE_HEADER]
    assert verified(endpoint.secret, header, received.body)
    assert not verified(endpoint.secret, header, received.body + b" ")
    assert not verified(new_secret(), header, received.body)


def test_only_active_endpoints_subscribed_to_the_type_receive_it(
    receiver, premium, partner_named, demo_user
):
    fabrikam = partner_named("Fabrikam Solutions")
    subscribed = endpoint_for(fabrikam, receiver.url("/subscribed"))
    endpoint_for(fabrikam, receiver.url("/other-type"), types=[EventType.RELATIONSHIP_ENDED])
    endpoint_for(fabrikam, receiver.url("/inactive"), active=False)
    support_contact_assign(
        subscription=premium,
        contact=fabrikam,
        by=demo_user("adminagent"),
        expected_version=premium.version,
    )
    drain()
    assert [r.path for r in receiver.requests] == ["/subscribed"]
    webhooks = Delivery.objects.filter(channel=Delivery.Channel.WEBHOOK)
    assert list(webhooks.values_list("endpoint", flat=True)) == [subscribed.pk]


def test_an_endpoint_deactivated_while_its_delivery_waits_gets_nothing_more(receiver, clock):
    endpoint = endpoint_for(factories.ResellerFactory(), receiver.url("/failing"))
    receiver.answer("/failing", 500)
    send_test_event(endpoint)
    drain()
    assert len(receiver.to("/failing")) == 1
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
    waiting = Delivery.objects.get()
    clock.move_to(waiting.next_attempt_at)
    drain()
    assert len(receiver.to("/failing")) == 1
    waiting.refresh_from_db()
    assert waiting.state == Delivery.State.FAILED
    assert waiting.error == "The endpoint was deactivated."


# Each partner is told only of its own world ---------------------------------------------------


def _told(receiver, partner) -> list[dict]:
    return [json.loads(r.body) for r in receiver.to(f"/{partner.partner_id}")]


def test_a_reseller_never_learns_another_resellers_name_or_tenant(
    receiver, premium, adatum, partner_named, demo_user
):
    names = ["Contoso Distribution", "Fabrikam Solutions", "Northwind Traders IT", "Trey Research"]
    contoso, fabrikam, northwind, trey = map(partner_named, names)
    proseware = partner_named("Proseware Distribution")
    CustomerRelationship.objects.filter(partner=northwind, customer=adatum).update(
        delegated_admin=True  # Northwind becomes eligible for Adatum's subscriptions too
    )
    for partner in (contoso, fabrikam, northwind, trey, proseware):
        endpoint_for(partner, receiver.url(f"/{partner.partner_id}"), types=EventType.values)
    agent = demo_user("adminagent")
    first = support_contact_assign(
        subscription=premium, contact=fabrikam, by=agent, expected_version=premium.version
    )
    premium.refresh_from_db()
    second = support_contact_assign(
        subscription=premium, contact=northwind, by=agent, expected_version=premium.version
    )
    drain()

    def ids(partner) -> list[bytes]:
        return [partner.name.encode(), str(partner.tenant_id).encode(), partner.partner_id.encode()]

    fabrikams = [r.body for r in receiver.to(f"/{fabrikam.partner_id}")]
    northwinds = [r.body for r in receiver.to(f"/{northwind.partner_id}")]
    assert len(fabrikams) == 2  # it gained, then lost the subscription
    assert len(northwinds) == 1  # it gained it
    assert all(ids(fabrikam)[1] in body for body in fabrikams)  # it is told about itself...
    for body in fabrikams:  # ...never about the reseller that took over
        assert not [i for i in ids(northwind) if i in body], body
    for body in northwinds:
        assert not [i for i in ids(fabrikam) if i in body], body
    [lost] = _told(receiver, fabrikam)[1]["data"]["supportContactChanges"]
    assert lost["previousSupportContact"]["supportTenantId"] == str(fabrikam.tenant_id)
    assert lost["supportContact"] is None
    [gained] = _told(receiver, northwind)[0]["data"]["supportContactChanges"]
    assert gained["previousSupportContact"] is None
    assert gained["supportContact"]["supportTenantId"] == str(northwind.tenant_id)
    # The provider billing the subscription sees both; the uninvolved and the other provider
    # nothing.
    events = list(Event.objects.order_by("pk"))
    assert [e.data["changes"] for e in events] == [[first.pk], [second.pk]]
    contosos = _told(receiver, contoso)
    assert [e["id"] for e in contosos] == [str(e.uuid) for e in events]
    [seen] = contosos[1]["data"]["supportContactChanges"]
    assert seen["previousSupportContact"]["name"] == "Fabrikam Solutions"
    assert seen["supportContact"]["name"] == "Northwind Traders IT"
    assert _told(receiver, trey) == []
    assert _told(receiver, proseware) == []


def test_the_second_provider_never_receives_contosos_events(
    receiver, premium, partner_named, demo_user
):
    contoso, proseware = (
        partner_named("Contoso Distribution"),
        partner_named("Proseware Distribution"),
    )
    fabrikam = partner_named("Fabrikam Solutions")
    for partner in (contoso, proseware, fabrikam):
        endpoint_for(partner, receiver.url(f"/{partner.partner_id}"), types=EventType.values)
    support_contact_assign(
        subscription=premium,
        contact=fabrikam,
        by=demo_user("adminagent"),
        expected_version=premium.version,
    )
    # Contoso ends its partnership with Fabrikam (Fabrikam also resells for Proseware): the
    # partnership's event, and Premium falling back to Contoso.
    reseller_partnership_remove(
        partnership=ResellerPartnership.objects.get(provider=contoso, reseller=fabrikam),
        by=demo_user("globaladmin"),
    )
    drain()
    assert [e["type"] for e in _told(receiver, contoso)] == [
        "support_contact.changed",
        "reseller_partnership.ended",
        "support_contact.changed",
    ]
    assert len(_told(receiver, fabrikam)) == 3
    assert _told(receiver, proseware) == []

    # And the other way round: Proseware's subscription (supported by Fabrikam) falls back to
    # Proseware; Contoso hears nothing of it.
    before = len(_told(receiver, contoso))
    dynamics = Subscription.objects.get(provider=proseware)
    support_contact_assign(
        subscription=dynamics,
        contact=proseware,
        by=demo_user("proseware"),
        expected_version=dynamics.version,
    )
    drain()
    assert [e["type"] for e in _told(receiver, proseware)] == ["support_contact.changed"]
    assert len(_told(receiver, contoso)) == before


# Retries --------------------------------------------------------------------------------------


def test_a_failing_endpoint_is_retried_on_the_schedule_then_given_up_after_24_hours(
    receiver, clock
):
    receiver.answer("/down", 500)
    endpoint = endpoint_for(factories.ResellerFactory(), receiver.url("/down"))
    send_test_event(endpoint)
    drain()
    delivery = Delivery.objects.get()
    waits = []
    while delivery.state == Delivery.State.PENDING:
        assert len(waits) < 100, "never gave up"
        assert (delivery.status_code, delivery.error) == (500, "HTTP 500")
        waits.append((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds())
        attempts = delivery.attempts
        clock.move_to(delivery.next_attempt_at - timedelta(seconds=1))
        drain()  # a second early: not yet
        delivery.refresh_from_db()
        assert delivery.attempts == attempts
        clock.move_to(delivery.next_attempt_at)
        drain()
        delivery.refresh_from_db()
        assert delivery.attempts == attempts + 1

    assert waits == retry_waits_by_the_spec()
    assert waits[:9] == [30, 60, 120, 240, 480, 960, 1920, HOUR, HOUR]
    assert delivery.state == Delivery.State.FAILED
    assert delivery.attempts == len(waits) + 1 == len(receiver.to("/down"))
    assert delivery.finished_at == delivery.last_attempt_at
    assert delivery.last_attempt_at - delivery.created_at <= timedelta(hours=24)
    assert delivery.last_attempt_at + timedelta(hours=1) - delivery.created_at > timedelta(hours=24)
    clock.move_to(delivery.last_attempt_at + timedelta(hours=2))
    drain()
    assert delivery.attempts == len(receiver.to("/down"))  # failed is final


def test_a_delivery_that_failed_once_succeeds_on_its_retry(receiver, clock):
    receiver.answer("/flaky", 503, 204)
    endpoint = endpoint_for(factories.ResellerFactory(), receiver.url("/flaky"))
    event = send_test_event(endpoint)
    drain()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("pending", 1, 503)
    clock.move_to(delivery.next_attempt_at)
    drain()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("succeeded", 2, 204)
    assert delivery.error == ""
    assert [r.status for r in receiver.to("/flaky")] == [503, 204]
    assert {r.event_id for r in receiver.to("/flaky")} == {str(event.uuid)}  # one id to dedupe by
    clock.move_to(delivery.next_attempt_at + timedelta(hours=1))
    drain()
    assert len(receiver.to("/flaky")) == 2


def test_a_receiver_slower_than_the_timeout_counts_as_a_failure(receiver, monkeypatch):
    monkeypatch.setattr(delivery_module, "TIMEOUT_SECONDS", 0.5)
    receiver.answer("/slow", 204, delay=2.5)
    endpoint = endpoint_for(factories.ResellerFactory(), receiver.url("/slow"))
    send_test_event(endpoint)
    started = time.monotonic()
    drain()
    assert time.monotonic() - started < 2.0  # it gave up, not waited for the answer
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("pending", 1, None)
    assert "timed out" in delivery.error.lower()
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=30)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_failure_and_is_not_followed(receiver, status):
    receiver.answer("/moved", status, Location=receiver.url("/elsewhere"))
    endpoint = endpoint_for(factories.ResellerFactory(), receiver.url("/moved"))
    send_test_event(endpoint)
    drain()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert (delivery.status_code, delivery.error) == (status, f"HTTP {status}")
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=30)
    assert receiver.to("/elsewhere") == []


@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_one_failing_endpoint_delays_no_other(receiver, monkeypatch, failure):
    """Its first failure in a batch puts off its other deliveries (one timeout per batch, not one
    per delivery); the other endpoint's are all delivered in the same drain."""
    monkeypatch.setattr(delivery_module, "TIMEOUT_SECONDS", 0.5)
    if failure == "timeout":
        receiver.answer("/failing", 204, delay=2.0)
    else:
        receiver.answer("/failing", 500)
    partner = factories.ResellerFactory()
    failing = endpoint_for(partner, receiver.url("/failing"))
    healthy = endpoint_for(partner, receiver.url("/healthy"))
    for _ in range(3):
        send_test_event(failing)
        send_test_event(healthy)
    drain()
    assert len(receiver.to("/failing")) == 1
    assert [r.status for r in receiver.to("/healthy")] == [204, 204, 204]
    assert set(Delivery.objects.filter(endpoint=healthy).values_list("state", "attempts")) == {
        ("succeeded", 1)
    }
    tried, *put_off = Delivery.objects.filter(endpoint=failing).order_by("pk")
    assert (tried.state, tried.attempts) == ("pending", 1)
    for waiting in put_off:
        assert (waiting.state, waiting.attempts) == ("pending", 0)
        assert waiting.next_attempt_at == tried.next_attempt_at


# The guard against request forgery ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",  # not https
        "https://127.0.0.1/",
        "https://localhost/",
        "https://10.0.0.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://172.16.0.1/",
        "https://100.64.0.1/",  # carrier-grade NAT
        "https://0.0.0.0/",
        "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "https://2130706433/",  # 127.0.0.1 as one number
        "https://127.1/",
        "https://user:secret@93.184.216.34/",
        "ftp://93.184.216.34/",
    ],
)
def test_the_guard_refuses_what_is_not_public_https(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(RefusedDestination):
        destination(url)


def test_the_guard_passes_a_public_address_and_pins_it(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    checked = destination("https://93.184.216.34:8443/hooks?x=1")  # checked, never connected to
    assert (checked.scheme, checked.address, checked.port) == ("https", "93.184.216.34", 8443)
    assert checked.target == "/hooks?x=1"


def test_a_delivery_refused_by_the_guard_is_retried_later_and_never_sent(receiver, settings, clock):
    endpoint = endpoint_for(factories.ResellerFactory(), receiver.url("/private"))
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    send_test_event(endpoint)
    drain()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("pending", 1, None)
    assert "https://" in delivery.error
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=30)
    clock.move_to(delivery.next_attempt_at)
    drain()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert receiver.requests == []


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_endpoint_at_an_ipv6_address_gets_a_well_formed_host_header():
    with Receiver("::1") as receiver:
        endpoint = endpoint_for(factories.ResellerFactory(), receiver.url("/v6"))
        send_test_event(endpoint)
        drain()
        [received] = receiver.to("/v6")
        assert received.headers["Host"] == f"[::1]:{receiver.port}"
