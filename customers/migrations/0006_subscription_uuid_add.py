# Subscription.uuid in three steps, as Django's docs advise for a unique field on a table with
# rows: added nullable here, filled in 0007, made unique and required in 0008.
#
# Written as SQL: on SQLite, Django would rebuild the table to add a column with a default, and
# SQLite refuses to drop a table that the dashboard's triggers (0005) name.
import uuid

from django.db import migrations, models

COLUMN = {
    "postgresql": "ALTER TABLE customers_subscription ADD COLUMN uuid uuid NULL",
    "sqlite": "ALTER TABLE customers_subscription ADD COLUMN uuid char(32) NULL",
}


def add_column(apps, schema_editor):
    schema_editor.execute(COLUMN[schema_editor.connection.vendor])


def drop_column(apps, schema_editor):
    schema_editor.execute("ALTER TABLE customers_subscription DROP COLUMN uuid")


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_dashboard_tallies")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_column, drop_column)],
            state_operations=[
                migrations.AddField(
                    model_name="subscription",
                    name="uuid",
                    field=models.UUIDField(default=uuid.uuid4, editable=False, null=True),
                ),
            ],
        )
    ]
