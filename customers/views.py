"""Customers, their subscriptions and the designated support contact flow; the customer side."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from customers.eligibility import NotListed, contact_options, standing_of_resellers
from customers.forms import CustomerSearchForm, SupportContactForm, WhyNotListedForm
from customers.links import NextStep, next_steps
from customers.models import Customer, Subscription, SupportContactChange
from customers.services import StaleSubscription, support_contact_assign
from partnercenter.access import customer_admin_required, requires
from partnercenter.errors import DomainError
from partnercenter.htmx import (
    AuthenticatedHttpRequest,
    HtmxHttpRequest,
    is_htmx_target,
    render_page,
)
from partnercenter.keyset import KeysetPaginator
from partnercenter.policy import Action, permits
from partnercenter.roles import Capability

CUSTOMERS_PER_PAGE = 25
HISTORY_SHOWN = 10  # the rest is on the History page, filtered to the subscription


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def customer_list(request: HtmxHttpRequest):
    """The partner's customers: search by name or domain, sort by name, 25 a page."""
    form = CustomerSearchForm(request.GET)
    customers = form.search(Customer.objects.restrict(request.user, Action.VIEW))
    paginator = KeysetPaginator(
        customers, form.ordering, CUSTOMERS_PER_PAGE, world=request.user.partner_id
    )
    page = paginator.page(after=request.GET.get("after"), before=request.GET.get("before"))
    context = {
        "form": form,
        "page": page,
        "query": form.data.get("q", ""),
        "sort": form.data.get("sort", "name"),
    }
    return render_page(request, "customers/customer_list.html", context, partial="customer-results")


def customer_or_404(
    request: AuthenticatedHttpRequest, customer_id, action: Action = Action.VIEW
) -> Customer:
    """The customer if the user may `action` it; 404 otherwise."""
    return get_object_or_404(Customer.objects.restrict(request.user, action), pk=customer_id)


def _subscription(
    request: AuthenticatedHttpRequest, customer_id, subscription_id, action=Action.VIEW
) -> Subscription:
    """The subscription if `action` on it is allowed (404 otherwise), with `may_assign`."""
    return get_object_or_404(
        Subscription.objects.restrict(request.user, action)
        .annotate_permission(request.user, Action.ASSIGN)
        .select_related("customer", "provider", "support_contact", "reseller_of_record"),
        customer_id=customer_id,
        pk=subscription_id,
    )


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def customer_detail(request: AuthenticatedHttpRequest, customer_id):
    """A customer's subscriptions with their designated support contacts."""
    customer = customer_or_404(request, customer_id)
    subscriptions = (
        Subscription.objects.restrict(request.user, Action.VIEW)
        .filter(customer=customer)
        .select_related("provider", "support_contact")
        .only(*_SUBSCRIPTION_ROW)
        .order_by("offer_name", "pk")
    )
    return TemplateResponse(
        request,
        "customers/customer_detail.html",
        {"customer": customer, "subscriptions": subscriptions, "tab": "subscriptions"},
    )


# What the customer page's table shows of each subscription, and nothing more.
_SUBSCRIPTION_ROW = (
    "offer_name",
    "nickname",
    "quantity",
    "status",
    "billing_cycle",
    "commerce_type",
    "provider__name",
    "support_contact__name",
)


def _subscription_context(
    request: AuthenticatedHttpRequest, subscription, *, form=None, change=None
) -> dict:
    """The subscription page: the contact section (the review of `change`; else the contact,
    or the form with who is not listed and why) and the history."""
    context = {
        "customer": subscription.customer,
        "subscription": subscription,
        "change": change,
        **_history(request, subscription),
    }
    if change is None:  # the review shows the change alone: no eligibility to read
        context.update(_contact_choice(request, subscription, form=form))
    return context


def _can_assign(subscription) -> bool:
    """Whether the page offers the form. Who is eligible and who is not is the provider's
    business: only those who may assign learn it (a reseller reading the page sees the
    contact alone)."""
    return subscription.supports_designated_contact and subscription.may_assign


def _contact_choice(request: AuthenticatedHttpRequest, subscription, *, form=None) -> dict:
    can_assign = _can_assign(subscription)
    options = contact_options(subscription) if can_assign else None
    if can_assign:
        if form is None:
            form = SupportContactForm(subscription=subscription, options=options)
        else:
            form.offer(options)
    return {
        "can_assign": can_assign,
        "options": options,
        "form": form,
        **_why_not_listed(request, subscription, can_assign, options=options),
    }


def _why_not_listed(request, subscription, can_assign: bool, *, options) -> dict:
    """The resellers not listed (those tied to the customer) and the answer to the search "Why
    is a reseller not listed?", each with the link that fixes it."""
    why_form = WhyNotListedForm(request.GET)
    why_query = why_form.query() if can_assign else ""
    standings = standing_of_resellers(subscription, why_query) if why_query else []
    listed_steps, found_steps = _next_steps(subscription, options, standings)
    return {
        "why_form": why_form,
        "why_query": why_query,
        "why_results": [(s, found_steps.get(s.partner.pk)) for s in standings],
        "next_steps": listed_steps,
        "can_request": permits(request.user, Customer, Action.REQUEST),
    }


def _history(request: AuthenticatedHttpRequest, subscription) -> dict:
    """The latest changes of the subscription's contact that the user may see, newest first,
    each with the label of the way it was made."""
    changes = list(
        SupportContactChange.objects.restrict(request.user, Action.VIEW)
        .filter(subscription=subscription)
        .select_related("from_contact", "to_contact", "changed_by")
        .only(*_HISTORY_FIELDS)[: HISTORY_SHOWN + 1]
    )
    return {
        "history": [(c, _THROUGH[c.through]) for c in changes[:HISTORY_SHOWN]],
        "history_truncated": len(changes) > HISTORY_SHOWN,
        "history_link": request.user.can(Capability.VIEW_HISTORY),
    }


# What the history table shows, and nothing more (a partner's support details, a user's
# password hash): fewer columns to read and to turn into objects.
_HISTORY_FIELDS = (
    "changed_at",
    "through",
    "from_contact__name",
    "to_contact__name",
    "changed_by__username",
    "changed_by__first_name",
    "changed_by__last_name",
)
_THROUGH = dict(SupportContactChange.Through.choices)


def _next_steps(subscription, options, standings) -> tuple[list[NextStep], dict[int, NextStep]]:
    """The fixes for the resellers the page lists as not listed, and for those the search found
    (by partner pk): one look-up of the open requests serves both."""
    listed = options.not_listed if options else []
    found = [NotListed(s.partner, s.reason) for s in standings if s.reason is not None]
    steps = next_steps(subscription.customer, [*listed, *found])
    return steps[: len(listed)], {step.entry.partner.pk: step for step in steps[len(listed) :]}


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def subscription_detail(request: HtmxHttpRequest, customer_id, subscription_id):
    """A subscription's details, its designated support contact and that contact's history;
    for htmx, the answer to "Why is a reseller not listed?" alone."""
    subscription = _subscription(request, customer_id, subscription_id)
    if is_htmx_target(request, "why-section"):
        context = {
            "customer": subscription.customer,
            "subscription": subscription,
            **_why_not_listed(request, subscription, _can_assign(subscription), options=None),
        }
    else:
        context = _subscription_context(request, subscription)
    return render_page(
        request, "customers/subscription_detail.html", context, partial="why-section"
    )


@require_POST
@requires(Capability.ASSIGN_SUPPORT_CONTACT)
def subscription_support_contact(request: HtmxHttpRequest, customer_id, subscription_id):
    """Change the designated support contact: htmx gets the review, a plain POST a redirect."""
    subscription = _subscription(request, customer_id, subscription_id, Action.ASSIGN)
    if not subscription.supports_designated_contact:
        messages.error(
            request, _("New-commerce subscriptions do not support a designated support contact.")
        )
        return _subscription_response(request, subscription)

    # The service reads eligibility, locked, once: the form only reads the input.
    form = SupportContactForm(request.POST, subscription=subscription)
    if form.is_valid():
        try:
            change = support_contact_assign(
                subscription=subscription,
                contact=form.cleaned_data["contact"],
                by=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except StaleSubscription as stale:
            messages.warning(request, stale.message)
            return _subscription_response(request, stale.subscription)
        except DomainError as error:
            form.add_error("contact", error.message)
        else:
            if change is None:
                messages.info(
                    request,
                    _("%(partner)s already is the designated support contact; nothing changed.")
                    % {"partner": form.cleaned_data["contact"]},
                )
                return _subscription_response(request, subscription)
            if not is_htmx_target(request, "contact-section"):
                return redirect(
                    "customers:support_contact_change", customer_id, subscription_id, change.pk
                )
            return _contact_section(request, subscription, change=change)
    return _subscription_response(request, subscription, form=form)


def _subscription_response(request: HtmxHttpRequest, subscription, *, form=None):
    """The subscription page (or its contact section, for htmx) showing the current state."""
    if form is None and not is_htmx_target(request, "contact-section"):
        return redirect("customers:subscription_detail", subscription.customer_id, subscription.pk)
    return _contact_section(request, subscription, form=form)


def _contact_section(request: HtmxHttpRequest, subscription, *, form=None, change=None):
    """The contact section, with the history out of band; a whole page when the request is not
    htmx's. The form shows the subscription as it now stands, so it is read again; the review
    of a change shows the change alone."""
    if change is None:
        subscription = _subscription(request, subscription.customer_id, subscription.pk)
    return render_page(
        request,
        "customers/subscription_detail.html",
        _subscription_context(request, subscription, form=form, change=change),
        partial="contact-section",
        out_of_band=("history-section",),
    )


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def support_contact_change(
    request: AuthenticatedHttpRequest, customer_id, subscription_id, change_id
):
    """The review of one change of designated support contact, with a Close button."""
    subscription = _subscription(request, customer_id, subscription_id)
    change = get_object_or_404(
        SupportContactChange.objects.restrict(request.user, Action.VIEW).select_related(
            "from_contact", "to_contact", "changed_by"
        ),
        subscription=subscription,
        pk=change_id,
    )
    return TemplateResponse(
        request,
        "customers/subscription_detail.html",
        _subscription_context(request, subscription, change=change),
    )


def _own_subscriptions_page(request: AuthenticatedHttpRequest, template: str):
    subscriptions = (
        Subscription.objects.restrict(request.user, Action.VIEW)
        .select_related("support_contact", "provider")
        .order_by("offer_name", "pk")
    )
    return TemplateResponse(
        request, template, {"customer": request.user.customer, "subscriptions": subscriptions}
    )


@require_GET
@customer_admin_required
def customer_admin_home(request: AuthenticatedHttpRequest):
    """A customer admin's overview of their organisation."""
    return _own_subscriptions_page(request, "customers/admin_home.html")


@require_GET
@customer_admin_required
def customer_support(request: AuthenticatedHttpRequest):
    """For each subscription, the partner to contact for support and how to reach them."""
    return _own_subscriptions_page(request, "customers/customer_support.html")
