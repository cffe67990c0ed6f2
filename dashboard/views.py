"""The staff dashboard: counts of customers and subscriptions, and who supports how many.

The figures come from the counts the database keeps (customers/tallies.py): a few small
queries, whatever the size of the partner's world.
"""

from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from customers import tallies
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.roles import Capability

CONTACTS_PER_PAGE = 50


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def dashboard(request: AuthenticatedHttpRequest):
    """Counts of customers and subscriptions, and the designated support contacts with most."""
    figures = tallies.figures(request.user)
    return TemplateResponse(
        request,
        "dashboard/dashboard.html",
        {"figures": figures, "bars": _bars(figures.top)},
    )


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


def _bars(rows: list[tallies.ContactCount]) -> list[tuple[tallies.ContactCount, int]]:
    """Each row with its bar's length, in percent of the longest (at least 1: still visible)."""
    largest = max((row.subscriptions for row in rows), default=0)
    return [(row, max(1, round(100 * row.subscriptions / largest))) for row in rows]
