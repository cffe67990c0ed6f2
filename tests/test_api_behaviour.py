"""What every call under /v1/ shares (tokens, cookies, slashes, methods, languages, request ids,
throttling) and the writes' records, through plain HTTP calls. The SDK's view of the endpoints
is tests/test_api_sdk.py; who reaches what, tests/test_api_matrix.py."""

import json

import pytest
from django.core.cache import cache
from django.test import Client

from customers.models import Customer, SupportContactChange
from partnercenter.api_tokens import api_token_issue, api_token_revoke
from partnercenter.models import Partner, RoleAssignment, User
from partnercenter.services import user_deactivate
from relationships.models import RelationshipRequest


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """Seeded once for the module; each test's writes are rolled back."""


@pytest.fixture
def agent(demo_world):
    return User.objects.get(username="adminagent")


@pytest.fixture
def token(agent):
    return api_token_issue(user=agent, name="behaviour")[1]


@pytest.fixture
def premium_path(adatum):
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    return f"/v1/customers/{adatum.tenant_id}/subscriptions/{premium.uuid}"


def call(method, path, token=None, body=None, client=None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if body is not None:
        headers |= {"data": json.dumps(body), "content_type": "application/json; charset=utf-8"}
    return (client or Client()).generic(method, path, **headers)


def error_of(response) -> tuple[int, int, str]:
    body = json.loads(response.content)
    assert set(body) == {"code", "description", "errorName", "data", "source"}
    assert body["source"] == "partnercenter"
    assert body["description"]
    return response.status_code, body["code"], body["errorName"]


def test_tokens_missing_bad_expired_revoked_or_of_a_deactivated_user_answer_401(agent, token):
    missing = call("GET", "/v1/profiles/mpn")
    assert error_of(missing) == (401, 800001, "TokenMissing")
    assert missing["WWW-Authenticate"] == 'Bearer realm="partnercenter"'
    basic = call("GET", "/v1/profiles/mpn", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")
    assert error_of(basic)[1] == 800001
    for bad in ("nonsense", token[:-1] + ("A" if token[-1] != "A" else "B")):
        answer = call("GET", "/v1/profiles/mpn", bad)
        assert error_of(answer) == (401, 400, "InvalidToken")
        assert answer["WWW-Authenticate"] == 'Bearer realm="partnercenter", error="invalid_token"'
    revoked = api_token_issue(user=agent, name="to revoke")
    api_token_revoke(token=revoked[0], by=agent)
    assert call("GET", "/v1/profiles/mpn", revoked[1]).status_code == 401
    assert call("GET", "/v1/profiles/mpn", token).status_code == 200
    user_deactivate(user=agent, by=User.objects.get(username="globaladmin"))
    assert error_of(call("GET", "/v1/profiles/mpn", token))[1] == 400


def test_a_role_change_applies_to_the_next_call(agent, token, premium_path):
    assert call("GET", premium_path, token).status_code == 200
    RoleAssignment.objects.filter(user=agent).delete()
    assert error_of(call("GET", premium_path, token)) == (403, 900150, "RoleNotAllowed")


def test_a_session_cookie_neither_signs_in_nor_needs_a_csrf_token(agent, token, premium_path):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    assert error_of(call("GET", "/v1/profiles/mpn", client=browser))[1] == 800001
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    answer = call(
        "PUT",
        premium_path + "/supportcontact",
        token,
        {"supportMpnId": fabrikam.partner_id},
        client=browser,
    )
    assert answer.status_code == 200


def test_paths_work_with_or_without_a_slash_and_nothing_redirects(token, premium_path):
    for path in (premium_path, premium_path + "/", "/v1/profiles/mpn/"):
        assert call("GET", path, token).status_code == 200
    for path in ("/v1/customer", "/v1/customers/x/nothing", "/v1/"):
        assert error_of(call("GET", path, token)) == (404, 1000, "NotFound")
    assert error_of(call("GET", "/v1/profiles/mpn")) == (401, 800001, "TokenMissing")


def test_another_method_answers_405_with_allow(token, premium_path):
    answer = call("DELETE", premium_path + "/supportcontact", token)
    assert error_of(answer) == (405, 0, "MethodNotAllowed")
    assert set(answer["Allow"].replace(" ", "").split(",")) == {"GET", "PUT"}
    assert answer["Content-Type"] == "application/json; charset=utf-8"


def test_request_ids_are_echoed_or_made(token):
    answer = call(
        "GET", "/v1/profiles/mpn", token, HTTP_MS_REQUESTID="r-1", HTTP_MS_CORRELATIONID="c-1"
    )
    assert (answer["MS-RequestId"], answer["MS-CorrelationId"]) == ("r-1", "c-1")
    made = call("GET", "/v1/nothing")
    assert len(made["MS-RequestId"]) == 36
    assert made["MS-RequestId"] != made["MS-CorrelationId"]
    assert "no-store" in made["Cache-Control"]


def test_descriptions_follow_x_locale_then_accept_language_and_codes_never_change(premium_path):
    english = json.loads(call("GET", premium_path).content)["description"]
    german = json.loads(call("GET", premium_path, HTTP_X_LOCALE="de-DE").content)
    by_header = json.loads(call("GET", premium_path, HTTP_ACCEPT_LANGUAGE="de").content)
    assert german["code"] == by_header["code"] == 800001
    assert german["description"] == by_header["description"] != english


def test_put_records_one_api_entry_with_the_token_and_answers_the_new_etag(
    agent, token, premium_path, adatum
):
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    before = json.loads(call("GET", premium_path + "/supportcontact", token).content)
    etag = before["attributes"]["etag"]
    answer = call(
        "PUT",
        premium_path + "/supportcontact",
        token,
        {"SupportTenantId": str(fabrikam.tenant_id), "links": {}, "name": "ignored"},
        HTTP_IF_MATCH=f'"{etag}"',
    )
    assert answer.status_code == 200
    shown = json.loads(answer.content)
    assert shown["name"] == "Fabrikam Solutions"
    assert answer["ETag"] == f'"{int(etag) + 1}"' == f'"{shown["attributes"]["etag"]}"'
    change = SupportContactChange.objects.get(through="api")
    assert (change.changed_by, change.to_contact, change.api_token.name) == (
        agent,
        fabrikam,
        "behaviour",
    )
    page = Client()
    page.force_login(agent)
    assert f"API (pc_{change.api_token.prefix}…)" in page.get("/history/").content.decode()
    # The same PUT again (the SDK re-sends): 200, nothing more recorded. The old etag: 2055.
    again = call("PUT", premium_path + "/supportcontact", token, {"supportMpnId": 5120042})
    assert again.status_code == 200
    assert SupportContactChange.objects.filter(through="api").count() == 1
    stale = call(
        "PUT",
        premium_path + "/supportcontact",
        token,
        {"supportMpnId": "4870001"},
        HTTP_IF_MATCH=etag,
    )
    assert error_of(stale) == (400, 2055, "EtagNoLongerValid")


@pytest.mark.parametrize(
    "body",
    [None, "not json", [], {}, {"supportTenantId": ["x"]}, {"supportMpnId": True}, {"name": "x"}],
)
def test_a_bad_body_answers_800002_and_changes_nothing(token, premium_path, body):
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    data = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
    answer = client.generic(
        "PUT", premium_path + "/supportcontact", data, "application/json", **headers
    )
    assert error_of(answer)[:2] == (400, 800002)
    assert not SupportContactChange.objects.filter(through="api").exists()


def test_ids_naming_no_partner_or_two_partners_are_one_answer(token, premium_path):
    contoso = Partner.objects.get(name="Contoso Distribution")
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    for body in (
        {"supportTenantId": "00000000-0000-4000-8000-000000000000"},
        {"supportTenantId": "not-a-guid"},
        {"supportTenantId": str(contoso.tenant_id), "supportMpnId": fabrikam.partner_id},
        {"supportMpnId": Partner.objects.get(name="Proseware Distribution").partner_id},
    ):
        answer = call("PUT", premium_path + "/supportcontact", token, body)
        assert error_of(answer) == (400, 800016, "SupportContactNotEligible")
        assert json.loads(answer.content)["data"] == ["unknown_partner"]
    assert not SupportContactChange.objects.filter(through="api").exists()


def test_each_token_is_throttled_on_its_own(settings, agent, token):
    settings.API_RATE_LIMIT = "3/min"
    cache.clear()
    other = api_token_issue(user=agent, name="other")[1]
    statuses = [call("GET", "/v1/profiles/mpn", token).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = call("GET", "/v1/profiles/mpn", token)
    assert error_of(refused) == (429, 429, "TooManyRequests")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert call("GET", "/v1/profiles/mpn", other).status_code == 200


def test_the_relationship_request_link_makes_the_request_when_the_customers_admin_opens_it(
    token, adatum
):
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    trey = Partner.objects.get(name="Trey Research")
    answer = call(
        "GET",
        f"/v1/customers/relationshiprequests?indirectResellerId={trey.tenant_id}&dap=true",
        token,
    )
    url = json.loads(answer.content)["url"]
    assert url.startswith("http://testserver/")
    assert not RelationshipRequest.objects.filter(partner=trey, customer=adatum).exists()
    admin = Client()
    admin.force_login(User.objects.get(username="adatumadmin"))
    opened = admin.get(url.removeprefix("http://testserver"))
    made = RelationshipRequest.objects.get(partner=trey, customer=adatum)
    assert opened.status_code == 302
    assert opened.url.endswith(f"?request={made.pk}")
    assert (made.requested_by.username, made.include_delegated_admin) == ("adminagent", True)
    # Opened again: the same request, nothing new. Tampered: a message, nothing made.
    admin.get(url.removeprefix("http://testserver"))
    assert RelationshipRequest.objects.filter(partner=trey, customer=adatum).count() == 1
    tampered = admin.get(url.removeprefix("http://testserver")[:-3] + "xx/", follow=True)
    assert "not valid" in tampered.content.decode()
    staff = Client()
    staff.force_login(User.objects.get(username="fabrikam"))
    assert staff.get(url.removeprefix("http://testserver")).status_code == 403
    unknown = call("GET", "/v1/customers/relationshiprequests?indirectResellerId=nonsense", token)
    assert json.loads(unknown.content)["data"] == ["unknown_partner"]
    assert fabrikam  # an active reseller of Contoso: its link is made (tests/test_api_sdk.py)


def test_the_openapi_document_describes_every_endpoint_and_the_error(client):
    document = json.loads(client.get("/v1/openapi.json").content)
    operations = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert len(operations) == 12
    assert "Error" in document["components"]["schemas"]
    schemes = document["components"]["securitySchemes"].values()
    assert [s["scheme"] for s in schemes] == ["bearer"]


def test_the_reference_page_lists_the_endpoints_for_staff_only(client, agent):
    client.force_login(agent)
    page = client.get("/api/").content.decode()
    assert page.count('class="card endpoint"') == 12
    assert "SupportContactNotEligible" in page
    client.force_login(User.objects.get(username="adatumadmin"))
    assert client.get("/api/").status_code == 403


def test_the_customer_collection_pages_by_token_and_refuses_a_tampered_one(token):
    names, headers = [], {}
    path = "/v1/customers?size=7"
    while True:
        page = json.loads(call("GET", path, token, **headers).content)
        names += [c["companyProfile"]["companyName"] for c in page["items"]]
        if "continuationToken" not in page:
            assert "next" not in page["links"]
            break
        nxt = page["links"]["next"]
        assert nxt["headers"] == [
            {"key": "MS-ContinuationToken", "value": page["continuationToken"]}
        ]
        path = "/v1" + nxt["uri"]
        headers = {"HTTP_MS_CONTINUATIONTOKEN": page["continuationToken"]}
    contoso = Partner.objects.get(name="Contoso Distribution")
    assert (
        len(names)
        == len(set(names))
        == Customer.objects.filter(
            relationships__partner=contoso, relationships__state="active"
        ).count()
    )
    tampered = call(
        "GET", "/v1/customers?seekOperation=Next", token, HTTP_MS_CONTINUATIONTOKEN="abc:def"
    )
    assert error_of(tampered)[:2] == (400, 800002)
    for bad in (
        "size=-1",
        "size=x",
        "filter=nope",
        'filter={"Field":"Name"}',
        "seekOperation=Back",
    ):
        assert error_of(call("GET", f"/v1/customers?{bad}", token))[:2] == (400, 800002), bad
