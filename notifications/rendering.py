"""What each partner is told about an event: who it concerns, the webhook's `data` in the API's
shapes, and the email in the partner's language when it asked for one.

One function per kind of event. A partner is told only about its own world: a reseller sees the
changes it gained or lost and the provider billing them; another reseller's name is never shown
to it (`_visible`).
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from api import representations
from customers.models import BulkOperation, Customer, SupportContactChange
from events.models import Event, EventType
from partnercenter.models import NotificationTopic, Partner
from relationships.models import CustomerRelationship, RelationshipState, ResellerPartnership

EMAIL_LISTS_AT_MOST = 100


@dataclass
class Told:
    """What one partner is told about one event."""

    partner: Partner
    data: dict
    email: dict | None = field(default=None)  # subject, text, html


def told(event: Event) -> list[Told]:
    """Everyone `event` concerns and what each is told; empty for an event about nobody."""
    return _RENDERERS[EventType(event.type)](event)


def site_url(path: str) -> str:
    """An absolute link to `path` (which starts with /), under SITE_URL's own path if any."""
    return settings.SITE_URL.rstrip("/") + path


def _email(partner: Partner, template: str, subject: str, context: dict) -> dict:
    """The email to `partner` (rendered in its language by the caller's override)."""
    context = {
        **context,
        "partner": partner,
        "subject": subject,
        "LANGUAGE_CODE": translation.get_language(),
    }
    return {
        "subject": subject,
        "text": render_to_string(f"notifications/email/{template}.txt", context),
        "html": render_to_string(f"notifications/email/{template}.html", context),
    }


# Designated support contacts ------------------------------------------------------------------


def _visible(seen: Partner, seer: Partner, provider: Partner) -> Partner | None:
    """`seen` as `seer` may know it: a provider knows its resellers, a reseller knows only
    itself and the provider billing the subscription."""
    if seer.pk == provider.pk or seen.pk in (seer.pk, provider.pk):
        return seen
    return None


def _change(change: SupportContactChange, seer: Partner) -> dict:
    subscription = change.subscription
    customer = subscription.customer
    provider = subscription.provider

    def contact(partner: Partner | None) -> dict | None:
        shown = _visible(partner or provider, seer, provider)
        if shown is None:
            return None
        return representations.support_contact_of(shown, subscription, customer)

    return {
        "customer": {
            "id": str(customer.tenant_id),
            "companyName": customer.name,
            "links": {"self": representations.link(representations.customer_uri(customer))},
        },
        "subscription": {
            "id": str(subscription.uuid),
            "offerName": subscription.offer_name,
            "links": {
                "self": representations.link(
                    representations.subscription_uri(subscription, customer)
                )
            },
        },
        "previousSupportContact": contact(change.from_contact),
        "supportContact": contact(change.to_contact),
        "changedAt": representations.timestamp(change.changed_at),
        "through": change.through,
    }


def _changes(ids_or_filter) -> list[SupportContactChange]:
    query = ids_or_filter if isinstance(ids_or_filter, Q) else Q(pk__in=ids_or_filter)
    return list(
        SupportContactChange.objects.filter(query)
        .select_related(
            "subscription__customer", "subscription__provider", "from_contact", "to_contact"
        )
        .order_by("pk")
    )


def _concerned(changes: list[SupportContactChange]) -> dict[int, tuple[Partner, list]]:
    """Each partner a change concerns (the provider, who lost it, who gained it) and its changes."""
    concerned: dict[int, tuple[Partner, list]] = {}
    for change in changes:
        provider = change.subscription.provider
        for partner in {provider, change.from_contact or provider, change.to_contact}:
            concerned.setdefault(partner.pk, (partner, []))[1].append(change)
    return concerned


def _contact_email(partner: Partner, changes: list, operation: BulkOperation | None):
    """The reseller's email: the subscriptions it became and stopped being the contact of."""
    if partner.is_provider:
        return None
    gained = [c for c in changes if c.to_contact_id == partner.pk]
    lost = [c for c in changes if c.to_contact_id != partner.pk]
    gained = gained if partner.wants(NotificationTopic.CONTACT_GAINED) else []
    lost = lost if partner.wants(NotificationTopic.CONTACT_LOST) else []
    if not gained and not lost:
        return None
    with translation.override(partner.notification_language):
        if gained and lost:
            subject = _(
                "Designated support contact: %(gained)s subscription(s) added, %(lost)s removed"
            ) % {"gained": len(gained), "lost": len(lost)}
        elif gained:
            subject = ngettext(
                "You are now the designated support contact of %(count)s subscription",
                "You are now the designated support contact of %(count)s subscriptions",
                len(gained),
            ) % {"count": len(gained)}
        else:
            subject = ngettext(
                "You are no longer the designated support contact of %(count)s subscription",
                "You are no longer the designated support contact of %(count)s subscriptions",
                len(lost),
            ) % {"count": len(lost)}
        return _email(
            partner,
            "support_contact",
            subject,
            {
                "gained": gained[:EMAIL_LISTS_AT_MOST],
                "gained_more": max(len(gained) - EMAIL_LISTS_AT_MOST, 0),
                "lost": lost[:EMAIL_LISTS_AT_MOST],
                "lost_more": max(len(lost) - EMAIL_LISTS_AT_MOST, 0),
                "operation": operation,
                "supported_url": site_url(reverse("customers:supported_subscriptions")),
            },
        )


def _support_contact_changed(event: Event) -> list[Told]:
    changes = _changes(event.data["changes"])
    operation_id = event.data.get("operation")
    told = []
    for partner, theirs in _concerned(changes).values():
        data = {
            "operationId": operation_id,
            "supportContactChanges": [_change(c, partner) for c in theirs],
        }
        # A bulk change's reseller hears once, when it completes (_bulk_operation_completed).
        email = None if operation_id else _contact_email(partner, theirs, None)
        told.append(Told(partner, data, email))
    return told


def _bulk_operation_completed(event: Event) -> list[Told]:
    operation = BulkOperation.objects.select_related("provider", "contact").get(
        pk=event.data["operation"]
    )
    summary = {
        "operation": {
            "id": operation.pk,
            "kind": operation.kind,
            "total": operation.total,
            "changed": operation.changed,
            "unchanged": operation.unchanged,
            "skipped": operation.skipped,
            "createdAt": representations.timestamp(operation.created_at),
            "finishedAt": representations.timestamp(operation.finished_at or event.occurred_at),
        }
    }
    told = [Told(operation.provider, summary)]
    for partner, theirs in _concerned(_changes(Q(bulk_operation=operation))).values():
        if partner.pk != operation.provider_id:
            told.append(Told(partner, None, _contact_email(partner, theirs, operation)))
    return told


# Relationships ------------------------------------------------------------------------------


_RELATIONSHIP_SUBJECTS = {
    EventType.RELATIONSHIP_REQUESTED: gettext_lazy(
        "A relationship between %(partner)s and %(customer)s was requested"
    ),
    EventType.RELATIONSHIP_ACCEPTED: gettext_lazy(
        "%(customer)s accepted a relationship with %(partner)s"
    ),
    EventType.RELATIONSHIP_DECLINED: gettext_lazy(
        "%(customer)s declined a relationship with %(partner)s"
    ),
    EventType.DELEGATED_ADMIN_REMOVED: gettext_lazy(
        "%(partner)s no longer holds delegated admin privileges at %(customer)s"
    ),
    EventType.RELATIONSHIP_ENDED: gettext_lazy(
        "The relationship between %(partner)s and %(customer)s ended"
    ),
    EventType.PARTNERSHIP_REQUESTED: gettext_lazy(
        "%(provider)s asked %(reseller)s for a reseller partnership"
    ),
    EventType.PARTNERSHIP_ACCEPTED: gettext_lazy(
        "%(reseller)s accepted a reseller partnership with %(provider)s"
    ),
    EventType.PARTNERSHIP_DECLINED: gettext_lazy(
        "%(reseller)s declined a reseller partnership with %(provider)s"
    ),
    EventType.PARTNERSHIP_ENDED: gettext_lazy(
        "The reseller partnership between %(provider)s and %(reseller)s ended"
    ),
}


def _relationship_email(event: Event, partner: Partner, topic: NotificationTopic, names: dict):
    if not partner.wants(topic):
        return None
    with translation.override(partner.notification_language):
        subject = str(_RELATIONSHIP_SUBJECTS[EventType(event.type)]) % names
        return _email(partner, "relationship", subject, {"event": event, **names})


def _customer_relationship(event: Event) -> list[Told]:
    """The relationship's partner hears, and so does each provider serving the customer that
    the partner is, or resells for."""
    partner = Partner.objects.get(pk=event.data["partner"])
    customer = Customer.objects.get(pk=event.data["customer"])
    serving = CustomerRelationship.objects.filter(
        customer=customer,
        state=RelationshipState.ACTIVE,
        partner__kind=Partner.Kind.INDIRECT_PROVIDER,
    ).values("partner_id")
    resold_for = ResellerPartnership.objects.active().filter(reseller=partner).values("provider_id")
    providers = Partner.objects.filter(pk__in=serving).filter(
        Q(pk=partner.pk) | Q(pk__in=resold_for)
    )
    data = {
        "customer": representations.customer(customer),
        "partner": {
            "id": str(partner.tenant_id),
            "name": partner.name,
            "mpnId": partner.partner_id,
        },
        "allowDelegatedAccess": bool(event.data.get("delegated_admin")),
    }
    names = {"partner": partner.name, "customer": customer.name}
    return [
        Told(p, data, _relationship_email(event, p, NotificationTopic.RELATIONSHIPS, names))
        for p in {partner, *providers}
    ]


def _reseller_partnership(event: Event) -> list[Told]:
    partnership = ResellerPartnership.objects.select_related("provider", "reseller").get(
        pk=event.data["partnership"]
    )
    provider, reseller = partnership.provider, partnership.reseller
    names = {"provider": provider.name, "reseller": reseller.name}
    return [
        Told(
            me,
            representations.partner_relationship(
                other, caller_is_reseller=not me.is_provider, state=partnership.state
            ),
            _relationship_email(event, me, NotificationTopic.PARTNERSHIPS, names),
        )
        for me, other in ((provider, reseller), (reseller, provider))
    ]


def _test(event: Event) -> list[Told]:
    return []  # a test event is addressed to one endpoint (delivery.py), never to a partner


_RENDERERS = {
    EventType.SUPPORT_CONTACT_CHANGED: _support_contact_changed,
    EventType.BULK_OPERATION_COMPLETED: _bulk_operation_completed,
    EventType.RELATIONSHIP_REQUESTED: _customer_relationship,
    EventType.RELATIONSHIP_ACCEPTED: _customer_relationship,
    EventType.RELATIONSHIP_DECLINED: _customer_relationship,
    EventType.DELEGATED_ADMIN_REMOVED: _customer_relationship,
    EventType.RELATIONSHIP_ENDED: _customer_relationship,
    EventType.PARTNERSHIP_REQUESTED: _reseller_partnership,
    EventType.PARTNERSHIP_ACCEPTED: _reseller_partnership,
    EventType.PARTNERSHIP_DECLINED: _reseller_partnership,
    EventType.PARTNERSHIP_ENDED: _reseller_partnership,
    EventType.TEST: _test,
}
