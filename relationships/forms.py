from django import forms
from django.utils.translation import gettext_lazy as _

from partnercenter.models import Partner, partner_id_validator


class PartnershipRequestForm(forms.Form):
    partner_id = forms.CharField(
        label=_("Reseller's partner id"),
        max_length=12,
        validators=[partner_id_validator],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": _("Enter the reseller's partner id.")},
    )


class RelationshipRequestForm(forms.Form):
    partner = forms.TypedChoiceField(
        label=_("Relationship for"),
        coerce=int,
        error_messages={
            "required": _("Choose the partner the relationship is for."),
            "invalid_choice": _(
                "That partner cannot be chosen: pick your organisation or one of your "
                "active resellers."
            ),
        },
    )
    include_delegated_admin = forms.BooleanField(
        label=_("Include delegated admin privileges"),
        required=False,
        initial=True,
        help_text=_(
            "Needed for a reseller to be the designated support contact of the customer's "
            "subscriptions."
        ),
    )

    def __init__(self, *args, partners: list[Partner], **kwargs):
        super().__init__(*args, **kwargs)
        self.partners = {p.pk: p for p in partners}
        self.fields["partner"].choices = [(p.pk, p.name) for p in partners]

    def clean_partner(self):
        return self.partners[self.cleaned_data["partner"]]
