"""Where each "not listed" reason on the subscription page leads: straight to the fix."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from customers.eligibility import NotListed, NotListedReason
from relationships.models import RelationshipRequest


@dataclass(frozen=True)
class NextStep:
    entry: NotListed
    url: str
    label: str | Promise


def next_steps(customer, not_listed: list[NotListed]) -> list[NextStep]:
    """For each partner not listed: the open request to follow up, or the request to make."""
    if not not_listed:
        return []
    open_requests = {
        r.partner_id: r
        for r in RelationshipRequest.objects.open().filter(
            customer=customer, partner_id__in=[n.partner.pk for n in not_listed]
        )
    }
    steps = []
    for entry in not_listed:
        if entry.reason == NotListedReason.PARTNERSHIP_NOT_ACTIVE:
            url = (
                reverse("customers:partnerships")
                + "?"
                + urlencode({"partner_id": entry.partner.partner_id})
            )
            steps.append(NextStep(entry, url, _("Request a partnership")))
        elif pending := open_requests.get(entry.partner.pk):
            url = reverse("customers:relationship_request_detail", args=[customer.pk, pending.pk])
            steps.append(NextStep(entry, url, _("See the pending request")))
        else:
            query = urlencode({"partner": entry.partner.pk, "dap": 1})
            url = reverse("customers:relationship_request_new", args=[customer.pk]) + "?" + query
            steps.append(NextStep(entry, url, _("Request a relationship")))
    return steps
