"""The change history of designated support contacts: the page (filtered, paged). Its CSV
export is customers/history_export.py."""

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from customers.forms import HistoryFilterForm
from customers.models import Subscription, SupportContactChange
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.keyset import KeysetPaginator
from partnercenter.policy import Action
from partnercenter.roles import Capability

CHANGES_PER_PAGE = 50


@require_GET
@requires(Capability.VIEW_HISTORY)
def history(request: AuthenticatedHttpRequest):
    """Every designated support contact change in the partner's world, newest first."""
    changes = SupportContactChange.objects.restrict(request.user, Action.VIEW)
    form = HistoryFilterForm(request.GET, changes=changes, user=request.user)
    # Newest first, the id breaking ties (the indexes of customers/migrations/0004 match it).
    # The page's ids come from the user's filtered history, then its rows are read by id with
    # what the table shows: as one query, PostgreSQL took 5 ms to plan its seven tables.
    paginator = KeysetPaginator(
        form.filter(changes),
        SupportContactChange._meta.ordering,
        CHANGES_PER_PAGE,
        world=request.user.partner_id,
        load=lambda ids: SupportContactChange.objects.filter(pk__in=ids).select_related(
            "subscription__customer", "from_contact", "to_contact", "changed_by"
        ),
    )
    page = paginator.page(after=request.GET.get("after"), before=request.GET.get("before"))
    narrowed_to = None
    if form.is_valid() and (subscription_id := form.cleaned_data.get("subscription")):
        narrowed_to = (
            Subscription.objects.restrict(request.user, Action.VIEW)
            .select_related("customer")
            .filter(pk=subscription_id)
            .first()
        )
    return TemplateResponse(
        request,
        "customers/history.html",
        {
            "form": form,
            "page": page,
            "narrowed_to": narrowed_to,
            "filtered": any(form.data.get(name) for name in form.fields),
            "links": request.user.partner.is_provider,
        },
    )
