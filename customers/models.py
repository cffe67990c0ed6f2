"""Customers, their subscriptions, and the history of designated support contact changes."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partnercenter.models import ChangeRecord, Partner, choices_check
from partnercenter.policy import RestrictedQuerySet


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    PENDING = "pending", _("Pending")
    EXPIRED = "expired", _("Expired")
    DISABLED = "disabled", _("Disabled")
    DELETED = "deleted", _("Deleted")


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    ANNUAL = "annual", _("Annual")


class Term(models.TextChoices):
    ONE_MONTH = "P1M", _("1 month")
    ONE_YEAR = "P1Y", _("1 year")
    THREE_YEARS = "P3Y", _("3 years")


class CommerceType(models.TextChoices):
    LEGACY = "legacy", _("Legacy")
    NEW_COMMERCE = "new_commerce", _("New commerce")


class Customer(models.Model):
    """A company that buys subscriptions through the channel."""

    tenant_id = models.UUIDField(_("tenant id"), unique=True, default=uuid.uuid4)
    domain = models.CharField(_("primary domain"), max_length=253, unique=True)
    name = models.CharField(_("company name"), max_length=200, db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            # The customers list pages by (name, id), either way (partnercenter/keyset.py).
            models.Index(fields=["name", "id"], name="customer_name_id_idx"),
            # The API's customer collection pages by (name, tenant id), as Partner Center does.
            models.Index(fields=["name", "tenant_id"], name="customer_name_tenant_idx"),
        ]

    def __str__(self):
        return self.name


class Subscription(models.Model):
    """A customer's subscription to an offer, billed through one indirect provider."""

    Status = SubscriptionStatus
    BillingCycle = BillingCycle
    Term = Term
    CommerceType = CommerceType

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="subscriptions"
    )
    offer_name = models.CharField(_("offer"), max_length=200)
    nickname = models.CharField(_("nickname"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    billing_cycle = models.CharField(
        _("billing cycle"), max_length=16, choices=BillingCycle.choices
    )
    term = models.CharField(_("term"), max_length=3, choices=Term.choices)
    auto_renew = models.BooleanField(_("auto-renew"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    commerce_type = models.CharField(
        _("commerce type"), max_length=16, choices=CommerceType.choices
    )
    provider = models.ForeignKey(
        Partner,
        verbose_name=_("indirect provider"),
        on_delete=models.PROTECT,
        related_name="billed_subscriptions",
        limit_choices_to={"kind": Partner.Kind.INDIRECT_PROVIDER},
    )
    reseller_of_record = models.ForeignKey(
        Partner,
        verbose_name=_("reseller of record"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resold_subscriptions",
        limit_choices_to={"kind": Partner.Kind.INDIRECT_RESELLER},
    )
    support_contact = models.ForeignKey(
        Partner,
        verbose_name=_("designated support contact"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supported_subscriptions",
    )
    # The subscription's id in the API (a GUID, like Partner Center's).
    uuid = models.UUIDField(_("subscription id"), unique=True, default=uuid.uuid4, editable=False)
    # Bumped on every change of the support contact, so a form loaded earlier cannot
    # silently overwrite a change made since.
    version = models.PositiveIntegerField(_("version"), default=1)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["customer__name", "offer_name", "pk"]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            choices_check("status", SubscriptionStatus, "subscription_status_valid"),
            choices_check("billing_cycle", BillingCycle, "subscription_billing_cycle_valid"),
            choices_check("term", Term, "subscription_term_valid"),
            choices_check("commerce_type", CommerceType, "subscription_commerce_type_valid"),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="subscription_version_positive"
            ),
        ]

    def __str__(self):
        return self.nickname or self.offer_name

    def save(self, *args, **kwargs):
        if self._state.adding and self.support_contact_id is None:
            self.support_contact_id = self.provider_id
        super().save(*args, **kwargs)

    def clean(self):
        if self.provider_id and not self.provider.is_provider:
            raise ValidationError({"provider": _("The provider must be an indirect provider.")})
        if self.reseller_of_record_id and self.reseller_of_record.is_provider:
            raise ValidationError(
                {"reseller_of_record": _("The reseller of record must be an indirect reseller.")}
            )

    @property
    def supports_designated_contact(self) -> bool:
        return self.commerce_type == self.CommerceType.LEGACY

    @property
    def effective_support_contact(self) -> Partner:
        """The partner whose support profile the customer sees: the provider unless set."""
        return self.support_contact or self.provider


class ChangeThrough(models.TextChoices):
    FORM = "form", _("Subscription page")
    BULK = "bulk", _("Bulk change")
    API = "api", _("API")
    RELATIONSHIP_REMOVAL = "relationship_removal", _("Relationship ended")


class SupportContactChange(ChangeRecord):
    """One change of a subscription's designated support contact. Never edited, never deleted."""

    Through = ChangeThrough

    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        on_delete=models.PROTECT,
        related_name="support_contact_changes",
    )
    from_contact = models.ForeignKey(
        Partner,
        verbose_name=_("from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    to_contact = models.ForeignKey(
        Partner, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now, db_index=True)
    through = models.CharField(_("through"), max_length=32, choices=Through.choices)
    # The API token the change was made with (through the API only).
    api_token = models.ForeignKey(
        "partnercenter.ApiToken",
        verbose_name=_("API token"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta(ChangeRecord.Meta):
        verbose_name = _("support contact change")
        verbose_name_plural = _("support contact changes")
        # The History page reads a page newest first, (changed_at, id) descending, after a
        # continuation token (partnercenter/keyset.py): alone, or within one user's or one way's
        # changes, each index ends in that order, so a page is read and nothing more. A
        # contact is `to OR from`, which PostgreSQL reads through the foreign keys' indexes
        # and sorts (a contact's changes, not the history).
        indexes = [
            models.Index(fields=["changed_at", "id"], name="change_changed_at_id_idx"),
            models.Index(fields=["changed_by", "changed_at", "id"], name="change_changed_by_idx"),
            models.Index(fields=["through", "changed_at", "id"], name="change_through_idx"),
            # A subscription's page lists its newest changes first.
            models.Index(
                fields=["subscription", "changed_at", "id"], name="change_subscription_idx"
            ),
        ]
        constraints = [
            choices_check("through", ChangeThrough, "support_contact_change_through_valid")
        ]

    def __str__(self):
        return f"{self.subscription}: {self.from_contact} → {self.to_contact}"


class SubscriptionTally(models.Model):
    """How many subscriptions a provider bills per designated support contact, split by whether
    the provider has an active relationship with the customer (`reached`: its staff see them).

    The dashboard reads these rows instead of counting the whole subscription table. Database
    triggers (migration 0005) keep them in the transaction of every write to a subscription or
    a customer relationship, whoever makes it: a service, the back office, a bulk load. Rows are
    never deleted: a count of 0 is a contact with nothing left. `customers/tallies.py` reads it.
    The partners are references without a constraint: a tally never stops a partner's deletion.
    """

    provider = models.ForeignKey(
        Partner, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    contact = models.ForeignKey(  # None: subscriptions without a designated support contact
        Partner, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    reached = models.BooleanField()
    subscriptions = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # The triggers' upsert key (ON CONFLICT): one row per provider, contact and side.
            models.UniqueConstraint(
                "provider",
                Coalesce("contact", models.Value(0), output_field=models.BigIntegerField()),
                "reached",
                name="subscription_tally_key",
            )
        ]
        # A provider's contacts, most subscriptions first: the dashboard's top ten.
        indexes = [
            models.Index(
                fields=["provider", "reached", "-subscriptions"], name="subscription_tally_rank"
            )
        ]

    def __str__(self):
        return f"{self.provider_id} → {self.contact_id or '-'}: {self.subscriptions}"


class CustomerTally(models.Model):
    """How many customers a partner has an active relationship with: kept like
    `SubscriptionTally`, by triggers on customer relationships."""

    partner = models.OneToOneField(
        Partner, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    customers = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.partner_id}: {self.customers}"
