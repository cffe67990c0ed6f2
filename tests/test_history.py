"""The History page: the partner's own changes, filters, paging, CSV export; never editable."""

import csv
import html
import io
import re
import tracemalloc
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site as admin_site
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from customers.models import Subscription, SupportContactChange
from customers.services import support_contact_assign
from partnercenter.keyset import KeysetPaginator
from partnercenter.records import RecordIsImmutable
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


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
    """The changes listed, as model instances (the page reads them as values)."""
    shown = [row.pk for row in response.context["page"].object_list]
    by_pk = SupportContactChange.objects.in_bulk(shown)
    return [by_pk[pk] for pk in shown]


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
    fabrikam = partner_named("Fabrikam Solutions")
    for typed in (fabrikam.pk, "fabrikam", "Fabrikam Solutions", fabrikam.partner_id):
        response = client.get(reverse("customers:history"), {"contact": typed})
        assert rows(response) == list(changes[::-1]), typed
        assert not response.context["form"].errors


def test_the_changed_by_list_holds_colleagues_who_changed_something(client, demo_user, changes):
    client.force_login(demo_user("salesagent"))
    form = client.get(reverse("customers:history")).context["form"]
    offered = [label for _value, label in form.fields["changed_by"].choices]
    assert offered == ["Anyone", "System", *sorted(offered[2:])]
    names = {demo_user(u).display_name for u in ("adminagent", "helpdeskagent")}
    assert set(offered[2:]) == names  # not the sales agent, who changed nothing


def test_a_contact_typed_is_looked_up_among_the_partners_the_history_names(
    client, demo_user, changes, partner_named, premium
):
    client.force_login(demo_user("adminagent"))
    northwind = partner_named("Northwind Traders IT")  # a reseller of Contoso, in no change
    response = client.get(reverse("customers:history"), {"contact": "northwind"})
    assert "No partner in this history matches “northwind”." in response.content.decode()
    assert rows(response) == list(changes[::-1])  # the filter is left out, and says so
    assert rows(client.get(reverse("customers:history"), {"contact": northwind.pk})) == list(
        changes[::-1]
    )

    east = factories.ResellerFactory(name="Fabrikam East")
    SupportContactChange.objects.create(
        subscription=premium, from_contact=premium.provider, to_contact=east, through="form"
    )
    several = client.get(reverse("customers:history"), {"contact": "fabrikam"})
    message = several.context["form"].errors["contact"][0]
    assert message.startswith("Several partners match “fabrikam”: Fabrikam East (")
    assert east.partner_id in message
    exact = client.get(reverse("customers:history"), {"contact": "fabrikam solutions"})
    assert rows(exact) == list(changes[::-1])
    assert rows(client.get(reverse("customers:history"), {"contact": "Fabrikam East"})) == [
        SupportContactChange.objects.get(to_contact=east)
    ]


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "yesterday"},
        {"date_from": "2026-02-30"},
        {"contact": "999999"},
        {"contact": "abc"},
        {"changed_by": "-1"},
        {"through": "telepathy"},
        {"contact": "\x00"},
        {"changed_by": "99999999999999999999"},
        {"page": "x"},
        {"after": "x"},
        {"before": "eyJrIjpbXSwicCI6MX0:forged"},
        {"date_from": "2030-01-02", "date_to": "2030-01-01"},
    ],
)
def test_bad_filters_are_reported_and_left_out(client, demo_user, changes, query):
    client.force_login(demo_user("adminagent"))
    response = client.get(reverse("customers:history"), query)
    assert response.status_code == 200
    assert len(rows(response)) == 3
    if query.keys() & {"after", "before"}:
        assert "This page link is not valid here" in response.content.decode()
    elif "page" not in query:
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


def link(response, text: str) -> str | None:
    """The URL of the page's First, Previous or Next link, or None."""
    found = re.search(rf'href="([^"]+)"[^>]*>{text}</a>', response.content.decode())
    return reverse("customers:history") + html.unescape(found.group(1)) if found else None


def _removals(premium, count, at=None):
    return SupportContactChange.objects.bulk_create(
        SupportContactChange(
            subscription=premium,
            from_contact=premium.provider,
            to_contact=premium.provider,
            through="relationship_removal",
            **({"changed_at": at} if at else {}),
        )
        for _ in range(count)
    )


def test_the_history_pages_by_fifty_and_keeps_the_filters(client, demo_user, premium, changes):
    _removals(premium, 60)
    client.force_login(demo_user("adminagent"))
    first = client.get(reverse("customers:history"), {"through": "relationship_removal"})
    assert len(rows(first)) == 50
    html_text = first.content.decode()
    assert "Changes 1–50" in html_text
    following = link(first, "Next")
    assert "through=relationship_removal&after=" in following
    second = client.get(following)
    assert len(rows(second)) == 11  # and the fixture's own fall-back
    assert rows(second)[-1] == changes[2]
    assert "Changes 51–61" in second.content.decode()
    assert link(second, "Next") is None
    assert rows(client.get(link(second, "Previous"))) == rows(first)
    assert rows(client.get(link(second, "First"))) == rows(first)
    # the export link leaves the paging out
    assert "after=" not in re.search(r'href="([^"]*export[^"]*)"', html_text)[1]


def test_changes_made_at_the_same_moment_each_appear_once(client, demo_user, premium):
    same = _removals(premium, 75, at=timezone.now())
    client.force_login(demo_user("adminagent"))
    first = client.get(reverse("customers:history"))
    second = client.get(link(first, "Next"))
    seen = rows(first) + rows(second)
    assert sorted(c.pk for c in seen) == sorted(c.pk for c in same)  # and nothing else
    assert [c.pk for c in seen] == sorted((c.pk for c in same), reverse=True)
    assert rows(client.get(link(second, "Previous"))) == rows(first)


def test_a_token_and_a_filter_together_page_the_filtered_history(
    client, demo_user, premium, changes
):
    """A token says where to start; the filters given with it say what is listed."""
    client.force_login(demo_user("adminagent"))
    newest = SupportContactChange.objects.order_by("-changed_at", "-pk")
    paginator = KeysetPaginator(
        newest, SupportContactChange._meta.ordering, 50, world=premium.provider_id
    )
    third = SupportContactChange.objects.get(pk=changes[2].pk)  # as dated by the fixture
    after_third = paginator.token_for(third, 1)
    assert rows(client.get(reverse("customers:history"), {"after": after_third})) == [
        changes[1],
        changes[0],
    ]
    by_helpdesk = {"after": after_third, "changed_by": demo_user("helpdeskagent").pk}
    assert rows(client.get(reverse("customers:history"), by_helpdesk)) == [changes[1]]
    assert (
        rows(
            client.get(
                reverse("customers:history"), {**by_helpdesk, "through": "relationship_removal"}
            )
        )
        == []
    )


def test_another_worlds_token_shows_nothing_of_it(client, demo_user, changes, partner_named):
    """A token made in Contoso's world, given to Fabrikam's staff: refused, the first page."""
    contoso = partner_named("Contoso Distribution")
    paginator = KeysetPaginator(
        SupportContactChange.objects.all(),
        SupportContactChange._meta.ordering,
        50,
        world=contoso.pk,
    )
    token = paginator.token_for(changes[2], 1)
    client.force_login(demo_user("fabrikam"))
    response = client.get(reverse("customers:history"), {"after": token})
    assert response.status_code == 200
    page = response.context["page"]
    assert page.notice
    assert page.is_first
    assert set(rows(response)) == set(rows(client.get(reverse("customers:history"))))


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
            "Subscription page",
        ),
        (
            "Adatum Corporation",
            "Office 365 Business Premium",
            "Contoso Distribution",
            "Fabrikam Solutions",
            "adminagent",
            "Subscription page",
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
    assert '<option value="api">' in html  # the API writes too


def test_a_subscriptions_every_change_link_narrows_the_history_to_it(client, demo_user, changes):
    first, _second, third = changes
    client.force_login(demo_user("salesagent"))
    premium = first.subscription
    response = client.get(reverse("customers:history"), {"subscription": premium.pk})
    assert rows(response) == [third, first]
    page = response.content.decode()
    assert f"Only the changes of {escape(premium.offer_name)} at" in page
    assert f'type="hidden" name="subscription" value="{premium.pk}"' in page
    # The export follows the same filter.
    export = client.get(reverse("customers:history_export"), {"subscription": premium.pk})
    assert len(list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))) == 3


@pytest.mark.parametrize("value", ["other", "0", "-4", "x", str(2**63), "99999999"])
def test_a_forged_subscription_filter_shows_nothing_it_should_not(
    client, demo_user, changes, value
):
    client.force_login(demo_user("salesagent"))
    other = factories.SupportContactChangeFactory()  # another provider's subscription
    subscription = other.subscription.pk if value == "other" else value
    response = client.get(reverse("customers:history"), {"subscription": subscription})
    assert response.status_code == 200
    assert other not in rows(response)
    assert "Only the changes of" not in response.content.decode()


def test_the_subscription_page_shows_ten_changes_and_links_to_the_rest(
    client, demo_user, adatum, partner_named
):
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    contacts = [partner_named("Fabrikam Solutions"), partner_named("Contoso Distribution")]
    agent = demo_user("adminagent")
    for version in range(1, 13):
        support_contact_assign(
            subscription=premium,
            contact=contacts[(version - 1) % 2],
            by=agent,
            expected_version=version,
        )
    url = reverse("customers:subscription_detail", args=[adatum.pk, premium.pk])
    link = f"{reverse('customers:history')}?subscription={premium.pk}"

    client.force_login(agent)
    response = client.get(url)
    assert len(response.context["history"]) == 10
    assert link in response.content.decode()
    assert len(rows(client.get(link))) == 12


def table(response) -> list[list[str]]:
    """The History table's cells, row by row, as the page's HTML."""
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        re.findall(r"<td(?: [^>]*)?>(.*?)</td>", row, re.S)
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def drawn_by_the_model(change, *, links=True) -> list[str]:
    """The cells of `change` as the page drew them from model instances and template filters."""
    change = SupportContactChange.objects.get(pk=change.pk)  # as dated underneath
    subscription = change.subscription
    when = Template("{% load partnercenter %}{{ at|local_datetime }}").render(
        Context({"at": change.changed_at})
    )
    offer = escape(subscription.offer_name)
    if links:
        url = reverse(
            "customers:subscription_detail", args=[subscription.customer_id, subscription.pk]
        )
        offer = f'<a href="{url}">{offer}</a>'
    if subscription.nickname:
        offer += f' <span class="muted">({escape(subscription.nickname)})</span>'
    return [
        f'<time datetime="{change.changed_at.isoformat()}">{when}</time>',
        escape(subscription.customer.name),
        offer,
        escape(change.from_contact.name) if change.from_contact else "—",
        escape(change.to_contact.name),
        escape(change.changed_by_name),
        escape(change.get_through_display()),
    ]


@pytest.mark.parametrize("language", ["en", "de"])
def test_each_row_shows_the_change_in_the_users_language_and_time_zone(
    client, demo_user, changes, language, settings
):
    settings.TIME_ZONE = "America/Los_Angeles"  # dates are local, not UTC
    user = demo_user("adminagent")
    user.language = language
    user.save(update_fields=["language"])
    client.force_login(user)
    cells = table(client.get(reverse("customers:history")))
    with translation.override(language):
        assert cells == [drawn_by_the_model(change) for change in changes[::-1]]
        system = translation.gettext("System")
        removal = str(SupportContactChange.Through.RELATIONSHIP_REMOVAL.label)
    assert cells[0][5:] == [system, escape(removal)]  # by no one, through a removal
    assert ("Beziehung beendet" in cells[0][6]) == (language == "de")


def test_a_reseller_sees_the_rows_without_links(client, demo_user, changes):
    client.force_login(demo_user("fabrikam"))
    response = client.get(reverse("customers:history"), {"customer": "adatum"})
    cells = table(response)
    assert cells == [drawn_by_the_model(change, links=False) for change in rows(response)]
    assert cells
    assert not any("<a " in row[2] for row in cells)


def test_names_in_the_history_are_escaped(client, demo_user, premium, partner_named):
    hostile = '<script>alert("x")</script> & <b>Co</b>'
    Subscription.objects.filter(pk=premium.pk).update(nickname=f"<i>{hostile}</i>")
    premium.customer.__class__.objects.filter(pk=premium.customer_id).update(name=hostile)
    agent = demo_user("adminagent")
    agent.first_name, agent.last_name = "", ""  # shown by user name
    agent.save(update_fields=["first_name", "last_name"])
    premium.refresh_from_db()
    earlier = factories.SupportContactChangeFactory(
        subscription=premium,
        from_contact=None,  # shown as a dash
        to_contact=premium.provider,
        changed_by=agent,
        changed_at=timezone.now() - timedelta(days=1),
    )
    change = support_contact_assign(
        subscription=premium,
        contact=partner_named("Fabrikam Solutions"),
        by=agent,
        expected_version=premium.version,
    )
    client.force_login(agent)
    response = client.get(reverse("customers:history"))
    page = response.content.decode()
    assert "<script>" not in page
    assert "<b>Co" not in page
    cells = table(response)
    assert cells == [drawn_by_the_model(change), drawn_by_the_model(earlier)]
    assert (
        cells[0][1]
        == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;"
    )
    assert cells[0][5] == agent.username
    assert cells[1][3] == "—"
