from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from partnercenter.models import ApiToken, Partner, RoleAssignment, RoleChange, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the back office reads and never adds, changes or deletes."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ChangeRecordAdmin(ReadOnlyAdmin):
    """Changes kept for good (ChangeRecord) can be read here, never written."""

    date_hierarchy = "changed_at"


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "partner_id", "tenant_id", "support_email"]
    list_filter = ["kind"]
    search_fields = ["name", "partner_id", "tenant_id"]
    # As on the support profile: an address typed without a scheme is an https one.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("Organisation"), {"fields": ["partner", "customer"]}),
    ]
    list_display = ["username", "email", "partner", "customer", "is_active", "is_superuser"]
    list_filter = ["is_active", "is_superuser", "partner"]
    list_select_related = ["partner", "customer"]
    autocomplete_fields = ["partner", "customer"]
    inlines = [RoleAssignmentInline]

    def save_related(self, request, form, formsets, change):
        """Record a change of roles made here, like one made on the Users pages."""
        user = form.instance
        before = _roles_of(user) if change else set()
        super().save_related(request, form, formsets, change)
        after = _roles_of(user)
        if before != after:
            RoleChange.objects.create(
                user=user, changed_by=request.user, from_roles=before, to_roles=after
            )


def _roles_of(user: User) -> set[str]:
    return set(RoleAssignment.objects.filter(user=user).values_list("role", flat=True))


@admin.register(RoleChange)
class RoleChangeAdmin(ChangeRecordAdmin):
    list_display = ["changed_at", "user", "from_display", "to_display", "changed_by"]
    list_select_related = ["user", "changed_by"]
    search_fields = ["user__username", "user__last_name", "changed_by__username"]

    @admin.display(description=_("from"))
    def from_display(self, change):
        return _joined(change.from_labels)

    @admin.display(description=_("to"))
    def to_display(self, change):
        return _joined(change.to_labels)


def _joined(labels) -> str:
    return ", ".join(str(label) for label in labels) or "—"


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are issued by their user (or `manage.py api_token`) and shown once; here they can
    be read and revoked, never added, edited or deleted. The hash is never shown."""

    list_display = [
        "name",
        "display_prefix",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["user__partner"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    fields = [
        "name",
        "display_prefix",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description=_("prefix"))
    def display_prefix(self, token):
        return f"{token.display_prefix}…"

    @admin.action(description=_("Revoke the selected API tokens"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=request.user
        )
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
            % {"count": count},
        )
