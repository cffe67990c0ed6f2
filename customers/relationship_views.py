"""A customer's relationships, for staff (the Relationships tab, requests, ending one's own
relationship or DAP) and for the customer's admin (withdrawing DAP, ending a relationship):
every ending makes subscriptions fall back, so these views live with the subscriptions."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from customers import workflows
from customers.models import Customer
from customers.views import customer_or_404
from partnercenter.access import customer_admin_required, requires
from partnercenter.errors import DomainError, told
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import Action, permits
from partnercenter.roles import Capability
from relationships import services
from relationships.forms import RelationshipRequestForm
from relationships.models import CustomerRelationship, RelationshipRequest


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def customer_relationships(request: AuthenticatedHttpRequest, customer_id):
    """The partners that work with a customer, DAP, and the requests made to it."""
    customer = customer_or_404(request, customer_id)
    relationships = (
        CustomerRelationship.objects.restrict(request.user, Action.VIEW)
        .live()
        .filter(customer=customer)
        .listed_for(request.user)
    )
    requests = (
        RelationshipRequest.objects.restrict(request.user, Action.VIEW)
        .filter(customer=customer)
        .select_related("partner", "requested_by")
        .order_by("-created_at")[:20]
    )
    return TemplateResponse(
        request,
        "relationships/customer_relationships.html",
        {
            "customer": customer,
            "tab": "relationships",
            "relationships": relationships,
            "requests": requests,
            "can_share": permits(request.user, RelationshipRequest, Action.SHARE),
            "can_request": permits(request.user, Customer, Action.REQUEST),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.REQUEST_RELATIONSHIP)
def relationship_request_new(request: AuthenticatedHttpRequest, customer_id):
    """Invite a customer to a relationship with us or one of our resellers, DAP optional."""
    customer = customer_or_404(request, customer_id, Action.REQUEST)
    partners = services.requestable_partners(request.user.partner)
    if request.method == "POST":
        form = RelationshipRequestForm(request.POST, partners=partners)
        if form.is_valid():
            try:
                invitation = services.relationship_request_create(
                    customer=customer,
                    partner=form.cleaned_data["partner"],
                    include_delegated_admin=form.cleaned_data["include_delegated_admin"],
                    by=request.user,
                )
            except DomainError as error:
                form.add_error("partner", error.message)
            else:
                return redirect("customers:relationship_request_detail", customer.pk, invitation.pk)
    else:
        initial = {"include_delegated_admin": request.GET.get("dap", "1") == "1"}
        partner = request.GET.get("partner", "")
        if partner.isascii() and partner.isdigit() and len(partner) <= 18:
            initial["partner"] = int(partner)
        form = RelationshipRequestForm(initial=initial, partners=partners)
    return TemplateResponse(
        request,
        "relationships/relationship_request_new.html",
        {"customer": customer, "tab": "relationships", "form": form},
    )


@require_GET
@requires(Capability.REQUEST_RELATIONSHIP)
def relationship_request_detail(request: AuthenticatedHttpRequest, customer_id, request_id):
    """A request's invitation link and an email draft to copy, then Done."""
    customer = customer_or_404(request, customer_id)
    invitation = get_object_or_404(
        RelationshipRequest.objects.restrict(request.user, Action.SHARE).select_related(
            "partner", "requested_by", "requested_through"
        ),
        customer=customer,
        pk=request_id,
    )
    link = request.build_absolute_uri(reverse("relationships:invitation", args=[invitation.token]))
    email = render_to_string(
        "relationships/invitation_email.txt",
        {"invitation": invitation, "customer": customer, "link": link},
        request=request,
    ).strip()
    return TemplateResponse(
        request,
        "relationships/relationship_request_detail.html",
        {
            "customer": customer,
            "tab": "relationships",
            "invitation": invitation,
            "link": link,
            "email": email,
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.REMOVE_RELATIONSHIP)
def relationship_remove(request: AuthenticatedHttpRequest, customer_id, relationship_id):
    """Confirm, then end our own relationship with a customer, or say why it cannot end yet."""
    customer = customer_or_404(request, customer_id)
    relationship = _relationship(request, relationship_id, Action.REMOVE, customer=customer)
    if request.method == "POST":
        _end_relationship(request, relationship)
        return redirect("customers:customer_relationships", customer.pk)
    return _removal_page(
        request,
        "relationships/relationship_remove.html",
        relationship,
        {"customer": customer, "tab": "relationships"},
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.REMOVE_RELATIONSHIP)
def relationship_give_up_dap(request: AuthenticatedHttpRequest, customer_id, relationship_id):
    """Confirm, then give up our delegated admin privileges for a customer."""
    customer = customer_or_404(request, customer_id)
    relationship = _relationship(request, relationship_id, Action.REMOVE_DAP, customer=customer)
    if request.method == "POST":
        _remove_dap(
            request,
            relationship,
            _("%(partner)s no longer holds delegated admin privileges for %(customer)s."),
        )
        return redirect("customers:customer_relationships", customer.pk)
    return _removal_page(
        request,
        "relationships/delegated_admin_remove.html",
        relationship,
        {"customer": customer, "tab": "relationships", "giving_up": True},
    )


@require_http_methods(["GET", "POST"])
@customer_admin_required
def delegated_admin_remove(request: AuthenticatedHttpRequest, relationship_id):
    """Confirm, then withdraw a partner's delegated admin privileges."""
    relationship = _relationship(request, relationship_id, Action.REMOVE_DAP)
    if request.method == "POST":
        _remove_dap(
            request, relationship, _("%(partner)s no longer holds delegated admin privileges.")
        )
        return redirect("relationships:customer_partner_relationships")
    return _removal_page(request, "relationships/delegated_admin_remove.html", relationship, {})


@require_http_methods(["GET", "POST"])
@customer_admin_required
def customer_relationship_end(request: AuthenticatedHttpRequest, relationship_id):
    """Confirm, then end the customer's relationship with a partner."""
    relationship = _relationship(request, relationship_id, Action.REMOVE)
    if request.method == "POST":
        _end_relationship(request, relationship)
        return redirect("relationships:customer_partner_relationships")
    return _removal_page(request, "relationships/relationship_end.html", relationship, {})


def _relationship(
    request: AuthenticatedHttpRequest, relationship_id, action: Action, **lookups
) -> CustomerRelationship:
    return get_object_or_404(
        CustomerRelationship.objects.restrict(request.user, action).select_related(
            "partner", "customer"
        ),
        pk=relationship_id,
        **lookups,
    )


def _end_relationship(
    request: AuthenticatedHttpRequest, relationship: CustomerRelationship
) -> None:
    try:
        changes = workflows.customer_relationship_remove(relationship=relationship, by=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return
    messages.success(
        request,
        _(
            "The relationship between %(partner)s and %(customer)s was removed. %(count)s "
            "subscription(s) fell back to their provider as designated support contact."
        )
        % {
            "partner": relationship.partner.name,
            "customer": relationship.customer.name,
            "count": len(changes),
        },
    )


def _remove_dap(
    request: AuthenticatedHttpRequest, relationship: CustomerRelationship, done_message
) -> None:
    names = {"partner": relationship.partner.name, "customer": relationship.customer.name}
    with told(request, done_message % names):
        workflows.delegated_admin_remove(relationship=relationship, by=request.user)


def _removal_page(request: AuthenticatedHttpRequest, template, relationship, context):
    """The confirmation of a removal: what falls back, or why it cannot happen now."""
    return TemplateResponse(
        request,
        template,
        {
            **context,
            "relationship": relationship,
            "blocker": workflows.relationship_removal_blocker(relationship),
            "fallbacks": workflows.relationship_removal_fallbacks(relationship).order_by(
                "offer_name", "pk"
            ),
        },
    )
