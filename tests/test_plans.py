"""With prepared statements, the API's calls on one subscription keep their plans; every other
view plans each run for its values (partnercenter/plans.py). Checked on the connection itself,
as the server runs: outside any test transaction, statements prepared."""

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from partnercenter import plans
from partnercenter.api_tokens import api_token_issue
from partnercenter.models import User

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the setting is refused inside a transaction
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting"),
]


@pytest.fixture
def prepared_statements(demo_world):
    """The connection opened as DJANGO_DB_PREPARED_STATEMENTS opens it in production."""
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    options.update(
        server_side_binding=True,
        prepare_threshold=5,
        options=f"{saved.get('options', '')} -c plan_cache_mode={plans.EACH_RUN}".strip(),
    )
    connection.close()
    yield
    options.clear()
    options.update(saved)
    connection.close()


def _mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        return cursor.fetchone()[0]


def _get(client, path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, response.content
    return [query["sql"] for query in queries if "set_config" in query["sql"]]


@pytest.fixture
def paths(demo_world):
    adatum = Customer.objects.get(domain="adatum.example")
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    subscription = f"/v1/customers/{adatum.tenant_id}/subscriptions/{premium.uuid}"
    return {"one": subscription + "/supportcontact", "list": f"{subscription.rpartition('/')[0]}"}


def test_a_call_on_one_subscription_keeps_plans_and_a_list_plans_each_run(
    prepared_statements, paths, client
):
    token = api_token_issue(user=User.objects.get(username="globaladmin"), name="plans")[1]
    api = Client()
    assert _mode() == plans.EACH_RUN  # as the connection opens

    assert len(_get(api, paths["one"], token)) == 1
    assert _mode() == plans.ONCE
    assert _get(api, paths["one"], token) == []  # already so: not set again
    assert _get(api, paths["one"].removesuffix("/supportcontact"), token) == []

    assert len(_get(api, paths["list"], token)) == 1  # the customer's subscriptions
    assert _mode() == plans.EACH_RUN

    assert len(_get(api, paths["one"], token)) == 1
    client.force_login(User.objects.get(username="globaladmin"))
    assert len(_get(client, "/customers/")) == 1  # a page
    assert _mode() == plans.EACH_RUN


def test_a_new_connection_starts_over(prepared_statements, paths):
    token = api_token_issue(user=User.objects.get(username="globaladmin"), name="plans")[1]
    api = Client()
    _get(api, paths["one"], token)
    connection.close()  # a restart of the database, or CONN_MAX_AGE reached
    assert _mode() == plans.EACH_RUN
    assert len(_get(api, paths["one"], token)) == 1
    assert _mode() == plans.ONCE


def test_nothing_is_set_inside_a_transaction(prepared_statements):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        plans.use(plans.ONCE)  # its rollback would undo the setting behind our back
        assert _mode() == plans.EACH_RUN
    assert len(queries) == 1  # SHOW


def test_nothing_is_set_without_prepared_statements(paths):
    token = api_token_issue(user=User.objects.get(username="globaladmin"), name="plans")[1]
    assert _get(Client(), paths["one"], token) == []  # each run is planned anyway


def test_a_view_that_needs_no_database_does_not_open_it(prepared_statements, client):
    connection.close()
    assert client.get("/healthz").status_code == 200  # a liveness probe, during an outage too
    assert connection.connection is None
