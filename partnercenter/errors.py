"""The one error of the domain: a change that was refused, with a message for the user."""

from contextlib import contextmanager

from django.contrib import messages


class DomainError(Exception):
    """A refused change; nothing was changed. `message` says why, in the user's language;
    `field` names the form field it is about, when there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@contextmanager
def told(request, done: str):
    """Tell the user how the block went: its DomainError's message, or `done` when it ran."""
    try:
        yield
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
