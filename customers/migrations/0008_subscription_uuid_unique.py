# See 0006: SQL, so that SQLite does not rebuild the table. SQLite cannot make an existing column
# NOT NULL without that rebuild; there the unique index is enough, and Django fills the default.
import uuid

from django.db import migrations, models

UNIQUE = {
    "postgresql": [
        "ALTER TABLE customers_subscription ALTER COLUMN uuid SET NOT NULL",
        "ALTER TABLE customers_subscription "
        "ADD CONSTRAINT customers_subscription_uuid_key UNIQUE (uuid)",
    ],
    "sqlite": [
        "CREATE UNIQUE INDEX customers_subscription_uuid_key ON customers_subscription (uuid)"
    ],
}
NOT_UNIQUE = {
    "postgresql": [
        "ALTER TABLE customers_subscription DROP CONSTRAINT customers_subscription_uuid_key",
        "ALTER TABLE customers_subscription ALTER COLUMN uuid DROP NOT NULL",
    ],
    "sqlite": ["DROP INDEX customers_subscription_uuid_key"],
}


def make_unique(apps, schema_editor):
    for statement in UNIQUE[schema_editor.connection.vendor]:
        schema_editor.execute(statement)


def undo(apps, schema_editor):
    for statement in NOT_UNIQUE[schema_editor.connection.vendor]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("customers", "0007_subscription_uuid_fill")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(make_unique, undo)],
            state_operations=[
                migrations.AlterField(
                    model_name="subscription",
                    name="uuid",
                    field=models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        unique=True,
                        verbose_name="subscription id",
                    ),
                ),
            ],
        )
    ]
