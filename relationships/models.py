"""Who works with whom: provider–reseller partnerships and partner–customer relationships."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partnercenter.models import Partner, choices_check
from partnercenter.policy import Action, RestrictedQuerySet

REQUEST_LIFETIME = timedelta(days=30)


class RelationshipState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACTIVE = "active", _("Active")
    REMOVED = "removed", _("Removed")


_LIVE = ~models.Q(state=RelationshipState.REMOVED)  # requested or active


def _one_live_per_pair(fields: list[str], name: str):
    return models.UniqueConstraint(fields=fields, condition=_LIVE, name=name)


class RelationshipQuerySet(RestrictedQuerySet):
    def live(self):
        return self.filter(_LIVE)

    def active(self):
        return self.filter(state=RelationshipState.ACTIVE)


class ResellerPartnership(models.Model):
    """An agreement between an indirect provider and an indirect reseller."""

    State = RelationshipState

    provider = models.ForeignKey(
        Partner,
        verbose_name=_("indirect provider"),
        on_delete=models.PROTECT,
        related_name="reseller_partnerships",
        limit_choices_to={"kind": Partner.Kind.INDIRECT_PROVIDER},
    )
    reseller = models.ForeignKey(
        Partner,
        verbose_name=_("indirect reseller"),
        on_delete=models.PROTECT,
        related_name="provider_partnerships",
        limit_choices_to={"kind": Partner.Kind.INDIRECT_RESELLER},
    )
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=RelationshipState.choices,
        default=RelationshipState.REQUESTED,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RelationshipQuerySet.as_manager()

    class Meta:
        ordering = ["provider__name", "reseller__name"]
        verbose_name = _("reseller partnership")
        verbose_name_plural = _("reseller partnerships")
        constraints = [
            choices_check("state", RelationshipState, "reseller_partnership_state_valid"),
            models.CheckConstraint(
                condition=~models.Q(provider=models.F("reseller")),
                name="reseller_partnership_not_with_itself",
            ),
            _one_live_per_pair(["provider", "reseller"], "reseller_partnership_one_live_per_pair"),
        ]

    def __str__(self):
        return f"{self.provider} ↔ {self.reseller} ({self.get_state_display()})"


class CustomerRelationshipQuerySet(RelationshipQuerySet):
    def listed_for(self, user):
        """As the relationship pages list them: by partner, each marked with whether `user` may
        end it (`may_remove`) or give up its delegated admin privileges (`may_remove_dap`)."""
        return (
            self.annotate_permission(user, Action.REMOVE)
            .annotate_permission(user, Action.REMOVE_DAP)
            .select_related("partner")
            .order_by("partner__name")
        )


class CustomerRelationship(models.Model):
    """A partner's reseller relationship with a customer, with or without DAP."""

    State = RelationshipState

    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="customer_relationships",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="relationships",
    )
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=RelationshipState.choices,
        default=RelationshipState.ACTIVE,
    )
    delegated_admin = models.BooleanField(_("delegated admin privileges"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CustomerRelationshipQuerySet.as_manager()

    class Meta:
        ordering = ["customer__name", "partner__name"]
        verbose_name = _("customer relationship")
        verbose_name_plural = _("customer relationships")
        constraints = [
            choices_check("state", RelationshipState, "customer_relationship_state_valid"),
            _one_live_per_pair(["partner", "customer"], "customer_relationship_one_live_per_pair"),
        ]

    def __str__(self):
        return f"{self.partner} ↔ {self.customer} ({self.get_state_display()})"


def new_invitation_token() -> str:
    return secrets.token_urlsafe(32)


class InvitationTokenConverter:
    """An invitation token in a URL: what `new_invitation_token` makes, nothing else (a NUL
    byte or a megabyte of text is simply not an invitation: 404)."""

    regex = "[A-Za-z0-9_-]{16,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def request_expiry():
    return timezone.now() + REQUEST_LIFETIME


class RequestState(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


class RelationshipRequestQuerySet(RestrictedQuerySet):
    def open(self):
        """Pending and not yet past their expiry."""
        return self.filter(state=RequestState.PENDING, expires_at__gt=timezone.now())


class RelationshipRequest(models.Model):
    """An invitation from a partner to a customer to start a relationship, perhaps with DAP."""

    State = RequestState

    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="relationship_requests",
        help_text=_("The partner the customer would work with."),
    )
    requested_through = models.ForeignKey(
        Partner,
        verbose_name=_("requested through"),
        on_delete=models.PROTECT,
        related_name="relationship_requests_made",
        help_text=_("The partner whose staff made the request (a provider acting for a reseller)."),
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="relationship_requests",
    )
    include_delegated_admin = models.BooleanField(
        _("include delegated admin privileges"), default=False
    )
    token = models.CharField(
        _("invitation token"), max_length=64, unique=True, default=new_invitation_token
    )
    state = models.CharField(
        _("state"), max_length=16, choices=RequestState.choices, default=RequestState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), default=request_expiry)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    responded_at = models.DateTimeField(_("responded"), null=True, blank=True)

    objects = RelationshipRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("relationship request")
        verbose_name_plural = _("relationship requests")
        constraints = [
            choices_check("state", RequestState, "relationship_request_state_valid"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="relationship_request_expires_after_creation",
            ),
            models.UniqueConstraint(
                fields=["partner", "customer"],
                condition=models.Q(state=RequestState.PENDING),
                name="relationship_request_one_pending_per_pair",
            ),
        ]

    def __str__(self):
        return f"{self.partner} → {self.customer} ({self.get_state_display()})"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def is_open(self) -> bool:
        return self.state == RequestState.PENDING and not self.is_expired

    @property
    def shown_state(self) -> str:
        """The state as people see it: a pending request past its date is expired."""
        if self.state == RequestState.PENDING and self.is_expired:
            return RequestState.EXPIRED.label
        return self.get_state_display()
