"""The outbox: one row per event, written in the transaction of the change it reports.

A row holds what the event is about as references (primary keys of immutable or long-lived
rows: history entries, relationships, partnerships), so whoever tells people and systems about
it (the notifications app) renders it once, later, from the database. `uuid` is the id every
recipient sees and may de-duplicate by: a delivery is attempted at least once.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    SUPPORT_CONTACT_CHANGED = "support_contact.changed", _("Designated support contact changed")
    BULK_OPERATION_COMPLETED = "bulk_operation.completed", _("Bulk change completed")
    RELATIONSHIP_REQUESTED = "customer_relationship.requested", _("Customer relationship requested")
    RELATIONSHIP_ACCEPTED = "customer_relationship.accepted", _("Customer relationship accepted")
    RELATIONSHIP_DECLINED = "customer_relationship.declined", _("Customer relationship declined")
    DELEGATED_ADMIN_REMOVED = (
        "customer_relationship.delegated_admin_removed",
        _("Delegated admin privileges removed"),
    )
    RELATIONSHIP_ENDED = "customer_relationship.ended", _("Customer relationship ended")
    PARTNERSHIP_REQUESTED = "reseller_partnership.requested", _("Reseller partnership requested")
    PARTNERSHIP_ACCEPTED = "reseller_partnership.accepted", _("Reseller partnership accepted")
    PARTNERSHIP_DECLINED = "reseller_partnership.declined", _("Reseller partnership declined")
    PARTNERSHIP_ENDED = "reseller_partnership.ended", _("Reseller partnership ended")
    TEST = "webhook.test", _("Test event")


class Event(models.Model):
    uuid = models.UUIDField(_("event id"), unique=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("type"), max_length=64, choices=EventType.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now, editable=False)
    # Primary keys of what the event is about; events/services.py names them per type.
    data = models.JSONField(_("data"), default=dict)
    # Set once the event has been fanned out to its deliveries; the drain looks for NULL.
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(dispatched_at__isnull=True),
                name="event_undispatched_idx",
            )
        ]

    def __str__(self):
        return f"{self.type} {self.uuid}"
