"""The change history of designated support contacts: the page (filtered, paged) and its CSV
export, streamed."""

import csv
from datetime import UTC

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from customers.forms import HistoryFilterForm
from customers.models import ChangeThrough, SupportContactChange
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import Action
from partnercenter.roles import Capability

CHANGES_PER_PAGE = 50
EXPORT_CHUNK = 2000


def _filtered(request: AuthenticatedHttpRequest, action=Action.VIEW):
    changes = SupportContactChange.objects.restrict(request.user, action)
    form = HistoryFilterForm(request.GET, changes=changes)
    return form, form.filter(changes)


@require_GET
@requires(Capability.VIEW_HISTORY)
def history(request: AuthenticatedHttpRequest):
    """Every designated support contact change in the partner's world, newest first."""
    form, changes = _filtered(request)
    changes = changes.select_related(
        "subscription__customer", "from_contact", "to_contact", "changed_by"
    ).order_by("-changed_at", "-pk")
    page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        "customers/history.html",
        {
            "form": form,
            "page": page,
            "filtered": any(form.data.get(name) for name in form.fields),
            "links": request.user.partner.is_provider,
        },
    )


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value):
        return value


def _cell(value) -> str:
    """Text as a spreadsheet shows it, never as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@requires(Capability.VIEW_HISTORY)
def history_export(request: AuthenticatedHttpRequest):
    """The filtered history as CSV, streamed in chunks so it never sits in memory whole."""
    _form, changes = _filtered(request, Action.EXPORT)
    rows = changes.order_by("-changed_at", "-pk").values_list(
        "changed_at",
        "subscription__customer__name",
        "subscription__customer__domain",
        "subscription__offer_name",
        "subscription__nickname",
        "subscription_id",
        "from_contact__name",
        "to_contact__name",
        "changed_by__username",
        "changed_by__first_name",
        "changed_by__last_name",
        "through",
    )
    header = [
        _("Changed at (UTC)"),
        _("Customer"),
        _("Customer domain"),
        _("Offer"),
        _("Nickname"),
        _("Subscription id"),
        _("From"),
        _("To"),
        _("Changed by (username)"),
        _("Changed by (name)"),
        _("Through"),
    ]
    through_labels = dict(ChangeThrough.choices)
    system = _("System")

    def lines():
        writer = csv.writer(_Echo())
        yield "\ufeff" + writer.writerow(header)  # the BOM lets spreadsheets read UTF-8
        for (
            at,
            name,
            domain,
            offer,
            nick,
            sid,
            old,
            new,
            username,
            first,
            last,
            way,
        ) in rows.iterator(chunk_size=EXPORT_CHUNK):
            yield writer.writerow(
                [
                    at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    _cell(name),
                    _cell(domain),
                    _cell(offer),
                    _cell(nick),
                    sid,
                    _cell(old),
                    _cell(new),
                    _cell(username) if username else system,
                    _cell(f"{first} {last}".strip()) if username else "",
                    through_labels.get(way, way),
                ]
            )

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="support-contact-history-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
