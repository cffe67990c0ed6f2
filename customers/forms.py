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


def search_field(label, placeholder, *, max_length: int = 100, suggest: bool = True):
    """An optional text filter, typed in a search box (`suggest=False`: without the browser's
    suggestions, for a box that searches as one types)."""
    attrs = {"type": "search", "placeholder": placeholder}
    if not suggest:
        attrs["autocomplete"] = "off"
    return forms.CharField(
        label=label, required=False, max_length=max_length, widget=forms.TextInput(attrs=attrs)
    )


def partner_field(label):
    """An optional partner, typed as a name or a partner id (read by `partner_typed`)."""
    return search_field(label, _("Partner name or partner id"), max_length=200)


class CustomerSearchForm(forms.Form):
    """The customers list's search, filters and sort, from the query string; a bad value is
    reported and that filter left out. A partner is typed (a name or a partner id, as on
    History), so the form stays small whatever the number of resellers."""

    SORTS = {  # the sort's value: the keyset ordering (partnercenter/keyset.py)
        "name": ("name", "pk"),
        "-name": ("-name", "-pk"),
        "domain": ("domain", "pk"),
        "-domain": ("-domain", "-pk"),
        "subscriptions": ("subscription_count", "name", "pk"),
        "-subscriptions": ("-subscription_count", "name", "pk"),
        "contacts": ("first_contact", "name", "pk"),
        "-contacts": ("-first_contact", "name", "pk"),
    }
    FILTERS = ("reseller", "partner", "contact", "no_contact", "commerce")

    q = search_field(_("Search customers"), _("Name or domain"), suggest=False)
    reseller = partner_field(_("Reseller of a subscription"))
    partner = partner_field(_("Has a relationship with"))
    contact = partner_field(_("Designated support contact"))
    no_contact = forms.BooleanField(label=_("Designated support contact not set"), required=False)
    commerce = forms.ChoiceField(
        label=_("Commerce type"),
        required=False,
        choices=[("", _("Any")), *Subscription.CommerceType.choices],
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("name", _("Name, A to Z")),
            ("-name", _("Name, Z to A")),
            ("domain", _("Primary domain, A to Z")),
            ("-domain", _("Primary domain, Z to A")),
            ("-subscriptions", _("Most subscriptions first")),
            ("subscriptions", _("Fewest subscriptions first")),
            ("contacts", _("Designated support contact, A to Z")),
            ("-contacts", _("Designated support contact, Z to A")),
        ],
    )

    def __init__(self, data, *, subscriptions, relationships):
        """`subscriptions`, `relationships`: those the user may see; the filters look there."""
        super().__init__(data, label_suffix="")
        self.subscriptions = subscriptions
        self.relationships = relationships

    def clean_reseller(self) -> int | None:
        return partner_typed(
            self.cleaned_data["reseller"],
            Exists(self.subscriptions.filter(reseller_of_record=OuterRef("pk"))),
            not_found=_("No reseller of your subscriptions matches “%(text)s”."),
        )

    def clean_partner(self) -> int | None:
        return partner_typed(
            self.cleaned_data["partner"],
            Exists(self.relationships.filter(partner=OuterRef("pk"))),
            not_found=_("No partner with a relationship with your customers matches “%(text)s”."),
        )

    def clean_contact(self) -> int | None:
        return partner_typed(
            self.cleaned_data["contact"],
            Exists(self.subscriptions.filter(support_contact=OuterRef("pk"))),
            not_found=_("No designated support contact of your subscriptions matches “%(text)s”."),
        )

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or "name"

    @property
    def valid_data(self) -> dict:
        """What the valid fields say; a field in error is left out."""
        self.is_valid()
        return self.cleaned_data

    @property
    def is_filtered(self) -> bool:
        """Whether the list is narrowed: by the query or by a filter."""
        data = self.valid_data
        return bool((data.get("q") or "").strip()) or any(data.get(f) for f in self.FILTERS)

    def search(self, customers):
        """`customers` narrowed by the query and every valid filter."""
        data = self.valid_data
        if q := (data.get("q") or "").strip():
            customers = customers.filter(Q(name__icontains=q) | Q(domain__icontains=q))
        if partner := data.get("partner"):
            customers = _customers_in(customers, self.relationships.filter(partner=partner))
        subscriptions = self.subscriptions
        if reseller := data.get("reseller"):
            subscriptions = subscriptions.filter(reseller_of_record=reseller)
        if contact := data.get("contact"):
            subscriptions = subscriptions.filter(support_contact=contact)
        if data.get("no_contact"):
            subscriptions = subscriptions.filter(support_contact__isnull=True)
        if commerce := data.get("commerce"):
            subscriptions = subscriptions.filter(commerce_type=commerce)
        if subscriptions is not self.subscriptions:  # one subscription meets them all
            customers = _customers_in(customers, subscriptions)
        return customers

    @property
    def sort_key(self) -> str:
        """The (valid) sort: name, A to Z, unless another is asked."""
        return self.valid_data.get("sort") or "name"

    @property
    def ordering(self) -> tuple[str, ...]:
        """The keyset ordering of the (valid) sort: a unique field last. Name and domain are
        read through an index either way (customers/models.py); the counts are computed."""
        return self.SORTS[self.sort_key]


FEW_ROWS = 1000


def _customers_in(customers, rows):
    """`customers` narrowed to those of `rows` (anything with a `customer_id`).

    A few rows are read first and given as a list: asked as a subquery, PostgreSQL guessed a
    rare filter (3 of 300,000 subscriptions) to match thousands and walked every customer by
    name to find them (0.1-0.2 s at 100,000 customers). Many rows stay a subquery: then the
    walk finds a page's worth at once."""
    few = list(rows.order_by().values_list("customer_id", flat=True)[: FEW_ROWS + 1])
    if len(few) <= FEW_ROWS:
        return customers.filter(pk__in=set(few))
    return customers.filter(pk__in=rows.order_by().values("customer_id"))


class WhyNotListedForm(forms.Form):
    why = search_field(
        _("Why is a reseller not listed?"), _("Reseller name or partner id"), suggest=False
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
        self.current_contact = subscription.effective_support_contact
        self.fields["contact"].widget.choices = []  # never every partner there is
        if options is not None:
            self.offer(options)

    def offer(self, options: ContactOptions) -> None:
        """List the eligible partners in the select. Reading the input needs no list: a form
        that is only read (Submit) leaves eligibility to the service, which reads it once."""
        self.fields["contact"].widget.choices = [
            (
                p.pk,
                _("%(partner)s (current)") % {"partner": p.name}
                if p == self.current_contact
                else p.name,
            )
            for p in options.eligible
        ]


SYSTEM = "system"
_AN_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a bigint
CONTACT_CANDIDATES = 50  # partners by name whose presence in the history is checked
CONTACTS_SHOWN = 5  # partners named when a contact typed matches several
# The ways a change is written today; Bulk joins when bulk assignment does.
WRITTEN_THROUGH = [ChangeThrough.FORM, ChangeThrough.API, ChangeThrough.RELATIONSHIP_REMOVAL]
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

    customer = search_field(_("Customer"), _("Name or domain"))
    contact = partner_field(_("Contact"))
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
    # Set by a bulk change's "Its changes in History" link: that operation's changes alone.
    bulk = forms.IntegerField(
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
        changes = self.changes
        return partner_typed(
            self.cleaned_data["contact"],
            Exists(changes.filter(to_contact=OuterRef("pk")))
            | Exists(changes.filter(from_contact=OuterRef("pk"))),
            not_found=_("No partner in this history matches “%(text)s”."),
        )

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
        if operation := data.get("bulk"):
            changes = changes.filter(bulk_operation_id=operation)
        if "__all__" not in self.errors:
            if start := data.get("date_from"):
                changes = changes.filter(changed_at__gte=_start_of(start))
            if end := data.get("date_to"):
                changes = changes.filter(changed_at__lt=_start_of(end + timedelta(days=1)))
        return changes


def partner_typed(text: str, appears, *, not_found: str) -> int | None:
    """The id of the partner `text` names (an exact name first, else a name fragment, else a
    partner id or our own id, as links carry) among the partners for which `appears` (an
    Exists over OuterRef("pk")) holds; None for no text. ValidationError: none or several.

    Whether a partner appears is an EXISTS each, asked of a few candidates by name, never of
    every partner (at 5,000 resellers that took 0.2-0.6 s)."""
    text = text.strip()
    if not text:
        return None
    found = _partners_matching(text, appears)
    exact = [p for p in found if p.exact]
    if len(exact) == 1 or len(found) == 1:
        return (exact or found)[0].pk
    if not found:
        raise ValidationError(not_found, params={"text": text})
    names = ", ".join(f"{p.name} ({p.partner_id})" for p in found[:CONTACTS_SHOWN])
    raise ValidationError(
        _(
            "Several partners match “%(text)s”: %(names)s. Type more of the name, or the "
            "partner id."
        ),
        params={"text": text, "names": names + ("…" if len(found) > CONTACTS_SHOWN else "")},
    )


def _partners_matching(text: str, appears) -> list[Partner]:
    if _AN_ID.fullmatch(text):
        named = Q(partner_id=text) | Q(pk=int(text))
        exact = When(Q(partner_id=text) | Q(pk=int(text)), then=True)
    else:
        named, exact = Q(name__icontains=text), When(name__iexact=text, then=True)
    ranked = Partner.objects.annotate(
        exact=Case(exact, default=False, output_field=BooleanField())
    ).order_by("-exact", "name", "pk")
    candidates = ranked.filter(named).values("pk")[:CONTACT_CANDIDATES]
    return list(ranked.filter(pk__in=candidates).filter(appears)[: CONTACTS_SHOWN + 1])


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))
