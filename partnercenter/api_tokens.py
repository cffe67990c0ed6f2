"""API tokens: issue one for a partner staff user, revoke it, and authenticate a call with it.

A token reads `pc_<prefix>_<secret>`: the prefix (12 hex digits) is public, finds the row and
names the token in lists; the secret is 32 random bytes. Only the SHA-256 of the whole token
is stored. A fast hash is right here, unlike for passwords: a password is guessable, so it needs
a slow, salted hash; 256 random bits cannot be guessed however fast the hash, and a slow one
would cost every API call a few hundred milliseconds. (An unkeyed hash also keeps tokens valid
when SECRET_KEY is rotated.) The stored hash is compared in constant time.
"""

import functools
import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import NamedTuple

from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from partnercenter.errors import DomainError
from partnercenter.models import ApiToken, Partner, RoleAssignment, User
from partnercenter.roles import Capability, Role
from partnercenter.tracing import change_log

MAX_LIFETIME = timedelta(days=90)
DEFAULT_LIFETIME = timedelta(days=30)
# last_used_at is kept to the minute: a script calling many times a second writes once a minute.
LAST_USED_PRECISION = timedelta(minutes=1)

_TOKEN = re.compile(r"pc_(?P<prefix>[0-9a-f]{12})_[A-Za-z0-9_-]{43}")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_prefix() -> str:
    # 48 bits: a clash is very unlikely, and then a new prefix is drawn.
    while True:
        prefix = secrets.token_hex(6)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            return prefix


def api_token_issue(
    *, user: User, name: str, expires_in: timedelta = DEFAULT_LIFETIME
) -> tuple[ApiToken, str]:
    """A new token acting as `user`, and the token itself (shown once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the token a name."), field="name")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise DomainError(_("A token's name has at most 100 characters."), field="name")
    if not isinstance(expires_in, timedelta) or expires_in <= timedelta(0):
        raise DomainError(_("A token must be valid for at least one second."), field="expires_in")
    if expires_in > MAX_LIFETIME:
        raise DomainError(_("A token is valid for 90 days at most."), field="expires_in")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.is_partner_staff:
            raise DomainError(
                _("Only partner staff can have API tokens; %(user)s is not partner staff.")
                % {"user": user.get_username()}
            )
        if not user.is_active:
            raise DomainError(
                _("%(user)s is deactivated and cannot have API tokens.")
                % {"user": user.get_username()}
            )
        prefix = _new_prefix()
        raw = f"pc_{prefix}_{secrets.token_urlsafe(32)}"
        now = timezone.now()
        token = ApiToken(
            user=user,
            name=name,
            prefix=prefix,
            token_hash=_hash(raw),
            user_generation=user.session_generation,
            created_at=now,
            expires_at=now + expires_in,
        )
        token.full_clean()
        token.save()
        change_log("api_token.issued", token=token.pk, prefix=prefix, user=user.pk)
    return token, raw


def api_tokens_revocable_by(user: User):
    """The tokens `user` may revoke: their own, and a global admin's partner's. None for
    anyone else (customer admins, inactive or anonymous users)."""
    if not (user.is_authenticated and user.is_active and user.is_partner_staff):
        return ApiToken.objects.none()
    reach = Q(user_id=user.pk)
    if user.can(Capability.MANAGE_API_TOKENS):
        reach |= Q(user__partner_id=user.partner_id)
    return ApiToken.objects.filter(reach)


def api_token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    """End `token` for good; revoking a revoked token changes nothing."""
    with transaction.atomic():
        locked = (
            api_tokens_revocable_by(by).select_for_update(of=("self",)).filter(pk=token.pk).first()
        )
        if locked is None:
            raise DomainError(_("You may not revoke this token."))
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.revoked_by = by
            locked.save(update_fields=["revoked_at", "revoked_by"])
            change_log("api_token.revoked", token=locked.pk, prefix=locked.prefix)
    return locked


# What a call needs of the token, its user and the user's partner (not the support profile),
# in each model's field order (Model.from_db takes the values in that order).
_AUTHENTICATING = (
    (
        ApiToken,
        (
            "id",
            "user",
            "name",
            "prefix",
            "token_hash",
            "user_generation",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ),
    ),
    (
        User,
        (
            "id",
            "username",
            "first_name",
            "last_name",
            "is_active",
            "partner",
            "customer",
            "session_generation",
        ),
    ),
    (Partner, ("id", "kind", "tenant_id", "partner_id", "name", "support_email")),
)


class _Statement(NamedTuple):
    sql: str
    # Per model: the attnames read, and per column the converters the ORM would apply.
    columns: tuple[tuple[type, tuple[str, ...], tuple], ...]


@functools.cache
def _authenticating_statement(alias: str) -> _Statement:
    """The one statement every API call authenticates with: the token, its user, the partner
    and one row per role the user holds. Written out once rather than built by the ORM on
    every call: building and compiling the same query (roles as a subquery) cost some 2 ms of
    CPU against 0.1 ms to run it, the largest single part of a call (bench/api.py)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    selected, columns = [], []
    for model, names in _AUTHENTICATING:
        table = model._meta.db_table
        fields = [f for f in model._meta.concrete_fields if f.name in names]
        converters = []
        for field in fields:
            col = field.get_col(table)
            converters.append(
                (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            )
            selected.append(f"{quote(table)}.{quote(field.column)}")
        columns.append((model, tuple(f.attname for f in fields), tuple(converters)))
    token, user, partner, role = (
        quote(m._meta.db_table) for m in (ApiToken, User, Partner, RoleAssignment)
    )
    sql = (
        f"SELECT {', '.join(selected)}, {role}.{quote('role')} FROM {token}"
        f" INNER JOIN {user} ON {user}.{quote('id')} = {token}.{quote('user_id')}"
        f" LEFT OUTER JOIN {partner} ON {partner}.{quote('id')} = {user}.{quote('partner_id')}"
        f" LEFT OUTER JOIN {role} ON {role}.{quote('user_id')} = {user}.{quote('id')}"
        f" WHERE {token}.{quote('prefix')} = %s"
    )
    return _Statement(sql, tuple(columns))


def _authenticating_token(prefix: str) -> ApiToken | None:
    """The token with `prefix`, its `user` (roles set) and the user's `partner`, or None."""
    alias = router.db_for_read(ApiToken)
    connection = connections[alias]
    statement = _authenticating_statement(alias)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [prefix])
        rows = cursor.fetchall()
    if not rows:
        return None
    values = iter(rows[0])
    token, user, partner = (
        model.from_db(alias, attnames, [_convert(next(values), c, connection) for c in converters])
        for model, attnames, converters in statement.columns
    )
    if partner.pk is not None:
        user.partner = partner
    token.user = user
    # The roles, read with the token: what `User.roles` would read with a query of its own.
    user.__dict__["roles"] = frozenset(Role(row[-1]) for row in rows if row[-1] is not None)
    return token


def _convert(value, column_converters, connection):
    col, converters = column_converters
    for converter in converters:
        value = converter(value, col, connection)
    return value


def api_token_authenticate(raw) -> User | None:
    """The active partner staff user `raw` acts as, or None: unknown, malformed, expired or
    revoked token, or a user deactivated (even if reactivated since) or no longer staff.

    The user is read afresh, roles included, so a change applies on the next call. The user
    carries the token as `api_token` (for the history of the writes it makes).
    """
    match = _TOKEN.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        return None
    token = _authenticating_token(match["prefix"])
    if token is None or not hmac.compare_digest(token.token_hash, _hash(raw)):
        return None
    now = timezone.now()
    user = token.user
    if (
        not token.is_usable(now)
        or not user.is_active
        or not user.is_partner_staff
        or user.session_generation != token.user_generation
    ):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        # Conditional, so that concurrent calls within the minute write once.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_PRECISION)
        ).update(last_used_at=now)
        token.last_used_at = now
    user.api_token = token
    return user
