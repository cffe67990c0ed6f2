from django.urls import path

from customers import (
    bulk_views,
    history_export,
    history_views,
    partnership_views,
    relationship_views,
    supported_views,
    views,
)

app_name = "customers"

SUBSCRIPTION = "customers/<int:customer_id>/subscriptions/<int:subscription_id>/"
RELATIONSHIPS = "customers/<int:customer_id>/relationships/"

urlpatterns = [
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/<int:customer_id>/", views.customer_detail, name="customer_detail"),
    path(
        "customers/<int:customer_id>/bulk/",
        bulk_views.customer_bulk_review,
        name="customer_bulk_review",
    ),
    path(SUBSCRIPTION, views.subscription_detail, name="subscription_detail"),
    path(
        SUBSCRIPTION + "support-contact/",
        views.subscription_support_contact,
        name="subscription_support_contact",
    ),
    path(
        SUBSCRIPTION + "changes/<int:change_id>/",
        views.support_contact_change,
        name="support_contact_change",
    ),
    path(
        RELATIONSHIPS,
        relationship_views.customer_relationships,
        name="customer_relationships",
    ),
    path(
        RELATIONSHIPS + "request/",
        relationship_views.relationship_request_new,
        name="relationship_request_new",
    ),
    path(
        RELATIONSHIPS + "requests/<int:request_id>/",
        relationship_views.relationship_request_detail,
        name="relationship_request_detail",
    ),
    path(
        RELATIONSHIPS + "<int:relationship_id>/remove/",
        relationship_views.relationship_remove,
        name="relationship_remove",
    ),
    path(
        RELATIONSHIPS + "<int:relationship_id>/give-up-dap/",
        relationship_views.relationship_give_up_dap,
        name="relationship_give_up_dap",
    ),
    path("partners/", partnership_views.partnerships, name="partnerships"),
    path("partners/request/", partnership_views.partnership_request, name="partnership_request"),
    path(
        "partners/<int:partnership_id>/",
        partnership_views.partnership_detail,
        name="partnership_detail",
    ),
    path(
        "partners/<int:partnership_id>/bulk/",
        bulk_views.reseller_bulk_review,
        name="reseller_bulk_review",
    ),
    # A bulk change: its preview, progress and summary on one page, then Submit and Undo.
    path("bulk/<int:operation_id>/", bulk_views.bulk_operation, name="bulk_operation"),
    path(
        "bulk/<int:operation_id>/submit/",
        bulk_views.bulk_operation_submit,
        name="bulk_operation_submit",
    ),
    path(
        "bulk/<int:operation_id>/undo/", bulk_views.bulk_operation_undo, name="bulk_operation_undo"
    ),
    path(
        "partners/<int:partnership_id>/remove/",
        partnership_views.partnership_remove,
        name="partnership_remove",
    ),
    path("history/", history_views.history, name="history"),
    path("history/export.csv", history_export.history_export, name="history_export"),
    # A reseller's subscriptions: those on which it is the designated support contact.
    path("supported/", supported_views.supported_subscriptions, name="supported_subscriptions"),
    path(
        "supported/export.csv",
        supported_views.supported_subscriptions_export,
        name="supported_subscriptions_export",
    ),
    # The customer's own admins: their home, their Support page, and what ends a relationship.
    path("admin/", views.customer_admin_home, name="customer_admin_home"),
    path("admin/support/", views.customer_support, name="customer_support"),
    path(
        "admin/relationships/<int:relationship_id>/remove-dap/",
        relationship_views.delegated_admin_remove,
        name="delegated_admin_remove",
    ),
    path(
        "admin/relationships/<int:relationship_id>/end/",
        relationship_views.customer_relationship_end,
        name="customer_relationship_end",
    ),
]
