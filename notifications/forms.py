"""Forms of the webhook pages. They read input; the services decide (notifications/services.py
checks the URL's destination again, the events and the limits)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from notifications.destinations import RefusedDestination, destination
from notifications.models import WebhookEndpoint
from notifications.services import SUBSCRIBABLE
from partnercenter.forms import PlainLabels


class EventTypesField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            label=_("Events"),
            choices=[(t.value, t.label) for t in SUBSCRIBABLE],
            widget=forms.CheckboxSelectMultiple,
            help_text=_("The endpoint receives these; a test event it receives whenever asked."),
            error_messages={
                "required": _("Choose at least one event."),
                "invalid_choice": _("Choose events from the list."),
            },
            **kwargs,
        )


def _description():
    return forms.CharField(
        label=_("Description"),
        required=False,
        max_length=WebhookEndpoint._meta.get_field("description").max_length,
        help_text=_("What it is for, e.g. “PSA tickets”. The list shows it."),
        error_messages={"max_length": _("A description has at most 200 characters.")},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class WebhookEndpointForm(PlainLabels, forms.Form):
    """A new endpoint: where, what for, which events."""

    url = forms.CharField(
        label=_("URL"),
        max_length=WebhookEndpoint._meta.get_field("url").max_length,
        help_text=_(
            "An https:// address on the public internet. Each event is sent to it as a POST "
            "request with a JSON body."
        ),
        error_messages={
            "required": _("Enter the https:// address that receives the events."),
            "max_length": _("A webhook URL has at most 500 characters."),
        },
        widget=forms.URLInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    description = _description()
    event_types = EventTypesField()

    def clean_url(self):
        """Refused here too, so that the page says everything that is wrong at once."""
        url = self.cleaned_data["url"]
        try:
            destination(url)
        except RefusedDestination as refused:
            raise ValidationError(str(refused), code="refused_destination") from None
        return url


class WebhookEndpointChangeForm(PlainLabels, forms.Form):
    """What an endpoint is for, its events, and whether it receives any."""

    description = _description()
    event_types = EventTypesField()
    active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("An inactive endpoint receives nothing: its pending deliveries are given up."),
    )

    @classmethod
    def for_endpoint(cls, endpoint: WebhookEndpoint, data=None):
        return cls(
            data,
            initial={
                "description": endpoint.description,
                "event_types": list(endpoint.event_types),
                "active": endpoint.active,
            },
        )
