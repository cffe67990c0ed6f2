"""The History page: the partner's own changes, filters, paging, CSV export; never editable."""

import csv
import io
import tracemalloc
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site as admin_site
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from customers.models import Subscription, SupportContactChange
from customers.services import support_contact_assign
from partnercenter.records import RecordIsImmutable
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def changes(demo_user, adatum, partner_named):
    """Three changes on Adatum's subscriptions, on three different days, plus one elsewhere."""
    fabrikam = partner_named("Fabrikam Solutions")
    contoso = partner_named("Contoso Distribution")
    agent, helpdesk = demo_user("adminagent"), demo_user("helpdeskagent")
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    e3 = adatum.subscriptions.get(offer_name="Microsoft 365 E3")
    first = support_contact_assign(
        subscription=premium, contact=fabrikam, by=agent, expected_version=1
    )
    second = support_contact_assign(
        subscription=e3, contact=fabrikam, by=helpdesk, expected_version=1
    )
    third = support_contact_assign(
        subscription=premium,
        contact=contoso,
        by=None,
        expected_version=2,
        through="relationship_removal",
    )
    now = timezone.now()
    for change, days_ago in ((first, 10), (second, 5), (third, 1)):
        # History refuses updates through its own QuerySet; tests date entries underneath it.
        QuerySet.update(
            SupportContactChange.objects.filter(pk=change.pk), changed_at=now - timedelta(days_ago)
        )
    factories.SupportContactChangeFactory()  # another provider's world
    return first, second, third


def rows(response) -> list:
    return list(response.context["page"].object_list)


def test_the_history_shows_the_partners_changes_newest_first(client, demo_user, changes):
    first, second, third = changes
    client.force_login(demo_user("salesagent"))
    response = client.get(reverse("customers:history"))
    assert rows(response) == [third, second, first]
    html = response.content.decode()
    assert "3 changes" in html
    assert "System" in html  # the fall-back without a user
    assert "Hanna Kovács" in html


def test_a_reseller_sees_only_the_changes_that_concern_it(client, demo_user, changes):
    client.force_login(demo_user("fabrikam"))
    proseware = SupportContactChange.objects.filter(
        subscription__provider__name="Proseware Distribution"
    )
    assert set(rows(client.get(reverse("customers:history")))) == set(changes) | set(proseware)
    other = factories.SupportContactChangeFactory()
    assert other not in rows(client.get(reverse("customers:history")))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"customer": "adatum.example"}, [2, 1, 0]),
        ({"customer": "no such customer"}, []),
        ({"through": "relationship_removal"}, [2]),
        ({"changed_by": "system"}, [2]),
        ({"date_to": "{d7}"}, [0]),
        ({"date_from": "{d7}"}, [2, 1]),
        ({"date_from": "{d7}", "date_to": "{d3}"}, [1]),
    ],
)
def test_each_filter_narrows_the_history(client, demo_user, changes, query, expected):
    today = timezone.localdate()
    days = {"{d7}": str(today - timedelta(7)), "{d3}": str(today - timedelta(3))}
    query = {k: days.get(v, v) for k, v in query.items()}
    client.force_login(demo_user("adminagent"))
    response = client.get(reverse("customers:history"), query)
    assert rows(response) == [changes[i] for i in expected]


def test_filter_by_contact_and_by_who_changed(client, demo_user, changes, partner_named):
    client.force_login(demo_user("adminagent"))
    helpdesk = demo_user("helpdeskagent")
    by_helpdesk = client.get(reverse("customers:history"), {"changed_by": helpdesk.pk})
    assert rows(by_helpdesk) == [changes[1]]
    northwind = partner_named("Northwind Traders IT")
    fabrikam = partner_named("Fabrikam Solutions")
    assert len(rows(client.get(reverse("customers:history"), {"contact": fabrikam.pk}))) == 3
    choices = client.get(reverse("customers:history")).context["form"].fields["contact"].choices
    assert northwind.pk not in [value for value, _label in choices]


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "yesterday"},
        {"date_from": "2026-02-30"},
        {"contact": "999999"},
        {"contact": "abc"},
        {"changed_by": "-1"},
        {"through": "telepathy"},
        {"page": "x"},
        {"date_from": "2030-01-02", "date_to": "2030-01-01"},
    ],
)
def test_bad_filters_are_reported_and_left_out(client, demo_user, changes, query):
    client.force_login(demo_user("adminagent"))
    response = client.get(reverse("customers:history"), query)
    assert response.status_code == 200
    assert len(rows(response)) == 3
    if "page" not in query:
        errors = response.context["form"].errors
        assert errors
        html = response.content.decode()
        for messages in errors.values():
            assert all(escape(message) in html for message in messages)


def test_a_filter_cannot_reach_another_partners_changes(client, demo_user, changes):
    other = factories.SupportContactChangeFactory()
    client.force_login(demo_user("adminagent"))
    response = client.get(reverse("customers:history"), {"contact": other.to_contact_id})
    assert rows(response) == list(changes[::-1])  # the unknown contact is refused, not applied


def test_the_history_pages_by_fifty_and_keeps_the_filters(client, demo_user, premium, changes):
    SupportContactChange.objects.bulk_create(
        SupportContactChange(
            subscription=premium,
            from_contact=premium.provider,
            to_contact=premium.provider,
            through="relationship_removal",
        )
        for _ in range(60)
    )
    client.force_login(demo_user("adminagent"))
    first = client.get(reverse("customers:history"), {"through": "relationship_removal"})
    assert len(rows(first)) == 50
    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert 'href="?through=relationship_removal&amp;page=2"' in html
    second = client.get(
        reverse("customers:history"), {"through": "relationship_removal", "page": 2}
    )
    assert len(rows(second)) == 11  # and the fixture's own fall-back


def test_the_export_streams_csv_with_the_same_filters(client, demo_user, changes):
    client.force_login(demo_user("adminagent"))
    response = client.get(
        reverse("customers:history_export"), {"customer": "Adatum", "through": "form"}
    )
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["Changed at (UTC)", "Customer", "Customer domain"]
    assert [(r[1], r[3], r[6], r[7], r[8], r[10]) for r in table[1:]] == [
        (
            "Adatum Corporation",
            "Microsoft 365 E3",
            "Contoso Distribution",
            "Fabrikam Solutions",
            "helpdeskagent",
            "Form",
        ),
        (
            "Adatum Corporation",
            "Office 365 Business Premium",
            "Contoso Distribution",
            "Fabrikam Solutions",
            "adminagent",
            "Form",
        ),
    ]


def test_the_export_never_writes_a_formula(client, demo_user, adatum, changes):
    adatum.name = '=HYPERLINK("https://evil.example")'
    adatum.save()
    client.force_login(demo_user("adminagent"))
    response = client.get(reverse("customers:history_export"))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_the_export_of_100000_changes_streams_in_little_memory(client, demo_user, premium):
    contoso = premium.provider
    SupportContactChange.objects.bulk_create(
        (
            SupportContactChange(
                subscription=premium, from_contact=contoso, to_contact=contoso, through="api"
            )
            for _ in range(100_000)
        ),
        batch_size=5000,
    )
    client.force_login(demo_user("adminagent"))
    response = client.get(reverse("customers:history_export"))
    lines = 0
    tracemalloc.start()
    try:
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == 100_001
    # Loading 100,000 rows at once takes well over 50 MB; streaming stays at a few.
    assert peak < 12 * 1024 * 1024, peak


def test_history_entries_cannot_be_changed_or_deleted_in_the_back_office(client, changes):
    entry = changes[0]
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    change_url = reverse("admin:customers_supportcontactchange_change", args=[entry.pk])
    page = client.get(change_url)
    assert page.status_code == 200  # readable
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change_url, {"through": "api"}).status_code == 403
    delete_url = reverse("admin:customers_supportcontactchange_delete", args=[entry.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    bulk = client.post(
        reverse("admin:customers_supportcontactchange_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in {200, 302}
    entry.refresh_from_db()
    assert entry.through == "form"
    assert SupportContactChange.objects.filter(pk=entry.pk).exists()
    model_admin = admin_site._registry[SupportContactChange]
    assert "delete_selected" not in model_admin.get_actions(page.wsgi_request)


def test_history_entries_refuse_edits_through_the_orm(changes):
    entry = changes[0]
    entry.through = "api"
    with pytest.raises(RecordIsImmutable):
        entry.save()
    with pytest.raises(RecordIsImmutable):
        SupportContactChange.objects.filter(pk=entry.pk).delete()
    assert Subscription.objects.filter(pk=entry.subscription_id).exists()


def test_the_filter_offers_only_the_ways_changes_are_written(client, demo_user, changes):
    client.force_login(demo_user("adminagent"))
    html = client.get(reverse("customers:history")).content.decode()
    assert '<option value="relationship_removal">' in html
    assert '<option value="bulk">' not in html
    assert '<option value="api">' not in html
