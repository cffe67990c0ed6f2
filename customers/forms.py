from django import forms
from django.utils.translation import gettext_lazy as _

from customers.eligibility import ContactOptions
from customers.models import Subscription
from partnercenter.models import Partner


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
            customers = customers.filter(name__icontains=q) | customers.filter(domain__icontains=q)
        sort = data.get("sort") or "name"
        return customers.order_by(sort, "pk" if sort == "name" else "-pk")


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
