"""Every request's id, and what each log line written while serving it says about it (a task
run by a worker counts as a request: its id is the task's).

`RequestIdMiddleware` (first in MIDDLEWARE) takes the id a load balancer or an API caller sent
(`X-Request-ID`, else `MS-RequestId`) or makes one, answers it in `X-Request-ID`, and writes one
line per request. `RequestContextFilter` adds the id and the signed-in user to every log line
(settings.LOGGING). `change_log` is how a write says what it changed: once, when it commits.
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial

from django.core.signals import request_finished
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.functional import empty
from django_tasks.signals import task_finished, task_started

from partnercenter.health import PATHS as HEALTH_PATHS

INCOMING = ("X-Request-ID", "MS-RequestId")
RESPONSE_HEADER = "X-Request-ID"
# What we accept of an id sent to us: it goes into every log line, so nothing that could forge
# or break one (no spaces, quotes or line breaks), and not too long.
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=-]{0,127}")
# Path parameters that carry a secret (the set-password link's): their route is logged instead.
_SECRET_PARAMETERS = frozenset({"token", "uidb64"})

requests_logger = logging.getLogger("partnercenter.requests")
changes_logger = logging.getLogger("partnercenter.changes")


@dataclass
class Trace:
    id: str
    request: HttpRequest | None = None
    changes_committed: int = 0
    unavailability_logged: bool = False
    # Who a task acts for (`acting_for`): a worker has no signed-in user.
    actor: str = ""


_current: ContextVar[Trace | None] = ContextVar("trace", default=None)


def current_trace() -> Trace | None:
    """The request (or task) being served; None outside one (a command, between requests)."""
    return _current.get()


def acting_for(user) -> None:
    """Name `user` as the author of what the task being run logs. A request's lines name its
    signed-in user already, and keep it."""
    if (trace := _current.get()) is not None and trace.request is None:
        trace.actor = user.get_username()


def changes_committed() -> bool:
    """Whether the request being served has committed a change (its error page must say so)."""
    trace = _current.get()
    return bool(trace and trace.changes_committed)


def change_log(what: str, **about) -> None:
    """Log a write once it commits (a rolled-back one is not logged): `what` names it, `about`
    holds primary keys and names, never a password, token or secret."""
    transaction.on_commit(partial(_committed, what, about))


def _committed(what: str, about: dict) -> None:
    if trace := _current.get():
        trace.changes_committed += 1
    changes_logger.info("%s %s", what, about, extra={"change": what, "about": about})


def _incoming_id(request: HttpRequest) -> str | None:
    for header in INCOMING:
        sent = request.headers.get(header, "")
        if _VALID_ID.fullmatch(sent):
            return sent
    return None


def _user_label(request: HttpRequest | None) -> str:
    """Who is signed in, when the request has already asked: a log line never costs a query."""
    if request is None:
        return ""
    user = getattr(request, "auth", None)  # the API's token user (api/auth.py)
    if user is None:
        lazy = request.__dict__.get("user")
        if lazy is None or getattr(lazy, "_wrapped", None) is empty:
            return ""
        user = lazy
    return user.get_username() if user.is_authenticated else ""


def _loggable_path(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is not None and _SECRET_PARAMETERS & set(match.kwargs):
        return "/" + match.route
    return request.path


class RequestIdMiddleware:
    """First in MIDDLEWARE: the id is set before anything can log, and answered on every
    response, error pages included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        trace = Trace(id=_incoming_id(request) or str(uuid.uuid4()), request=request)
        request.id = trace.id
        # Left set until the response is closed (`_trace_end`): Django logs an error answer
        # (django.request) after the middleware has returned it.
        _current.set(trace)
        started = time.perf_counter()
        response = self.get_response(request)
        response[RESPONSE_HEADER] = trace.id
        self._log(request, response, time.perf_counter() - started)
        return response

    @staticmethod
    def _log(request, response, seconds: float) -> None:
        # A load balancer asks for the health checks every few seconds: not at INFO, unless one
        # fails.
        quiet = request.path in HEALTH_PATHS and response.status_code < 400
        level = logging.DEBUG if quiet else logging.INFO
        path = _loggable_path(request)
        requests_logger.log(
            level,
            "%s %s %s %.0f ms",
            request.method,
            path,
            response.status_code,
            seconds * 1000,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


@receiver(request_finished)
def _trace_end(sender, **kwargs) -> None:
    _current.set(None)


@receiver(task_started)
def _task_trace_start(sender, task_result, **kwargs) -> None:
    """A worker's lines carry the task's id (its row in the queue) as their request id. A task
    run inside a request (the immediate backend of development and tests) keeps the request's."""
    if _current.get() is None:
        _current.set(Trace(id=f"task-{task_result.id}"))


@receiver(task_finished)
def _task_trace_end(sender, task_result, **kwargs) -> None:
    if (trace := _current.get()) and trace.id == f"task-{task_result.id}":
        _current.set(None)


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `user` to every record, so that every handler's lines carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace = _current.get()
        record.request_id = trace.id if trace else "-"
        record.user = (trace and (trace.actor or _user_label(trace.request))) or "-"
        return True
