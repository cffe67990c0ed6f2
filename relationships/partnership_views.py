"""A reseller answers a provider's partnership request."""

from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext_lazy
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


# A reseller's two answers: the service each calls, and what the page then says.
ANSWERS = {
    "accept": (
        services.reseller_partnership_accept,
        gettext_lazy("You are now an indirect reseller of %(provider)s."),
    ),
    "decline": (
        services.reseller_partnership_decline,
        gettext_lazy("You declined the partnership request of %(provider)s."),
    ),
}


@require_POST
@requires(Capability.REQUEST_RELATIONSHIP)
def partnership_answer(request: AuthenticatedHttpRequest, partnership_id, answer):
    """The reseller accepts or declines a provider's partnership request."""
    partnership = partnership_or_404(request, partnership_id, Action.ANSWER)
    service, done = ANSWERS[answer]
    with told(request, done % {"provider": partnership.provider.name}):
        service(partnership=partnership, by=request.user)
    return redirect("customers:partnerships")
