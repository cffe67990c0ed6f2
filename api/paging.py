"""Continuation tokens of the customer collection: signed, opaque, and enough by themselves to
give the next page (its position, size and filter), for the partner that was given it only."""

from django.core import signing

SALT = "api.customers.continuation"


class BadToken(Exception):
    """Tampered, garbled, or another partner's token."""


def token_for(*, partner_id: int, after: tuple[str, str], size: int, prefix: dict | None) -> str:
    return signing.dumps(
        {"p": partner_id, "a": list(after), "s": size, "f": prefix}, salt=SALT, compress=True
    )


def read_token(token: str, *, partner_id: int) -> tuple[tuple[str, str], int, dict | None]:
    """The position (name, tenant id) after which the page starts, its size and its filter."""
    try:
        payload = signing.loads(token, salt=SALT)
        name, tenant = payload["a"]
        size, prefix, owner = int(payload["s"]), payload["f"], payload["p"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise BadToken from None
    if owner != partner_id:
        raise BadToken
    return (str(name), str(tenant)), size, prefix
