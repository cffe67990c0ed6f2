"""The staff dashboard: counts of customers and subscriptions, and who supports how many."""

from django.db.models import Count
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from customers.models import Customer, Subscription
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import Action
from partnercenter.roles import Capability


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def dashboard(request: AuthenticatedHttpRequest):
    """Counts of customers and subscriptions, and who is designated support contact for how many."""
    subscriptions = Subscription.objects.restrict(request.user, Action.VIEW)
    per_contact = list(
        subscriptions.values("support_contact__name")
        .annotate(count=Count("pk"))
        .order_by("-count", "support_contact__name")
    )
    largest = max((row["count"] for row in per_contact), default=0)
    for row in per_contact:
        row["percent"] = round(100 * row["count"] / largest) if largest else 0
    return TemplateResponse(
        request,
        "dashboard/dashboard.html",
        {
            "customer_count": Customer.objects.restrict(request.user, Action.VIEW).count(),
            "subscription_count": subscriptions.count(),
            "per_contact": per_contact,
        },
    )
