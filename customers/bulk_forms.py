"""The two ways into a bulk change: ticked subscriptions of one customer, or one reseller for
every subscription of the provider where it is eligible. Each form only reads the input and
says which subscriptions it selects (a Q); the preview decides, row by row, what happens."""

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from customers.eligibility import ContactOptions, contact_options, eligible_subscriptions
from customers.forms import partner_field, partner_typed, search_field
from customers.models import CommerceType, Customer, Subscription
from partnercenter.models import Partner, User
from partnercenter.policy import Action


class TickedSubscriptionsForm(forms.Form):
    """A customer page's ticked subscriptions (or all of them) and the contact for them all."""

    subscription = forms.TypedMultipleChoiceField(
        label=_("Subscriptions"), coerce=int, required=False
    )
    all = forms.BooleanField(label=_("Every subscription of this customer"), required=False)
    contact = forms.TypedChoiceField(
        label=_("Designated support contact"),
        coerce=int,
        error_messages={
            "required": _("Choose a designated support contact."),
            "invalid_choice": _(
                "That partner does not exist or cannot be chosen. Pick one from the list."
            ),
        },
    )

    def __init__(
        self, *args, customer: Customer, subscriptions, options: ContactOptions | None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["subscription"].choices = [(s.pk, s.offer_name) for s in subscriptions]
        self.fields["subscription"].error_messages["invalid_choice"] = _(
            "A ticked subscription is no longer one you may change. Reload the page."
        )
        eligible = options.eligible if options else []
        self.fields["contact"].choices = [(p.pk, p.name) for p in eligible]
        self.partners = {p.pk: p for p in eligible}
        self.not_listed = options.not_listed if options else []
        self.new_commerce = [s for s in subscriptions if not s.supports_designated_contact]

    def clean(self):
        data = super().clean()
        if not data.get("all") and not data.get("subscription"):
            raise forms.ValidationError(
                _("Tick the subscriptions to change, or “Every subscription of this customer”.")
            )
        return data

    def chosen(self) -> Q:
        picked = Q(customer=self.customer)
        if not self.cleaned_data["all"]:
            picked &= Q(pk__in=self.cleaned_data["subscription"])
        return picked

    def chosen_contact(self) -> Partner:
        return self.partners[self.cleaned_data["contact"]]

    def criteria(self) -> dict:
        ticked = self.cleaned_data["subscription"]
        return {
            "source": "customer",
            "customer": self.customer.pk,
            "customer_name": self.customer.name,
            "subscriptions": "all" if self.cleaned_data["all"] else len(ticked),
        }


def ticked_form_for(user: User, customer: Customer, data=None) -> TickedSubscriptionsForm | None:
    """The customer page's bulk form for `user`, or None when they may change none of its
    subscriptions. One customer's legacy subscriptions of one provider share who is eligible
    (the rule reads the provider and the customer only), so one subscription tells for all."""
    subscriptions = list(
        Subscription.objects.restrict(user, Action.ASSIGN)
        .filter(customer=customer)
        .select_related("provider")
        .order_by("offer_name", "pk")
    )
    if not subscriptions:
        return None
    legacy = next((s for s in subscriptions if s.supports_designated_contact), None)
    return TickedSubscriptionsForm(
        data,
        customer=customer,
        subscriptions=subscriptions,
        options=contact_options(legacy) if legacy else None,
    )


class ResellerSubscriptionsForm(forms.Form):
    """Narrows a reseller's bulk change: by customer, by offer, by the current contact. Empty:
    every subscription of the provider where the reseller is eligible."""

    customer = search_field(_("Customer"), _("Name or domain"))
    offer = search_field(_("Offer"), _("Part of the name"))
    current = partner_field(_("Current designated support contact"))

    def __init__(self, *args, provider: Partner, reseller: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider, self.reseller = provider, reseller

    def clean_current(self):
        text = self.cleaned_data["current"]
        if text.strip() and self.provider.partner_id == text.strip():
            return self.provider.pk
        contacts = Subscription.objects.filter(
            provider_id=self.provider.pk, support_contact_id=OuterRef("pk")
        )
        return partner_typed(
            text,
            Exists(contacts) | Q(pk=self.provider.pk),
            not_found=_("No designated support contact of your subscriptions matches “%(text)s”."),
        )

    def chosen(self) -> Q:
        """The provider's subscriptions where the reseller is eligible and not yet the contact,
        narrowed by the filters."""
        data = self.cleaned_data
        picked = eligible_subscriptions(self.reseller.pk) & ~Q(support_contact_id=self.reseller.pk)
        if data["customer"].strip():
            text = data["customer"].strip()
            picked &= Q(customer__name__icontains=text) | Q(customer__domain__icontains=text)
        if data["offer"].strip():
            picked &= Q(offer_name__icontains=data["offer"].strip())
        if data["current"] == self.provider.pk:
            picked &= Q(support_contact_id=self.provider.pk) | Q(support_contact__isnull=True)
        elif data["current"] is not None:
            picked &= Q(support_contact_id=data["current"])
        return picked & Q(commerce_type=CommerceType.LEGACY)

    def criteria(self) -> dict:
        data = self.cleaned_data
        return {
            "source": "reseller",
            "reseller": self.reseller.pk,
            "reseller_name": self.reseller.name,
            "customer": data["customer"].strip(),
            "offer": data["offer"].strip(),
            "current": self.data.get("current", "").strip() if data["current"] else "",
        }
