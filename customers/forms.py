import re
from datetime import date, datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import BooleanField, Case, Exists, OuterRef, Q, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.eligibility import ContactOptions
from customers.models import ChangeThrough, Subscription, SupportContactChange
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
        """`customers` narrowed by the (valid) query; bad input is simply ignored."""
        data = self.cleaned_data if self.is_valid() else {}
        if q := (data.get("q") or "").strip():
            customers = customers.filter(Q(name__icontains=q) | Q(domain__icontains=q))
        return customers

    @property
    def ordering(self) -> tuple[str, str]:
        """The (valid) sort, the id breaking ties between equal names: an index on
        (name, id) reads it in either direction (customers/models.py)."""
        sort = (self.cleaned_data.get("sort") if self.is_valid() else None) or "name"
        return (sort, "pk" if sort == "name" else "-pk")


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

    def __init__(
        self, *args, subscription: Subscription, options: ContactOptions | None = None, **kwargs
    ):
        kwargs.setdefault(
            "initial",
            {"contact": subscription.effective_support_contact.pk, "version": subscription.version},
        )
        super().__init__(*args, **kwargs)
        self.fields["contact"].widget.choices = []  # never every partner there is
        if options is not None:
            self.offer(options)

    def offer(self, options: ContactOptions) -> None:
        """List the eligible partners in the select. Reading the input needs no list: a form
        that is only read (Submit) leaves eligibility to the service, which reads it once."""
        self.fields["contact"].widget.choices = [(p.pk, p.name) for p in options.eligible]


SYSTEM = "system"
_AN_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a bigint
CONTACT_CANDIDATES = 50  # partners by name whose presence in the history is checked
CONTACTS_SHOWN = 5  # partners named when a contact typed matches several
# The ways a change is written today; Bulk and API join when bulk assignment and the API do.
WRITTEN_THROUGH = [ChangeThrough.FORM, ChangeThrough.RELATIONSHIP_REMOVAL]
# Dates a history can hold; beyond them the day after (or a time zone's offset) would not exist.
DATE_RANGE = [
    MinValueValidator(date(2000, 1, 1), _("Enter a date from 2000-01-01 on.")),
    MaxValueValidator(date(9998, 12, 31), _("Enter a date before 9999-01-01.")),
]


class _ListedOrKnownChoiceField(forms.ChoiceField):
    """A choice field that lists only the likely choices; `knows(value)` (set by the form)
    decides whether another value is valid too, and may add it to the choices shown."""

    knows = staticmethod(lambda value: False)

    def valid_value(self, value):
        return super().valid_value(value) or self.knows(value)


class HistoryFilterForm(forms.Form):
    """Filters from the query string; a bad value is reported and that filter left out.

    What it offers stays small and cheap at any size (5,000 resellers, a million changes): a
    contact is typed, a name or a partner id, and looked up among a few partners; "Changed by"
    lists the user's own colleagues who changed something, and accepts anyone else the history
    names (a link, an earlier search)."""

    customer = forms.CharField(
        label=_("Customer"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name or domain")}),
    )
    contact = forms.CharField(
        label=_("Contact"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Partner name or partner id")}
        ),
    )
    changed_by = _ListedOrKnownChoiceField(label=_("Changed by"), required=False)
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
    # Set by a subscription page's "every change" link: that subscription's changes alone.
    subscription = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput
    )

    def __init__(self, data, *, changes, user=None):
        """`changes`: the history the user may see; `user`: who gets the form to fill (its
        colleagues are the changers listed; without one, as for the export, none is)."""
        super().__init__(data, label_suffix="")
        self.changes = changes
        changers = self.fields["changed_by"]
        changers.choices = [("", _("Anyone")), (SYSTEM, _("System"))]
        if user is not None and user.partner_id is not None:
            # One index probe per colleague, bounded by the size of the user's organisation.
            # Asked of the whole history: a colleague's changes are their partner's own (as
            # this user's scope, PostgreSQL planned hash joins over every subscription).
            colleagues = User.objects.filter(partner_id=user.partner_id).filter(
                Exists(SupportContactChange.objects.filter(changed_by=OuterRef("pk")))
            )
            changers.choices += [
                (str(u.pk), u.display_name)
                for u in colleagues.order_by("first_name", "last_name", "username")
            ]
        changers.knows = self._names_changer
        self.fields["through"].choices = [
            ("", _("Any way")),
            *((way.value, way.label) for way in WRITTEN_THROUGH),
        ]

    def _names_changer(self, value) -> bool:
        """Whether `value` is the id of a user who made one of the changes; listed if so."""
        if not _AN_ID.fullmatch(value):
            return False
        changer = (
            User.objects.filter(pk=int(value))
            .filter(Exists(self.changes.filter(changed_by=OuterRef("pk"))))
            .first()
        )
        if changer is not None:
            field = self.fields["changed_by"]
            field.choices = [*field.choices, (value, changer.display_name)]
        return changer is not None

    def clean_contact(self) -> int | None:
        """The partner typed, by name (exact first, else a fragment) or partner id, among
        those the history names; the id our own links carry is accepted too."""
        text = self.cleaned_data["contact"].strip()
        if not text:
            return None
        found = self._contacts_matching(text)
        exact = [p for p in found if p.exact]
        if len(exact) == 1 or len(found) == 1:
            return (exact or found)[0].pk
        if not found:
            raise ValidationError(
                _("No partner in this history matches “%(text)s”."), params={"text": text}
            )
        names = ", ".join(f"{p.name} ({p.partner_id})" for p in found[:CONTACTS_SHOWN])
        raise ValidationError(
            _(
                "Several partners match “%(text)s”: %(names)s. Type more of the name, or the "
                "partner id."
            ),
            params={"text": text, "names": names + ("…" if len(found) > CONTACTS_SHOWN else "")},
        )

    def _contacts_matching(self, text: str) -> list[Partner]:
        if _AN_ID.fullmatch(text):
            named = Q(partner_id=text) | Q(pk=int(text))
            exact = When(Q(partner_id=text) | Q(pk=int(text)), then=True)
        else:
            named, exact = Q(name__icontains=text), When(name__iexact=text, then=True)
        ranked = Partner.objects.annotate(
            exact=Case(exact, default=False, output_field=BooleanField())
        ).order_by("-exact", "name", "pk")
        # Whether a partner appears in the history is an EXISTS each: asked of a few
        # candidates by name, never of every partner (at 5,000 resellers that took 0.2-0.6 s).
        candidates = ranked.filter(named).values("pk")[:CONTACT_CANDIDATES]
        appears = Exists(self.changes.filter(to_contact=OuterRef("pk"))) | Exists(
            self.changes.filter(from_contact=OuterRef("pk"))
        )
        return list(ranked.filter(pk__in=candidates).filter(appears)[: CONTACTS_SHOWN + 1])

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
        if subscription := data.get("subscription"):
            changes = changes.filter(subscription_id=subscription)
        if "__all__" not in self.errors:
            if start := data.get("date_from"):
                changes = changes.filter(changed_at__gte=_start_of(start))
            if end := data.get("date_to"):
                changes = changes.filter(changed_at__lt=_start_of(end + timedelta(days=1)))
        return changes


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
