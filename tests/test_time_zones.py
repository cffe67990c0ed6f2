"""Times in the user's time zone: the user's choice, else the browser's (a cookie, never trusted
blindly), else the site's; one format per language, the zone always named; the choice made on
My access."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation

from customers.models import SupportContactChange
from customers.services import support_contact_assign
from partnercenter.api_tokens import api_token_issue
from partnercenter.models import ApiToken, User
from partnercenter.time_zones import COOKIE, local_datetime, zone_label
from relationships.models import RelationshipRequest

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 11, 21, 18, 17, tzinfo=UTC)
HISTORY = reverse("customers:history")
MY_ACCESS = reverse("partnercenter:my_access")


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


@pytest.fixture
def change_at_the_moment(demo_user, premium, partner_named):
    change = support_contact_assign(
        subscription=premium,
        contact=partner_named("Fabrikam Solutions"),
        by=demo_user("adminagent"),
        expected_version=premium.version,
    )
    # History refuses updates through its own QuerySet; the test dates the entry underneath.
    QuerySet.update(SupportContactChange.objects.filter(pk=change.pk), changed_at=MOMENT)
    return change


def signed_in(client, user, *, time_zone="", language="en"):
    user.time_zone, user.language = time_zone, language
    user.save(update_fields=["time_zone", "language"])
    client.force_login(user)
    return client


def page(client, url, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("time_zone", "shown"),
    [
        ("", "Nov. 21, 2026, 6:17 p.m. UTC"),
        ("Europe/Budapest", "Nov. 21, 2026, 7:17 p.m. UTC+01:00"),
        ("America/New_York", "Nov. 21, 2026, 1:17 p.m. UTC-05:00"),
    ],
)
def test_a_history_entry_is_shown_in_the_users_zone_with_its_name(
    client, demo_user, change_at_the_moment, time_zone, shown
):
    signed_in(client, demo_user("adminagent"), time_zone=time_zone)
    html = page(client, HISTORY)
    # What machines read stays UTC.
    assert f'<time datetime="2026-11-21T18:17:00+00:00">{shown}</time>' in html
    assert timezone.get_current_timezone_name() == "UTC"  # the request's zone did not linger


def test_the_browsers_zone_is_used_while_the_user_has_chosen_none(
    client, demo_user, change_at_the_moment
):
    signed_in(client, demo_user("adminagent"))
    client.cookies[COOKIE] = "Asia/Tokyo"
    assert "Nov. 22, 2026, 3:17 a.m. UTC+09:00" in page(client, HISTORY)


def test_the_users_choice_wins_over_the_browsers_zone(client, demo_user, change_at_the_moment):
    signed_in(client, demo_user("adminagent"), time_zone="Europe/Budapest")
    client.cookies[COOKIE] = "Asia/Tokyo"
    html = page(client, HISTORY)
    assert "7:17 p.m. UTC+01:00" in html
    assert "UTC+09:00" not in html


@pytest.mark.parametrize(
    "forged",
    [
        "Mars/Olympus_Mons",
        "localtime",  # the server's own zone file, no place's
        "europe/budapest",
        "Europe/Budapest/../../../etc/passwd",
        "../zoneinfo/UTC",
        "Europe%2FBudapest",
        "x" * 4000,
        "\u00e9\u00e9",
    ],
)
def test_a_forged_browser_zone_is_ignored(client, demo_user, change_at_the_moment, forged):
    signed_in(client, demo_user("adminagent"))
    session = client.cookies["sessionid"].value
    cookie = f"sessionid={session}; {COOKIE}={forged}"
    html = page(client, HISTORY, HTTP_COOKIE=cookie.encode().decode("latin-1"))
    assert "Nov. 21, 2026, 6:17 p.m. UTC</time>" in html


def test_my_access_names_the_zone_in_use_and_preselects_it(client, demo_user):
    signed_in(client, demo_user("helpdeskagent"))
    client.cookies[COOKIE] = "Asia/Tokyo"
    html = page(client, MY_ACCESS)
    assert "Times are shown in Asia/Tokyo (UTC+09:00), your browser’s time zone" in html
    assert '<option value="" selected>Automatic: your browser’s time zone</option>' in html
    assert '<option value="Asia/Tokyo">Tokyo</option>' in html
    assert '<optgroup label="Europe">' in html


def test_without_a_choice_or_a_browser_zone_my_access_says_the_site_uses_utc(client, demo_user):
    signed_in(client, demo_user("helpdeskagent"))
    html = page(client, MY_ACCESS)
    assert "Times are shown in UTC: you have not chosen a time zone" in html
    assert '<option value="" selected>Automatic: your browser’s time zone</option>' in html


def test_choosing_a_zone_saves_it_and_says_so(client, demo_user):
    user = demo_user("helpdeskagent")
    signed_in(client, user)
    response = client.post(MY_ACCESS, {"time_zone": "Europe/Budapest"}, follow=True)
    user.refresh_from_db()
    assert user.time_zone == "Europe/Budapest"
    html = response.content.decode()
    assert "Times are now shown in Europe/Budapest." in html
    assert "the time zone you chose" in html
    assert '<option value="Europe/Budapest" selected>Budapest</option>' in html


@pytest.mark.parametrize(
    "bad", ["Mars/Olympus_Mons", "localtime", "Europe/Budapest\x00", "<b>UTC</b>", "x" * 5000]
)
def test_a_bad_zone_is_refused_with_a_message_and_changes_nothing(client, demo_user, bad):
    user = demo_user("helpdeskagent")
    signed_in(client, user, time_zone="Asia/Tokyo")
    response = client.post(MY_ACCESS, {"time_zone": bad})
    assert response.status_code == 200
    assert "Choose a time zone from the list." in response.content.decode()
    user.refresh_from_db()
    assert user.time_zone == "Asia/Tokyo"


def test_automatic_gives_the_browsers_zone_back(client, demo_user):
    user = demo_user("helpdeskagent")
    signed_in(client, user, time_zone="Asia/Tokyo")
    client.cookies[COOKIE] = "Europe/Budapest"
    response = client.post(MY_ACCESS, {"time_zone": ""}, follow=True)
    user.refresh_from_db()
    assert user.time_zone == ""
    html = response.content.decode()
    assert "Times are now shown in your browser’s time zone." in html
    assert "Times are shown in Europe/Budapest (UTC+01:00), your browser’s time zone" in html


def test_the_automatic_option_is_in_the_users_language(client, demo_user):
    user = demo_user("helpdeskagent")
    signed_in(client, user, time_zone="Asia/Tokyo")
    english = page(client, MY_ACCESS)
    signed_in(client, user, time_zone="Asia/Tokyo", language="hu")
    hungarian = page(client, MY_ACCESS)
    assert "Automatic: your browser’s time zone" in english
    assert "Automatic: your browser’s time zone" not in hungarian
    assert '<option value="Asia/Tokyo" selected>Tokyo</option>' in hungarian


def test_the_field_accepts_only_zone_names(demo_user):
    user = demo_user("helpdeskagent")
    user.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError) as refused:
        user.full_clean()
    assert "time_zone" in refused.value.message_dict


@pytest.mark.parametrize(
    ("zone", "moment", "label"),
    [
        ("UTC", MOMENT, "UTC"),
        ("Europe/Budapest", MOMENT, "UTC+01:00"),
        ("Europe/Budapest", datetime(2026, 7, 1, 12, tzinfo=UTC), "UTC+02:00"),  # summer time
        ("Asia/Kolkata", MOMENT, "UTC+05:30"),
        ("America/St_Johns", MOMENT, "UTC-03:30"),
    ],
)
def test_the_zone_is_named_by_its_offset_at_that_moment(zone, moment, label):
    with timezone.override(zone):
        assert zone_label(timezone.localtime(moment)) == label


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "Nov. 21, 2026, 7:17 p.m. UTC+01:00"),
        ("de", "21. November 2026 19:17 UTC+01:00"),
        ("zh-hant", "2026年11月21日 19:17 UTC+01:00"),
    ],
)
def test_history_users_and_api_tokens_write_a_time_the_same_way(
    client, demo_user, change_at_the_moment, language, shown
):
    admin = demo_user("globaladmin")
    User.objects.filter(username="helpdeskagent").update(last_login=MOMENT)
    token, _raw = api_token_issue(user=admin, name="Nightly sync")
    ApiToken.objects.filter(pk=token.pk).update(created_at=MOMENT)
    signed_in(client, admin, time_zone="Europe/Budapest", language=language)
    with translation.override(language), timezone.override("Europe/Budapest"):
        assert local_datetime(MOMENT) == shown
    for url in (HISTORY, reverse("partnercenter:user_list"), reverse("partnercenter:api_tokens")):
        html = page(client, url)
        assert f">{shown}</time>" in html, url
        assert not re.search(r">\d{1,2}/\d{1,2}/\d{4} ", html), url  # the short format is gone


def test_a_message_gives_the_date_in_the_users_language_and_zone(
    client, demo_user, adatum, partner_named
):
    request = RelationshipRequest.objects.create(
        partner=partner_named("Northwind Traders IT"),
        requested_through=partner_named("Contoso Distribution"),
        customer=adatum,
        include_delegated_admin=True,
        requested_by=demo_user("adminagent"),
    )
    # Expired at 23:30 UTC on Nov. 21: already Nov. 22 in Budapest.
    expired = MOMENT.replace(hour=23, minute=30)
    RelationshipRequest.objects.filter(pk=request.pk).update(
        created_at=expired - timedelta(days=30), expires_at=expired
    )
    signed_in(client, demo_user("adatumadmin"), time_zone="Europe/Budapest", language="de")
    response = client.post(
        reverse("relationships:invitation_accept", args=[request.pk]), follow=True
    )
    html = response.content.decode()
    assert "22. November 2026" in html
    assert "2026-11-2" not in html
