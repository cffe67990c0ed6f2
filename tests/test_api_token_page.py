"""The API tokens page: every staff user creates a token (shown once), lists and revokes their
own; a global admin also sees and revokes every other token of the partner, never another
partner's. Bad input gets a message and changes nothing."""

import hashlib
import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from partnercenter import services
from partnercenter.api_token_views import OWN_TOKENS_SHOWN, PARTNER_TOKENS_PER_PAGE
from partnercenter.api_tokens import api_token_authenticate, api_token_issue
from partnercenter.models import ApiToken
from partnercenter.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


PAGE = reverse("partnercenter:api_tokens")


def _revoke_url(token) -> str:
    return reverse("partnercenter:api_token_revoke", args=[token.pk])


def _issue(user, name="PSA sync", days=30):
    return api_token_issue(user=user, name=name, expires_in=timedelta(days=days))


def _html(response) -> str:
    return response.content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _section(html: str, heading_id: str) -> str:
    """The card headed by `heading_id`, up to the next card."""
    start = html.index(f'id="{heading_id}"')
    end = html.find('<section class="card"', start)
    return html[start : end if end != -1 else len(html)]


# Creating -----------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_in_the_answer_to_the_post(client, demo_user):
    helpdesk = demo_user("helpdeskagent")
    client.force_login(helpdesk)
    response = client.post(PAGE, {"name": "PSA sync", "expires_in_days": "30"})

    assert response.status_code == 200  # the token is in this page, not behind a redirect
    [token] = ApiToken.objects.filter(user=helpdesk)
    shown = re.search(r'<textarea id="new-token"[^>]*>(pc_[^<]+)</textarea>', _html(response))
    raw = shown.group(1)
    assert _html(response).count(raw) == 1
    assert "shown only this once" in _html(response)
    assert token.name == "PSA sync"
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.expires_at - token.created_at == timedelta(days=30)
    assert api_token_authenticate(raw) == helpdesk
    assert "no-store" in response["Cache-Control"]
    # Nowhere but in that one answer: not in a message, the session, or the next page.
    secret = raw.split("_", 2)[2]
    assert not any(secret in m for m in _messages(response))
    assert secret not in str(dict(client.session.items()))
    again = client.get(PAGE)
    assert secret not in _html(again)
    assert 'id="new-token"' not in _html(again)
    assert token.display_prefix in _html(again)


@pytest.mark.parametrize("days", ["1", "7", "60", "90"])
def test_each_offered_lifetime_is_given(client, demo_user, days):
    client.force_login(demo_user("salesagent"))
    assert client.post(PAGE, {"name": "Sync", "expires_in_days": days}).status_code == 200
    token = ApiToken.objects.get()
    assert token.expires_at - token.created_at == timedelta(days=int(days))


def test_the_form_offers_one_to_ninety_days_thirty_by_default(client, demo_user):
    client.force_login(demo_user("salesagent"))
    html = _html(client.get(PAGE))
    options = re.findall(r'<option value="(\d+)"( selected)?>', html)
    assert [value for value, _ in options] == ["1", "7", "30", "60", "90"]
    assert [value for value, selected in options if selected] == ["30"]
    assert 'href="/api/"' in html
    assert "Authorization: Bearer &lt;token&gt;" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"expires_in_days": "30"}, "Give the token a name."),
        ({"name": "   ", "expires_in_days": "30"}, "Give the token a name."),
        ({"name": "x" * 101, "expires_in_days": "30"}, "at most 100 characters"),
        ({"name": "a\x00b", "expires_in_days": "30"}, "Null characters are not allowed."),
        ({"name": "Sync"}, "Choose how long the token is valid: 1 to 90 days."),
        ({"name": "Sync", "expires_in_days": ""}, "Choose how long the token is valid"),
        ({"name": "Sync", "expires_in_days": "0"}, "Choose how long the token is valid"),
        ({"name": "Sync", "expires_in_days": "91"}, "Choose how long the token is valid"),
        ({"name": "Sync", "expires_in_days": "365"}, "Choose how long the token is valid"),
        ({"name": "Sync", "expires_in_days": "-1"}, "Choose how long the token is valid"),
        ({"name": "Sync", "expires_in_days": "abc"}, "Choose how long the token is valid"),
        ({"name": "Sync", "expires_in_days": "30.5"}, "Choose how long the token is valid"),
        ({"name": "Sync", "expires_in_days": "٣٠"}, "Choose how long the token is valid"),
    ],
)
def test_bad_input_gets_a_message_and_creates_nothing(client, demo_user, data, message):
    client.force_login(demo_user("helpdeskagent"))
    response = client.post(PAGE, data)
    assert response.status_code == 200
    html = _html(response)
    assert message in html.replace("&#x27;", "'")
    assert "has-error" in html
    assert 'id="new-token"' not in html
    assert not ApiToken.objects.exists()


def test_a_deactivated_user_cannot_create_a_token(client, demo_user):
    agent = demo_user("helpdeskagent")
    client.force_login(agent)
    agent.__class__.objects.filter(pk=agent.pk).update(is_active=False)
    response = client.post(PAGE, {"name": "Sync", "expires_in_days": "30"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not ApiToken.objects.exists()


# Who sees what ------------------------------------------------------------------------------


def test_a_user_lists_only_their_own_tokens(client, demo_user):
    own, _ = _issue(demo_user("helpdeskagent"), "Helpdesk nightly")
    _issue(demo_user("globaladmin"), "Admin reporting")
    _issue(demo_user("proseware"), "Proseware sync")
    client.force_login(demo_user("helpdeskagent"))
    html = _html(client.get(PAGE))
    assert "Helpdesk nightly" in html
    assert own.display_prefix in html
    assert "Admin reporting" not in html
    assert "Proseware sync" not in html
    assert 'id="partner-heading"' not in html


def test_a_global_admin_also_sees_every_other_token_of_their_partner(client, demo_user):
    helpdesk, _ = _issue(demo_user("helpdeskagent"), "Helpdesk nightly")
    _issue(demo_user("globaladmin"), "Admin reporting")
    _issue(demo_user("proseware"), "Proseware sync")
    _issue(demo_user("fabrikam"), "Fabrikam sync")
    client.force_login(demo_user("globaladmin"))
    html = _html(client.get(PAGE))
    own, others = _section(html, "own-heading"), _section(html, "partner-heading")
    assert "Admin reporting" in own
    assert "Helpdesk nightly" not in own
    assert "Helpdesk nightly" in others
    assert "Hanna Kovács" in others  # the owner
    assert _revoke_url(helpdesk) in others
    assert "Admin reporting" not in others
    for foreign in ("Proseware sync", "Fabrikam sync", "Pavel Novak"):
        assert foreign not in html


def test_another_partners_global_admin_sees_none_of_contosos_tokens(client, demo_user):
    _issue(demo_user("helpdeskagent"), "Helpdesk nightly")
    admin = factories.StaffUserFactory(
        partner=demo_user("proseware").partner, roles=[Role.GLOBAL_ADMIN]
    )
    client.force_login(admin)
    html = _html(client.get(PAGE))
    assert "Helpdesk nightly" not in html
    assert "Nobody else in your organisation has an API token." in html


def test_every_staff_user_has_the_page_in_the_navigation_and_customer_admins_do_not(
    client, demo_user
):
    for username in ("helpdeskagent", "usermgmtadmin", "fabrikam", "globaladmin"):
        client.force_login(demo_user(username))
        html = _html(client.get(reverse("partnercenter:my_access")))
        assert f'<a href="{PAGE}">API tokens</a>' in html, username
    client.force_login(demo_user("adatumadmin"))
    html = _html(client.get(reverse("partnercenter:my_access")))
    assert f'href="{PAGE}"' not in html


def test_states_active_expired_revoked_and_ended_by_a_deactivation(client, demo_user):
    agent, admin = demo_user("helpdeskagent"), demo_user("globaladmin")
    expired, _ = _issue(agent, "Old sync", days=1)
    ApiToken.objects.filter(pk=expired.pk).update(
        created_at=expired.created_at - timedelta(days=5),
        expires_at=expired.created_at - timedelta(days=4),
    )
    revoked, _ = _issue(agent, "Revoked sync")
    client.force_login(agent)
    client.post(_revoke_url(revoked))
    ended, _ = _issue(agent, "Before the break")
    services.user_deactivate(user=agent, by=admin)
    services.user_reactivate(user=agent, by=admin)
    agent.refresh_from_db()
    active, _ = _issue(agent, "Fresh sync")

    client.force_login(agent)
    html = _html(client.get(PAGE))
    row = r'<th scope="row">([^<]+)</th>.*?class="status [^"]+">([^<]+)<'
    rows = dict(re.findall(row, html, re.S))
    assert rows == {
        "Fresh sync": "Active",
        "Before the break": "Ended: user deactivated",
        "Revoked sync": "Revoked",
        "Old sync": "Expired",
    }
    # Nothing to revoke on an expired or revoked token.
    assert _revoke_url(expired) not in html
    assert _revoke_url(revoked) not in html
    assert _revoke_url(active) in html
    assert _revoke_url(ended) in html


def test_the_own_list_stops_at_its_limit_with_the_usable_tokens_first(client, demo_user):
    agent = demo_user("helpdeskagent")
    oldest, _ = _issue(agent, "Still in use")
    for i in range(OWN_TOKENS_SHOWN):
        token, _ = _issue(agent, f"Ended {i}")
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at, revoked_by=agent)
    client.force_login(agent)
    html = _html(client.get(PAGE))
    assert html.count('<th scope="row">') == OWN_TOKENS_SHOWN
    assert html.index("Still in use") < html.index("Ended ")
    assert f"Only {OWN_TOKENS_SHOWN} of your tokens are shown" in html
    assert _revoke_url(oldest) in html


def test_the_partners_tokens_are_paged(client, demo_user):
    agent = demo_user("helpdeskagent")
    for i in range(PARTNER_TOKENS_PER_PAGE + 3):
        _issue(agent, f"Agent token {i:03d}")
    client.force_login(demo_user("globaladmin"))
    first = _html(client.get(PAGE))
    assert first.count('<th scope="row">Agent token ') == PARTNER_TOKENS_PER_PAGE
    next_link = re.search(r'href="(\?after=[^"]+)"', first).group(1)
    second = _html(client.get(PAGE + unescape(next_link)))
    assert second.count('<th scope="row">Agent token ') == 3
    assert "Agent token 000" in second
    garbled = _html(client.get(PAGE, {"after": "garbled"}))
    assert "This page link is not valid here" in garbled
    assert garbled.count('<th scope="row">Agent token ') == PARTNER_TOKENS_PER_PAGE


# Access -------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, demo_user):
    token, _ = _issue(demo_user("helpdeskagent"))
    for method, url in (("get", PAGE), ("post", PAGE), ("post", _revoke_url(token))):
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert ApiToken.objects.get().revoked_at is None


def test_a_customer_admin_is_refused(client, demo_user):
    token, _ = _issue(demo_user("helpdeskagent"))
    client.force_login(demo_user("adatumadmin"))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"name": "Sync", "expires_in_days": "30"}).status_code == 403
    assert client.post(_revoke_url(token)).status_code == 403
    assert ApiToken.objects.count() == 1
    assert ApiToken.objects.get().revoked_at is None


def test_revoke_takes_post_only(client, demo_user):
    token, _ = _issue(demo_user("helpdeskagent"))
    client.force_login(token.user)
    assert client.get(_revoke_url(token)).status_code == 405
    assert client.put(PAGE).status_code == 405


# Revoking -----------------------------------------------------------------------------------


def test_a_user_revokes_their_own_token_and_again_changes_nothing(client, demo_user):
    agent = demo_user("helpdeskagent")
    token, raw = _issue(agent, "PSA sync")
    client.force_login(agent)
    response = client.post(_revoke_url(token), follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    assert _messages(response) == [
        f"The token PSA sync ({token.display_prefix}…) was revoked: it no longer works."
    ]
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == agent
    assert api_token_authenticate(raw) is None

    revoked_at = token.revoked_at
    again = client.post(_revoke_url(token), follow=True)
    assert again.redirect_chain == [(PAGE, 302)]
    assert _messages(again) == [
        f"The token PSA sync ({token.display_prefix}…) was already revoked."
    ]
    token.refresh_from_db()
    assert token.revoked_at == revoked_at


def test_a_global_admin_revokes_a_colleagues_token(client, demo_user):
    token, raw = _issue(demo_user("helpdeskagent"))
    admin = demo_user("globaladmin")
    client.force_login(admin)
    assert client.post(_revoke_url(token)).status_code == 302
    token.refresh_from_db()
    assert token.revoked_by == admin
    assert api_token_authenticate(raw) is None


@pytest.mark.parametrize(
    ("who", "owner"),
    [
        ("helpdeskagent", "globaladmin"),  # a colleague's, without the capability
        ("adminagent", "helpdeskagent"),
        ("globaladmin", "proseware"),  # another partner's, even for a global admin
        ("globaladmin", "fabrikam"),
        ("proseware", "helpdeskagent"),
    ],
)
def test_a_token_out_of_reach_is_not_found_and_stays_usable(client, demo_user, who, owner):
    token, raw = _issue(demo_user(owner), "Out of reach")
    client.force_login(demo_user(who))
    assert client.post(_revoke_url(token)).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert api_token_authenticate(raw) == demo_user(owner)
    assert "Out of reach" not in _html(client.get(PAGE))


@pytest.mark.parametrize("token_id", ["0", "999999", "2147483648", "99999999999999999999"])
def test_a_forged_token_id_is_not_found(client, demo_user, token_id):
    client.force_login(demo_user("globaladmin"))
    assert client.post(f"/api-tokens/{token_id}/revoke/").status_code == 404
