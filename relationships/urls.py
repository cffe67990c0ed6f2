from django.urls import path, register_converter

from relationships import partnership_views, portal_views
from relationships.models import InvitationTokenConverter

app_name = "relationships"

register_converter(InvitationTokenConverter, "token")

urlpatterns = [
    # A reseller answers a provider's partnership request.
    path(
        "partners/<int:partnership_id>/accept/",
        partnership_views.partnership_answer,
        {"answer": "accept"},
        name="partnership_accept",
    ),
    path(
        "partners/<int:partnership_id>/decline/",
        partnership_views.partnership_answer,
        {"answer": "decline"},
        name="partnership_decline",
    ),
    # The customer's portal: its partners, and the invitations it answers.
    path(
        "admin/relationships/",
        portal_views.customer_partner_relationships,
        name="customer_partner_relationships",
    ),
    path(
        "admin/relationships/requests/<int:request_id>/accept/",
        portal_views.invitation_answer,
        {"answer": "accept"},
        name="invitation_accept",
    ),
    path(
        "admin/relationships/requests/<int:request_id>/decline/",
        portal_views.invitation_answer,
        {"answer": "decline"},
        name="invitation_decline",
    ),
    path("invitations/<token:token>/", portal_views.invitation, name="invitation"),
    # The API's relationship request URL: the request is made when a customer's admin opens it.
    path(
        "invitations/link/<str:link>/",
        portal_views.relationship_request_link,
        name="relationship_request_link",
    ),
]
