"""A provider's indirect resellers (a reseller's providers): the list with its figures, a
partnership request, and ending a partnership, whose subscriptions fall back."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers import workflows
from customers.bulk_forms import ResellerSubscriptionsForm
from customers.models import Subscription
from partnercenter.access import requires
from partnercenter.errors import DomainError
from partnercenter.htmx import AuthenticatedHttpRequest, render_page
from partnercenter.policy import Action, permits
from partnercenter.roles import Capability
from relationships import services
from relationships.forms import PartnershipRequestForm
from relationships.models import CustomerRelationship, ResellerPartnership
from relationships.partnership_views import partnership_or_404


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
def partnerships(request: AuthenticatedHttpRequest):
    """A provider's indirect resellers (or a reseller's providers), with partnership state."""
    form = PartnershipRequestForm(initial={"partner_id": request.GET.get("partner_id", "")})
    return _partnerships_page(request, form)


def _partnerships_page(request: AuthenticatedHttpRequest, form: PartnershipRequestForm):
    return TemplateResponse(
        request,
        "relationships/partnerships.html",
        {
            "partner": request.user.partner,
            "partnerships": _partnerships_for(request.user),
            "form": form,
            "can_request": permits(request.user, ResellerPartnership, Action.REQUEST),
        },
    )


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def partnership_detail(request: AuthenticatedHttpRequest, partnership_id):
    """One of the provider's resellers: its figures and, for those who assign, the bulk change
    that makes it the designated support contact wherever it is eligible."""
    if not request.user.partner.is_provider:
        raise Http404  # a reseller's staff have no reseller pages
    return reseller_page(request, partnership_or_404(request, partnership_id, Action.VIEW))


def reseller_page(request, partnership: ResellerPartnership, *, bulk_form=None):
    """The reseller's page (`bulk_form`: one sent back with its errors)."""
    can_assign = request.user.can(Capability.ASSIGN_SUPPORT_CONTACT) and (
        partnership.state == ResellerPartnership.State.ACTIVE
    )
    if bulk_form is None and can_assign:
        bulk_form = ResellerSubscriptionsForm(
            provider=request.user.partner, reseller=partnership.reseller
        )
    figures = _partnerships_for(request.user).filter(pk=partnership.pk).first()
    return render_page(
        request,
        "relationships/partnership_detail.html",
        {
            "partnership": partnership,
            "figures": figures,
            "bulk_form": bulk_form if can_assign else None,
            "may_assign": request.user.can(Capability.ASSIGN_SUPPORT_CONTACT),
        },
        partial="bulk-operation",
    )


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_request(request: AuthenticatedHttpRequest):
    """Ask a reseller, by partner id, for a partnership."""
    if not permits(request.user, ResellerPartnership, Action.REQUEST):
        raise PermissionDenied
    form = PartnershipRequestForm(request.POST)
    if form.is_valid():
        try:
            partnership = services.reseller_partnership_request(
                provider=request.user.partner,
                partner_id=form.cleaned_data["partner_id"],
                by=request.user,
            )
        except DomainError as error:
            form.add_error("partner_id", error.message)
        else:
            messages.success(
                request,
                _("Partnership requested. %(reseller)s can accept it on its side.")
                % {"reseller": partnership.reseller.name},
            )
            return redirect("customers:partnerships")
    return _partnerships_page(request, form)


@require_http_methods(["GET", "POST"])
@requires(Capability.REMOVE_RELATIONSHIP)
def partnership_remove(request: AuthenticatedHttpRequest, partnership_id):
    """Confirm, then end a partnership; its designated subscriptions fall back to the provider."""
    partnership = partnership_or_404(request, partnership_id, Action.REMOVE)
    if request.method == "POST":
        try:
            changes = workflows.reseller_partnership_remove(
                partnership=partnership, by=request.user
            )
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
        return redirect("customers:partnerships")
    fallbacks = workflows.partnership_removal_fallbacks(partnership).order_by(
        "customer__name", "offer_name", "pk"
    )
    return TemplateResponse(
        request,
        "relationships/partnership_remove.html",
        {"partnership": partnership, "fallbacks": fallbacks},
    )
