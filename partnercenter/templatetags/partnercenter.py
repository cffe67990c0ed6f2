from django import template

from partnercenter.phones import international_format

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """A stored E.164 phone number in international form, for reading."""
    return international_format(value)
