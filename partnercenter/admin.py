from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from partnercenter.models import Partner, RoleAssignment, User


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "partner_id", "tenant_id", "support_email"]
    list_filter = ["kind"]
    search_fields = ["name", "partner_id", "tenant_id"]


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
