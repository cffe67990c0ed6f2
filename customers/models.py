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
    # The bulk operation the change belongs to (through a bulk change or its undo only).
    bulk_operation = models.ForeignKey(
        "customers.BulkOperation",
        verbose_name=_("bulk operation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
    )
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
            # History filtered by one bulk operation.
            models.Index(
                fields=["bulk_operation", "changed_at", "id"], name="change_bulk_operation_idx"
            ),
        ]
        constraints = [
            choices_check("through", ChangeThrough, "support_contact_change_through_valid")
        ]

    def __str__(self):
        return f"{self.subscription}: {self.from_contact} → {self.to_contact}"


class BulkKind(models.TextChoices):
    ASSIGN = "assign", _("Bulk change")
    UNDO = "undo", _("Undo")


class BulkState(models.TextChoices):
    PREVIEW = "preview", _("Preview")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")


class BulkOperation(models.Model):
    """One bulk change of designated support contacts, or the undo of one: what was asked, by
    whom, and how far it went. Its rows (`BulkItem`) are chosen at the preview, each with the
    version its subscription had then, so a row changed since is skipped, never overwritten.
    The state lives here, not in a worker's memory: a restarted worker carries on."""

    Kind = BulkKind
    State = BulkState

    provider = models.ForeignKey(
        Partner, verbose_name=_("provider"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ASSIGN)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PREVIEW
    )
    # The contact asked for (an undo gives each row its own previous contact instead).
    contact = models.ForeignKey(
        Partner,
        verbose_name=_("designated support contact"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    undoes = models.OneToOneField(
        "self",
        verbose_name=_("undoes"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="undone_by",
    )
    # What was asked, in words kept as they were (the customer, the search, the filters).
    criteria = models.JSONField(_("what was asked"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Moved by each chunk: an operation running without moving for long has lost its worker.
    progressed_at = models.DateTimeField(_("last progress"), default=timezone.now)
    total = models.PositiveIntegerField(_("subscriptions"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name = _("bulk operation")
        verbose_name_plural = _("bulk operations")
        constraints = [
            choices_check("kind", BulkKind, "bulk_operation_kind_valid"),
            choices_check("state", BulkState, "bulk_operation_state_valid"),
        ]
        indexes = [
            # A worker's sweep finds the operations left queued or running.
            models.Index(fields=["state", "progressed_at"], name="bulk_operation_state_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def processed(self) -> int:
        return self.changed + self.unchanged + self.skipped


class BulkOutcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    CHANGED = "changed", _("Changed")
    UNCHANGED = "unchanged", _("Unchanged")
    SKIPPED = "skipped", _("Skipped")


class SkipReason(models.TextChoices):
    """Why a row of a bulk operation was left as it was: the eligibility rule's reasons
    (customers/eligibility.py) and the bulk's own."""

    CHANGED_SINCE = "changed_since", _("changed since the preview")
    NEW_COMMERCE = "new_commerce", _("new commerce: no designated support contact")
    NOT_A_RESELLER = "not_a_reseller", _("not a reseller of the provider")
    PARTNERSHIP_NOT_ACTIVE = "partnership_not_active", _("partnership not active")
    NO_RELATIONSHIP = "no_relationship", _("no relationship with this customer")
    NO_DELEGATED_ADMIN = "no_delegated_admin", _("no delegated admin privileges")
    NO_ACCESS = "no_access", _("you may no longer change it")


class BulkItem(models.Model):
    """One subscription of a bulk operation: where it should go, the version it had at the
    preview, and what became of it. A changed row's history entry is the operation's change
    of that subscription; it left the subscription at `expected_version + 1`."""

    operation = models.ForeignKey(
        BulkOperation, verbose_name=_("operation"), on_delete=models.CASCADE, related_name="items"
    )
    # Without foreign key constraints: the rows are copied from existing subscriptions and
    # partners by the preview's one INSERT ... SELECT, and neither is ever deleted (PROTECT
    # below); checking 10,000 of each took a preview longer than everything else together.
    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="+",
    )
    to_contact = models.ForeignKey(
        Partner,
        verbose_name=_("to"),
        on_delete=models.PROTECT,
        db_constraint=False,
        related_name="+",
    )
    expected_version = models.PositiveIntegerField(_("version at the preview"))
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=BulkOutcome.choices, default=BulkOutcome.PENDING
    )
    reason = models.CharField(_("reason"), max_length=32, choices=SkipReason.choices, blank=True)

    class Meta:
        verbose_name = _("bulk operation row")
        verbose_name_plural = _("bulk operation rows")
        # One row per subscription by construction (a SELECT of subscriptions): no unique index
        # to keep up on each of 10,000 rows.
        constraints = [choices_check("outcome", BulkOutcome, "bulk_item_outcome_valid")]
        indexes = [
            # The next chunk: an operation's pending rows in subscription order.
            models.Index(
                fields=["operation", "outcome", "subscription"], name="bulk_item_next_idx"
            ),
            # Its pages: the rows in the order the preview wrote them.
            models.Index(fields=["operation", "id"], name="bulk_item_page_idx"),
        ]

    def __str__(self):
        return f"{self.operation_id}/{self.subscription_id}: {self.outcome}"


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
