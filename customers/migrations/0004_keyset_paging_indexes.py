"""Indexes for keyset paging (partnercenter/keyset.py): the customers list by (name, id) and
the History page newest first, (changed_at, id), under each of its filters, and a subscription's newest changes (its page).

A page after a continuation token is `WHERE key >= token ... ORDER BY key LIMIT n + 1`: with an
index whose columns are the filter's, then the ordering's, PostgreSQL starts at the token and
reads one page, in either direction, instead of counting and skipping every row before it. The
History's contact filter (to OR from) needs none: PostgreSQL reads a contact's changes through
the foreign keys' indexes and sorts them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_customer_search_trigram")]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["name", "id"], name="customer_name_id_idx"),
        ),
        migrations.AddIndex(
            model_name="supportcontactchange",
            index=models.Index(fields=["changed_at", "id"], name="change_changed_at_id_idx"),
        ),
        migrations.AddIndex(
            model_name="supportcontactchange",
            index=models.Index(
                fields=["changed_by", "changed_at", "id"], name="change_changed_by_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="supportcontactchange",
            index=models.Index(fields=["through", "changed_at", "id"], name="change_through_idx"),
        ),
        migrations.AddIndex(
            model_name="supportcontactchange",
            index=models.Index(
                fields=["subscription", "changed_at", "id"], name="change_subscription_idx"
            ),
        ),
    ]
