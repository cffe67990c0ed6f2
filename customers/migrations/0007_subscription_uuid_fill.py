import uuid

from django.db import migrations

BATCH = 2000


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # One statement, however many rows (gen_random_uuid is built in since PostgreSQL 13).
        schema_editor.execute(
            "UPDATE customers_subscription SET uuid = gen_random_uuid() WHERE uuid IS NULL"
        )
        return
    subscription = apps.get_model("customers", "Subscription")
    while batch := list(subscription.objects.filter(uuid__isnull=True).only("pk")[:BATCH]):
        for row in batch:
            row.uuid = uuid.uuid4()
        subscription.objects.bulk_update(batch, ["uuid"])


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_subscription_uuid_add")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
