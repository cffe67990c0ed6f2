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
from partnercenter.roles import Capability
from relationships import services
from relationships.forms import PartnershipRequestForm, RelationshipRequestForm
from relationships.models import (
    CustomerRelationship,
    RelationshipRequest,
    RelationshipState,
    ResellerPartnership,
)


def _attempt(request, action, success) -> None:
    """Run a service call and tell the user how it went: `success(result)` or why not."""
    try:
        result = action()
    except services.RelationshipError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success(result))


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


def _partnerships_for(partner):
    partnerships = ResellerPartnership.objects.select_related("provider", "reseller")
    if not partner.is_provider:
        return partnerships.filter(reseller=partner).order_by("state", "provider__name")
    customers = CustomerRelationship.objects.active().filter(
        customer_id__in=CustomerRelationship.objects.active()
        .filter(partner_id=partner.pk)
        .values("customer_id")
    )
    designated = Subscription.objects.filter(provider_id=partner.pk)
    return (
        partnerships.filter(provider=partner)
        .annotate(
            customer_count=_count(customers, "partner_id"),
            designated_count=_count(designated, "support_contact_id"),
        )
        .order_by("state", "reseller__name")
    )


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
            "partnerships": _partnerships_for(partner),
            "form": form,
            "can_request": partner.is_provider
            and request.user.can(Capability.REQUEST_RELATIONSHIP),
        },
    )


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_request(request):
    """Ask a reseller, by partner id, for a partnership."""
    partner = request.user.partner
    if not partner.is_provider:
        raise PermissionDenied
    form = PartnershipRequestForm(request.POST)
    if form.is_valid():
        try:
            partnership = services.reseller_partnership_request(
                provider=partner, partner_id=form.cleaned_data["partner_id"], by=request.user
            )
        except services.RelationshipError as error:
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
            "partnerships": _partnerships_for(partner),
            "form": form,
            "can_request": True,
        },
    )


def _own_partnership(request, partnership_id) -> ResellerPartnership:
    return get_object_or_404(
        ResellerPartnership.objects.visible_to(request.user).select_related("provider", "reseller"),
        pk=partnership_id,
    )


def _answer_partnership(request, partnership_id, answer, done_message):
    partnership = _own_partnership(request, partnership_id)
    if partnership.reseller_id != request.user.partner_id:
        raise PermissionDenied
    _attempt(
        request,
        lambda: answer(partnership=partnership, by=request.user),
        lambda _result: done_message % {"provider": partnership.provider.name},
    )
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
    partnership = _own_partnership(request, partnership_id)
    if request.method == "POST":
        _attempt(
            request,
            lambda: services.reseller_partnership_remove(partnership=partnership, by=request.user),
            lambda changes: (
                _(
                    "The partnership with %(partner)s was removed. %(count)s subscription(s) "
                    "fell back to their provider as designated support contact."
                )
                % {"partner": partnership.reseller.name, "count": len(changes)}
            ),
        )
        return redirect("partnerships")
    fallbacks = (
        services.partnership_removal_fallbacks(partnership)
        .select_related("customer")
        .order_by("customer__name", "offer_name")
    )
    return TemplateResponse(
        request,
        "relationships/partnership_remove.html",
        {"partnership": partnership, "fallbacks": fallbacks},
    )


# Staff: a customer's relationships -----------------------------------------------------------


def _visible_customer(request, customer_id) -> Customer:
    return get_object_or_404(Customer.objects.visible_to(request.user), pk=customer_id)


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def customer_relationships(request, customer_id):
    """The partners that work with a customer, DAP, and the requests made to it."""
    customer = _visible_customer(request, customer_id)
    relationships = (
        CustomerRelationship.objects.filter(customer=customer)
        .exclude(state=RelationshipState.REMOVED)
        .select_related("partner")
        .order_by("partner__name")
    )
    removable = set(
        CustomerRelationship.objects.visible_to(request.user)
        .filter(customer=customer)
        .values_list("pk", flat=True)
    )
    requests = (
        RelationshipRequest.objects.visible_to(request.user)
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
            "removable": removable if request.user.can(Capability.REMOVE_RELATIONSHIP) else set(),
            "requests": requests,
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Capability.REQUEST_RELATIONSHIP)
def relationship_request_new(request, customer_id):
    """Invite a customer to a relationship with us or one of our resellers, DAP optional."""
    customer = _visible_customer(request, customer_id)
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
            except services.RelationshipError as error:
                form.add_error("partner", error.message)
            else:
                return redirect("relationship_request_detail", customer.pk, invitation.pk)
    else:
        initial = {"include_delegated_admin": request.GET.get("dap", "1") == "1"}
        if request.GET.get("partner", "").isdigit():
            initial["partner"] = int(request.GET["partner"])
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
    customer = _visible_customer(request, customer_id)
    invitation = get_object_or_404(
        RelationshipRequest.objects.visible_to(request.user).select_related(
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
    """Confirm, then end a customer relationship, or say why it cannot end yet."""
    customer = _visible_customer(request, customer_id)
    relationship = get_object_or_404(
        CustomerRelationship.objects.visible_to(request.user).select_related("partner", "customer"),
        customer=customer,
        pk=relationship_id,
    )
    if request.method == "POST":
        _attempt(
            request,
            lambda: services.customer_relationship_remove(
                relationship=relationship, by=request.user
            ),
            lambda changes: (
                _(
                    "The relationship between %(partner)s and %(customer)s was removed. "
                    "%(count)s subscription(s) fell back to their provider as designated "
                    "support contact."
                )
                % {
                    "partner": relationship.partner.name,
                    "customer": customer.name,
                    "count": len(changes),
                }
            ),
        )
        return redirect("customer_relationships", customer.pk)
    fallbacks = services.relationship_removal_fallbacks(relationship).select_related("provider")
    return TemplateResponse(
        request,
        "relationships/relationship_remove.html",
        {
            "customer": customer,
            "tab": "relationships",
            "relationship": relationship,
            "blocker": services.relationship_removal_blocker(relationship),
            "fallbacks": fallbacks.order_by("offer_name", "pk"),
        },
    )


# Customer side ------------------------------------------------------------------------------


@require_GET
@customer_admin_required
def customer_partner_relationships(request):
    """The customer's partners and the requests waiting for an answer."""
    relationships = (
        CustomerRelationship.objects.visible_to(request.user)
        .active()
        .select_related("partner")
        .order_by("partner__name")
    )
    pending = (
        RelationshipRequest.objects.visible_to(request.user)
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
        RelationshipRequest.objects.visible_to(request.user).select_related("partner"),
        pk=request_id,
    )
    _attempt(
        request,
        lambda: answer(request=invitation, by=request.user),
        lambda _result: done_message % {"partner": invitation.partner.name},
    )
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
    relationship = get_object_or_404(
        CustomerRelationship.objects.visible_to(request.user).active().select_related("partner"),
        pk=relationship_id,
    )
    if request.method == "POST":
        _attempt(
            request,
            lambda: services.delegated_admin_remove(relationship=relationship, by=request.user),
            lambda _changes: (
                _("%(partner)s no longer holds delegated admin privileges.")
                % {"partner": relationship.partner.name}
            ),
        )
        return redirect("customer_partner_relationships")
    return TemplateResponse(
        request,
        "relationships/delegated_admin_remove.html",
        {
            "relationship": relationship,
            "fallbacks": services.relationship_removal_fallbacks(relationship).order_by(
                "offer_name", "pk"
            ),
        },
    )


@require_GET
@signed_in
def invitation(request, token):
    """Where an invitation link leads: the customer's admin to the request, others a message."""
    invitation = get_object_or_404(
        RelationshipRequest.objects.select_related("customer"), token=token
    )
    if request.user.customer_id != invitation.customer_id:
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
