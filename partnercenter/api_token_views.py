"""API tokens: every staff user creates, lists and revokes their own; a global admin also sees
and revokes every other token of the partner. A new token is shown once, in the answer to the
POST that made it: never in a URL, a message, the session or a cache."""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.db.models import Case, IntegerField, Q, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from partnercenter import api_tokens as token_services
from partnercenter.access import partner_staff
from partnercenter.errors import DomainError
from partnercenter.forms import ApiTokenForm
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.keyset import KeysetPaginator
from partnercenter.models import ApiToken
from partnercenter.roles import Capability

# A user's own tokens: the usable ones first, then the newest; more than this is no use to a
# person (revoked and expired ones pile up), so the list stops there and says so.
OWN_TOKENS_SHOWN = 50
# The partner's other tokens grow with its staff: paged.
PARTNER_TOKENS_PER_PAGE = 50

ACTIVE, EXPIRED, REVOKED, ENDED = "active", "expired", "revoked", "ended"
STATE_LABELS = {
    ACTIVE: gettext_lazy("Active"),
    EXPIRED: gettext_lazy("Expired"),
    REVOKED: gettext_lazy("Revoked"),
    # The user was deactivated after the token was made: it never works again.
    ENDED: gettext_lazy("Ended: user deactivated"),
}

STATUS_CLASSES = {
    ACTIVE: "status-active",
    EXPIRED: "status-removed",
    REVOKED: "status-removed",
    ENDED: "status-disabled",
}


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    state: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def status_class(self) -> str:
        return STATUS_CLASSES[self.state]

    @property
    def revocable(self) -> bool:
        return self.state in (ACTIVE, ENDED)


def _state(token: ApiToken, now) -> str:
    if token.revoked_at is not None:
        return REVOKED
    if token.expires_at <= now:
        return EXPIRED
    user = token.user
    if not user.is_active or user.session_generation != token.user_generation:
        return ENDED
    return ACTIVE


def _rows(tokens, now) -> list[TokenRow]:
    return [TokenRow(token, _state(token, now)) for token in tokens]


def _own_tokens(request: AuthenticatedHttpRequest, now):
    """The user's tokens: the unrevoked, unexpired ones first, then the newest."""
    usable = When(Q(revoked_at__isnull=True, expires_at__gt=now), then=Value(0))
    return (
        token_services.api_tokens_revocable_by(request.user)
        .filter(user=request.user)
        .select_related("user")
        .annotate(ended=Case(usable, default=Value(1), output_field=IntegerField()))
        .order_by("ended", "-created_at", "-pk")
    )


def _partner_page(request: AuthenticatedHttpRequest):
    """The partner's tokens other than the user's own, for those who manage every token."""
    if not request.user.can(Capability.MANAGE_API_TOKENS):
        return None
    tokens = (
        token_services.api_tokens_revocable_by(request.user)
        .exclude(user=request.user)
        .select_related("user")
    )
    paginator = KeysetPaginator(
        tokens, ("-created_at", "-pk"), PARTNER_TOKENS_PER_PAGE, world=request.user.partner_id
    )
    return paginator.page(after=request.GET.get("after"), before=request.GET.get("before"))


def _page(request: AuthenticatedHttpRequest, form: ApiTokenForm, *, new_token=None, raw=""):
    now = timezone.now()
    own = list(_own_tokens(request, now)[: OWN_TOKENS_SHOWN + 1])
    partner_page = _partner_page(request)
    return TemplateResponse(
        request,
        "partnercenter/api_tokens.html",
        {
            "form": form,
            "new_token": new_token,
            "raw_token": raw,
            "own_rows": _rows(own[:OWN_TOKENS_SHOWN], now),
            "own_capped": len(own) > OWN_TOKENS_SHOWN,
            "own_limit": OWN_TOKENS_SHOWN,
            "partner_page": partner_page,
            "partner_rows": _rows(partner_page, now) if partner_page is not None else [],
        },
    )


@require_http_methods(["GET", "POST"])
@partner_staff
@never_cache
def api_tokens(request: AuthenticatedHttpRequest):
    """The user's API tokens (and, for a global admin, the partner's); create a new one."""
    if request.method != "POST":
        return _page(request, ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, raw = token_services.api_token_issue(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_in=timedelta(days=form.cleaned_data["expires_in_days"]),
            )
        except DomainError as error:
            field = {"name": "name", "expires_in": "expires_in_days"}.get(error.field)
            form.add_error(field, error.message)
        else:
            # A fresh form: the token is in this answer and nowhere else.
            return _page(request, ApiTokenForm(), new_token=token, raw=raw)
    return _page(request, form)


@require_POST
@partner_staff
def api_token_revoke(request: AuthenticatedHttpRequest, token_id):
    """Revoke one of the user's tokens, or, for a global admin, one of the partner's."""
    token = get_object_or_404(
        token_services.api_tokens_revocable_by(request.user).select_related("user"), pk=token_id
    )
    names = {"name": token.name, "prefix": token.display_prefix}
    if token.revoked_at is not None:
        messages.info(request, _("The token %(name)s (%(prefix)s…) was already revoked.") % names)
        return redirect("partnercenter:api_tokens")
    try:
        token_services.api_token_revoke(token=token, by=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("The token %(name)s (%(prefix)s…) was revoked: it no longer works.") % names,
        )
    return redirect("partnercenter:api_tokens")
