from datetime import date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.eligibility import ContactOptions
from customers.models import ChangeThrough, Subscription
from partnercenter.models import Partner, User


class CustomerSearchForm(forms.Form):
    SORTS = [("name", _("Name (A to Z)")), ("-name", _("Name (Z to A)"))]

    q = forms.CharField(
        label=_("Search customers"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name or domain"), "autocomplete": "off"}
        ),
    )
    sort = forms.ChoiceField(label=_("Sort"), choices=SORTS, required=False)

    def search(self, customers):
        """Filter and order `customers` by the (valid) query; bad input is simply ignored."""
        data = self.cleaned_data if self.is_valid() else {}
        if q := (data.get("q") or "").strip():
            customers = customers.filter(Q(name__icontains=q) | Q(domain__icontains=q))
        sort = data.get("sort") or "name"
        return customers.order_by(sort, "pk" if sort == "name" else "-pk")


class WhyNotListedForm(forms.Form):
    why = forms.CharField(
        label=_("Why is a reseller not listed?"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Reseller name or partner id"),
                "autocomplete": "off",
            }
        ),
    )

    def query(self) -> str:
        """The (valid) query, stripped; bad input is an error on the form and no query."""
        return (self.cleaned_data.get("why") or "").strip() if self.is_valid() else ""


class SupportContactForm(forms.Form):
    """Choose a subscription's designated support contact among the eligible partners.

    The form only reads the input; the service decides (eligibility, staleness), so that the
    rules live in one place and are checked again inside the transaction.
    """

    contact = forms.ModelChoiceField(
        label=_("Designated support contact"),
        queryset=Partner.objects.all(),
        empty_label=None,
        error_messages={
            "required": _("Choose a designated support contact."),
            "invalid_choice": _(
                "That partner does not exist or cannot be chosen. Pick one from the list."
            ),
        },
    )
    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        error_messages={
            "required": _("The form is incomplete; reload the page and try again."),
            "invalid": _("The form is incomplete; reload the page and try again."),
            "min_value": _("The form is incomplete; reload the page and try again."),
        },
    )

    def __init__(self, *args, subscription: Subscription, options: ContactOptions, **kwargs):
        kwargs.setdefault(
            "initial",
            {"contact": subscription.effective_support_contact.pk, "version": subscription.version},
        )
        super().__init__(*args, **kwargs)
        self.fields["contact"].widget.choices = [(p.pk, p.name) for p in options.eligible]


SYSTEM = "system"
# The ways a change is written today; Bulk and API join when bulk assignment and the API do.
WRITTEN_THROUGH = [ChangeThrough.FORM, ChangeThrough.RELATIONSHIP_REMOVAL]
# Dates a history can hold; beyond them the day after (or a time zone's offset) would not exist.
DATE_RANGE = [
    MinValueValidator(date(2000, 1, 1), _("Enter a date from 2000-01-01 on.")),
    MaxValueValidator(date(9998, 12, 31), _("Enter a date before 9999-01-01.")),
]


class HistoryFilterForm(forms.Form):
    """Filters from the query string; a bad value is reported and that filter left out."""

    customer = forms.CharField(
        label=_("Customer"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name or domain")}),
    )
    contact = forms.TypedChoiceField(
        label=_("Contact"), required=False, coerce=int, empty_value=None
    )
    changed_by = forms.ChoiceField(label=_("Changed by"), required=False)
    through = forms.ChoiceField(label=_("Through"), required=False)
    date_from = forms.DateField(
        label=_("From date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=DATE_RANGE,
    )
    date_to = forms.DateField(
        label=_("To date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=DATE_RANGE,
    )

    def __init__(self, data, *, changes):
        super().__init__(data, label_suffix="")
        anyone = [("", _("Anyone"))]
        # EXISTS per partner and per user, not IN (the history's contacts): with a million
        # changes PostgreSQL scanned the whole history once per partner (33 s against 0.2 s).
        self.fields["contact"].choices = [("", _("Any partner"))] + [
            (p.pk, p.name)
            for p in Partner.objects.filter(
                Exists(changes.filter(to_contact=OuterRef("pk")))
                | Exists(changes.filter(from_contact=OuterRef("pk")))
            ).order_by("name")
        ]
        self.fields["changed_by"].choices = [
            *anyone,
            (SYSTEM, _("System")),
            *(
                (str(u.pk), u.display_name)
                for u in User.objects.filter(
                    Exists(changes.filter(changed_by=OuterRef("pk")))
                ).order_by("first_name", "last_name", "username")
            ),
        ]
        self.fields["through"].choices = [
            ("", _("Any way")),
            *((way.value, way.label) for way in WRITTEN_THROUGH),
        ]

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
