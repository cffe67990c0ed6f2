"""Partners (organisations in the channel) and the people who sign in."""

import uuid
from functools import cached_property

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partnercenter.phones import validate_e164_phone
from partnercenter.policy import RestrictedQuerySet
from partnercenter.records import ImmutableRecord
from partnercenter.roles import Capability, Role, capabilities_for
from partnercenter.time_zones import validate_zone_name

partner_id_validator = RegexValidator(r"^[0-9]{4,12}$", _("A partner id is 4 to 12 digits."))


def choices_check(field: str, choices: type[models.TextChoices], name: str):
    """A database check that `field` holds one of `choices`, not only a form's."""
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__in": [c.value for c in choices]}), name=name
    )


class PartnerKind(models.TextChoices):
    INDIRECT_PROVIDER = "indirect_provider", _("Indirect provider")
    INDIRECT_RESELLER = "indirect_reseller", _("Indirect reseller")


class NotificationTopic(models.TextChoices):
    """What a partner may choose to be told by email (its support profile)."""

    CONTACT_GAINED = "contact_gained", _("We become a subscription's designated support contact")
    CONTACT_LOST = "contact_lost", _("We stop being a subscription's designated support contact")
    RELATIONSHIPS = (
        "relationships",
        _("Customer relationships: requested, accepted, declined, DAP removed, ended"),
    )
    PARTNERSHIPS = "partnerships", _("Reseller partnerships: requested, accepted, declined, ended")


def default_notification_topics() -> list[str]:
    return [NotificationTopic.CONTACT_GAINED, NotificationTopic.CONTACT_LOST]


class PartnerQuerySet(RestrictedQuerySet):
    def providers(self):
        return self.filter(kind=PartnerKind.INDIRECT_PROVIDER)

    def resellers(self):
        return self.filter(kind=PartnerKind.INDIRECT_RESELLER)


class Partner(models.Model):
    """An organisation in the cloud-solution channel, with the support profile customers see."""

    Kind = PartnerKind

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    tenant_id = models.UUIDField(_("tenant id"), unique=True, default=uuid.uuid4)
    partner_id = models.CharField(
        _("partner id"), max_length=12, unique=True, validators=[partner_id_validator]
    )
    name = models.CharField(_("name"), max_length=200)
    support_email = models.EmailField(_("support email"), blank=True)
    support_phone = models.CharField(
        _("support phone"),
        max_length=32,
        blank=True,
        validators=[validate_e164_phone],
        help_text=_("International form, stored as E.164: +14255550100."),
    )
    support_website = models.URLField(
        _("support website"),
        blank=True,
        validators=[
            URLValidator(
                schemes=["https"],
                message=_("Enter a website address that starts with https://."),
                code="https_required",
            )
        ],
    )
    support_hours = models.CharField(_("support hours"), max_length=200, blank=True)
    notification_email = models.EmailField(
        _("notification email"),
        blank=True,
        help_text=_("Where notifications go; empty: the support email."),
    )
    notification_language = models.CharField(
        _("notification language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )
    notification_topics = models.JSONField(
        _("notification topics"), default=default_notification_topics, blank=True
    )

    objects = PartnerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        constraints = [
            choices_check("kind", PartnerKind, "partner_kind_valid"),
            models.CheckConstraint(
                condition=~models.Q(partner_id=""), name="partner_partner_id_not_empty"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_provider(self) -> bool:
        return self.kind == self.Kind.INDIRECT_PROVIDER

    @property
    def notification_address(self) -> str:
        return self.notification_email or self.support_email

    def wants(self, topic: NotificationTopic) -> bool:
        """Whether this partner asked to be emailed about `topic`, and has an address."""
        return bool(self.notification_address) and topic in self.notification_topics


class UserQuerySet(RestrictedQuerySet):
    def active_global_admins(self):
        return self.filter(is_active=True, role_assignments__role=Role.GLOBAL_ADMIN)


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """Someone who signs in: partner staff (with roles) or a customer's admin, never both."""

    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="admins",
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("The language the user chose; empty: the browser's."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_zone_name],
        help_text=_("The IANA name of the zone the user chose; empty: the browser's."),
    )
    two_step_exempt = models.BooleanField(
        _("may skip two-step verification"),
        default=False,
        help_text=_(
            "Only for demo and test accounts: a global admin who may skip it is not asked to "
            "set up two-step verification."
        ),
    )
    # Part of the session hash: bumping it ends every session of the user (on deactivation).
    session_generation = models.PositiveIntegerField(_("session generation"), default=0)

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(partner__isnull=True) | models.Q(customer__isnull=True),
                name="user_is_staff_or_customer_admin_not_both",
            ),
        ]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.get_username()

    @property
    def is_partner_staff(self) -> bool:
        return self.partner_id is not None

    @property
    def is_customer_admin(self) -> bool:
        return self.customer_id is not None

    @cached_property
    def roles(self) -> frozenset[Role]:
        if not self.is_partner_staff:
            return frozenset()
        return frozenset(Role(r) for r in self.role_assignments.values_list("role", flat=True))

    @cached_property
    def capabilities(self) -> frozenset[Capability]:
        return capabilities_for(self.roles)

    def can(self, capability: Capability | str) -> bool:
        return Capability(capability) in self.capabilities

    @property
    def two_step_required(self) -> bool:
        """Global admins must use two-step verification, unless exempted (demo accounts)."""
        return Role.GLOBAL_ADMIN in self.roles and not self.two_step_exempt

    def get_session_auth_hash(self):
        return self._session_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret=secret)

    def _session_hash(self, *, secret):
        # Like Django's (an HMAC of the password hash, so a new password signs out every
        # session), plus the generation, so that deactivation signs out everywhere too.
        return salted_hmac(
            "partnercenter.User.session",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class RoleAssignment(models.Model):
    """One role held by one partner staff user."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="role_assignment_unique"),
            choices_check("role", Role, "role_assignment_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()}"


class ChangeRecord(ImmutableRecord):
    """A change kept for good, newest first. Subclasses declare `changed_at` and `changed_by`
    (a user; empty: the system)."""

    class Meta:
        abstract = True
        ordering = ["-changed_at", "-pk"]

    @property
    def changed_by_name(self) -> str:
        if self.changed_by is None:
            return gettext("System")
        return self.changed_by.display_name


class RoleChange(ChangeRecord):
    """One change of a staff user's roles: whose, by whom, from what to what, when.
    Never edited, never deleted."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.PROTECT, related_name="role_changes"
    )
    changed_by = models.ForeignKey(
        User,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The role values, sorted: ["admin_agent", "sales_agent"].
    from_roles = models.JSONField(_("from"), default=list, blank=True)
    to_roles = models.JSONField(_("to"), default=list, blank=True)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now, db_index=True)

    class Meta(ChangeRecord.Meta):
        verbose_name = _("role change")
        verbose_name_plural = _("role changes")
        indexes = [
            models.Index(fields=["user", "-changed_at"], name="role_change_user_newest"),
        ]

    def __str__(self):
        return f"{self.user}: {self.from_roles} → {self.to_roles}"

    def save(self, *args, **kwargs):
        self.from_roles = sorted(Role(r).value for r in self.from_roles)
        self.to_roles = sorted(Role(r).value for r in self.to_roles)
        super().save(*args, **kwargs)

    @property
    def from_labels(self) -> list[str]:
        return _labels(self.from_roles)

    @property
    def to_labels(self) -> list[str]:
        return _labels(self.to_roles)


def _labels(values) -> list[str]:
    """The labels of the roles `values`, in the order of the role table."""
    held = set(values)
    return [role.label for role in Role if role.value in held]


class ApiToken(models.Model):
    """A token with which a script acts, through the API, as one partner staff user (with that
    user's roles, read on every call). Only a hash of it is kept: the token is shown once."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    # The public start of the token ("pc_<prefix>_..."): finds the row and names the token in
    # lists; the secret rest is in `token_hash` only.
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    # The user's session generation when the token was issued: deactivating the user bumps it,
    # so, like their sessions, their tokens stay dead even if the user is reactivated.
    user_generation = models.PositiveIntegerField(editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        User,
        verbose_name=_("revoked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="api_token_expires_after_creation",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.display_prefix}…)"

    @property
    def display_prefix(self) -> str:
        return f"pc_{self.prefix}"

    def is_usable(self, now=None) -> bool:
        """Unrevoked and unexpired (the user's state is checked on each call)."""
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


class PageVisit(models.Model):
    """When a user last viewed a page, and when their visit before this one ended: what the
    page marks "New" is what came after `previous_at`. Views less than a visit's gap apart
    (paging, filtering) are one visit (partnercenter/services.py `page_visit_mark`)."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="page_visits"
    )
    page = models.CharField(_("page"), max_length=64)
    current_at = models.DateTimeField(_("last viewed"))
    # The last view of the visit before; empty during the first visit.
    previous_at = models.DateTimeField(_("previous visit"), null=True, blank=True)

    class Meta:
        verbose_name = _("page visit")
        verbose_name_plural = _("page visits")
        constraints = [
            models.UniqueConstraint(fields=["user", "page"], name="page_visit_unique"),
        ]

    def __str__(self):
        return f"{self.user} – {self.page}"
