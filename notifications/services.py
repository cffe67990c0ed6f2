"""Writes of the webhook pages: registering and changing an endpoint, rolling its secret, a test
event, a delivery sent once more. Each is atomic, reaches its rows through the access policy
and refuses bad input with a DomainError that says why; nothing is changed then."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import Event, EventType
from events.services import event_record
from notifications.destinations import RefusedDestination, destination
from notifications.models import Delivery, WebhookEndpoint, new_secret
from notifications.tasks import drain_soon
from partnercenter.errors import DomainError
from partnercenter.models import Partner, User
from partnercenter.policy import Action, permits
from partnercenter.tracing import change_log

# Each endpoint is told of every event its partner asked for: a bound on the work one event
# makes, and on the list page.
MAX_ENDPOINTS = 20

SUBSCRIBABLE = [t for t in EventType if t != EventType.TEST]


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    """The chosen event types, in the list's order; at least one, each one of the list."""
    chosen = set(event_types)
    if not chosen:
        raise DomainError(_("Choose at least one event."), field="event_types")
    if chosen - {t.value for t in SUBSCRIBABLE}:
        raise DomainError(_("Choose events from the list."), field="event_types")
    return [t.value for t in SUBSCRIBABLE if t in chosen]


def _checked_url(url: str) -> str:
    try:
        destination(url)
    except RefusedDestination as refused:
        raise DomainError(str(refused), field="url") from None
    return url


def _endpoint_locked(endpoint: WebhookEndpoint, by: User) -> WebhookEndpoint:
    """The endpoint as stored now, locked, if `by` may change it."""
    locked = (
        WebhookEndpoint.objects.restrict(by, Action.EDIT)
        .select_for_update()
        .filter(pk=endpoint.pk)
        .first()
    )
    if locked is None:
        raise DomainError(_("You may not change this webhook endpoint."))
    return locked


def webhook_endpoint_create(
    *, by: User, url: str, description: str, event_types: Iterable[str]
) -> WebhookEndpoint:
    """Register `url` to receive `event_types` for `by`'s partner, with a new secret."""
    if not permits(by, WebhookEndpoint, Action.EDIT):
        raise DomainError(_("You may not register webhook endpoints."))
    event_types = _clean_event_types(event_types)
    url = _checked_url(url)  # a DNS lookup: before any lock is taken
    with transaction.atomic():
        # Locked, so that two registrations at once cannot both pass the limit.
        partner = Partner.objects.select_for_update().get(pk=by.partner_id)
        if WebhookEndpoint.objects.filter(partner=partner).count() >= MAX_ENDPOINTS:
            raise DomainError(
                _(
                    "%(partner)s already has %(count)d webhook endpoints, the most it may have. "
                    "Change one of them instead."
                )
                % {"partner": partner.name, "count": MAX_ENDPOINTS}
            )
        endpoint = WebhookEndpoint(
            partner=partner,
            url=url,
            description=description,
            event_types=event_types,
            created_by=by,
        )
        endpoint.full_clean()
        endpoint.save()
        change_log("webhook_endpoint.created", endpoint=endpoint.pk, partner=partner.pk)
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    by: User,
    description: str,
    event_types: Iterable[str],
    active: bool,
) -> WebhookEndpoint:
    """Change what an endpoint is for, which events it receives, and whether it receives any."""
    event_types = _clean_event_types(event_types)
    with transaction.atomic():
        endpoint = _endpoint_locked(endpoint, by)
        endpoint.description = description
        endpoint.event_types = event_types
        endpoint.active = active
        endpoint.full_clean()
        endpoint.save(update_fields=["description", "event_types", "active"])
        change_log("webhook_endpoint.updated", endpoint=endpoint.pk, active=active)
    return endpoint


def webhook_endpoint_secret_roll(*, endpoint: WebhookEndpoint, by: User) -> WebhookEndpoint:
    """Give the endpoint a new secret; deliveries signed from now on use it, the old one none."""
    with transaction.atomic():
        endpoint = _endpoint_locked(endpoint, by)
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret"])
        change_log("webhook_endpoint.secret_rolled", endpoint=endpoint.pk)
    return endpoint


def webhook_test_send(*, endpoint: WebhookEndpoint, by: User) -> Event | None:
    """Record a test event for the endpoint; the outbox delivers it like any other."""
    with transaction.atomic():
        endpoint = _endpoint_locked(endpoint, by)
        if not endpoint.active:
            raise DomainError(_("The endpoint is inactive: activate it to send it a test event."))
        # Its post_save asks for a drain once this commits (notifications/apps.py).
        return event_record(EventType.TEST, endpoint=endpoint.pk)


def delivery_resend(*, delivery: Delivery, by: User) -> Delivery:
    """Deliver a delivery's event once more, as a new delivery with the same body (the same
    event id: a receiver that has it already may skip it); the old delivery stays as it was."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.restrict(by, Action.RESEND)
            .select_related("endpoint")
            .filter(pk=delivery.pk)
            .first()
        )
        if delivery is None:
            raise DomainError(_("You may not re-send this delivery."))
        endpoint = _endpoint_locked(delivery.endpoint, by)
        if not endpoint.active:
            raise DomainError(_("The endpoint is inactive: activate it to re-send a delivery."))
        now = timezone.now()
        again = Delivery.objects.create(
            event_id=delivery.event_id,
            channel=delivery.channel,
            endpoint=endpoint,
            partner_id=delivery.partner_id,
            address=delivery.address,
            body=delivery.body,
            state=Delivery.State.PENDING,
            created_at=now,
            next_attempt_at=now,
        )
        change_log("delivery.resent", delivery=delivery.pk, again=again.pk)
        transaction.on_commit(drain_soon, robust=True)
    return again
