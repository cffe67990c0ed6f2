"""Notification emails: every kind in every language (plain text and HTML, escaped, with their
names and links), one email per bulk change, sent through Django's email framework."""

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db.models import Q
from django.utils.html import escape

from customers import bulk
from customers.models import Customer, Subscription, SupportContactChange
from customers.services import support_contact_assign
from events.models import Event, EventType
from events.services import event_record
from notifications.delivery import outbox_drain
from notifications.rendering import EMAIL_LISTS_AT_MOST
from partnercenter.models import NotificationTopic, Partner, User
from relationships.models import ResellerPartnership
from tests import factories

pytestmark = pytest.mark.django_db

LANGUAGES = [code for code, _name in settings.LANGUAGES]
PROVIDER = "Contoso Distribution"
RESELLER = "Fabrikam & Söhne"
CUSTOMER = "<b>Evil & Co</b>"
SUPPORTED = settings.SITE_URL.rstrip("/") + "/supported/"


@dataclass
class World:
    provider: Partner
    reseller: Partner  # writes in the language asked for, wants every topic
    customer: Customer
    partnership: ResellerPartnership
    staff: User  # the provider's admin agent
    subscriptions: list[Subscription]


def world(language: str = "en", subscriptions: int = 1) -> World:
    """A provider, a reseller eligible at one customer, and that customer's subscriptions
    (`Offer 000`, `Offer 001`, ...), each supported by the provider."""
    provider = factories.ProviderFactory(name=PROVIDER)
    reseller = factories.ResellerFactory(
        name=RESELLER, notification_language=language, notification_topics=list(NotificationTopic)
    )
    customer = factories.CustomerFactory(name=CUSTOMER)
    partnership = factories.ResellerPartnershipFactory(provider=provider, reseller=reseller)
    for partner in (provider, reseller):
        factories.CustomerRelationshipFactory(partner=partner, customer=customer)
    rows = Subscription.objects.bulk_create(
        factories.SubscriptionFactory.build(
            customer=customer,
            provider=provider,
            support_contact=provider,
            offer_name=f"Offer {i:03}",
        )
        for i in range(subscriptions)
    )
    staff = factories.StaffUserFactory(partner=provider, roles=["admin_agent"])
    return World(provider, reseller, customer, partnership, staff, rows)


def assign(subscription: Subscription, contact: Partner, by) -> None:
    subscription.refresh_from_db()
    support_contact_assign(
        subscription=subscription, contact=contact, by=by, expected_version=subscription.version
    )


def bulk_change(w: World, contact: Partner):
    operation = bulk.bulk_preview_create(
        by=w.staff, subscriptions=Q(customer=w.customer), contact=contact, criteria={}
    )
    return bulk.bulk_operation_submit(operation_id=operation.pk, by=w.staff)


# Each kind: what makes it happen -------------------------------------------------------------


def _gained(w: World) -> None:
    assign(w.subscriptions[0], w.reseller, w.staff)


def _lost(w: World) -> None:
    assign(w.subscriptions[0], w.reseller, w.staff)
    outbox_drain()  # that first email is another kind's
    assign(w.subscriptions[0], w.provider, w.staff)


def _both(w: World) -> None:
    """One event in which the reseller gains a subscription and loses another."""
    first, second = w.subscriptions
    changes = [
        factories.SupportContactChangeFactory(
            subscription=subscription, from_contact=before, to_contact=after
        )
        for subscription, before, after in (
            (first, w.provider, w.reseller),
            (second, w.reseller, w.provider),
        )
    ]
    event_record(EventType.SUPPORT_CONTACT_CHANGED, changes=[c.pk for c in changes], operation=None)


def _bulk(w: World) -> None:
    bulk_change(w, w.reseller)


def _about_the_relationship(event_type):
    def record(w: World) -> None:
        event_record(
            event_type, partner=w.reseller.pk, customer=w.customer.pk, delegated_admin=True
        )

    return record


def _about_the_partnership(event_type):
    def record(w: World) -> None:
        event_record(event_type, partnership=w.partnership.pk)

    return record


MORE = 3  # subscriptions a bulk change's email counts without listing them


@dataclass(frozen=True)
class Kind:
    happen: object
    english_subject: str
    subscriptions: int = 1
    names: tuple[str, ...] = (RESELLER, CUSTOMER, PROVIDER)
    listed: int | None = None  # subscriptions the email lists; None: all of them

    @property
    def lists(self) -> int:
        return self.subscriptions if self.listed is None else self.listed


def _relationship_kind(event_type, subject: str) -> Kind:
    return Kind(
        _about_the_relationship(event_type),
        subject % {"partner": RESELLER, "customer": CUSTOMER},
        names=(RESELLER, CUSTOMER),
        listed=0,
    )


def _partnership_kind(event_type, subject: str) -> Kind:
    return Kind(
        _about_the_partnership(event_type),
        subject % {"provider": PROVIDER, "reseller": RESELLER},
        names=(RESELLER, PROVIDER),
        listed=0,
    )


KINDS = {
    "contact gained": Kind(_gained, "You are now the designated support contact of 1 subscription"),
    "contact lost": Kind(
        _lost, "You are no longer the designated support contact of 1 subscription"
    ),
    "gained and lost": Kind(
        _both, "Designated support contact: 1 subscription(s) added, 1 removed", subscriptions=2
    ),
    "bulk change": Kind(
        _bulk,
        f"You are now the designated support contact of {EMAIL_LISTS_AT_MOST + MORE} subscriptions",
        subscriptions=EMAIL_LISTS_AT_MOST + MORE,
        listed=EMAIL_LISTS_AT_MOST,
    ),
    "relationship requested": _relationship_kind(
        EventType.RELATIONSHIP_REQUESTED,
        "A relationship between %(partner)s and %(customer)s was requested",
    ),
    "relationship accepted": _relationship_kind(
        EventType.RELATIONSHIP_ACCEPTED, "%(customer)s accepted a relationship with %(partner)s"
    ),
    "relationship declined": _relationship_kind(
        EventType.RELATIONSHIP_DECLINED, "%(customer)s declined a relationship with %(partner)s"
    ),
    "DAP removed": _relationship_kind(
        EventType.DELEGATED_ADMIN_REMOVED,
        "%(partner)s no longer holds delegated admin privileges at %(customer)s",
    ),
    "relationship ended": _relationship_kind(
        EventType.RELATIONSHIP_ENDED, "The relationship between %(partner)s and %(customer)s ended"
    ),
    "partnership requested": _partnership_kind(
        EventType.PARTNERSHIP_REQUESTED,
        "%(provider)s asked %(reseller)s for a reseller partnership",
    ),
    "partnership accepted": _partnership_kind(
        EventType.PARTNERSHIP_ACCEPTED,
        "%(reseller)s accepted a reseller partnership with %(provider)s",
    ),
    "partnership declined": _partnership_kind(
        EventType.PARTNERSHIP_DECLINED,
        "%(reseller)s declined a reseller partnership with %(provider)s",
    ),
    "partnership ended": _partnership_kind(
        EventType.PARTNERSHIP_ENDED,
        "The reseller partnership between %(provider)s and %(reseller)s ended",
    ),
}


def email_of(kind: str, language: str, mailoutbox):
    """The one email the reseller receives when `kind` happens, written in `language`."""
    w = world(language, KINDS[kind].subscriptions)
    KINDS[kind].happen(w)
    mailoutbox.clear()
    outbox_drain()
    (email,) = mailoutbox
    assert email.to == [w.reseller.support_email]
    return email


def parts(email) -> tuple[str, str]:
    ((html, mimetype),) = email.alternatives
    assert mimetype == "text/html"
    return email.body, html


# Every kind in every language ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_email_has_a_subject_text_and_escaped_html_with_its_names_in_every_language(
    kind, language, mailoutbox
):
    email = email_of(kind, language, mailoutbox)
    text, html = parts(email)
    assert email.subject.strip()
    assert "\n" not in email.subject
    if language == "en":
        assert email.subject == KINDS[kind].english_subject
    assert f'<html lang="{language}">' in html
    assert escape(email.subject) in html
    for name in KINDS[kind].names:
        assert name in text
        assert escape(name) in html
    assert "<b>Evil" not in html  # the customer's name is text, never markup
    assert "&amp;lt;" not in html  # and escaped once
    assert text.count("Offer ") == html.count("Offer ") == KINDS[kind].lists
    if KINDS[kind].lists:
        assert "Offer 000" in text
        assert SUPPORTED in text
        assert f'href="{SUPPORTED}"' in html


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_subject_is_translated(language, mailoutbox):
    untranslated = [
        kind
        for kind in KINDS
        if email_of(kind, language, mailoutbox).subject == KINDS[kind].english_subject
    ]
    assert untranslated == []


def test_a_bulk_change_email_lists_a_hundred_subscriptions_and_counts_the_rest(mailoutbox):
    text, html = parts(email_of("bulk change", "en", mailoutbox))
    listed = [f"Offer {i:03}" for i in range(EMAIL_LISTS_AT_MOST)]
    assert all(offer in text and offer in html for offer in listed)
    assert f"Offer {EMAIL_LISTS_AT_MOST:03}" not in text
    assert text.count("Offer ") == html.count("Offer ") == EMAIL_LISTS_AT_MOST
    assert f"and {MORE} more" in text
    assert f"and {MORE} more" in html
    assert "These changes were made by bulk change #" in text


def test_each_partner_is_written_to_in_its_own_language(mailoutbox):
    w = world("nl")
    Partner.objects.filter(pk=w.provider.pk).update(
        notification_language="de", notification_topics=[NotificationTopic.RELATIONSHIPS]
    )
    _about_the_relationship(EventType.DELEGATED_ADMIN_REMOVED)(w)
    outbox_drain()
    languages = {email.to[0]: parts(email)[1] for email in mailoutbox}
    assert set(languages) == {w.provider.support_email, w.reseller.support_email}
    assert '<html lang="de">' in languages[w.provider.support_email]
    assert '<html lang="nl">' in languages[w.reseller.support_email]


def test_a_resellers_email_never_names_the_reseller_that_took_over_or_handed_over(mailoutbox):
    w = world()
    rival = factories.ResellerFactory(name="Rival Resellers")
    factories.ResellerPartnershipFactory(provider=w.provider, reseller=rival)
    factories.CustomerRelationshipFactory(partner=rival, customer=w.customer)
    assign(w.subscriptions[0], rival, w.staff)
    outbox_drain()
    mailoutbox.clear()
    assign(w.subscriptions[0], w.reseller, w.staff)  # from the rival to Fabrikam
    outbox_drain()
    by_address = {email.to[0]: parts(email) for email in mailoutbox}
    assert set(by_address) == {rival.support_email, w.reseller.support_email}
    rivals = "".join(by_address[rival.support_email])
    assert RESELLER not in rivals
    assert escape(RESELLER) not in rivals
    assert "Rival Resellers" not in "".join(by_address[w.reseller.support_email])


# Through Django's email framework ----------------------------------------------------------


def test_a_bulk_change_of_500_subscriptions_is_one_email_listing_them(mailoutbox):
    w = world(subscriptions=500)
    operation = bulk_change(w, w.reseller)
    assert operation.changed == 500
    assert SupportContactChange.objects.filter(bulk_operation=operation).count() == 500
    mailoutbox.clear()
    outbox_drain()
    (email,) = mailoutbox
    text, html = parts(email)
    assert email.to == [w.reseller.support_email]
    assert email.subject == "You are now the designated support contact of 500 subscriptions"
    assert html.count("<tr><td") == EMAIL_LISTS_AT_MOST
    assert email.from_email == settings.DEFAULT_FROM_EMAIL
    assert text.count("Offer ") == EMAIL_LISTS_AT_MOST
    assert "and 400 more" in text
    assert f"bulk change #{operation.pk}" in text
    assert SUPPORTED in text
    outbox_drain()
    assert len(mailoutbox) == 1


def test_the_file_backend_writes_the_drained_email_to_its_folder(settings, tmp_path, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    w = world()
    _gained(w)
    outbox_drain()
    (written,) = tmp_path.iterdir()
    message = written.read_text()
    assert "Subject: You are now the designated support contact of 1 subscription" in message
    assert f"To: {w.reseller.support_email}" in message
    assert "Content-Type: text/html" in message
    assert mailoutbox == []


def _email_settings(**env) -> list[str]:
    """EMAIL_BACKEND and EMAIL_FILE_PATH as partnercenter/settings.py reads them with `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_EMAIL_")}
    environment |= {"DJANGO_SETTINGS_MODULE": "partnercenter.settings", **env}
    answer = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; "
            "print(settings.EMAIL_BACKEND); print(settings.EMAIL_FILE_PATH or '-')",
        ],
        env=environment,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.split()


def test_django_email_file_path_selects_the_file_backend_unless_a_backend_is_named(tmp_path):
    folder = str(tmp_path)
    assert _email_settings() == ["django.core.mail.backends.console.EmailBackend", "-"]
    assert _email_settings(DJANGO_EMAIL_FILE_PATH=folder) == [
        "django.core.mail.backends.filebased.EmailBackend",
        folder,
    ]
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    assert _email_settings(DJANGO_EMAIL_FILE_PATH=folder, DJANGO_EMAIL_BACKEND=smtp) == [
        smtp,
        folder,
    ]


def test_a_relationship_email_says_when_in_utc_as_it_claims_whatever_the_time_zone(
    settings, mailoutbox
):
    settings.TIME_ZONE = "Europe/Amsterdam"
    w = world()
    _about_the_relationship(EventType.RELATIONSHIP_ACCEPTED)(w)
    Event.objects.update(occurred_at=datetime(2026, 1, 15, 9, 30, tzinfo=UTC))
    outbox_drain()
    text, html = parts(mailoutbox[0])
    assert "When: Jan. 15, 2026, 9:30 a.m. (UTC)" in text
    assert "When: Jan. 15, 2026, 9:30 a.m. (UTC)" in html
