"""What `/readyz` checks: the database, its migrations, the cache and the task queue.

Cheap enough for a load balancer to ask every few seconds: one trivial query (the applied
migrations, which also proves the database reachable), compared with the migrations this code
ships, read from disk once per process; a set and a get of a key in the cache. Each check
answers a word: "ok", or what is wrong.
"""

import functools
import os
import secrets
import socket
import threading

from django.core.cache import cache
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    ProgrammingError,
    connections,
)
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.backend import DatabaseBackend
from redis.exceptions import RedisError

OK = "ok"
UNREACHABLE = "unreachable"
PENDING = "pending"  # migrations this code ships that the database has not applied
NOT_MIGRATED = "not migrated"  # the task queue's table is missing or behind
NOT_STORING = "not storing"  # the cache answered, but did not keep what it was given
UNKNOWN = "unknown"  # not checked: the database, which it needs, is unreachable
NOT_CONFIGURED = "not configured"  # the task queue is not the database's: not ours to check
HEALTHY = {OK, NOT_CONFIGURED}

PATHS = ("/healthz", "/readyz")
CACHE_PROBE_SECONDS = 10
# What the cache backends in use raise when their server is away: Redis, anything on a socket
# (memcached), the database cache.
CACHE_ERRORS = (RedisError, OSError, DatabaseError, InterfaceError)


@functools.cache
def migration_leaves() -> frozenset[tuple[str, str]]:
    """The last migration of every app, as this code ships them (read from disk once)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return frozenset(graph.leaf_nodes())


def applied_migrations(using: str = DEFAULT_DB_ALIAS) -> set[tuple[str, str]]:
    """(app, name) of every migration the database has applied: the one query of /readyz.
    PostgreSQL without the table (nothing migrated yet) answers, with a ProgrammingError: none
    applied. (SQLite says so with an OperationalError, as when it cannot open the file.)"""
    connection = connections[using]
    table = connection.ops.quote_name(MigrationRecorder.Migration._meta.db_table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT app, name FROM {table}")
            return set(cursor.fetchall())
    except ProgrammingError:
        return set()


def cache_check() -> str:
    """A short-lived key set and read back, a key per server thread so that probes of other
    servers sharing the cache never read each other's."""
    key = f"readyz:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    token = secrets.token_hex(8)
    try:
        cache.set(key, token, timeout=CACHE_PROBE_SECONDS)
        stored = cache.get(key)
    except CACHE_ERRORS:
        return UNREACHABLE
    return OK if stored == token else NOT_STORING


def _task_queue_app_label() -> str | None:
    """The app whose table holds the task queue, when the queue is in the database."""
    if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        return None
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult._meta.app_label


def readiness() -> dict[str, str]:
    """Each check and its answer."""
    try:
        applied = applied_migrations()
    except (DatabaseError, InterfaceError):
        applied = None
    tasks_app = _task_queue_app_label()
    checks = {"database": OK if applied is not None else UNREACHABLE}
    if applied is None:
        checks["migrations"] = UNKNOWN
    else:
        checks["migrations"] = OK if migration_leaves() <= applied else PENDING
    checks["cache"] = cache_check()
    if tasks_app is None:
        checks["tasks"] = NOT_CONFIGURED
    elif applied is None:
        checks["tasks"] = UNREACHABLE  # its queue is a table of that database
    else:
        wanted = {leaf for leaf in migration_leaves() if leaf[0] == tasks_app}
        checks["tasks"] = OK if wanted <= applied else NOT_MIGRATED
    return checks


def is_ready(checks: dict[str, str]) -> bool:
    return all(answer in HEALTHY for answer in checks.values())
