from django.contrib import admin

from relationships.models import CustomerRelationship, RelationshipRequest, ResellerPartnership


@admin.register(ResellerPartnership)
class ResellerPartnershipAdmin(admin.ModelAdmin):
    list_display = ["provider", "reseller", "state", "created_at"]
    list_filter = ["state"]
    list_select_related = ["provider", "reseller"]
    autocomplete_fields = ["provider", "reseller"]


@admin.register(CustomerRelationship)
class CustomerRelationshipAdmin(admin.ModelAdmin):
    list_display = ["customer", "partner", "state", "delegated_admin", "created_at"]
    list_filter = ["state", "delegated_admin"]
    list_select_related = ["customer", "partner"]
    search_fields = ["customer__name", "partner__name"]
    autocomplete_fields = ["customer", "partner"]


@admin.register(RelationshipRequest)
class RelationshipRequestAdmin(admin.ModelAdmin):
    list_display = ["customer", "partner", "state", "include_delegated_admin", "expires_at"]
    list_filter = ["state", "include_delegated_admin"]
    list_select_related = ["customer", "partner"]
    autocomplete_fields = ["customer", "partner", "requested_through"]
    readonly_fields = ["token", "requested_by", "responded_by", "responded_at"]
