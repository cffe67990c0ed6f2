"""The customer's portal: its partners, the requests waiting for an answer, invitation links."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from partnercenter.access import customer_admin_required, signed_in
from partnercenter.errors import DomainError, told
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import Action
from relationships import services
from relationships.models import CustomerRelationship, RelationshipRequest


@require_GET
@customer_admin_required
def customer_partner_relationships(request: AuthenticatedHttpRequest):
    """The customer's partners and the requests waiting for an answer."""
    relationships = (
        CustomerRelationship.objects.restrict(request.user, Action.VIEW)
        .active()
        .listed_for(request.user)
    )
    pending = (
        RelationshipRequest.objects.restrict(request.user, Action.VIEW)
        .open()
        .select_related("partner", "requested_through")
        .order_by("created_at")
    )
    return TemplateResponse(
        request,
        "relationships/customer_partner_relationships.html",
        {
            "customer": request.user.customer,
            "relationships": relationships,
            "pending": pending,
            "highlight": request.GET.get("request", ""),
        },
    )


# A customer's two answers to a relationship request: the service each calls, and what the page
# then says.
INVITATION_ANSWERS = {
    "accept": (
        services.relationship_request_accept,
        gettext_lazy("You now work with %(partner)s."),
    ),
    "decline": (
        services.relationship_request_decline,
        gettext_lazy("You declined the request of %(partner)s."),
    ),
}


@require_POST
@customer_admin_required
def invitation_answer(request: AuthenticatedHttpRequest, request_id, answer):
    """Accept a partner's relationship request (with DAP if it asked for it), or decline it."""
    invitation = get_object_or_404(
        RelationshipRequest.objects.restrict(request.user, Action.ANSWER).select_related("partner"),
        pk=request_id,
    )
    service, done = INVITATION_ANSWERS[answer]
    with told(request, done % {"partner": invitation.partner.name}):
        service(request=invitation, by=request.user)
    return redirect("relationships:customer_partner_relationships")


@require_GET
@signed_in
def invitation(request: AuthenticatedHttpRequest, token):
    """Where an invitation link leads: the customer's admin to the request, others a message."""
    # The token is the invitation's secret: whoever holds it learns whom it is for, no more.
    invitation = get_object_or_404(RelationshipRequest.objects.all(), token=token)
    if (
        not RelationshipRequest.objects.restrict(request.user, Action.ANSWER)
        .filter(pk=invitation.pk)
        .exists()
    ):
        return TemplateResponse(
            request,
            "relationships/invitation_elsewhere.html",
            {"invitation": invitation},
            status=403,
        )
    if not invitation.is_open:
        messages.warning(
            request,
            _("This invitation can no longer be accepted (%(state)s).")
            % {"state": invitation.shown_state.lower()},
        )
    return redirect(
        reverse("relationships:customer_partner_relationships") + f"?request={invitation.pk}"
    )


@require_GET
@customer_admin_required
def relationship_request_link(request: AuthenticatedHttpRequest, link):
    """Where the API's relationship request URL leads: the request, made now for the admin's
    customer (or the one already pending), to accept or decline."""
    try:
        invitation = services.relationship_request_from_link(link=link, by=request.user)
    except DomainError as refusal:
        messages.error(request, refusal.message)
        return redirect("relationships:customer_partner_relationships")
    return redirect(
        reverse("relationships:customer_partner_relationships") + f"?request={invitation.pk}"
    )
