"""Fanning events out to deliveries, and attempting deliveries: the outbox's drain.

`outbox_drain` runs on a task worker (notifications/tasks.py). It takes undispatched events and
due deliveries in small batches with SKIP LOCKED, so any number of workers share the work and
none waits on another. A delivery is leased before it is attempted (its `next_attempt_at` moves
past the attempt), so one whose worker died is due again once the lease has passed: at least
once, and recipients de-duplicate by the event id.
"""

import json
import logging
import time
from datetime import datetime, timedelta

import urllib3
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from api import representations
from events.models import Event, EventType
from notifications.destinations import Destination, RefusedDestination, destination
from notifications.models import Delivery, WebhookEndpoint
from notifications.rendering import told
from notifications.signing import SIGNATURE_HEADER, signature

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
RETRY_FOR = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
LEASE = timedelta(seconds=60)  # longer than any attempt (TIMEOUT_SECONDS) could take
BATCH = 100


def retry_at(delivery: Delivery, now: datetime) -> datetime | None:
    """When to try again after `delivery.attempts` failed attempts: 30 s, then twice as long
    each time up to an hour; None once that would pass 24 hours after the delivery began."""
    wait = min(FIRST_RETRY * 2 ** (delivery.attempts - 1), LONGEST_WAIT)
    at = now + wait
    return at if at <= delivery.created_at + RETRY_FOR else None


# Dispatch: events → deliveries -----------------------------------------------------------------


def envelope(event: Event, data) -> bytes:
    """A webhook's JSON body: the event's id (to de-duplicate by), type, time and data."""
    return json.dumps(
        {
            "id": str(event.uuid),
            "type": event.type,
            "createdAt": representations.timestamp(event.occurred_at),
            "data": data,
        },
        separators=(",", ":"),
    ).encode()


def deliveries_of(event: Event) -> list[Delivery]:
    """Every delivery `event` calls for: a webhook per endpoint of each partner it concerns
    that asked for its type, an email per partner that asked for one."""
    if event.type == EventType.TEST:
        endpoint = WebhookEndpoint.objects.get(pk=event.data["endpoint"])
        data = {"message": "A test event from partnercenter.", "endpoint": endpoint.url}
        return [_webhook(event, endpoint, data)]
    everyone = told(event)
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        partner_id__in=[t.partner.pk for t in everyone], active=True
    ).order_by("pk"):
        endpoints.setdefault(endpoint.partner_id, []).append(endpoint)
    deliveries = []
    for one in everyone:
        if one.data is not None:
            deliveries += [
                _webhook(event, endpoint, one.data)
                for endpoint in endpoints.get(one.partner.pk, ())
                if endpoint.receives(event.type)
            ]
        if one.email:
            deliveries.append(
                Delivery(
                    event=event,
                    channel=Delivery.Channel.EMAIL,
                    partner=one.partner,
                    address=one.partner.notification_address,
                    body=json.dumps(one.email),
                )
            )
    return deliveries


def _webhook(event: Event, endpoint: WebhookEndpoint, data) -> Delivery:
    return Delivery(
        event=event,
        channel=Delivery.Channel.WEBHOOK,
        endpoint=endpoint,
        partner_id=endpoint.partner_id,
        body=envelope(event, data).decode(),
    )


def _dispatch_some(now: datetime, failed: set[int]) -> int:
    """Fan out the next batch of undispatched events. One that cannot be rendered stays
    undispatched (the next drain tries it again) and is added to `failed`, so that this drain
    goes on with the others."""
    with transaction.atomic():
        events = list(
            Event.objects.filter(dispatched_at__isnull=True)
            .exclude(pk__in=failed)
            .select_for_update(skip_locked=True)
            .order_by("pk")[:BATCH]
        )
        deliveries, dispatched = [], []
        for event in events:
            try:
                with transaction.atomic():  # a savepoint: one broken event stops no other
                    deliveries += deliveries_of(event)
            except Exception:
                log.exception("Event %s (%s) could not be dispatched", event.uuid, event.type)
                failed.add(event.pk)
            else:
                dispatched.append(event.pk)
        Delivery.objects.bulk_create(deliveries)
        Event.objects.filter(pk__in=dispatched).update(dispatched_at=now)
    return len(events)


# Attempts ---------------------------------------------------------------------------------------


class _Connections:
    """Keep-alive connection pools for one drain, one per checked destination; each URL is
    resolved and checked once per drain."""

    def __init__(self):
        self.pools: dict[Destination, urllib3.HTTPConnectionPool] = {}
        self.checked: dict[str, Destination | RefusedDestination] = {}

    def destination(self, url: str) -> Destination:
        if url not in self.checked:
            try:
                self.checked[url] = destination(url)
            except RefusedDestination as refused:
                self.checked[url] = refused
        if isinstance(found := self.checked[url], RefusedDestination):
            raise found
        return found

    def pool(self, to: Destination) -> urllib3.HTTPConnectionPool:
        if to not in self.pools:
            options = {"timeout": urllib3.Timeout(total=TIMEOUT_SECONDS), "retries": False}
            if to.scheme == "https":
                self.pools[to] = urllib3.HTTPSConnectionPool(
                    to.address,
                    to.port,
                    server_hostname=to.host,
                    assert_hostname=to.host,
                    cert_reqs="CERT_REQUIRED",
                    **options,
                )
            else:
                self.pools[to] = urllib3.HTTPConnectionPool(to.address, to.port, **options)
        return self.pools[to]

    def close(self):
        for pool in self.pools.values():
            pool.close()


def _post(delivery: Delivery, connections: _Connections) -> tuple[int | None, str]:
    """Send one webhook: its status code (None if none came) and what went wrong, if anything."""
    endpoint = delivery.endpoint
    try:
        to = connections.destination(endpoint.url)
    except RefusedDestination as refused:
        return None, str(refused)
    body = delivery.body.encode()
    name = f"[{to.host}]" if ":" in to.host else to.host  # an IPv6 address in brackets
    host = name if to.port == (443 if to.scheme == "https" else 80) else f"{name}:{to.port}"
    headers = {
        "Host": host,
        "Content-Type": "application/json",
        "User-Agent": "partnercenter-webhooks/1",
        "Partnercenter-Event-Id": str(delivery.event.uuid),
        "Partnercenter-Event-Type": delivery.event.type,
        "Partnercenter-Delivery-Id": str(delivery.pk),
        SIGNATURE_HEADER: signature(endpoint.secret, int(time.time()), body),
    }
    try:
        response = connections.pool(to).urlopen(
            "POST", to.target, body=body, headers=headers, redirect=False, assert_same_host=False
        )
    except urllib3.exceptions.HTTPError as failed:
        return None, f"{type(failed).__name__}: {failed}"[:300]
    if 200 <= response.status < 300:
        return response.status, ""
    return response.status, f"HTTP {response.status}"


def _send_email(delivery: Delivery, connection) -> tuple[int | None, str]:
    email = json.loads(delivery.body)
    message = EmailMultiAlternatives(
        email["subject"], email["text"], to=[delivery.address], connection=connection
    )
    message.attach_alternative(email["html"], "text/html")
    try:
        message.send()
    except Exception as failed:  # any transport: SMTP, file, console
        return None, f"{type(failed).__name__}: {failed}"[:300]
    return None, ""


def _deliver_some(now: datetime, connections: _Connections, mail) -> int:
    with transaction.atomic():
        due = list(
            Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now)
            .select_related("event", "endpoint")
            .select_for_update(of=("self",), skip_locked=True)
            .order_by("next_attempt_at", "pk")[:BATCH]
        )
        # The attempt counts from its lease: one cut off by a dying worker was an attempt too.
        Delivery.objects.filter(pk__in=[d.pk for d in due]).update(
            next_attempt_at=now + LEASE, attempts=F("attempts") + 1
        )
    failing: dict[int, datetime] = {}  # endpoint → when it is next tried, once it failed here
    for delivery in due:
        delivery.attempts += 1
        if delivery.endpoint_id in failing:  # not attempted after all: no attempt counted
            Delivery.objects.filter(pk=delivery.pk).update(
                next_attempt_at=failing[delivery.endpoint_id], attempts=F("attempts") - 1
            )
            continue
        if delivery.channel == Delivery.Channel.EMAIL:
            status, error = _send_email(delivery, mail)
        elif not delivery.endpoint.active:
            _record(delivery, None, "The endpoint was deactivated.", timezone.now(), last=True)
            continue
        else:
            status, error = _post(delivery, connections)
        _record(delivery, status, error, timezone.now())
        if error and delivery.endpoint_id and delivery.state == Delivery.State.PENDING:
            failing[delivery.endpoint_id] = delivery.next_attempt_at
    return len(due)


def _record(
    delivery: Delivery, status: int | None, error: str, now: datetime, *, last: bool = False
) -> None:
    delivery.last_attempt_at = now
    delivery.status_code = status
    delivery.error = error
    if not error:
        delivery.state, delivery.finished_at = Delivery.State.SUCCEEDED, now
    elif last or (again := retry_at(delivery, now)) is None:
        delivery.state, delivery.finished_at = Delivery.State.FAILED, now
    else:
        delivery.next_attempt_at = again
    delivery.save(
        update_fields=[
            "last_attempt_at",
            "status_code",
            "error",
            "state",
            "finished_at",
            "next_attempt_at",
        ]
    )


# The drain ------------------------------------------------------------------------------------


def outbox_drain(*, budget_seconds: float = 50.0) -> datetime | None:
    """Dispatch every undispatched event and attempt every due delivery, for at most about
    `budget_seconds`; returns when the next pending delivery is due (None: none is pending)."""
    deadline = time.monotonic() + budget_seconds
    connections, mail, failed = _Connections(), get_connection(), set()
    try:
        while time.monotonic() < deadline:
            now = timezone.now()
            if not (_dispatch_some(now, failed) + _deliver_some(now, connections, mail)):
                break
    finally:
        connections.close()
    return Delivery.objects.filter(state=Delivery.State.PENDING).aggregate(
        due=Min("next_attempt_at")
    )["due"]
