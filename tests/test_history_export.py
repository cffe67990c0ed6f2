"""The History CSV export: the bytes it always wrote, whether PostgreSQL's COPY or csv.writer
writes them, whatever the values hold; the user's reach and language; a download cut short
leaves the connection idle."""

import csv
import io
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from customers import history_export
from customers.models import ChangeThrough, SupportContactChange
from tests import factories

pytestmark = pytest.mark.django_db

HEADER = [
    "Changed at (UTC)",
    "Customer",
    "Customer domain",
    "Offer",
    "Nickname",
    "Subscription id",
    "From",
    "To",
    "Changed by (username)",
    "Changed by (name)",
    "Through",
]
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")


def _guarded(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_the_export_always_wrote(changes, header=HEADER) -> bytes:
    """The oracle: the export's rules as its Python code applied them, row by row, before SQL
    computed the cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    changes = changes.select_related(
        "subscription__customer", "from_contact", "to_contact", "changed_by"
    ).order_by("-changed_at", "-pk")
    for change in changes:
        subscription, user = change.subscription, change.changed_by
        named = user is not None and user.username
        writer.writerow(
            [
                change.changed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                _guarded(subscription.customer.name),
                _guarded(subscription.customer.domain),
                _guarded(subscription.offer_name),
                _guarded(subscription.nickname),
                subscription.pk,
                _guarded(change.from_contact and change.from_contact.name),
                _guarded(change.to_contact.name),
                _guarded(user.username) if named else gettext("System"),
                _guarded(f"{user.first_name} {user.last_name}".strip()) if named else "",
                dict(ChangeThrough.choices)[change.through],
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode()


def download(client, **params) -> bytes:
    response = client.get(reverse("customers:history_export"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content)


@pytest.fixture
def hostile(demo_user, partner_named):
    """Changes of Contoso's whose every text is trouble for a CSV file or a spreadsheet."""
    contoso = partner_named("Contoso Distribution")
    formula = factories.CustomerFactory(
        name='=HYPERLINK("https://evil.example","Click, me")', domain="+1.evil.example"
    )
    foreign = factories.CustomerFactory(
        name="Ünïcödé 🚀 Straße 株式会社", domain="@xn--evil.example"
    )
    for customer in (formula, foreign):
        factories.CustomerRelationshipFactory(partner=contoso, customer=customer)
    newline = factories.SubscriptionFactory(
        customer=formula, provider=contoso, offer_name='Office\n365, "E5"', nickname="\tTabbed"
    )
    carriage = factories.SubscriptionFactory(
        customer=foreign, provider=contoso, offer_name="\rCarriage", nickname='C:\\path\\. "'
    )
    minus = factories.ResellerFactory(name='-Minus, "Quoted" Reseller')
    crlf = factories.ResellerFactory(name="Line\r\nBreak — “Zitat” Søn")
    eve = factories.StaffUserFactory(
        partner=contoso, username="@eve", first_name="\u3000=Eve", last_name='O\'Neil, "Jr"\n'
    )
    nameless = factories.StaffUserFactory(
        partner=contoso, username="-", first_name="", last_name=""
    )
    leap = datetime(2024, 2, 29, 23, 59, 59, 999999, UTC)
    midnight_in_berlin = datetime(2024, 7, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    later = datetime(2025, 1, 2, 3, 4, 5, 6, UTC)
    rows = [
        (newline, None, minus, None, "relationship_removal", leap),
        (newline, minus, crlf, eve, "form", midnight_in_berlin),
        (carriage, contoso, crlf, nameless, "form", midnight_in_berlin),
        (carriage, crlf, contoso, demo_user("adminagent"), "api", later),
    ]
    for subscription, old, new, by, way, at in rows:
        SupportContactChange.objects.create(
            subscription=subscription,
            from_contact=old,
            to_contact=new,
            changed_by=by,
            through=way,
            changed_at=at,
        )
    return contoso


def test_the_export_writes_hostile_values_as_it_always_did(client, demo_user, hostile):
    agent = demo_user("adminagent")
    client.force_login(agent)
    data = download(client)
    expected = as_the_export_always_wrote(SupportContactChange.objects.restrict(agent, "export"))
    assert data == expected
    # And in plain bytes, so that the oracle above is not the only judge.
    assert data.startswith(b"\xef\xbb\xbfChanged at (UTC),Customer,Customer domain,")
    assert b"\r\n2025-01-02 03:04:05," in data  # UTC, the fraction cut off
    lines = data.decode("utf-8-sig").split("\r\n")
    assert (
        '2024-06-30 22:30:00,"\'=HYPERLINK(""https://evil.example"",""Click, me"")",'
        '\'+1.evil.example,"Office\n365, ""E5""",\'\tTabbed,'
    ) in "\r\n".join(lines)
    assert lines[-2].startswith("2024-02-29 23:59:59,")
    assert lines[-2].endswith(',,"\'-Minus, ""Quoted"" Reseller",System,,Relationship ended')
    text = data.decode("utf-8")
    assert ',\'@eve,"\'=Eve O\'Neil, ""Jr""",Subscription page' in text  # stripped first
    assert ",'-,,Subscription page" in text  # a user without a name: an empty field
    assert '"Line\r\nBreak — “Zitat” Søn"' in data.decode("utf-8")
    assert "Ünïcödé 🚀 Straße 株式会社,'@xn--evil.example,\"'\rCarriage\"" in data.decode("utf-8")
    # Two changes at the same instant: the newer id first, as on the History page.
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    at_once = [row[8] for row in table if row[0] == "2024-06-30 22:30:00"]
    assert at_once == ["'-", "'@eve"]


@on_postgresql
def test_copy_and_csv_writer_write_the_same_bytes(client, demo_user, hostile):
    """The two ways of writing, on the same rows of the same database."""
    with translation.override("en"):
        columns = history_export.export_columns()
    rows = SupportContactChange.objects.order_by("-changed_at", "-pk").values_list(
        *(column for _title, column in columns)
    )
    sql, params = rows.query.get_compiler(connection=connection).as_sql()
    copied = b"".join(history_export._copied(connection, connection.ops.compose_sql(sql, params)))
    written = b"".join(history_export._written(connection, sql, params))
    assert copied.count(b"\r\n") > SupportContactChange.objects.count()  # values hold some too
    assert copied == written


def test_the_export_speaks_the_users_language(client, demo_user, hostile):
    agent = demo_user("adminagent")
    client.force_login(agent)
    response = client.get(reverse("customers:history_export"), headers={"Accept-Language": "de"})
    data = b"".join(response.streaming_content)
    with translation.override("de"):
        header = [gettext(title) for title in HEADER]
        expected = as_the_export_always_wrote(
            SupportContactChange.objects.restrict(agent, "export"), header
        )
        assert gettext("Relationship ended") != "Relationship ended"  # a translated label
    assert data == expected


def test_the_export_keeps_to_the_filters_and_the_users_reach(client, demo_user, hostile):
    client.force_login(demo_user("adminagent"))
    table = list(csv.reader(io.StringIO(download(client, changed_by="system").decode("utf-8-sig"))))
    assert len(table) > 1
    assert {row[8] for row in table[1:]} == {"System"}
    fabrikam = demo_user("fabrikam")
    client.force_login(fabrikam)
    data = download(client)
    assert data == as_the_export_always_wrote(
        SupportContactChange.objects.restrict(fabrikam, "export")
    )
    assert b"HYPERLINK" not in data  # changes that name other partners only


def test_an_export_with_nothing_to_show_is_the_header_alone():
    data = b"".join(history_export.csv_lines(SupportContactChange.objects.none()))
    assert data == "\ufeff{}\r\n".format(",".join(HEADER)).encode()


def test_the_names_are_stripped_of_what_str_strip_strips():
    everything = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert everything == history_export.WHITESPACE


@on_postgresql
def test_the_copy_is_one_statement_in_the_query_log(client, demo_user, hostile):
    client.force_login(demo_user("adminagent"))
    with CaptureQueriesContext(connection) as queries:
        download(client)
    assert [q["sql"] for q in queries if q["sql"].startswith("COPY (")] != []


@pytest.mark.django_db(transaction=True)
def test_a_download_cut_short_leaves_the_connection_idle(client, demo_user, premium, monkeypatch):
    """A client that goes away mid-stream: the COPY (or the cursor) ends with the response, and
    the connection, kept for the next request (CONN_MAX_AGE), is idle and works at once."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)  # kept for good
    connection.close()
    contoso = premium.provider
    SupportContactChange.objects.bulk_create(
        SupportContactChange(
            subscription=premium, from_contact=contoso, to_contact=contoso, through="api"
        )
        for _ in range(3 * history_export.BATCH)
    )
    agent = demo_user("adminagent")
    client.force_login(agent)
    response = client.get(reverse("customers:history_export"))
    chunks = iter(response.streaming_content)
    next(chunks)  # the header
    next(chunks)  # the first rows
    response.close()  # what the server does when the client goes away; then request_finished
    assert connection.connection is not None  # kept: Django found it usable
    assert not connection.in_atomic_block
    if connection.vendor == "postgresql":
        from psycopg.pq import TransactionStatus

        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    exported = SupportContactChange.objects.restrict(agent, "export").count()
    assert exported >= 3 * history_export.BATCH
    assert download(client).count(b"\n") == 1 + exported
