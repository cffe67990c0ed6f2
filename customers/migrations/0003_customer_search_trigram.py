"""Trigram indexes for the customer search (PostgreSQL only).

The search matches a fragment anywhere in a customer's name or domain. Django's `icontains`
becomes `UPPER(column) LIKE UPPER('%fragment%')` on PostgreSQL, which no B-tree index serves:
a GIN index of `pg_trgm` trigrams over the same `UPPER(column)` does. pg_trgm is a trusted
extension (PostgreSQL 13+), so a database owner without superuser rights may create it. Other
databases search without an index, as before.
"""

from django.db import migrations

INDEXED = ("name", "domain")


def _create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in INDEXED:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS customers_customer_{column}_trgm "
            f"ON customers_customer USING gin (UPPER({column}) gin_trgm_ops)"
        )


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in INDEXED:
        schema_editor.execute(f"DROP INDEX IF EXISTS customers_customer_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_initial")]

    operations = [migrations.RunPython(_create, _drop, elidable=False)]
