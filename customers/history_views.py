"""The change history of designated support contacts: the page (filtered, paged). Its CSV
export is customers/history_export.py."""

from datetime import datetime
from typing import NamedTuple

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from customers.forms import HistoryFilterForm
from customers.models import Subscription, SupportContactChange
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.keyset import KeysetPaginator
from partnercenter.policy import Action
from partnercenter.roles import Capability
from partnercenter.time_zones import local_datetime

CHANGES_PER_PAGE = 50


class ShownChange(NamedTuple):
    """One row of the History table: the columns it shows, read as values (a page's 51 rows as
    six model instances each cost more than drawing them)."""

    id: int
    changed_at: datetime
    through: str
    subscription_id: int
    customer_id: int
    customer_name: str
    offer_name: str
    nickname: str
    from_contact_name: str | None
    to_contact_name: str
    changed_by_id: int | None
    changed_by_first_name: str | None
    changed_by_last_name: str | None
    changed_by_username: str | None
    api_token_prefix: str | None
    bulk_operation_id: int | None

    @property
    def pk(self) -> int:  # KeysetPaginator keys loaded rows by pk, and signs `id`, `changed_at`
        return self.id


_SHOWN_COLUMNS = [
    "id",
    "changed_at",
    "through",
    "subscription_id",
    "subscription__customer_id",
    "subscription__customer__name",
    "subscription__offer_name",
    "subscription__nickname",
    "from_contact__name",
    "to_contact__name",
    "changed_by_id",
    "changed_by__first_name",
    "changed_by__last_name",
    "changed_by__username",
    "api_token__prefix",
    "bulk_operation_id",
]


def shown_changes(ids) -> list[ShownChange]:
    """The changes of `ids` (a list, or a sliced query of ids: the dashboard's newest five)."""
    rows = SupportContactChange.objects.filter(pk__in=ids).order_by().values_list(*_SHOWN_COLUMNS)
    return [ShownChange._make(row) for row in rows]  # in any order: the paginator orders them


def _subscription_url():
    """The subscription page's URL of (customer id, subscription id): reversed once, filled in
    per row, the same as `{% url 'customers:subscription_detail' … %}` gives."""
    customer, subscription = 9_000_000_001, 9_000_000_002  # placeholders, found below
    pattern = reverse("customers:subscription_detail", args=[customer, subscription])
    head, _found, rest = pattern.partition(str(customer))
    middle, _found, tail = rest.partition(str(subscription))
    return lambda customer_id, subscription_id: (
        f"{head}{customer_id}{middle}{subscription_id}{tail}"
    )


def table_rows(changes: list[ShownChange], *, links: bool, bulk_links: bool = False) -> list[dict]:
    """What each cell of the table shows, in the active language and time zone: the same as
    the `local_datetime` filter, `ChangeRecord.changed_by_name`, the "through" choice's
    label and `{% url %}` would give, worked out once a row rather than by template lookups."""
    url = _subscription_url() if links else None
    through = {value: str(label) for value, label in SupportContactChange.Through.choices}
    system = _("System")
    rows = []
    for change in changes:
        if change.changed_by_id is None:
            changed_by = system
        else:  # User.display_name
            full_name = f"{change.changed_by_first_name} {change.changed_by_last_name}".strip()
            changed_by = full_name or change.changed_by_username
        at = change.changed_at
        rows.append(
            {
                "datetime": at.isoformat(),
                "when": local_datetime(at),
                "customer": change.customer_name,
                "offer": change.offer_name,
                "nickname": change.nickname,
                "url": url(change.customer_id, change.subscription_id) if url else "",
                "from": change.from_contact_name or "—",
                "to": change.to_contact_name,
                "changed_by": changed_by,
                "through": _through(through.get(change.through, change.through), change),
                "bulk_url": reverse("customers:bulk_operation", args=[change.bulk_operation_id])
                if bulk_links and change.bulk_operation_id
                else "",
            }
        )
    return rows


def _through(label: str, change: ShownChange) -> str:
    """The way, and for the API the public prefix of the token the change was made with (for a
    bulk change, its number)."""
    if change.bulk_operation_id:
        return f"{label} #{change.bulk_operation_id}"
    return f"{label} (pc_{change.api_token_prefix}…)" if change.api_token_prefix else label


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
        load=shown_changes,
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
            "rows": table_rows(
                page.object_list,
                links=request.user.partner.is_provider,
                bulk_links=request.user.can(Capability.ASSIGN_SUPPORT_CONTACT),
            ),
            "narrowed_to": narrowed_to,
            "filtered": any(form.data.get(name) for name in form.fields),
        },
    )
