"""PostgreSQL's statement timeout (settings.DB_STATEMENT_TIMEOUT_MS, set on every connection),
lifted for work that is long by nature: migrations, and a big world loaded by `seed_demo`."""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.transaction import TransactionManagementError


def statement_timeout_lifted(using: str = DEFAULT_DB_ALIAS) -> None:
    """No statement timeout until the transaction ends (SET LOCAL: the outermost one, which a
    savepoint does not end), e.g. for a million rows loaded through one COPY. Outside a
    transaction it would last no statement."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise TransactionManagementError("The statement timeout is lifted in a transaction only.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")


def lift_for_migrations(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """Before `migrate`: a migration may rebuild an index over a million rows (about 10 s)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")


def restore_after_migrations(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """After `migrate`: the connection's own timeout again (the one it was opened with)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
