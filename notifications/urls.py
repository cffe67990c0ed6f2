from django.urls import path

from notifications import views

app_name = "notifications"

ENDPOINT = "webhooks/<int:endpoint_id>/"

urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path(ENDPOINT, views.webhook_detail, name="webhook_detail"),
    path(ENDPOINT + "roll-secret/", views.webhook_secret_roll, name="webhook_secret_roll"),
    path(ENDPOINT + "test/", views.webhook_test, name="webhook_test"),
    path(
        ENDPOINT + "deliveries/<int:delivery_id>/resend/",
        views.delivery_resend,
        name="delivery_resend",
    ),
]
