"""`annotate_permission`: every row says whether the user may also act on it, however the rows
were narrowed or combined."""

import pickle

import pytest

from customers.models import Subscription
from partnercenter.policy import Action

pytestmark = pytest.mark.django_db


@pytest.fixture
def dynamics(adatum):
    """Adatum's subscription billed by the second provider, Proseware."""
    return adatum.subscriptions.get(offer_name="Dynamics 365 Business Central Essentials")


def _flags(user, rows) -> dict[int, bool]:
    return {s.pk: s.may_assign for s in rows.annotate_permission(user, Action.ASSIGN)}


def test_staff_who_may_assign_what_they_view_see_every_row_marked_so(demo_user, premium):
    agent = demo_user("adminagent")
    flags = _flags(agent, Subscription.objects.restrict(agent, Action.VIEW))
    assert flags[premium.pk] is True
    assert set(flags.values()) == {True}


def test_staff_who_only_view_and_resellers_who_only_read_see_none_marked(
    demo_user, premium, partner_named
):
    sales = demo_user("salesagent")
    assert set(_flags(sales, Subscription.objects.restrict(sales, Action.VIEW)).values()) == {False}
    premium.support_contact = partner_named("Fabrikam Solutions")
    premium.save()
    reseller = demo_user("fabrikam")
    flags = _flags(reseller, Subscription.objects.restrict(reseller, Action.VIEW))
    assert premium.pk in flags  # with the Proseware subscription it also supports
    assert set(flags.values()) == {False}


def test_rows_added_from_outside_the_scope_are_judged_on_their_own(demo_user, premium, dynamics):
    agent = demo_user("adminagent")
    viewed = Subscription.objects.restrict(agent, Action.VIEW)
    another_providers = Subscription.objects.filter(pk=dynamics.pk)
    for combined in (viewed | another_providers, another_providers | viewed):
        flags = _flags(agent, combined)
        assert (flags[premium.pk], flags[dynamics.pk]) == (True, False)
    unmarked = Subscription.objects.all()
    assert _flags(agent, unmarked.filter(pk__in=[premium.pk, dynamics.pk])) == {
        premium.pk: True,
        dynamics.pk: False,
    }


def test_a_restricted_queryset_pickles_and_still_marks_its_rows(demo_user, premium):
    agent = demo_user("adminagent")
    for action in (Action.VIEW, Action.ASSIGN):
        rows = pickle.loads(pickle.dumps(Subscription.objects.restrict(agent, action)))
        assert premium in rows
        assert _flags(agent, rows)[premium.pk] is True
    customer_admin = demo_user("adatumadmin")  # a scope that is a lambda
    rows = pickle.loads(pickle.dumps(Subscription.objects.restrict(customer_admin, Action.VIEW)))
    assert premium in rows
