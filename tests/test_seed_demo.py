"""The demo-data command: exactly the demo world, idempotent, and fast bulk customers."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from customers.models import Customer, Subscription
from partnercenter.demo import DEMO_PASSWORD, DEMO_USERS
from partnercenter.models import Partner, User
from relationships.models import CustomerRelationship, ResellerPartnership

pytestmark = pytest.mark.django_db


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Partner,
            Customer,
            Subscription,
            User,
            ResellerPartnership,
            CustomerRelationship,
        )
    }


def test_seed_demo_prints_every_demo_user_with_the_password():
    output = seed()
    assert "Demo world created" in output
    assert DEMO_PASSWORD in output
    for user in DEMO_USERS:
        assert user.username in output


def test_a_second_run_changes_nothing_and_says_so():
    seed()
    before = _counts()
    output = seed()
    assert "nothing changed" in output
    assert _counts() == before


def test_every_demo_user_can_authenticate_with_the_demo_password(rf):
    seed()
    for demo in DEMO_USERS:
        # The sign-in throttle (django-axes) needs the request, as the sign-in form passes it.
        request = rf.post("/accounts/login/")
        user = authenticate(request, username=demo.username, password=DEMO_PASSWORD)
        assert user is not None, demo


def test_demo_users_may_skip_two_step_verification(demo_user):
    assert all(demo_user(demo.username).two_step_exempt for demo in DEMO_USERS)
    assert not demo_user("globaladmin").two_step_required


def test_the_demo_world_matches_the_domain(demo_user):
    contoso = Partner.objects.get(name="Contoso Distribution")
    assert contoso.is_provider
    resellers = {p.name: p for p in Partner.objects.resellers()}
    assert set(resellers) == {"Fabrikam Solutions", "Northwind Traders IT", "Trey Research"}
    assert all(
        ResellerPartnership.objects.filter(provider=contoso, reseller=r, state="active").exists()
        for r in resellers.values()
    )

    adatum = Customer.objects.get(name="Adatum Corporation")
    dap = dict(
        CustomerRelationship.objects.filter(customer=adatum, state="active").values_list(
            "partner__name", "delegated_admin"
        )
    )
    assert dap == {
        "Contoso Distribution": True,
        "Fabrikam Solutions": True,
        "Northwind Traders IT": False,
    }
    offers = dict(adatum.subscriptions.values_list("offer_name", "commerce_type"))
    assert offers["Office 365 Business Premium"] == "legacy"
    assert offers["Microsoft 365 E3"] == "legacy"
    assert "new_commerce" in offers.values()
    assert all(s.support_contact == contoso for s in adatum.subscriptions.all())
    assert Customer.objects.count() >= 30

    assert demo_user("globaladmin").roles == {"global_admin"}
    assert demo_user("fabrikam").partner == resellers["Fabrikam Solutions"]
    assert demo_user("fabrikam").roles == {"admin_agent"}
    assert demo_user("adatumadmin").customer == adatum
    assert not demo_user("adatumadmin").is_partner_staff


def test_customers_option_adds_that_many_customers_each_with_one_to_five_subscriptions():
    seed()
    before = Customer.objects.count()
    output = seed("--customers", "200", "--seed", "7")
    assert "Added 200 customers" in output
    new = Customer.objects.order_by("-pk")[:200]
    assert Customer.objects.count() == before + 200
    counts = [c.subscriptions.count() for c in new]
    assert min(counts) >= 1
    assert max(counts) <= 5
    assert all(s.support_contact_id == s.provider_id for s in Subscription.objects.all())


def test_customers_option_keeps_domains_unique_across_runs():
    seed("--customers", "50", "--seed", "1")
    seed("--customers", "50", "--seed", "1")  # the same names again
    domains = list(Customer.objects.values_list("domain", flat=True))
    assert len(domains) == len(set(domains))


def test_a_negative_customer_count_is_refused():
    with pytest.raises(CommandError):
        seed("--customers", "-1")
