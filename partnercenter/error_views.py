"""The error pages: each says what happened, whether anything changed, and the request's id
that support can look up in the logs (partnercenter/tracing.py).

400, 403 and 404 are shown inside the site (the database works). 500 and 503 may be answering a
database that does not: they are rendered without the request, so no context processor, session
or user is read for them. A database that is away, full or read-only answers 503 with
Retry-After, not 500: the user can do nothing but try again, and nothing was changed.
"""

import logging
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from partnercenter.tracing import changes_committed, current_trace

RETRY_AFTER_SECONDS = 5
# SQLSTATEs that mean "the database cannot take this now" but that the driver does not raise as
# an OperationalError: a read-only transaction (a replica, a database set read-only).
_UNAVAILABLE_STATES = {"25006"}


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` means the database cannot serve now (down, restarting, full, read-only,
    too slow): try again later, rather than a defect of ours."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    cause = getattr(error, "__cause__", None)
    return isinstance(error, DatabaseError) and getattr(cause, "sqlstate", None) in (
        _UNAVAILABLE_STATES
    )


class UnavailableDatabaseOnce(logging.Filter):
    """On django.request: a request refused because the database cannot serve is logged once, as a
    warning without a traceback (Django would log it as an error, with the traceback, once per
    middleware layer it crossed). In an outage every request is one: the log stays readable."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not database_unavailable(error):
            return True
        trace = current_trace()
        if trace is not None:
            if trace.unavailability_logged:
                return False
            trace.unavailability_logged = True
        record.msg, record.args = "%s (%s)", (record.getMessage(), error)
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _reference(request) -> dict:
    return {"request_id": getattr(request, "id", "")}


def bad_request(request, exception=None):
    return render(request, "400.html", _reference(request), status=400)


def permission_denied(request, exception=None):
    return render(request, "403.html", _reference(request), status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", _reference(request), status=404)


def server_error(request):
    """500, or 503 when the database is the cause. Called while the exception is handled."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable(request)
    return _standalone(request, "500.html", 500, saved=changes_committed())


def unavailable(request) -> HttpResponse:
    response = _standalone(request, "503.html", 503, saved=changes_committed())
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _standalone(request, template: str, status: int, **context) -> HttpResponse:
    content = render_to_string(template, {**_reference(request), **context})
    return HttpResponse(content, status=status)
