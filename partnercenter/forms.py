"""Forms for partner users, roles and the support profile. They read input; services decide."""

from functools import lru_cache

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator, URLValidator
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from partnercenter.models import ApiToken, Partner, User
from partnercenter.phones import international_format, normalise_phone
from partnercenter.roles import Role
from partnercenter.services import notification_topics_for
from partnercenter.time_zones import AUTOMATIC, zone_choices, zone_names

ONLY_GLOBAL_ADMIN = _("Only a global admin may grant or remove the global admin role.")


class PlainLabels:
    """Labels without Django's trailing colon, like the rest of the product's forms."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class RoleCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes, some of which may be shown but not changed (`locked`)."""

    def __init__(self, *args, locked=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.locked = set(locked)

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value in self.locked:
            option["attrs"]["disabled"] = True
        return option


class RolesField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            label=_("Roles"),
            choices=Role.choices,
            required=False,
            widget=RoleCheckboxes,
            error_messages={"invalid_choice": _("“%(value)s” is not a role. Pick from the list.")},
            **kwargs,
        )


class _RolesMixin:
    """Roles that `by` may not change (the global admin role, for non-global admins) keep
    their current value; submitting a change to one is refused."""

    def _lock_roles(self, by: User, current: frozenset[str]):
        self._current_roles = set(current)
        self._locked_roles = set() if Role.GLOBAL_ADMIN in by.roles else {Role.GLOBAL_ADMIN.value}
        self.fields["roles"].widget.locked = self._locked_roles

    def clean_roles(self):
        submitted = set(self.cleaned_data["roles"])
        for role in self._locked_roles:
            if role in submitted and role not in self._current_roles:
                raise ValidationError(ONLY_GLOBAL_ADMIN)
            # A disabled checkbox is never submitted: keep what the user holds.
            submitted.discard(role)
            if role in self._current_roles:
                submitted.add(role)
        return sorted(submitted)


class UserAddForm(_RolesMixin, PlainLabels, forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[User.username_validator],
        help_text=_("Letters, digits and @ . + - _ only. Used to sign in."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(
        label=_("Email"), help_text=_("The link to set a password is sent here.")
    )
    roles = RolesField()

    def __init__(self, *args, by: User, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock_roles(by, frozenset())


class UserRolesForm(_RolesMixin, PlainLabels, forms.Form):
    roles = RolesField()

    def __init__(self, *args, by: User, user: User, **kwargs):
        kwargs.setdefault("initial", {"roles": sorted(user.roles)})
        super().__init__(*args, **kwargs)
        self._lock_roles(by, user.roles)


class SupportProfileForm(PlainLabels, forms.Form):
    """The support details customers see, and the partner's notification settings; the topics
    offered are those that apply to `partner`'s kind."""

    SUPPORT_FIELDS = ("support_email", "support_phone", "support_website", "support_hours")
    NOTIFICATION_FIELDS = ("notification_email", "notification_language", "notification_topics")

    support_email = forms.EmailField(label=_("Support email"), required=False)
    support_phone = forms.CharField(
        label=_("Support phone"),
        required=False,
        max_length=32,
        help_text=_("In international form: + and the country code, e.g. +1 425 555 0100."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    support_website = forms.URLField(
        label=_("Support website"),
        required=False,
        assume_scheme="https",
        validators=[
            URLValidator(
                schemes=["https"],
                message=_("Enter a website address that starts with https://."),
                code="https_required",
            )
        ],
        help_text=_("An https:// address."),
    )
    support_hours = forms.CharField(
        label=_("Support hours"),
        required=False,
        max_length=200,
        help_text=_("Free text, e.g. Mon–Fri 08:00–18:00 CET."),
    )
    notification_email = forms.EmailField(label=_("Notification email"), required=False)
    notification_language = forms.ChoiceField(
        label=_("Language of the emails"),
        choices=settings.LANGUAGES,
        error_messages={"invalid_choice": _("Choose a language from the list.")},
    )
    notification_topics = forms.MultipleChoiceField(
        label=_("Email us when"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Choose notification topics from the list.")},
    )

    def __init__(self, *args, partner: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notification_topics"].choices = [
            (t.value, t.label) for t in notification_topics_for(partner)
        ]
        email = self.fields["notification_email"]
        email.help_text = (
            _("Empty: notifications go to the support email, %(email)s.")
            % {"email": partner.support_email}
            if partner.support_email
            else _(
                "Empty: notifications go to the support email, which is empty too: no email "
                "is sent until one of them is filled in."
            )
        )

    def clean_support_phone(self):
        phone = self.cleaned_data["support_phone"].strip()
        return normalise_phone(phone) if phone else ""

    @property
    def support_fields(self):
        return [self[name] for name in self.SUPPORT_FIELDS]

    @property
    def notification_fields(self):
        return [self[name] for name in self.NOTIFICATION_FIELDS]

    @classmethod
    def for_partner(cls, partner, data=None):
        """The form filled with `partner`'s current details."""
        return cls(
            data,
            partner=partner,
            initial={
                "support_email": partner.support_email,
                "support_phone": international_format(partner.support_phone),
                "support_website": partner.support_website,
                "support_hours": partner.support_hours,
                "notification_email": partner.notification_email,
                "notification_language": partner.notification_language,
                "notification_topics": list(partner.notification_topics),
            },
        )


class ApiTokenForm(PlainLabels, forms.Form):
    """A new API token: what it is for, and for how many days it is valid."""

    LIFETIMES = (1, 7, 30, 60, 90)  # days; 90 is api_tokens.MAX_LIFETIME
    DEFAULT_LIFETIME = 30

    name = forms.CharField(
        label=_("Name"),
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text=_("What the token is for, e.g. “PSA sync”. The list shows it."),
        error_messages={
            "required": _("Give the token a name."),
            "max_length": _("A token's name has at most 100 characters."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    expires_in_days = forms.TypedChoiceField(
        label=_("Valid for"),
        coerce=int,
        initial=DEFAULT_LIFETIME,
        help_text=_("The token stops working after this. 90 days at most."),
        error_messages={
            "required": _("Choose how long the token is valid: 1 to 90 days."),
            "invalid_choice": _("Choose how long the token is valid: 1 to 90 days."),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per form, so the labels are in the language of the request.
        self.fields["expires_in_days"].choices = [
            (days, ngettext("%(count)d day", "%(count)d days", days) % {"count": days})
            for days in self.LIFETIMES
        ]


class ZoneSelect(forms.Select):
    """The select of every time zone. Its ~600 options are built once per selected zone:
    Django draws each option through a template, which took a tenth of a second a page."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = value if value in zone_names() else AUTOMATIC
        attributes = flatatt(self.build_attrs(self.attrs, attrs))
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            attributes,
            _zone_options(selected, get_language()),
        )


@lru_cache(maxsize=64)
def _zone_options(selected: str, language: str) -> SafeString:
    """The options, for the zone selected in the language active (which names Automatic)."""

    def options(choices):
        return format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (value, mark_safe(" selected") if value == selected else "", label)
                for value, label in choices
            ),
        )

    return mark_safe(
        "".join(
            format_html('<optgroup label="{}">{}</optgroup>', value, options(label))
            if isinstance(label, list)
            else options([(value, label)])
            for value, label in zone_choices(selected)
        )
    )


class TimeZoneForm(PlainLabels, forms.Form):
    """The zone the user's times are shown in; `current` is the one shown now."""

    time_zone = forms.ChoiceField(
        label=_("Show times in"),
        widget=ZoneSelect,
        required=False,  # Automatic
        error_messages={"invalid_choice": _("Choose a time zone from the list.")},
    )

    def __init__(self, *args, current: str, **kwargs):
        """`current`: the user's choice, AUTOMATIC for none."""
        super().__init__(*args, initial={"time_zone": current}, **kwargs)
        self.fields["time_zone"].choices = zone_choices(current)


class SetPasswordForm(PlainLabels, auth_forms.SetPasswordForm):
    pass


class SignInForm(auth_forms.AuthenticationForm):
    """Django's sign-in form, except that a username or password that no account can have
    (a username longer than usernames may be, a NUL character in either) is refused like a
    wrong password without checking any password; the failure is still reported, so that
    django-axes counts it and locks out repeated tries like any others."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # A NUL character is refused in clean(), where the failure is counted, rather than as
        # a field error, which would skip the sign-in attempt and so the count.
        for name in ("username", "password"):
            field = self.fields[name]
            field.validators = [
                v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
            ]

    @sensitive_variables()
    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password and not self._could_sign_in(username, password):
            user_login_failed.send(
                sender=__name__,
                credentials={"username": self._username_as_recorded(username)},
                request=self.request,
            )
            raise self.get_invalid_login_error()
        return super().clean()

    def _could_sign_in(self, username: str, password: str) -> bool:
        return (
            len(username) <= self.username_field.max_length
            and "\0" not in username
            and "\0" not in password
        )

    def _username_as_recorded(self, username: str) -> str:
        """The username as django-axes may store it (its column has room for 255)."""
        return username.replace("\0", "")[: self.username_field.max_length]
