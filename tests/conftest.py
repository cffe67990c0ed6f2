import io

import pytest
from django.core.management import call_command
from django.db import transaction

from partnercenter.models import User


@pytest.fixture
def demo_world(db):
    """The demo world of DOMAIN.md, as `seed_demo` creates it."""
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture(scope="module")
def demo_world_of_module(django_db_setup, django_db_blocker):
    """The demo world seeded once for a module, rolled back at its end. A module whose tests
    only need the world as seeded overrides `demo_world` with `demo_world_seeded_once`: each
    test's own writes are then rolled back to it (pytest-django's savepoint per test)."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo_world_seeded_once(demo_world_of_module, db):
    """`demo_world`, seeded once per module (see `demo_world_of_module`)."""


@pytest.fixture
def demo_user(demo_world):
    """Look up a demo user by username."""
    return lambda username: User.objects.get(username=username)


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings):
    """Production serves hashed files from `collectstatic`; tests serve them from the source."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def adatum(demo_world):
    from customers.models import Customer

    return Customer.objects.get(domain="adatum.example")


@pytest.fixture
def premium(adatum):
    """Adatum's Office 365 Business Premium (legacy; contact: Contoso Distribution)."""
    return adatum.subscriptions.get(offer_name="Office 365 Business Premium")


@pytest.fixture
def partner_named(demo_world):
    from partnercenter.models import Partner

    return lambda name: Partner.objects.get(name=name)


SUMMARY_PROPERTY = "terminal_summary"


def pytest_terminal_summary(terminalreporter):
    """Lines a test recorded with `record_property("terminal_summary", [...])` (the
    schemathesis counts of tests/test_api_schema.py), from whichever worker ran it."""
    lines = [
        line
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == SUMMARY_PROPERTY
        for line in value
    ]
    if lines:
        terminalreporter.write_sep("-", "summaries")
        for line in lines:
            terminalreporter.write_line(line)
