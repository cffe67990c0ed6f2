"""Partnerships with resellers, relationships with customers, and invitations, on both sides."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.models import Customer, Subscription
from partnercenter.access import customer_admin_required, requires, signed_in
from partnercenter.errors import DomainError, told
from partnercenter.policy import Action, permits
from partnercenter.roles import Capability
from relationships import services
from relationships.forms import PartnershipRequestForm, RelationshipRequestForm
from relationships.models import (
    CustomerRelationship,
    RelationshipRequest,
    ResellerPartnership,
)

# Staff: partnerships -------------------------------------------------------------------------


def _count(queryset, outer_field: str):
    """A correlated COUNT subquery, so that lists cost one query whatever their length."""
    return Coalesce(
        Subquery(
            queryset.filter(**{outer_field: OuterRef("reseller_id")})
            .order_by()
            .values(outer_field)
            .annotate(n=Count("pk"))
            .values("n")[:1]
        ),
        0,
    )


def _partnerships_for(user):
    partner = user.partner
    partnerships = (
        ResellerPartnership.objects.restrict(user, Action.VIEW)
        .annotate_permission(user, Action.REMOVE)
        .annotate_permission(user, Action.ANSWER)
        .select_related("provider", "reseller")
    )
    if not partner.is_provider:
        return partnerships.order_by("state", "provider__name")
    customers = CustomerRelationship.objects.active().filter(
        customer_id__in=CustomerRelationship.objects.active()
        .filter(partner_id=partner.pk)
        .values("customer_id")
    )
    designated = Subscription.objects.filter(provider_id=partner.pk)
    return partnerships.annotate(
        customer_count=_count(customers, "partner_id"),
        designated_count=_count(designated, "support_contact_id"),
    ).order_by("state", "reseller__name")


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def partnerships(request):
    """A provider's indirect resellers (or a reseller's providers), with partnership state."""
    partner = request.user.partner
    form = PartnershipRequestForm(initial={"partner_id": request.GET.get("partner_id", "")})
    return TemplateResponse(
        request,
        "relationships/partnerships.html",
        {
            "partner": partner,
            "partnerships": _partnerships_for(request.user),
            "form": form,
            "can_request": permits(request.user, ResellerPartnership, Action.REQUEST),
        },
    )


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_request(request):
    """Ask a reseller, by partner id, for a partnership."""
    partner = request.user.partner
    if not permits(request.user, ResellerPartnership, Action.REQUEST):
        raise PermissionDenied
    form = PartnershipRequestForm(request.POST)
    if form.is_valid():
        try:
            partnership = services.reseller_partnership_request(
                provider=partner, partner_id=form.cleaned_data["partner_id"], by=request.user
            )
        except DomainError as error:
            form.add_error("partner_id", error.message)
        else:
            messages.success(
                request,
                _("Partnership requested. %(reseller)s can accept it on its side.")
                % {"reseller": partnership.reseller.name},
            )
            return redirect("partnerships")
    return TemplateResponse(
        request,
        "relationships/partnerships.html",
        {
            "partner": partner,
            "partnerships": _partnerships_for(request.user),
            "form": form,
            "can_request": True,
        },
    )


def _partnership(request, partnership_id, action: Action) -> ResellerPartnership:
    return get_object_or_404(
        ResellerPartnership.objects.restrict(request.user, action).select_related(
            "provider", "reseller"
        ),
        pk=partnership_id,
    )


def _answer_partnership(request, partnership_id, answer, done_message):
    partnership = _partnership(request, partnership_id, Action.ANSWER)
    with told(request, done_message % {"provider": partnership.provider.name}):
        answer(partnership=partnership, by=request.user)
    return redirect("partnerships")


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_accept(request, partnership_id):
    """The reseller accepts a provider's partnership request."""
    return _answer_partnership(
        request,
        partnership_id,
        services.reseller_partnership_accept,
        _("You are now an indirect reseller of %(provider)s."),
    )


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_decline(request, partnership_id):
    """The reseller declines a provider's partnership request."""
    return _answer_partnership(
        request,
        partnership_id,
        services.reseller_partnership_decline,
        _("You declined the partnership request of %(provider)s."),
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.REMOVE_RELATIONSHIP)
def partnership_remove(request, partnership_id):
    """Confirm, then end a partnership; its designated subscriptions fall back to the provider."""
    partnership = _partnership(request, partnership_id, Action.REMOVE)
    if request.method == "POST":
        try:
            changes = services.reseller_partnership_remove(partnership=partnership, by=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _(
                    "The partnership with %(partner)s was removed. %(count)s subscription(s) "
                    "fell back to their provider as designated support contact."
                )
                % {"partner": partnership.reseller.name, "count": len(changes)},
            )
        return redirect("partnerships")
    fallbacks = services.partnership_removal_fallbacks(partnership).order_by(
        "customer__name", "offer_name", "pk"
    )
    return TemplateResponse(
        request,
        "relationships/partnership_remove.html",
        {"partnership": partnership, "fallbacks": fallbacks},
    )


# Staff: a customer's relationships -----------------------------------------------------------


def _customer(request, customer_id, action: Action = Action.VIEW) -> Customer:
    return get_object_or_404(Customer.objects.restrict(request.user, action), pk=customer_id)


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def customer_relationships(request, customer_id):
    """The partners that work with a customer, DAP, and the requests made to it."""
    customer = _customer(request, customer_id)
    relationships = (
        CustomerRelationship.objects.restrict(request.user, Action.VIEW)
        .live()
        .filter(customer=customer)
        .annotate_permission(request.user, Action.REMOVE)
        .annotate_permission(request.user, Action.REMOVE_DAP)
        .select_related("partner")
        .order_by("partner__name")
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
def relationship_request_new(request, customer_id):
    """Invite a customer to a relationship with us or one of our resellers, DAP optional."""
    customer = _customer(request, customer_id, Action.REQUEST)
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
                return redirect("relationship_request_detail", customer.pk, invitation.pk)
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
def relationship_request_detail(request, customer_id, request_id):
    """A request's invitation link and an email draft to copy, then Done."""
    customer = _customer(request, customer_id)
    invitation = get_object_or_404(
        RelationshipRequest.objects.restrict(request.user, Action.SHARE).select_related(
            "partner", "requested_by", "requested_through"
        ),
        customer=customer,
        pk=request_id,
    )
    link = request.build_absolute_uri(reverse("invitation", args=[invitation.token]))
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
def relationship_remove(request, customer_id, relationship_id):
    """Confirm, then end our own relationship with a customer, or say why it cannot end yet."""
    customer = _customer(request, customer_id)
    relationship = _relationship(request, relationship_id, Action.REMOVE, customer=customer)
    if request.method == "POST":
        _end_relationship(request, relationship)
        return redirect("customer_relationships", customer.pk)
    return _removal_page(
        request,
        "relationships/relationship_remove.html",
        relationship,
        {"customer": customer, "tab": "relationships"},
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.REMOVE_RELATIONSHIP)
def relationship_give_up_dap(request, customer_id, relationship_id):
    """Confirm, then give up our delegated admin privileges for a customer."""
    customer = _customer(request, customer_id)
    relationship = _relationship(request, relationship_id, Action.REMOVE_DAP, customer=customer)
    if request.method == "POST":
        _remove_dap(
            request,
            relationship,
            _("%(partner)s no longer holds delegated admin privileges for %(customer)s."),
        )
        return redirect("customer_relationships", customer.pk)
    return _removal_page(
        request,
        "relationships/delegated_admin_remove.html",
        relationship,
        {"customer": customer, "tab": "relationships", "giving_up": True},
    )


def _relationship(request, relationship_id, action: Action, **lookups) -> CustomerRelationship:
    return get_object_or_404(
        CustomerRelationship.objects.restrict(request.user, action).select_related(
            "partner", "customer"
        ),
        pk=relationship_id,
        **lookups,
    )


def _end_relationship(request, relationship: CustomerRelationship) -> None:
    try:
        changes = services.customer_relationship_remove(relationship=relationship, by=request.user)
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


def _remove_dap(request, relationship: CustomerRelationship, done_message) -> None:
    names = {"partner": relationship.partner.name, "customer": relationship.customer.name}
    with told(request, done_message % names):
        services.delegated_admin_remove(relationship=relationship, by=request.user)


def _removal_page(request, template, relationship, context):
    """The confirmation of a removal: what falls back, or why it cannot happen now."""
    return TemplateResponse(
        request,
        template,
        {
            **context,
            "relationship": relationship,
            "blocker": services.relationship_removal_blocker(relationship),
            "fallbacks": services.relationship_removal_fallbacks(relationship).order_by(
                "offer_name", "pk"
            ),
        },
    )


# Customer side ------------------------------------------------------------------------------


@require_GET
@customer_admin_required
def customer_partner_relationships(request):
    """The customer's partners and the requests waiting for an answer."""
    relationships = (
        CustomerRelationship.objects.restrict(request.user, Action.VIEW)
        .active()
        .annotate_permission(request.user, Action.REMOVE)
        .annotate_permission(request.user, Action.REMOVE_DAP)
        .select_related("partner")
        .order_by("partner__name")
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


def _answer_invitation(request, request_id, answer, done_message):
    invitation = get_object_or_404(
        RelationshipRequest.objects.restrict(request.user, Action.ANSWER).select_related("partner"),
        pk=request_id,
    )
    with told(request, done_message % {"partner": invitation.partner.name}):
        answer(request=invitation, by=request.user)
    return redirect("customer_partner_relationships")


@require_POST
@customer_admin_required
def invitation_accept(request, request_id):
    """Accept a partner's relationship request (with DAP if it asked for it)."""
    return _answer_invitation(
        request,
        request_id,
        services.relationship_request_accept,
        _("You now work with %(partner)s."),
    )


@require_POST
@customer_admin_required
def invitation_decline(request, request_id):
    """Decline a partner's relationship request."""
    return _answer_invitation(
        request,
        request_id,
        services.relationship_request_decline,
        _("You declined the request of %(partner)s."),
    )


@require_http_methods(["GET", "POST"])
@customer_admin_required
def delegated_admin_remove(request, relationship_id):
    """Confirm, then withdraw a partner's delegated admin privileges."""
    relationship = _relationship(request, relationship_id, Action.REMOVE_DAP)
    if request.method == "POST":
        _remove_dap(
            request, relationship, _("%(partner)s no longer holds delegated admin privileges.")
        )
        return redirect("customer_partner_relationships")
    return _removal_page(request, "relationships/delegated_admin_remove.html", relationship, {})


@require_http_methods(["GET", "POST"])
@customer_admin_required
def customer_relationship_end(request, relationship_id):
    """Confirm, then end the customer's relationship with a partner."""
    relationship = _relationship(request, relationship_id, Action.REMOVE)
    if request.method == "POST":
        _end_relationship(request, relationship)
        return redirect("customer_partner_relationships")
    return _removal_page(request, "relationships/relationship_end.html", relationship, {})


@require_GET
@signed_in
def invitation(request, token):
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
    return redirect(reverse("customer_partner_relationships") + f"?request={invitation.pk}")
