from django.contrib import admin

from customers.models import Customer, Subscription, SupportContactChange
from partnercenter.admin import ChangeRecordAdmin


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "tenant_id"]
    search_fields = ["name", "domain", "tenant_id"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "offer_name",
        "customer",
        "status",
        "commerce_type",
        "provider",
        "support_contact",
    ]
    list_filter = ["status", "commerce_type", "billing_cycle", "provider"]
    list_select_related = ["customer", "provider", "support_contact"]
    search_fields = ["offer_name", "nickname", "customer__name"]
    autocomplete_fields = ["customer", "provider", "reseller_of_record", "support_contact"]
    # The contact changes only through the product's own flow, so that history is kept.
    readonly_fields = ["support_contact", "version"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["version"]


@admin.register(SupportContactChange)
class SupportContactChangeAdmin(ChangeRecordAdmin):
    list_display = [
        "changed_at",
        "subscription",
        "from_contact",
        "to_contact",
        "changed_by",
        "through",
    ]
    list_filter = ["through"]
    list_select_related = ["subscription", "from_contact", "to_contact", "changed_by"]
