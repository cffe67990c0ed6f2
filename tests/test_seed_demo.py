"""The demo-data command: exactly the demo world, idempotent, and a distributor's size in bulk:
customers, resellers and contact history, consistent with docs/domain.md."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from customers.eligibility import NotListedReason, contact_options
from customers.models import Customer, Subscription, SupportContactChange
from demo import scale
from demo import world as demo
from demo.world import DEMO_PASSWORD, DEMO_USERS
from partnercenter.models import Partner, RoleAssignment, User
from partnercenter.phones import validate_e164_phone
from relationships.models import CustomerRelationship, RelationshipRequest, ResellerPartnership
from tests import factories
from tests.factories import MultichannelWorld

pytestmark = pytest.mark.django_db

ALL_MODELS = (
    Partner,
    Customer,
    Subscription,
    User,
    RoleAssignment,
    ResellerPartnership,
    CustomerRelationship,
    RelationshipRequest,
    SupportContactChange,
)


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts():
    return {model.__name__: model.objects.count() for model in ALL_MODELS}


def _world_facts():
    """Everything the demo world says, by natural keys, so two worlds can be compared."""
    return {
        "partners": sorted(
            Partner.objects.values_list(
                "kind", "tenant_id", "partner_id", "name", "support_email", "support_phone"
            )
        ),
        "partnerships": sorted(
            ResellerPartnership.objects.values_list("provider__name", "reseller__name", "state")
        ),
        "relationships": sorted(
            CustomerRelationship.objects.values_list(
                "partner__name", "customer__domain", "state", "delegated_admin"
            )
        ),
        "subscriptions": sorted(
            Subscription.objects.values_list(
                "customer__domain",
                "offer_name",
                "nickname",
                "quantity",
                "commerce_type",
                "provider__name",
                "support_contact__name",
            )
        ),
        "users": sorted(
            User.objects.values_list(
                "username", "partner__name", "customer__domain", "role_assignments__role"
            ),
            key=str,
        ),
        "history": sorted(
            SupportContactChange.objects.values_list(
                "subscription__offer_name",
                "from_contact__name",
                "to_contact__name",
                "changed_by__username",
                "through",
            )
        ),
    }


def test_seed_demo_prints_every_demo_user_with_the_password():
    output = seed()
    assert "Demo world created" in output
    assert DEMO_PASSWORD in output
    for user in DEMO_USERS:
        assert user.username in output
    assert "proseware" in output


def test_a_second_run_changes_nothing_and_says_so():
    seed()
    before = _counts()
    output = seed()
    assert "nothing changed" in output
    assert _counts() == before


def test_the_demo_world_has_the_counts_of_domain_md():
    seed()
    assert Partner.objects.providers().count() == 2
    assert Partner.objects.resellers().count() == 5
    assert ResellerPartnership.objects.count() == 6
    assert User.objects.count() == len(DEMO_USERS) == 8
    assert Customer.objects.count() == 1 + len(demo.MORE_CUSTOMERS)
    adatum = Customer.objects.get(domain="adatum.example")
    assert adatum.subscriptions.count() == 4
    assert adatum.relationships.count() == 6
    # The only history: Proseware's staff making Fabrikam the contact of its subscription.
    assert SupportContactChange.objects.count() == 1


def test_every_demo_user_can_authenticate_with_the_demo_password(rf):
    seed()
    for demo_user in DEMO_USERS:
        # The sign-in throttle (django-axes) needs the request, as the sign-in form passes it.
        request = rf.post("/accounts/login/")
        user = authenticate(request, username=demo_user.username, password=DEMO_PASSWORD)
        assert user is not None, demo_user


def test_demo_users_may_skip_two_step_verification(demo_user):
    assert all(demo_user(d.username).two_step_exempt for d in DEMO_USERS)
    assert not demo_user("globaladmin").two_step_required


def test_the_demo_world_matches_the_domain(demo_user):
    contoso = Partner.objects.get(name="Contoso Distribution")
    assert contoso.is_provider
    states = dict(
        ResellerPartnership.objects.filter(provider=contoso).values_list("reseller__name", "state")
    )
    assert states == {
        "Fabrikam Solutions": "active",
        "Northwind Traders IT": "active",
        "Trey Research": "active",
        "Alpine IT Services": "requested",
        "Coho Systems": "removed",
    }

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
        "Proseware Distribution": True,
        "Alpine IT Services": True,
        "Coho Systems": True,
    }
    contosos = adatum.subscriptions.filter(provider=contoso)
    offers = dict(contosos.values_list("offer_name", "commerce_type"))
    assert offers["Office 365 Business Premium"] == "legacy"
    assert offers["Microsoft 365 E3"] == "legacy"
    assert "new_commerce" in offers.values()
    assert all(s.support_contact == contoso for s in contosos)
    assert Customer.objects.count() >= 30

    assert demo_user("globaladmin").roles == {"global_admin"}
    assert demo_user("fabrikam").partner.name == "Fabrikam Solutions"
    assert demo_user("fabrikam").roles == {"admin_agent"}
    assert demo_user("adatumadmin").customer == adatum
    assert not demo_user("adatumadmin").is_partner_staff


# The multi-channel part -------------------------------------------------------------------


def assert_multichannel_shape(world: MultichannelWorld) -> None:
    """DOMAIN.md's multi-channel facts, for the demo world and for the factory-built one."""
    assert world.provider.is_provider
    assert world.second_provider.is_provider
    for reseller in (world.reseller, world.requested_reseller, world.removed_reseller):
        assert reseller.kind == Partner.Kind.INDIRECT_RESELLER

    def partnership_states(provider, reseller):
        return set(
            ResellerPartnership.objects.filter(provider=provider, reseller=reseller).values_list(
                "state", flat=True
            )
        )

    assert partnership_states(world.provider, world.reseller) == {"active"}
    assert partnership_states(world.second_provider, world.reseller) == {"active"}
    assert partnership_states(world.provider, world.requested_reseller) == {"requested"}
    assert partnership_states(world.provider, world.removed_reseller) == {"removed"}
    assert not partnership_states(world.second_provider, world.requested_reseller)
    assert not partnership_states(world.second_provider, world.removed_reseller)

    relationships = dict(
        CustomerRelationship.objects.filter(customer=world.customer, state="active").values_list(
            "partner_id", "delegated_admin"
        )
    )
    for partner in (
        world.provider,
        world.second_provider,
        world.reseller,
        world.requested_reseller,
        world.removed_reseller,
    ):
        assert relationships.get(partner.pk) is True, partner

    first, second = world.subscription, world.second_subscription
    assert first.customer == second.customer == world.customer
    assert (first.provider, second.provider) == (world.provider, world.second_provider)
    assert first.supports_designated_contact
    assert second.supports_designated_contact
    assert second.support_contact == world.reseller
    change = SupportContactChange.objects.get(subscription=second)
    assert (change.from_contact, change.to_contact) == (world.second_provider, world.reseller)

    # Each subscription's eligible list comes from its own provider.
    second_options = contact_options(second)
    assert second_options.eligible == [world.second_provider, world.reseller]
    first_options = contact_options(first)
    assert first_options.eligible[0] == world.provider
    assert world.reseller in first_options.eligible
    for reseller in (world.requested_reseller, world.removed_reseller):
        assert not first_options.is_eligible(reseller)
        assert first_options.reason_for(reseller) == NotListedReason.PARTNERSHIP_NOT_ACTIVE
        assert not second_options.is_eligible(reseller)


def _demo_multichannel_world() -> MultichannelWorld:
    partner = Partner.objects.get
    adatum = Customer.objects.get(domain="adatum.example")
    return MultichannelWorld(
        provider=partner(partner_id="4870001"),
        second_provider=partner(partner_id="4870002"),
        reseller=partner(name="Fabrikam Solutions"),
        customer=adatum,
        subscription=adatum.subscriptions.get(offer_name="Office 365 Business Premium"),
        second_subscription=adatum.subscriptions.get(
            offer_name="Dynamics 365 Business Central Essentials"
        ),
        requested_reseller=partner(name="Alpine IT Services"),
        removed_reseller=partner(name="Coho Systems"),
    )


def test_the_demo_world_has_the_multichannel_shape(demo_world):
    assert_multichannel_shape(_demo_multichannel_world())


def test_the_factory_built_multichannel_world_has_the_same_shape(db):
    assert_multichannel_shape(factories.multichannel_world())


def test_proseware_is_a_second_provider_with_a_full_support_profile_and_one_user(demo_user):
    proseware = Partner.objects.get(partner_id="4870002")
    assert proseware.name == "Proseware Distribution"
    assert proseware.is_provider
    assert proseware.tenant_id == demo._tenant("Proseware Distribution")
    for field in ("support_email", "support_phone", "support_website", "support_hours"):
        assert getattr(proseware, field), field
    proseware.full_clean()  # a valid E.164 phone, an https website

    user = demo_user("proseware")
    assert user.partner == proseware
    assert user.roles == {"admin_agent"}
    assert user.two_step_exempt
    assert list(proseware.staff.all()) == [user]


def test_alpine_and_coho_have_realistic_partner_ids_and_full_support_profiles(demo_world):
    for name in ("Alpine IT Services", "Coho Systems"):
        reseller = Partner.objects.get(name=name)
        assert reseller.kind == Partner.Kind.INDIRECT_RESELLER
        assert reseller.partner_id.isdigit()
        assert len(reseller.partner_id) == 7
        assert reseller.tenant_id == demo._tenant(name)
        assert all([reseller.support_email, reseller.support_website, reseller.support_hours])
        reseller.full_clean()


def test_the_proseware_subscription_was_handed_to_fabrikam_by_proseware_staff(demo_world):
    subscription = Subscription.objects.get(offer_name="Dynamics 365 Business Central Essentials")
    assert subscription.customer.domain == "adatum.example"
    assert subscription.provider.name == "Proseware Distribution"
    assert subscription.commerce_type == "legacy"
    assert subscription.support_contact.name == "Fabrikam Solutions"
    assert subscription.version == 2  # changed once, through the service
    change = SupportContactChange.objects.get(subscription=subscription)
    assert change.from_contact.name == "Proseware Distribution"
    assert change.to_contact.name == "Fabrikam Solutions"
    assert change.changed_by.username == "proseware"
    assert change.through == SupportContactChange.Through.FORM


def test_contoso_bills_three_adatum_subscriptions_and_proseware_one(demo_world):
    billed = sorted(
        Subscription.objects.filter(customer__domain="adatum.example").values_list(
            "provider__name", "offer_name"
        )
    )
    assert billed == [
        ("Contoso Distribution", "Microsoft 365 Business Basic"),
        ("Contoso Distribution", "Microsoft 365 E3"),
        ("Contoso Distribution", "Office 365 Business Premium"),
        ("Proseware Distribution", "Dynamics 365 Business Central Essentials"),
    ]
    # Proseware works with Adatum only, and Adatum with no other customer of Proseware.
    assert list(
        CustomerRelationship.objects.filter(partner__name="Proseware Distribution").values_list(
            "customer__domain", flat=True
        )
    ) == ["adatum.example"]


def test_an_old_demo_world_gets_the_multichannel_part_on_the_next_run(monkeypatch, db):
    fresh = _fresh_world_facts()
    with monkeypatch.context() as older_command:
        older_command.setattr(demo, "multichannel_part_present", lambda: True)
        seed()
    assert not Partner.objects.filter(partner_id="4870002").exists()
    assert not User.objects.filter(username="proseware").exists()

    output = seed()
    assert "Multi-channel part of the demo world added" in output
    assert _world_facts() == fresh
    assert_multichannel_shape(_demo_multichannel_world())
    assert "nothing changed" in seed()


def _fresh_world_facts(*args):
    """The facts of a world seeded in one go (then rolled back: the caller starts empty)."""
    from django.db import transaction

    with transaction.atomic():
        seed(*args)
        facts = _world_facts()
        transaction.set_rollback(True)
    assert not Partner.objects.exists()
    return facts


def test_the_multichannel_part_is_added_all_or_nothing(monkeypatch, db):
    with monkeypatch.context() as older_command:
        older_command.setattr(demo, "multichannel_part_present", lambda: True)
        seed()
    # Someone withdrew Fabrikam's DAP at Adatum in the old world: it cannot support the
    # Proseware subscription, the last step fails, and none of the part may remain.
    CustomerRelationship.objects.filter(
        partner__name="Fabrikam Solutions", customer__domain="adatum.example"
    ).update(delegated_admin=False)
    before = _counts()
    with pytest.raises(CommandError, match="multi-channel part"):
        seed()
    assert _counts() == before
    assert not Partner.objects.filter(name__in=["Alpine IT Services", "Coho Systems"]).exists()


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
    added = Subscription.objects.filter(customer__in=list(new))
    assert all(s.provider.name == "Contoso Distribution" for s in added)
    assert all(s.support_contact_id == s.provider_id for s in added)
    for demo_user in DEMO_USERS:
        assert demo_user.username in output


def test_customers_option_gives_customers_only_to_contosos_active_resellers():
    seed()
    seed("--customers", "200", "--seed", "3")
    new = Customer.objects.exclude(name__in=[demo.ADATUM["name"], *demo.MORE_CUSTOMERS])
    resellers = set(
        CustomerRelationship.objects.filter(
            customer__in=new, partner__kind=Partner.Kind.INDIRECT_RESELLER
        ).values_list("partner__name", flat=True)
    )
    assert resellers  # about a quarter of the new customers work with a reseller
    assert resellers <= {"Fabrikam Solutions", "Northwind Traders IT", "Trey Research"}


def test_customers_option_keeps_domains_unique_across_runs():
    seed("--customers", "50", "--seed", "1")
    seed("--customers", "50", "--seed", "1")  # the same names again
    domains = list(Customer.objects.values_list("domain", flat=True))
    assert len(domains) == len(set(domains))


@pytest.mark.parametrize("option", ["--customers", "--resellers", "--history"])
def test_a_negative_count_is_refused_and_nothing_is_created(option):
    with pytest.raises(CommandError, match=f"{option} must be 0 or more"):
        seed(option, "-1")
    assert not Partner.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is for PostgreSQL only")
def test_the_size_options_give_postgresql_planner_statistics():
    seed()
    tables = [model._meta.db_table for model in scale.BULK_TABLES]
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (started,) = cursor.fetchone()

    output = seed("--customers", "300", "--resellers", "30", "--history", "400", "--seed", "5")
    assert "ANALYZE" in output

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [tables],
        )
        last_analyze = dict(cursor.fetchall())
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)", [tables])
        reltuples = dict(cursor.fetchall())
    for table in tables:
        assert last_analyze[table] is not None, table
        assert last_analyze[table] >= started, table
    # ANALYZE read every row of these small tables (its own transaction's rows included).
    for model in scale.BULK_TABLES:
        assert reltuples[model._meta.db_table] == model.objects.count(), model


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's statistics table")
def test_the_size_options_give_sqlite_planner_statistics_too():
    seed()
    output = seed("--customers", "30", "--resellers", "5", "--history", "40", "--seed", "5")
    assert "ANALYZE" in output
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
        analyzed = {row[0] for row in cursor.fetchall()}
    assert {model._meta.db_table for model in scale.BULK_TABLES} <= analyzed


# A distributor's size: resellers and history ------------------------------------------------


def _new_resellers():
    return Partner.objects.resellers().exclude(
        name__in=[r["name"] for r in (*demo.RESELLERS, demo.ALPINE, demo.COHO)]
    )


def test_resellers_option_adds_active_resellers_of_contoso_with_full_profiles():
    seed()
    before = Partner.objects.count()
    output = seed("--resellers", "30", "--seed", "4")
    assert "Added 30 resellers, 30 reseller partnerships" in output
    assert Partner.objects.count() == before + 30
    new = list(_new_resellers())
    assert len(new) == 30
    assert set(
        ResellerPartnership.objects.filter(reseller__in=new).values_list("provider__name", "state")
    ) == {("Contoso Distribution", "active")}
    for reseller in new:
        assert reseller.partner_id.isdigit()
        assert all([reseller.support_email, reseller.support_phone, reseller.support_hours])
        reseller.full_clean()  # a unique partner id, an E.164 phone, an https website
    assert len({r.tenant_id for r in new}) == 30


def test_every_generated_support_phone_is_valid():
    for template in scale.PHONES:
        for digit in range(10):
            validate_e164_phone(template.format(digit))


def test_about_a_third_of_the_new_resellers_work_with_customers_most_with_dap():
    seed("--customers", "100", "--seed", "8")
    seed("--resellers", "60", "--seed", "8")
    relationships = CustomerRelationship.objects.filter(partner__in=_new_resellers())
    working = set(relationships.values_list("partner_id", flat=True))
    assert 10 <= len(working) <= 30
    assert set(relationships.values_list("state", flat=True)) == {"active"}
    dap = relationships.filter(delegated_admin=True).count() / relationships.count()
    assert 0.5 < dap < 0.9
    customers = Customer.objects.filter(relationships__in=relationships)
    assert customers.filter(name__in=demo.MORE_CUSTOMERS).exists()  # the demo world's too
    assert customers.exclude(name__in=[demo.ADATUM["name"], *demo.MORE_CUSTOMERS]).exists()


def test_new_customers_draw_on_the_new_resellers_too():
    seed("--customers", "200", "--resellers", "20", "--seed", "2")
    new_customers = Customer.objects.exclude(name__in=[demo.ADATUM["name"], *demo.MORE_CUSTOMERS])
    assert new_customers.filter(relationships__partner__in=_new_resellers()).exists()


def _staff_who_may_assign():
    return set(
        User.objects.filter(
            partner__name="Contoso Distribution",
            role_assignments__role__in=["global_admin", "admin_agent", "helpdesk_agent"],
        ).values_list("pk", flat=True)
    )


def assert_consistent_with_the_domain():
    """docs/domain.md's invariant, for every subscription: its contact is eligible (by
    customers/eligibility.py), its history is a chain from its provider to that contact, each
    step between eligible contacts, and its version counts the steps."""
    staff = _staff_who_may_assign()
    now = timezone.now()
    for subscription in Subscription.objects.select_related("provider", "support_contact"):
        eligible = {p.pk for p in contact_options(subscription).eligible}
        assert subscription.support_contact_id in eligible, subscription.pk
        history = list(subscription.support_contact_changes.order_by("changed_at", "pk"))
        assert len(history) == subscription.version - 1, subscription.pk
        contact, previous_time = subscription.provider_id, subscription.created_at
        for change in history:
            assert change.from_contact_id == contact, subscription.pk
            assert change.to_contact_id != change.from_contact_id
            assert change.to_contact_id in eligible
            assert previous_time < change.changed_at <= now
            assert change.through == SupportContactChange.Through.FORM
            contact, previous_time = change.to_contact_id, change.changed_at
            if subscription.provider.name == "Contoso Distribution":
                assert change.changed_by_id in staff
        assert contact == subscription.support_contact_id, subscription.pk


def test_history_option_keeps_the_world_consistent():
    output = seed("--customers", "50", "--resellers", "20", "--history", "500", "--seed", "1")
    assert "500 support contact changes" in output
    assert SupportContactChange.objects.count() == 1 + 500
    assert_consistent_with_the_domain()
    new = SupportContactChange.objects.exclude(
        subscription__provider__name="Proseware Distribution"
    )
    assert new.filter(to_contact__kind=Partner.Kind.INDIRECT_RESELLER).exists()
    assert new.filter(to_contact__name="Contoso Distribution").exists()
    oldest = timezone.now() - timedelta(days=scale.HISTORY_DAYS)
    assert not new.filter(changed_at__lt=oldest).exists()
    assert all(s.supports_designated_contact for s in Subscription.objects.filter(version__gt=1))


def test_more_history_than_subscriptions_makes_longer_chains_and_says_so():
    seed()
    output = seed("--history", "300", "--seed", "6")
    assert "300 support contact changes" in output
    touched = Subscription.objects.filter(
        provider__name="Contoso Distribution", version__gt=1
    ).values_list("version", flat=True)
    assert 0 < len(touched) < 300
    assert f"300 changes on {len(touched)} of the {len(touched)} subscriptions" in output
    assert max(touched) - min(touched) <= 1  # the changes are spread evenly
    assert_consistent_with_the_domain()


def test_history_added_twice_continues_each_chain():
    seed("--customers", "30", "--resellers", "10", "--history", "200", "--seed", "3")
    seed("--history", "200", "--seed", "4")
    assert SupportContactChange.objects.count() == 1 + 400
    assert_consistent_with_the_domain()


def test_the_size_options_are_repeatable_with_a_seed(db):
    args = ("--customers", "30", "--resellers", "10", "--history", "100", "--seed", "9")
    first = _fresh_world_facts(*args)
    seed(*args)
    assert _world_facts() == first
