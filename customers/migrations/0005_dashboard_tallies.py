"""The dashboard's counts, kept by the database in the transaction of every write.

`SubscriptionTally` holds, per (provider, designated contact, whether the provider has an active
relationship with the customer), how many subscriptions there are; `CustomerTally`, per
partner, how many customers it has an active relationship with. Triggers on subscriptions and
customer relationships keep both exact whoever writes: the services, the back office, the demo
seed's COPY or bulk_create, a `QuerySet.update()`. Then the rows are counted once from scratch.

PostgreSQL: statement-level triggers over transition tables (one upsert per statement, however
many rows a COPY loads), with the tally rows upserted in key order so that concurrent writers
never deadlock on them. Whether a provider reaches a customer is read under a lock on the
customer's row: FOR SHARE by subscription writes, FOR NO KEY UPDATE by a provider's
relationship changes, so a subscription changed while the relationship ends is counted on the
side the relationship ends up on. SQLite: row-level triggers (it runs one writer at a time).
"""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models

ACTIVE = "'active'"
TALLY_KEY = "(provider_id, (coalesce(contact_id, 0)), reached)"  # the unique index's terms
PROVIDER = "'indirect_provider'"

# PostgreSQL --------------------------------------------------------------------------------------

PG_CREATE = f"""
CREATE FUNCTION customers_tally_subscriptions(
    provider_ids bigint[], contact_ids bigint[], customer_ids bigint[], deltas int[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- A provider's relationship with these customers cannot change until this commits.
    PERFORM 1 FROM customers_customer
     WHERE id IN (SELECT DISTINCT unnest(customer_ids)) ORDER BY id FOR SHARE;
    INSERT INTO customers_subscriptiontally AS t (provider_id, contact_id, reached, subscriptions)
    SELECT provider_id, contact_id, reached, sum(delta) FROM (
        SELECT m.provider_id, m.contact_id, m.delta, EXISTS (
            SELECT 1 FROM relationships_customerrelationship r
             WHERE r.partner_id = m.provider_id AND r.customer_id = m.customer_id
               AND r.state = {ACTIVE}
        ) AS reached
        FROM unnest(provider_ids, contact_ids, customer_ids, deltas)
             AS m (provider_id, contact_id, customer_id, delta)
    ) moved
    GROUP BY provider_id, contact_id, reached
    HAVING sum(delta) <> 0
    ORDER BY provider_id, contact_id, reached
    ON CONFLICT {TALLY_KEY}
    DO UPDATE SET subscriptions = t.subscriptions + EXCLUDED.subscriptions;
END $$;

CREATE FUNCTION customers_subscription_tally() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    provider_ids bigint[]; contact_ids bigint[]; customer_ids bigint[]; deltas int[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(provider_id), array_agg(support_contact_id),
               array_agg(customer_id), array_agg(1)
          INTO provider_ids, contact_ids, customer_ids, deltas FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(provider_id), array_agg(support_contact_id),
               array_agg(customer_id), array_agg(-1)
          INTO provider_ids, contact_ids, customer_ids, deltas FROM old_rows;
    ELSE
        WITH changed AS (
            SELECT o.provider_id AS old_provider, o.support_contact_id AS old_contact,
                   o.customer_id AS old_customer, n.provider_id AS new_provider,
                   n.support_contact_id AS new_contact, n.customer_id AS new_customer
              FROM old_rows o JOIN new_rows n USING (id)
             WHERE (o.provider_id, o.support_contact_id, o.customer_id)
                   IS DISTINCT FROM (n.provider_id, n.support_contact_id, n.customer_id)
        ), moved AS (
            SELECT old_provider, old_contact, old_customer, -1 FROM changed
            UNION ALL
            SELECT new_provider, new_contact, new_customer, 1 FROM changed
        )
        SELECT array_agg(p), array_agg(k), array_agg(c), array_agg(d)
          INTO provider_ids, contact_ids, customer_ids, deltas FROM moved AS m (p, k, c, d);
    END IF;
    IF provider_ids IS NOT NULL THEN
        PERFORM customers_tally_subscriptions(provider_ids, contact_ids, customer_ids, deltas);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION customers_relationship_tally() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    partner_ids bigint[]; customer_ids bigint[]; deltas int[];  -- +1: became active, -1: stopped
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(partner_id), array_agg(customer_id), array_agg(1)
          INTO partner_ids, customer_ids, deltas FROM new_rows WHERE state = {ACTIVE};
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(partner_id), array_agg(customer_id), array_agg(-1)
          INTO partner_ids, customer_ids, deltas FROM old_rows WHERE state = {ACTIVE};
    ELSE
        WITH was AS (SELECT partner_id, customer_id FROM old_rows WHERE state = {ACTIVE}),
             now AS (SELECT partner_id, customer_id FROM new_rows WHERE state = {ACTIVE}),
             moved AS (
                SELECT *, -1 FROM (SELECT * FROM was EXCEPT SELECT * FROM now) ended
                UNION ALL
                SELECT *, 1 FROM (SELECT * FROM now EXCEPT SELECT * FROM was) began
             )
        SELECT array_agg(p), array_agg(c), array_agg(d)
          INTO partner_ids, customer_ids, deltas FROM moved AS m (p, c, d);
    END IF;
    IF partner_ids IS NULL THEN
        RETURN NULL;
    END IF;

    INSERT INTO customers_customertally AS t (partner_id, customers)
    SELECT partner_id, sum(delta) FROM unnest(partner_ids, deltas) AS m (partner_id, delta)
    GROUP BY partner_id HAVING sum(delta) <> 0 ORDER BY partner_id
    ON CONFLICT (partner_id) DO UPDATE SET customers = t.customers + EXCLUDED.customers;

    -- A provider's subscriptions of these customers move between reached and not: first wait
    -- for the writes to them under way (they hold the customer row FOR SHARE). A reseller's
    -- relationship moves none, and takes no lock: its fall-backs lock subscriptions next.
    PERFORM 1 FROM customers_customer
     WHERE id IN (
        SELECT m.customer_id FROM unnest(partner_ids, customer_ids) AS m (partner_id, customer_id)
          JOIN partnercenter_partner p ON p.id = m.partner_id AND p.kind = {PROVIDER}
     )
     ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO customers_subscriptiontally AS t (provider_id, contact_id, reached, subscriptions)
    SELECT s.provider_id, s.support_contact_id, side.reached,
           sum(CASE WHEN side.reached = (m.delta > 0) THEN 1 ELSE -1 END)
      FROM unnest(partner_ids, customer_ids, deltas) AS m (partner_id, customer_id, delta)
      JOIN customers_subscription s
        ON s.provider_id = m.partner_id AND s.customer_id = m.customer_id
     CROSS JOIN (VALUES (true), (false)) AS side (reached)
     GROUP BY 1, 2, 3
    HAVING sum(CASE WHEN side.reached = (m.delta > 0) THEN 1 ELSE -1 END) <> 0
     ORDER BY 1, 2, 3
    ON CONFLICT {TALLY_KEY}
    DO UPDATE SET subscriptions = t.subscriptions + EXCLUDED.subscriptions;
    RETURN NULL;
END $$;

CREATE TRIGGER customers_subscription_tally_insert AFTER INSERT ON customers_subscription
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_subscription_tally();
CREATE TRIGGER customers_subscription_tally_update AFTER UPDATE ON customers_subscription
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_subscription_tally();
CREATE TRIGGER customers_subscription_tally_delete AFTER DELETE ON customers_subscription
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_subscription_tally();
CREATE TRIGGER customers_relationship_tally_insert
    AFTER INSERT ON relationships_customerrelationship
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_relationship_tally();
CREATE TRIGGER customers_relationship_tally_update
    AFTER UPDATE ON relationships_customerrelationship
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_relationship_tally();
CREATE TRIGGER customers_relationship_tally_delete
    AFTER DELETE ON relationships_customerrelationship
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_relationship_tally();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS customers_subscription_tally_insert ON customers_subscription;
DROP TRIGGER IF EXISTS customers_subscription_tally_update ON customers_subscription;
DROP TRIGGER IF EXISTS customers_subscription_tally_delete ON customers_subscription;
DROP TRIGGER IF EXISTS customers_relationship_tally_insert ON relationships_customerrelationship;
DROP TRIGGER IF EXISTS customers_relationship_tally_update ON relationships_customerrelationship;
DROP TRIGGER IF EXISTS customers_relationship_tally_delete ON relationships_customerrelationship;
DROP FUNCTION IF EXISTS customers_relationship_tally();
DROP FUNCTION IF EXISTS customers_subscription_tally();
DROP FUNCTION IF EXISTS customers_tally_subscriptions(bigint[], bigint[], bigint[], int[]);
"""

# SQLite ------------------------------------------------------------------------------------------


def _sqlite_count(row: str, sign: str) -> str:
    """Count subscription `row` (NEW or OLD) in (sign '+') or out (sign '-')."""
    return f"""
    INSERT INTO customers_subscriptiontally (provider_id, contact_id, reached, subscriptions)
    VALUES ({row}.provider_id, {row}.support_contact_id, EXISTS (
        SELECT 1 FROM relationships_customerrelationship r
         WHERE r.partner_id = {row}.provider_id AND r.customer_id = {row}.customer_id
           AND r.state = {ACTIVE}
    ), {sign}1)
    ON CONFLICT {TALLY_KEY}
    DO UPDATE SET subscriptions = subscriptions + excluded.subscriptions;"""


def _sqlite_reach(row: str, began: bool) -> str:
    """Relationship `row` (NEW or OLD) became active (`began`) or stopped being active."""
    sign = "+" if began else "-"
    moves = []
    for reached in (1, 0):
        into = (reached == 1) == began
        moves.append(f"""
    INSERT INTO customers_subscriptiontally (provider_id, contact_id, reached, subscriptions)
    SELECT provider_id, support_contact_id, {reached}, {"" if into else "-"}count(*)
      FROM customers_subscription
     WHERE provider_id = {row}.partner_id AND customer_id = {row}.customer_id
     GROUP BY provider_id, support_contact_id
    ON CONFLICT {TALLY_KEY}
    DO UPDATE SET subscriptions = subscriptions + excluded.subscriptions;""")
    return f"""
    INSERT INTO customers_customertally (partner_id, customers) VALUES ({row}.partner_id, {sign}1)
    ON CONFLICT (partner_id) DO UPDATE SET customers = customers + excluded.customers;
    {"".join(moves)}"""


_SUBSCRIPTION_KEY_CHANGED = (
    "OLD.provider_id IS NOT NEW.provider_id OR OLD.customer_id IS NOT NEW.customer_id "
    "OR OLD.support_contact_id IS NOT NEW.support_contact_id"
)
_PAIR_CHANGED = "(NEW.partner_id IS NOT OLD.partner_id OR NEW.customer_id IS NOT OLD.customer_id)"

SQLITE_TRIGGERS = {
    "customers_subscription_tally_insert": (
        "AFTER INSERT ON customers_subscription",
        _sqlite_count("NEW", "+"),
    ),
    "customers_subscription_tally_delete": (
        "AFTER DELETE ON customers_subscription",
        _sqlite_count("OLD", "-"),
    ),
    "customers_subscription_tally_update": (
        f"AFTER UPDATE ON customers_subscription WHEN {_SUBSCRIPTION_KEY_CHANGED}",
        _sqlite_count("OLD", "-") + _sqlite_count("NEW", "+"),
    ),
    "customers_relationship_tally_insert": (
        f"AFTER INSERT ON relationships_customerrelationship WHEN NEW.state = {ACTIVE}",
        _sqlite_reach("NEW", began=True),
    ),
    "customers_relationship_tally_delete": (
        f"AFTER DELETE ON relationships_customerrelationship WHEN OLD.state = {ACTIVE}",
        _sqlite_reach("OLD", began=False),
    ),
    "customers_relationship_tally_ended": (
        "AFTER UPDATE ON relationships_customerrelationship "
        f"WHEN OLD.state = {ACTIVE} AND (NEW.state <> {ACTIVE} OR {_PAIR_CHANGED})",
        _sqlite_reach("OLD", began=False),
    ),
    "customers_relationship_tally_began": (
        "AFTER UPDATE ON relationships_customerrelationship "
        f"WHEN NEW.state = {ACTIVE} AND (OLD.state <> {ACTIVE} OR {_PAIR_CHANGED})",
        _sqlite_reach("NEW", began=True),
    ),
}

# Both --------------------------------------------------------------------------------------------

COUNT_FROM_SCRATCH = f"""
DELETE FROM customers_subscriptiontally;
INSERT INTO customers_subscriptiontally (provider_id, contact_id, reached, subscriptions)
SELECT provider_id, contact_id, reached, count(*) FROM (
    SELECT s.provider_id, s.support_contact_id AS contact_id, EXISTS (
        SELECT 1 FROM relationships_customerrelationship r
         WHERE r.partner_id = s.provider_id AND r.customer_id = s.customer_id
           AND r.state = {ACTIVE}
    ) AS reached
    FROM customers_subscription s
) counted
GROUP BY provider_id, contact_id, reached;
DELETE FROM customers_customertally;
INSERT INTO customers_customertally (partner_id, customers)
SELECT partner_id, count(*) FROM relationships_customerrelationship
 WHERE state = {ACTIVE} GROUP BY partner_id;
"""


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";\n") if s.strip()]


def _run_script(schema_editor, sql: str) -> None:
    """Several statements at once (PostgreSQL: function bodies hold semicolons)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # No write may slip between the count from scratch and the triggers.
        _run_script(
            schema_editor,
            "LOCK TABLE customers_subscription, relationships_customerrelationship IN SHARE MODE",
        )
        _run_script(schema_editor, PG_CREATE)
    elif vendor == "sqlite":
        for name, (when, body) in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"CREATE TRIGGER {name} {when} BEGIN {body}\nEND")
    else:
        raise NotImplementedError(f"The dashboard's tallies have no triggers for {vendor}.")
    for statement in _statements(COUNT_FROM_SCRATCH):
        schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run_script(schema_editor, PG_DROP)
    else:
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_keyset_paging_indexes"),
        ("relationships", "0002_request_expired_state"),
        ("partnercenter", "0004_rolechange"),
    ]

    operations = [
        migrations.CreateModel(
            name="SubscriptionTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reached", models.BooleanField()),
                ("subscriptions", models.IntegerField(default=0)),
                (
                    "contact",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="partnercenter.partner",
                    ),
                ),
                (
                    "provider",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="partnercenter.partner",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["provider", "reached", "-subscriptions"],
                        name="subscription_tally_rank",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        models.F("provider"),
                        django.db.models.functions.comparison.Coalesce(
                            "contact", models.Value(0), output_field=models.BigIntegerField()
                        ),
                        models.F("reached"),
                        name="subscription_tally_key",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CustomerTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("customers", models.IntegerField(default=0)),
                (
                    "partner",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="partnercenter.partner",
                    ),
                ),
            ],
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
