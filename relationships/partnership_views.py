"""A reseller answers a provider's partnership request."""

from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partnercenter.access import requires
from partnercenter.errors import told
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import Action
from partnercenter.roles import Capability
from relationships import services
from relationships.models import ResellerPartnership


def partnership_or_404(
    request: AuthenticatedHttpRequest, partnership_id, action: Action
) -> ResellerPartnership:
    """The partnership if `user` may `action` it; 404 otherwise."""
    return get_object_or_404(
        ResellerPartnership.objects.restrict(request.user, action).select_related(
            "provider", "reseller"
        ),
        pk=partnership_id,
    )


def _answer_partnership(request: AuthenticatedHttpRequest, partnership_id, answer, done_message):
    partnership = partnership_or_404(request, partnership_id, Action.ANSWER)
    with told(request, done_message % {"provider": partnership.provider.name}):
        answer(partnership=partnership, by=request.user)
    return redirect("customers:partnerships")


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_accept(request: AuthenticatedHttpRequest, partnership_id):
    """The reseller accepts a provider's partnership request."""
    return _answer_partnership(
        request,
        partnership_id,
        services.reseller_partnership_accept,
        _("You are now an indirect reseller of %(provider)s."),
    )


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_decline(request: AuthenticatedHttpRequest, partnership_id):
    """The reseller declines a provider's partnership request."""
    return _answer_partnership(
        request,
        partnership_id,
        services.reseller_partnership_decline,
        _("You declined the partnership request of %(provider)s."),
    )
