"""Customers, their subscriptions and the designated support contact flow; the customer side."""

from collections import defaultdict
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from customers import tallies
from customers.bulk_forms import ticked_form_for
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
from partnercenter.models import Partner
from partnercenter.policy import Action, permits
from partnercenter.roles import Capability
from relationships.models import CustomerRelationship

CUSTOMERS_PER_PAGE = 25
# The counts are computed for every customer of the list before its first page can be told:
# 1,000 take ~20 ms of SQL; a provider's 100,000 customers took 2-3 s.
COUNTED_SORT_LIMIT = 1000
HISTORY_SHOWN = 10  # the rest is on the History page, filtered to the subscription


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def customer_list(request: HtmxHttpRequest):
    """The partner's customers: search, filters and a sort by any column, 25 a page, each with
    the number of its subscriptions the user sees and their designated support contacts."""
    subscriptions = Subscription.objects.restrict(request.user, Action.VIEW)
    form = CustomerSearchForm(
        request.GET,
        subscriptions=subscriptions,
        relationships=CustomerRelationship.objects.restrict(request.user, Action.VIEW).active(),
    )
    customers = form.search(Customer.objects.restrict(request.user, Action.VIEW))
    sort, notice = form.sort_key, ""
    if sort not in ("name", "-name", "domain", "-domain"):
        if _at_most(customers, COUNTED_SORT_LIMIT):
            customers = _with_counts(customers, subscriptions)
        else:
            sort, notice = "name", _too_many_to_sort_by_counts()
    total = None if form.is_filtered else tallies.customer_count(request.user)
    paginator = KeysetPaginator(
        customers, form.SORTS[sort], CUSTOMERS_PER_PAGE, world=request.user.partner_id
    )
    page = paginator.page(
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        last="last" in request.GET,
        total=total,
    )
    count = _result_count(page, total)
    context = {
        "form": form,
        "page": page,
        "rows": _customer_rows(page.object_list, subscriptions),
        "total": total,
        "query": form.data.get("q", ""),
        "sort": sort,
        "sort_notice": notice,
        "columns": _columns(sort),
        "result_count": count,
    }
    return render_page(
        request,
        "customers/customer_list.html",
        context,
        partial="customer-results",
        announcement=count or _no_customers(form),
    )


@dataclass(frozen=True)
class Column:
    """A header of the customers table: a link that sorts by it (again: the other way)."""

    label: str
    next_sort: str
    order: str = ""  # aria-sort: "ascending" or "descending" when the list is sorted by it
    num: bool = False


# (sort, label, the sort a first click asks for, numeric): counts most first, names A to Z.
_COLUMNS = [
    ("name", gettext_lazy("Name"), "name", False),
    ("domain", gettext_lazy("Primary domain"), "domain", False),
    ("subscriptions", gettext_lazy("Subscriptions"), "-subscriptions", True),
    ("contacts", gettext_lazy("Designated support contacts"), "contacts", False),
]


def _columns(sort: str) -> list[Column]:
    columns = []
    for key, label, first, num in _COLUMNS:
        if sort.lstrip("-") != key:
            columns.append(Column(label, first, num=num))
        elif sort.startswith("-"):
            columns.append(Column(label, key, "descending", num))
        else:
            columns.append(Column(label, "-" + key, "ascending", num))
    return columns


def _at_most(customers, limit: int) -> bool:
    """Whether there are `limit` customers or fewer: a count that stops after `limit` + 1."""
    return customers.order_by()[: limit + 1].count() <= limit


def _too_many_to_sort_by_counts() -> str:
    return _(
        "Sorting by subscriptions or designated support contacts works on lists of up to "
        "%(limit)s customers, so this list is sorted by name. Search or filter it first."
    ) % {"limit": intcomma(COUNTED_SORT_LIMIT)}


def _with_counts(customers, subscriptions):
    """`customers` with what the count columns sort by: the number of `subscriptions` of each
    and the first of their designated contacts by name ("" for none)."""
    own = subscriptions.filter(customer=OuterRef("pk")).order_by()
    counted = own.values("customer").annotate(n=Count("pk")).values("n")
    first = own.filter(support_contact__isnull=False).order_by("support_contact__name")
    return customers.annotate(
        subscription_count=Coalesce(Subquery(counted), 0),
        first_contact=Coalesce(Subquery(first.values("support_contact__name")[:1]), Value("")),
    )


@dataclass(frozen=True)
class CustomerRow:
    customer: Customer
    subscriptions: int  # those the user sees
    contacts: list[str]  # their designated contacts' names, A to Z; "" for subscriptions without

    CONTACTS_SHOWN = 3

    @property
    def contacts_shown(self) -> list[str]:
        return self.contacts[: self.CONTACTS_SHOWN]

    @property
    def contacts_more(self) -> int:
        return max(0, len(self.contacts) - self.CONTACTS_SHOWN)


def _customer_rows(customers: list, subscriptions) -> list[CustomerRow]:
    """Each customer of a page with its subscriptions and their contacts: one query, one row
    per (customer, contact) pair."""
    counts: dict[int, int] = defaultdict(int)
    contacts: dict[int, list[str]] = defaultdict(list)
    pairs = (
        subscriptions.filter(customer__in=[c.pk for c in customers])
        .values_list("customer_id", "support_contact__name")
        .annotate(n=Count("pk"))
        .order_by("customer_id", F("support_contact__name").asc(nulls_last=True))
    )
    for customer_id, contact, n in pairs if customers else ():
        counts[customer_id] += n
        contacts[customer_id].append(contact or "")
    return [CustomerRow(c, counts[c.pk], contacts[c.pk]) for c in customers]


def _result_count(page, total: int | None) -> str:
    """ "12 customers", or "Customers 26–50 of 1,234" on one page of many ("Customers 26–50"
    when the total is not known); empty when there are none."""
    shown = len(page.object_list)
    if page.is_whole_list:
        return ngettext("%(shown)s customer", "%(shown)s customers", shown) % {
            "shown": intcomma(shown)
        }
    if not shown:
        return ""
    place = {"start": intcomma(page.start), "end": intcomma(page.end)}
    if total is None:
        return _("Customers %(start)s–%(end)s") % place
    return _("Customers %(start)s–%(end)s of %(total)s") % {**place, "total": intcomma(total)}


def _no_customers(form: CustomerSearchForm) -> str:
    if query := form.data.get("q", ""):
        return _("No customer matches “%(query)s”.") % {"query": query}
    if form.is_filtered:
        return _("No customer matches these filters.")
    return _("You have no customers yet.")


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
    return customer_page(request, customer_or_404(request, customer_id))


def customer_page(request, customer, *, bulk_form=None):
    """The customer page; for those who may assign, with the bulk change's ticks and form
    (`bulk_form`: one sent back with its errors)."""
    subscriptions = (
        Subscription.objects.restrict(request.user, Action.VIEW)
        .filter(customer=customer)
        .select_related("provider", "support_contact")
        .annotate_permission(request.user, Action.ASSIGN)
        .only(*_SUBSCRIPTION_ROW)
        .order_by("offer_name", "pk")
    )
    if bulk_form is None and request.user.can(Capability.ASSIGN_SUPPORT_CONTACT):
        bulk_form = ticked_form_for(request.user, customer)
    return render_page(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "subscriptions": subscriptions,
            "tab": "subscriptions",
            "bulk_form": bulk_form,
            "ticked": {str(pk) for pk in bulk_form["subscription"].value() or []}
            if bulk_form
            else set(),
        },
        partial="bulk-operation",
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
        announcement=_outcome(subscription, form, change),
    )


def _outcome(subscription, form, change) -> str:
    """The Submit's outcome in one sentence, for screen readers (empty: the messages say it)."""
    if change is not None:
        return _("%(partner)s is now the designated support contact of %(subscription)s.") % {
            "partner": change.to_contact.name,
            "subscription": subscription.offer_name,
        }
    if form is not None and form.errors:
        return " ".join(str(error) for errors in form.errors.values() for error in errors)
    return ""


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


def _own_subscriptions(request: AuthenticatedHttpRequest):
    """The signed-in customer admin's subscriptions, with their provider and contact, by offer."""
    return (
        Subscription.objects.restrict(request.user, Action.VIEW)
        .select_related("support_contact", "provider")
        .order_by("offer_name", "pk")
    )


# What the Support page shows of a subscription, and of the partner supporting it (its provider
# where no contact is set): one query, without the columns nobody reads.
_SUPPORT_PROFILE = ("name", "support_email", "support_phone", "support_website", "support_hours")
_SUPPORT_PAGE_COLUMNS = (
    "offer_name",
    "nickname",
    "quantity",
    "status",
    "provider",
    "support_contact",
    *(
        f"{partner}__{field}"
        for partner in ("provider", "support_contact")
        for field in _SUPPORT_PROFILE
    ),
)


@dataclass(frozen=True)
class SupportGroup:
    """A partner the customer calls for support, and the subscriptions it supports."""

    contact: Partner
    subscriptions: list[Subscription]


def _support_groups(subscriptions) -> list[SupportGroup]:
    """The subscriptions grouped by their effective support contact (the provider where none is
    set, as for new commerce ones), partners by name; each group keeps the subscriptions' order."""
    groups: dict[int, SupportGroup] = {}
    for subscription in subscriptions:
        contact = subscription.effective_support_contact
        groups.setdefault(contact.pk, SupportGroup(contact, [])).subscriptions.append(subscription)
    return sorted(
        groups.values(), key=lambda group: (group.contact.name.casefold(), group.contact.pk)
    )


@require_GET
@customer_admin_required
def customer_admin_home(request: AuthenticatedHttpRequest):
    """A customer admin's overview of their organisation."""
    return TemplateResponse(
        request,
        "customers/admin_home.html",
        {"customer": request.user.customer, "subscriptions": _own_subscriptions(request)},
    )


@require_GET
@customer_admin_required
def customer_support(request: AuthenticatedHttpRequest):
    """Each partner that supports the customer, how to reach it, and the subscriptions it covers."""
    subscriptions = _own_subscriptions(request).only(*_SUPPORT_PAGE_COLUMNS)
    return TemplateResponse(
        request,
        "customers/customer_support.html",
        {"customer": request.user.customer, "groups": _support_groups(subscriptions)},
    )
