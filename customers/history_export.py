"""The change history as CSV, streamed.

Every cell is computed in SQL (the UTC time, the formula guard, "System" for a change without a
user, the label of the way it was made), so that Python only forwards rows: PostgreSQL writes the
CSV itself through COPY, other databases (SQLite) hand the rows to `csv.writer` a batch at a time.
Both write the same bytes; tests/test_history_export.py proves it on both databases.

The means are shared with the other CSV exports (customers/supported_views.py): `csv_stream`
writes any ordered queryset's columns, `text_cell` keeps a text from being read as a formula,
`UtcIso` and `UuidText` write a time and a UUID alike on both databases.
"""

import csv
import io
from collections.abc import Iterator
from contextlib import nullcontext
from itertools import islice

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Case, CharField, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import Concat, NullIf
from django.db.models.lookups import In
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from customers.forms import HistoryFilterForm
from customers.models import ChangeThrough, SupportContactChange
from partnercenter.access import requires
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import Action
from partnercenter.roles import Capability

BATCH = 2000  # rows per chunk handed to the WSGI server: the most the export holds at once
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What Python's str.strip() strips (every character whose isspace() is true), so that names are
# trimmed alike on every database and as the export always trimmed them.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class _UtcSeconds(Func):
    """A timestamp as 'YYYY-MM-DD HH:MM:SS' in UTC, the fraction of a second cut off."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores an aware datetime on SQLite as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 19)", **extra)


class UtcIso(Func):
    """A timestamp in ISO 8601, UTC, to the second: '2026-03-12T10:05:00Z'."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # UTC text on SQLite (see _UtcSeconds); the format as a parameter, its "%" left alone.
        sql, params = self.as_sql(
            compiler, connection, template="strftime(%%s, %(expressions)s)", **extra
        )
        return sql, ("%Y-%m-%dT%H:%M:%SZ", *params)


class UuidText(Func):
    """A UUID as text, its 32 hex digits in groups of 8-4-4-4-12, as Python writes one."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(%(expressions)s)::text", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps a UUID on SQLite as the 32 hex digits alone (a column: no parameters).
        parts = " || '-' || ".join(
            f"substr(%(expressions)s, {start}, {length})"
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        )
        return self.as_sql(compiler, connection, template=f"lower({parts})", **extra)


class _FirstCode(Func):
    """The code point of the text's first character (comparing numbers is cheaper than text)."""

    function = "UNICODE"  # SQLite's; PostgreSQL's ascii() gives the code point too in UTF-8
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="ASCII", **extra)


class _Strip(Func):
    """The text without leading and trailing whitespace, as str.strip() leaves it."""

    function = "TRIM"  # SQLite's trim(text, characters); PostgreSQL's is btrim
    output_field = CharField()

    def __init__(self, expression):
        super().__init__(expression, Value(WHITESPACE))

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, function="BTRIM", **extra)


def _cell(expression):
    """Text as a spreadsheet shows it, never as a formula: a leading apostrophe."""
    return Case(
        When(
            In(_FirstCode(expression), [ord(start) for start in FORMULA_STARTS]),
            then=Concat(Value("'"), expression, output_field=CharField()),
        ),
        default=expression,
        output_field=CharField(),
    )


def _text(expression):
    # An empty string as NULL: both are then an empty, unquoted field (COPY quotes '').
    return NullIf(expression, Value(""))


def text_cell(expression):
    """A text column of an export: never a formula to a spreadsheet, empty when empty."""
    return _text(_cell(expression))


def export_columns() -> list[tuple[str, object]]:
    """Each column's header and SQL expression, in the active language."""
    no_user = Q(changed_by__username__isnull=True) | Q(changed_by__username="")
    name = _Strip(Concat("changed_by__first_name", Value(" "), "changed_by__last_name"))
    labels = [When(through=way, then=Value(str(label))) for way, label in ChangeThrough.choices]
    return [
        (_("Changed at (UTC)"), _UtcSeconds("changed_at")),
        (_("Customer"), _text(_cell(F("subscription__customer__name")))),
        (_("Customer domain"), _text(_cell(F("subscription__customer__domain")))),
        (_("Offer"), _text(_cell(F("subscription__offer_name")))),
        (_("Nickname"), _text(_cell(F("subscription__nickname")))),
        (_("Subscription id"), F("subscription_id")),
        (_("From"), _text(_cell(F("from_contact__name")))),
        (_("To"), _text(_cell(F("to_contact__name")))),
        (
            _("Changed by (username)"),
            Case(
                When(no_user, then=Value(_("System"))),
                default=_text(_cell(F("changed_by__username"))),
                output_field=CharField(),
            ),
        ),
        (
            _("Changed by (name)"),
            Case(
                When(no_user, then=Value(None)),
                default=_text(_cell(name)),
                output_field=CharField(),
            ),
        ),
        (
            _("Through"),
            _text(Case(*labels, default=F("through"), output_field=CharField())),
        ),
    ]


def export_changes(request: AuthenticatedHttpRequest):
    """The changes the user may export, narrowed by the History page's filters."""
    changes = SupportContactChange.objects.restrict(request.user, Action.EXPORT)
    return HistoryFilterForm(request.GET, changes=changes).filter(changes)


def csv_lines(changes) -> Iterator[bytes]:
    """`changes` as CSV, newest first: the BOM and the header, then the rows a batch at a time.

    The columns are read in the active language and the statement is made when this is called;
    the statement runs when the first rows are asked for and ends when the response is closed:
    a client that goes away cancels the COPY, and the connection is left idle.
    """
    return csv_stream(changes.order_by("-changed_at", "-pk"), export_columns())


def csv_stream(rows, columns: list[tuple[str, object]]) -> Iterator[bytes]:
    """`rows` (an ordered queryset) as CSV, a column per (header, SQL expression) of `columns`:
    the BOM and the header, then the rows a batch at a time, as `csv_lines` says."""
    header = io.StringIO()
    csv.writer(header).writerow(title for title, _column in columns)
    rows = rows.values_list(*(c for _title, c in columns))
    connection = connections[rows.db]
    try:
        sql, params = rows.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:  # nothing the user may export
        body = iter(())
    else:
        if connection.vendor == "postgresql":
            body = _copied(connection, connection.ops.compose_sql(sql, params))
        else:
            body = _written(connection, sql, params)
    return _lines(("\ufeff" + header.getvalue()).encode(), body)  # the BOM: UTF-8 to spreadsheets


def _lines(header: bytes, body: Iterator[bytes]) -> Iterator[bytes]:
    yield header
    yield from body  # closing this generator closes the body's too


def _copied(connection, select: str) -> Iterator[bytes]:
    """PostgreSQL writes the CSV. It quotes as csv.writer does (a value holding a comma, a quote,
    CR or LF, its quotes doubled) but ends a row with LF alone; the protocol sends each row in a
    message of its own, so the row ends are known."""
    statement = f"COPY ({select}) TO STDOUT WITH (FORMAT csv)"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # The COPY lasts as long as the download, which a slow client or a long history makes
        # longer than the statement timeout: lifted for it, the connection's own after it.
        cursor.execute("SET statement_timeout = 0")
        try:
            logged = cursor.debug_sql(statement) if connection.queries_logged else nullcontext()
            with logged, cursor.copy(statement) as copy:
                rows = map(bytes, copy)  # holding on to libpq's buffers costs twice the CPU
                while batch := list(islice(rows, BATCH)):
                    yield _crlf(batch)
        finally:
            cursor.execute("RESET statement_timeout")


def _crlf(rows: list[bytes]) -> bytes:
    """The rows ending in CR LF as csv.writer ends them; a line feed inside a value stays."""
    data = b"".join(rows)
    if data.count(b"\n") == len(rows):  # no value holds a line feed: each one ends a row
        return data.replace(b"\n", b"\r\n")
    return b"".join(row[:-1] + b"\r\n" for row in rows)


def _written(connection, sql: str, params) -> Iterator[bytes]:
    """csv.writer writes the CSV, a batch of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(BATCH):
            writer.writerows(batch)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()


@require_GET
@requires(Capability.VIEW_HISTORY)
def history_export(request: AuthenticatedHttpRequest):
    """The filtered history as CSV, streamed in batches so it never sits in memory whole."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        csv_lines(export_changes(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="support-contact-history-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
