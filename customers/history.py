"""The change history of designated support contacts: filter, page, and export as CSV."""

import csv
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from customers.models import ChangeThrough, SupportContactChange
from partnercenter.access import requires
from partnercenter.models import Partner, User
from partnercenter.policy import Action
from partnercenter.roles import Capability

CHANGES_PER_PAGE = 50
EXPORT_CHUNK = 2000
SYSTEM = "system"
# Dates a history can hold; beyond them the day after (or a time zone's offset) would not exist.
DATE_RANGE = [
    MinValueValidator(date(2000, 1, 1), gettext_lazy("Enter a date from 2000-01-01 on.")),
    MaxValueValidator(date(9998, 12, 31), gettext_lazy("Enter a date before 9999-01-01.")),
]


class HistoryFilterForm(forms.Form):
    """Filters from the query string; a bad value is reported and that filter left out."""

    customer = forms.CharField(
        label=gettext_lazy("Customer"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": gettext_lazy("Name or domain")}
        ),
    )
    contact = forms.TypedChoiceField(
        label=gettext_lazy("Contact"), required=False, coerce=int, empty_value=None
    )
    changed_by = forms.ChoiceField(label=gettext_lazy("Changed by"), required=False)
    through = forms.ChoiceField(label=gettext_lazy("Through"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("From date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=DATE_RANGE,
    )
    date_to = forms.DateField(
        label=gettext_lazy("To date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=DATE_RANGE,
    )

    def __init__(self, data, *, changes):
        super().__init__(data, label_suffix="")
        anyone = [("", _("Anyone"))]
        self.fields["contact"].choices = [("", _("Any partner"))] + [
            (p.pk, p.name)
            for p in Partner.objects.filter(
                Q(pk__in=changes.values("to_contact")) | Q(pk__in=changes.values("from_contact"))
            ).order_by("name")
        ]
        self.fields["changed_by"].choices = [
            *anyone,
            (SYSTEM, _("System")),
            *(
                (str(u.pk), u.get_full_name() or u.get_username())
                for u in User.objects.filter(pk__in=changes.values("changed_by")).order_by(
                    "first_name", "last_name", "username"
                )
            ),
        ]
        self.fields["through"].choices = [("", _("Any way")), *ChangeThrough.choices]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise ValidationError(_("The from date is after the to date."))
        return data

    def filter(self, changes):
        """`changes` narrowed by every valid filter."""
        self.is_valid()
        data = self.cleaned_data
        if q := (data.get("customer") or "").strip():
            changes = changes.filter(
                Q(subscription__customer__name__icontains=q)
                | Q(subscription__customer__domain__icontains=q)
            )
        if contact := data.get("contact"):
            changes = changes.filter(Q(to_contact_id=contact) | Q(from_contact_id=contact))
        if by := data.get("changed_by"):
            changes = (
                changes.filter(changed_by__isnull=True)
                if by == SYSTEM
                else changes.filter(changed_by_id=int(by))
            )
        if through := data.get("through"):
            changes = changes.filter(through=through)
        if "__all__" not in self.errors:
            if start := data.get("date_from"):
                changes = changes.filter(changed_at__gte=_start_of(start))
            if end := data.get("date_to"):
                changes = changes.filter(changed_at__lt=_start_of(end + timedelta(days=1)))
        return changes


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _filtered(request, action=Action.VIEW):
    changes = SupportContactChange.objects.restrict(request.user, action)
    form = HistoryFilterForm(request.GET, changes=changes)
    return form, form.filter(changes)


@require_GET
@requires(Capability.VIEW_HISTORY)
def history(request):
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
def history_export(request):
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
