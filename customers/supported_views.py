"""A reseller's Supported subscriptions: every subscription on which its organisation is the
designated support contact, across providers and customers, newest first, with those new since
the user's last visit marked; and the same list as CSV."""

from dataclasses import dataclass

from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from customers.history_export import UtcIso, UuidText, csv_stream, text_cell
from customers.models import Subscription, SupportContactChange
from customers.supported_forms import SupportedSubscriptionsForm
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest, HtmxHttpRequest, render_page
from partnercenter.keyset import KeysetPaginator
from partnercenter.models import PageVisit
from partnercenter.policy import Action
from partnercenter.roles import Capability
from partnercenter.services import page_visit_mark
from relationships.models import ResellerPartnership

SUBSCRIPTIONS_PER_PAGE = 25
VISITED_PAGE = "customers:supported_subscriptions"  # the page's key in PageVisit
ORDERING = ("-since", "-pk")  # newest first


def _resellers_only(request: AuthenticatedHttpRequest) -> None:
    """A reseller's page: a provider's staff are refused (403), as a reseller's staff are from
    a provider's partnership request."""
    if request.user.partner.is_provider:
        raise PermissionDenied


def _supported(user):
    """The subscriptions `user` may view (a reseller's: those it is the designated contact of),
    each with `since`: when it last became the contact, or, with no change recorded (seeded
    data), when the subscription was created. A correlated subquery, one probe of the
    (subscription, changed_at) index per subscription, so the database sorts by it: on
    PostgreSQL, for a reseller of 4,000 subscriptions, 21 ms for the first page and 66 ms for
    the next ones (the keyset's comparisons ask it again). The reseller's own subscriptions
    alone: a join with their changes instead hashed the whole history."""
    latest = (
        SupportContactChange.objects.filter(
            subscription=OuterRef("pk"), to_contact_id=user.partner_id
        )
        .order_by("-changed_at", "-pk")
        .values("changed_at")[:1]
    )
    return Subscription.objects.restrict(user, Action.VIEW).annotate(
        since=Coalesce(Subquery(latest), F("created_at"))
    )


def _form(request: AuthenticatedHttpRequest) -> SupportedSubscriptionsForm:
    partnerships = ResellerPartnership.objects.restrict(request.user, Action.VIEW)
    return SupportedSubscriptionsForm(request.GET, partnerships=partnerships)


@dataclass(frozen=True)
class SupportedRow:
    subscription: Subscription
    is_new: bool


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def supported_subscriptions(request: HtmxHttpRequest):
    """The subscriptions the user's organisation supports: search, filters, 25 a page."""
    _resellers_only(request)
    previous_visit = page_visit_mark(user=request.user, page=VISITED_PAGE)
    form = _form(request)
    subscriptions = (
        form.filter(_supported(request.user), previous_visit=previous_visit)
        .select_related("customer", "provider")
        .only("offer_name", "nickname", "quantity", "customer__name", "provider__name")
    )
    paginator = KeysetPaginator(
        subscriptions, ORDERING, SUBSCRIPTIONS_PER_PAGE, world=request.user.partner_id
    )
    page = paginator.page(after=request.GET.get("after"), before=request.GET.get("before"))
    count = _result_count(page)
    context = {
        "form": form,
        "page": page,
        "rows": [
            SupportedRow(s, previous_visit is not None and s.since > previous_visit) for s in page
        ],
        "query": form.query,
        "previous_visit": previous_visit,
        "result_count": count,
    }
    return render_page(
        request,
        "customers/supported_subscriptions.html",
        context,
        partial="supported-results",
        announcement=count or _nothing_listed(form),
    )


def _result_count(page) -> str:
    """ "3 subscriptions", or "Subscriptions 26–50" on one page of many; empty for none."""
    shown = len(page.object_list)
    if not shown:
        return ""  # the sentence saying why is in its place
    if page.is_whole_list:
        return ngettext("%(shown)s subscription", "%(shown)s subscriptions", shown) % {
            "shown": intcomma(shown)
        }
    return _("Subscriptions %(start)s–%(end)s") % {
        "start": intcomma(page.start),
        "end": intcomma(page.end),
    }


def _nothing_listed(form: SupportedSubscriptionsForm) -> str:
    if form.is_filtered:
        return _("No supported subscription matches these filters.")
    return _("Your organisation is not the designated support contact of any subscription yet.")


def export_columns() -> list[tuple[str, object]]:
    """Each column's header and SQL expression, in the active language."""
    return [
        (_("Customer"), text_cell(F("customer__name"))),
        (_("Customer domain"), text_cell(F("customer__domain"))),
        (_("Subscription id"), UuidText("uuid")),
        (_("Offer"), text_cell(F("offer_name"))),
        (_("Quantity"), F("quantity")),
        (_("Provider"), text_cell(F("provider__name"))),
        (_("Since (UTC)"), UtcIso("since")),
    ]


@require_GET
@requires(Capability.VIEW_CUSTOMERS)
def supported_subscriptions_export(request: AuthenticatedHttpRequest):
    """The supported subscriptions, filtered as on the page, as CSV, streamed in batches. Not a
    visit: "new" means new since the visit before the one the page is in."""
    _resellers_only(request)
    previous_visit = (
        PageVisit.objects.filter(user=request.user, page=VISITED_PAGE)
        .values_list("previous_at", flat=True)
        .first()
    )
    rows = _form(request).filter(_supported(request.user), previous_visit=previous_visit)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        csv_stream(rows.order_by(*ORDERING), export_columns()),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="supported-subscriptions-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
