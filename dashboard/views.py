"""The staff dashboard: counts of customers and subscriptions, who supports how many, the latest
changes of designated support contacts and the relationship requests still open.

The figures come from the counts the database keeps (customers/tallies.py); each card reads its
few rows through an index: a few small queries, whatever the size of the partner's world.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.core.paginator import Paginator
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from customers import tallies
from customers.history_views import CHANGES_PER_PAGE, shown_changes, table_rows
from customers.models import Customer, SupportContactChange
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import Action, permits
from partnercenter.roles import Capability
from relationships.models import RelationshipRequest

CONTACTS_PER_PAGE = 50
RECENT_CHANGES = 5
OPEN_REQUESTS = 5
EXPIRES_SOON = timedelta(days=7)


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def dashboard(request: AuthenticatedHttpRequest):
    """Counts, the designated support contacts with most, recent changes and open requests."""
    user = request.user
    figures = tallies.figures(user)
    context = {
        "figures": figures,
        "bars": _bars(figures.top),
        "changes": None,
        "open_requests": None,
    }
    # Each card for those who may open the page behind it (the same rule as that page).
    if permits(user, SupportContactChange, Action.VIEW):
        context["changes"] = table_rows(_recent_changes(user), links=user.partner.is_provider)
    if permits(user, RelationshipRequest, Action.VIEW):
        context["open_requests"] = _open_requests(user)
    return TemplateResponse(request, "dashboard/dashboard.html", context)


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def support_contacts(request: AuthenticatedHttpRequest):
    """Every designated support contact with its subscriptions, most first, 50 a page."""
    paginator = Paginator(tallies.contact_counts(request.user), CONTACTS_PER_PAGE)
    return TemplateResponse(
        request,
        "dashboard/support_contacts.html",
        {"page": paginator.get_page(request.GET.get("page"))},
    )


def _recent_changes(user) -> list:
    """The user's newest changes, newest first, in one statement: the first five of the History
    page's first page, read by the History page's own query (its restriction, ordering and
    limit: so its plan and its indexes), then their columns by id. Asked for five alone, the
    planner bets on walking the (changed_at, id) index until five match: a reseller named in
    no change of a million walked all of it (0.8 s); for 51 it reads the contact's own changes."""
    ordering = SupportContactChange._meta.ordering
    first_page = (
        SupportContactChange.objects.restrict(user, Action.VIEW)
        .order_by(*ordering)
        .values("pk")[: CHANGES_PER_PAGE + 1]
    )
    newest = (
        SupportContactChange.objects.filter(pk__in=first_page)
        .order_by(*ordering)
        .values("pk")[:RECENT_CHANGES]
    )
    changes = shown_changes(newest)  # in any order
    return sorted(changes, key=lambda change: (change.changed_at, change.id), reverse=True)


def _open_requests(user) -> list[RelationshipRequest]:
    """The pending requests the user may view, soonest expiry first, each with whether it
    `expires_soon` and whether the user may open its customer (`customer_reached`): a reseller
    sees the requests naming it before it works with the customer."""
    reached = Customer.objects.restrict(user, Action.VIEW).filter(pk=OuterRef("customer_id"))
    soon = Q(expires_at__lte=timezone.now() + EXPIRES_SOON)
    return list(
        RelationshipRequest.objects.restrict(user, Action.VIEW)
        .open()
        .select_related("partner", "customer")
        .only("expires_at", "partner__name", "customer__name")
        .annotate(
            expires_soon=ExpressionWrapper(soon, output_field=BooleanField()),
            customer_reached=Exists(reached),
        )
        .order_by("expires_at", "pk")[:OPEN_REQUESTS]
    )


@dataclass(frozen=True)
class Bar:
    """A row of the chart: its length in percent of the longest, as two classes (the tens and
    the ones), since the Content Security Policy refuses a style attribute. The stylesheet gives
    every bar a minimum width: one subscription among 30,000 still shows."""

    row: tallies.ContactCount
    percent: int

    @property
    def tens(self) -> int:
        return self.percent // 10

    @property
    def ones(self) -> int:
        return self.percent % 10


def _bars(rows: list[tallies.ContactCount]) -> list[Bar]:
    largest = max((row.subscriptions for row in rows), default=0)
    return [Bar(row, round(100 * row.subscriptions / largest)) for row in rows]
