"""Microsoft's Partner Center SDK (`partnercenterservices`, on msrest) driving the app in-process.

The SDK sends its requests through a `requests.Session` (msrest keeps one per thread in
`client.config.pipeline._sender.driver`). `DjangoClientAdapter` is mounted on that session for
`BASE_URL` by msrest's public hook, `config.session_configuration_callback`, which it calls
with the session before every request. The adapter turns each `requests.PreparedRequest` into
a call of Django's test `Client` (method, path and query, body, headers as `HTTP_*`) and the
Django response back into a `requests.Response`. So every call runs the app's whole
middleware stack, in the test's thread and inside pytest-django's transaction (fast, isolated,
no live server), and the SDK sees the bytes a real server would send.

Unlike `requests.adapters.HTTPAdapter`, the adapter never retries: msrest's retry policy
(5xx re-sent) lives in urllib3, which is not involved. The Django client checks CSRF as a
browser-less client would meet it (`enforce_csrf_checks=True`): the SDK never sends a token.

    client, call = sdk_client(raw_token)
    client.getvversioncustomerscustomer.id(customer_id, version="1")      # the SDK
    call("GET", "/v1/customers/relationshiprequests?dap=true")            # a plain request
"""

import gzip
import io
import zlib
from urllib.parse import urlsplit

import requests
from django.test import Client
from microsoft.store.partnercenterservices import MicrosoftPartnerStoreApis
from msrest.authentication import Authentication, BasicTokenAuthentication
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

BASE_URL = "http://testserver"
VERSION = "1"  # the SDK's `version` argument, on every call

# Set by Django's client itself (CONTENT_TYPE, CONTENT_LENGTH, SERVER_NAME).
_NOT_AS_META = {"content-type", "content-length", "host"}


class DjangoClientAdapter(BaseAdapter):
    """A `requests` transport adapter that answers through Django's test client."""

    def __init__(self, django_client: Client | None = None):
        super().__init__()
        self.django_client = django_client or Client(enforce_csrf_checks=True)
        self.sent: list[requests.PreparedRequest] = []  # what the SDK sent, oldest first

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        answer = self.django_client.generic(
            request.method,
            url.path + (f"?{url.query}" if url.query else ""),
            data=body,
            content_type=request.headers.get("Content-Type", ""),
            secure=url.scheme == "https",
            headers={k: v for k, v in request.headers.items() if k.lower() not in _NOT_AS_META},
        )
        return self._response(request, answer)

    def _response(self, request, answer) -> requests.Response:
        content = b"".join(answer.streaming_content) if answer.streaming else bytes(answer.content)
        headers = CaseInsensitiveDict(answer.items())
        # urllib3 decodes these for HTTPAdapter; do the same.
        encoding = headers.get("Content-Encoding", "").lower()
        if encoding == "gzip":
            content = gzip.decompress(content)
        elif encoding == "deflate":
            content = zlib.decompress(content)
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.reason_phrase
        response.headers = headers
        response._content = content
        response._content_consumed = True
        response.encoding = get_encoding_from_headers(headers)
        response.raw = io.BytesIO(content)
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self):
        """msrest closes the session after each call; there is nothing to release."""


class PlainCalls:
    """Plain HTTP requests through the same adapter, for what the SDK cannot send."""

    def __init__(self, adapter: DjangoClientAdapter, token: str | None):
        self.adapter = adapter
        self.session = requests.Session()
        self.session.mount(f"{BASE_URL}/", adapter)
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @property
    def sent(self) -> list[requests.PreparedRequest]:
        return self.adapter.sent

    def __call__(self, method: str, path: str, *, json=None, data=None, headers=None):
        """`path` starts at the root, e.g. `/v1/profiles/mpn`."""
        return self.session.request(
            method, BASE_URL + path, json=json, data=data, headers=headers, allow_redirects=False
        )


def sdk_client(
    token: str | None, *, adapter: DjangoClientAdapter | None = None
) -> tuple[MicrosoftPartnerStoreApis, PlainCalls]:
    """The SDK authenticated by `token` (`Authorization: Bearer <token>`; None: no header at
    all), and plain calls with the same token, both answered in-process by the app."""
    adapter = adapter or DjangoClientAdapter()
    credentials = (
        Authentication() if token is None else BasicTokenAuthentication({"access_token": token})
    )
    client = MicrosoftPartnerStoreApis(credentials, base_url=BASE_URL)

    def mount_adapter(session, global_config, local_config, **kwargs):
        # Called by msrest before each request with the session it is about to use.
        session.mount(f"{BASE_URL}/", adapter)
        return kwargs

    client.config.session_configuration_callback = mount_adapter
    return client, PlainCalls(adapter, token)


class Endpoints:
    """API.md's twelve endpoints, each through the SDK operation that calls it, `raw=True`
    (the SDK answers 400/401/403/404 with None; the raw response keeps status and body).
    `custom_headers` (If-Match, MS-ContinuationToken, X-Locale...) pass through as the SDK
    passes them. Endpoint 10's `dap=true` is no SDK parameter: send it with `PlainCalls`."""

    def __init__(self, client: MicrosoftPartnerStoreApis):
        self.client = client

    def customers(self, *, size=None, filter=None, seek_operation=None, **kwargs):
        """1. GET /v1/customers (filter: the JSON string; paging: `custom_headers`)."""
        return self.client.getvversioncustomersfilterfilter.value(
            VERSION, filter=filter, size=size, seek_operation=seek_operation, raw=True, **kwargs
        )

    def customer(self, customer_id, **kwargs):
        """2. GET /v1/customers/{customer-id}"""
        return self.client.getvversioncustomerscustomer.id(
            str(customer_id), VERSION, raw=True, **kwargs
        )

    def customer_update(self, customer_id, customer, **kwargs):
        """3. PATCH /v1/customers/{customer-id} (`customer`: an SDK Customer model)."""
        return self.client.patchvversioncustomerscustomer.id(
            str(customer_id), customer, VERSION, raw=True, **kwargs
        )

    def subscriptions(self, customer_id, **kwargs):
        """4. GET /v1/customers/{customer-id}/subscriptions"""
        return self.client.getvversioncustomerscustomer.value9(
            str(customer_id), VERSION, raw=True, **kwargs
        )

    def subscription(self, customer_id, subscription_id, **kwargs):
        """5. GET /v1/customers/{customer-id}/subscriptions/{subscription-id}"""
        return self.client.getvversioncustomerscustomer.id6(
            str(customer_id), str(subscription_id), VERSION, raw=True, **kwargs
        )

    def support_contact(self, customer_id, subscription_id, **kwargs):
        """6. GET …/subscriptions/{subscription-id}/supportcontact"""
        return self.client.getvversioncustomerscustomer.idsupportcontact(
            str(customer_id), str(subscription_id), VERSION, raw=True, **kwargs
        )

    def support_contact_update(self, customer_id, subscription_id, contact, **kwargs):
        """7. PUT …/subscriptions/{subscription-id}/supportcontact (`contact`: an SDK
        SupportContact model)."""
        return self.client.putvversioncustomerscustomer.idsupportcontact(
            str(customer_id), str(subscription_id), contact, VERSION, raw=True, **kwargs
        )

    def customer_relationships(self, customer_id, **kwargs):
        """8. GET /v1/customers/{customer-id}/relationships"""
        return self.client.getvversioncustomerscustomer.idrelationships(
            str(customer_id), VERSION, raw=True, **kwargs
        )

    def relationships(self, relationship_type=None, **kwargs):
        """9. GET /v1/relationships?relationship_type=…"""
        return self.client.getvversionrelationshipsrelationship.value(
            VERSION, relationship_type=relationship_type, raw=True, **kwargs
        )

    def relationship_request(self, indirect_reseller_id=None, **kwargs):
        """10. GET /v1/customers/relationshiprequests[?indirectResellerId=]"""
        operations = self.client.getvversioncustomersrelationshiprequestsindirect_cloud_solution_provider_idindirect_cloud_solution_provider_id  # noqa: E501
        reseller = None if indirect_reseller_id is None else str(indirect_reseller_id)
        return operations.value(VERSION, indirect_reseller_id=reseller, raw=True, **kwargs)

    def organization_profile(self, **kwargs):
        """11. GET /v1/profiles/organization"""
        return self.client.getvversionprofilesorganization(VERSION, raw=True, **kwargs)

    def mpn_profile(self, **kwargs):
        """12. GET /v1/profiles/mpn"""
        return self.client.getvversionprofilesmpnmpn_idmpn_id.value(VERSION, raw=True, **kwargs)
