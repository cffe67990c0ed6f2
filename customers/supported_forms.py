"""The search and filters of a reseller's Supported subscriptions page (and its CSV export)."""

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from customers.forms import search_field
from partnercenter.models import Partner


class SupportedSubscriptionsForm(forms.Form):
    """Search and filters from the query string; a bad value is reported under its field and
    that filter left out."""

    FILTERS = ("q", "provider", "new")

    q = search_field(
        _("Search supported subscriptions"), _("Customer, domain or offer"), suggest=False
    )
    provider = forms.ChoiceField(
        label=_("Provider"),
        required=False,
        error_messages={"invalid_choice": _("Pick a provider from the list.")},
    )
    new = forms.BooleanField(label=_("New since your last visit only"), required=False)

    def __init__(self, data, *, partnerships):
        """`partnerships`: those the user may see; their active ones' providers are offered."""
        super().__init__(data, label_suffix="")
        providers = Partner.objects.filter(
            Exists(partnerships.active().filter(provider=OuterRef("pk")))
        ).order_by("name", "pk")
        self.fields["provider"].choices = [
            ("", _("Any provider")),
            *((str(pk), name) for pk, name in providers.values_list("pk", "name")),
        ]

    @property
    def valid_data(self) -> dict:
        """What the valid fields say; a field in error is left out."""
        self.is_valid()
        return self.cleaned_data

    @property
    def is_filtered(self) -> bool:
        return any(self.valid_data.get(name) for name in self.FILTERS)

    @property
    def query(self) -> str:
        return (self.valid_data.get("q") or "").strip()

    def filter(self, subscriptions, *, previous_visit):
        """`subscriptions` (annotated with `since`) narrowed by every valid filter; "new only"
        before any visit is nothing (nothing is new on a first visit)."""
        data = self.valid_data
        if q := self.query:
            subscriptions = subscriptions.filter(
                Q(customer__name__icontains=q)
                | Q(customer__domain__icontains=q)
                | Q(offer_name__icontains=q)
            )
        if provider := data.get("provider"):
            subscriptions = subscriptions.filter(provider_id=int(provider))
        if data.get("new"):
            if previous_visit is None:
                return subscriptions.none()
            subscriptions = subscriptions.filter(since__gt=previous_visit)
        return subscriptions
