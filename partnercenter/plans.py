"""How PostgreSQL plans the prepared statements of a request: for each run, or once.

With DJANGO_DB_PREPARED_STATEMENTS every connection plans each run of a statement for the values
it is run with (`plan_cache_mode=force_custom_plan`, settings). A list filtered by a rare value
needs that. With plans kept for any value in every view, History filtered by a rare contact went
from 27 ms to 1.5 s of server CPU a page, the customers search from 41 to 311 ms, and a bulk
change from 4 to 23 s (bench/results/2026-11-22-2139-plans-kept-for-every-view.md). But a view
that only finds rows by their keys is planned alike for every value, and planning each run was
most of its database time: GET supportcontact's lookup took 0.57 ms to plan and 0.15 ms to run.

So a view marked `plan_once` (the API's calls on one subscription) runs with PostgreSQL's own
choice (`auto`: after five runs a statement keeps one plan, unless that plan costs more than its
custom plans did), and every other view with the default. The mode is a setting of the
connection, changed only when a view needs the other one: a worker serving one kind of call
changes it once. Views change it as they start (`process_view`); the middleware before them
reads only a session or a user by its key, which either mode plans alike.
"""

from weakref import WeakKeyDictionary

from django.db import connection

EACH_RUN = "force_custom_plan"  # the connection's mode when it opens (settings)
ONCE = "auto"

_modes: WeakKeyDictionary = WeakKeyDictionary()  # driver connection -> the mode set on it


def plan_once(view):
    """Mark a view whose statements may keep their plans: only one that finds every row by its
    keys (a primary key, a unique id), never a list or a search."""
    view.plan_once = True
    return view


def use(mode: str) -> None:
    """Make `mode` the connection's plan cache mode, unless it is already, statements are not
    prepared, or a transaction is open (a rollback would undo the setting: the mode only costs
    or saves time, so it is left as it is)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    if connection.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        return
    driver = connection.connection  # None until a view opens it, in EACH_RUN
    if (EACH_RUN if driver is None else _modes.get(driver, EACH_RUN)) == mode:
        return  # nor opened for nothing: /healthz answers without the database
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('plan_cache_mode', %s, false)", [mode])
    _modes[connection.connection] = mode


class StatementPlansMiddleware:
    """Each view runs with the plan cache mode it is marked for (`plan_once`), or the default."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        use(ONCE if getattr(view, "plan_once", False) else EACH_RUN)
