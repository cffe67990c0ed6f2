"""Support phone numbers: validated with libphonenumber and stored in E.164 (`+14255550100`)."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

INVALID_PHONE = _(
    "Enter a valid phone number in international form: + and the country code, "
    "e.g. +1 425 555 0100."
)


def normalise_phone(value: str) -> str:
    """The E.164 form of `value` (spaces, dashes, brackets and a leading 00 allowed)."""
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        raise ValidationError(INVALID_PHONE, code="invalid_phone")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(INVALID_PHONE, code="invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(INVALID_PHONE, code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_e164_phone(value: str) -> None:
    """A stored number must already be a valid number in E.164."""
    if value and normalise_phone(value) != value:
        raise ValidationError(INVALID_PHONE, code="invalid_phone")


def international_format(value: str) -> str:
    """`+14255550100` as people write it: `+1 425-555-0100` (unparseable input unchanged)."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
