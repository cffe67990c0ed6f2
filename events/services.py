"""Recording events: one INSERT in the caller's transaction, so a rolled-back change sends
nothing and a committed one is never forgotten (the notifications app delivers it)."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from events.models import Event, EventType
from partnercenter.tracing import change_log

_muted: ContextVar[bool] = ContextVar("events_muted", default=False)


def event_record(type: EventType, **data) -> Event | None:
    """Record that `type` happened, about the rows `data` names by primary key."""
    if _muted.get():
        return None
    event = Event.objects.create(type=type, data=data)
    change_log(str(type), event=str(event.uuid), **data)
    return event


@contextmanager
def events_muted() -> Iterator[None]:
    """Record nothing inside: building the demo world is history, not news."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)
