"""The API's errors: Partner Center's status, code and name for each, and their one JSON body.

`ApiError` is raised anywhere under `/v1/` and answered by `error_response` (api/endpoints.py
registers it with the API; api/middleware.py uses it for what Django answers itself: an unknown
path, a method the path does not take, an unforeseen exception).
"""

import json
from http import HTTPStatus

from django.http import HttpResponse
from django.utils.translation import gettext_lazy

DESCRIPTION_LIMIT = 1024
JSON = "application/json; charset=utf-8"
REALM = 'Bearer realm="partnercenter"'


class ApiError(Exception):
    """A refusal under /v1/: nothing was changed."""

    status = HTTPStatus.BAD_REQUEST
    code = 800002
    name = "InvalidRequestInput"
    default = gettext_lazy("The request is not valid.")

    def __init__(self, description: str | None = None, *, data=(), headers=None):
        self.description = str(description or self.default)
        self.data = [str(item) for item in data]
        self.headers = headers or {}
        super().__init__(self.description)


def _error(status, code, name, default):
    return type(
        name, (ApiError,), {"status": status, "code": code, "name": name, "default": default}
    )


TokenMissing = _error(
    HTTPStatus.UNAUTHORIZED,
    800001,
    "TokenMissing",
    gettext_lazy("Send an API token: Authorization: Bearer <token>."),
)
InvalidToken = _error(
    HTTPStatus.UNAUTHORIZED,
    400,
    "InvalidToken",
    gettext_lazy("The API token is unknown, expired or revoked, or its user is deactivated."),
)
RoleNotAllowed = _error(
    HTTPStatus.FORBIDDEN,
    900150,
    "RoleNotAllowed",
    gettext_lazy("Your roles do not allow this."),
)
AccessDenied = _error(
    HTTPStatus.FORBIDDEN,
    2032,
    "AccessDenied",
    gettext_lazy(
        "Only staff of the subscription's provider may change its designated support contact."
    ),
)
TenantNotFound = _error(
    HTTPStatus.NOT_FOUND, 60003, "TenantNotFound", gettext_lazy("No such customer.")
)
SubscriptionNotFound = _error(
    HTTPStatus.NOT_FOUND, 20003, "SubscriptionNotFound", gettext_lazy("No such subscription.")
)
NotFound = _error(HTTPStatus.NOT_FOUND, 1000, "NotFound", gettext_lazy("No such resource."))
MethodNotAllowed = _error(
    HTTPStatus.METHOD_NOT_ALLOWED,
    0,
    "MethodNotAllowed",
    gettext_lazy("This method is not served on this path."),
)
InvalidRequestInput = ApiError
ActiveSubscriptionsExist = _error(
    HTTPStatus.BAD_REQUEST,
    800002,
    "ActiveSubscriptionsExist",
    gettext_lazy("The customer still has active subscriptions through your organisation."),
)
SupportContactNotEligible = _error(
    HTTPStatus.BAD_REQUEST,
    800016,
    "SupportContactNotEligible",
    gettext_lazy("That partner cannot be the designated support contact of this subscription."),
)
NotAnActiveReseller = _error(
    HTTPStatus.BAD_REQUEST,
    800016,
    "NotAnActiveReseller",
    gettext_lazy("That partner is not an active reseller of your organisation."),
)
NewCommerceNotSupported = _error(
    HTTPStatus.BAD_REQUEST,
    900141,
    "NewCommerceNotSupported",
    gettext_lazy("New-commerce subscriptions do not support a designated support contact."),
)
EtagNoLongerValid = _error(
    HTTPStatus.BAD_REQUEST,
    2055,
    "EtagNoLongerValid",
    gettext_lazy("The subscription changed since it was read; read it again."),
)
TooManyRequests = _error(
    HTTPStatus.TOO_MANY_REQUESTS,
    429,
    "TooManyRequests",
    gettext_lazy("Too many requests with this token; wait and try again."),
)
ServiceUnavailable = _error(
    HTTPStatus.SERVICE_UNAVAILABLE,
    503,
    "ServiceUnavailable",
    gettext_lazy("The service is unavailable for a moment; nothing was changed. Try again."),
)
UnexpectedError = _error(
    HTTPStatus.INTERNAL_SERVER_ERROR,
    800003,
    "UnexpectedError",
    gettext_lazy("Something went wrong on our side; nothing was changed. Quote the request id."),
)


def error_body(error: ApiError) -> dict:
    description = error.description.strip() or str(error.default)
    return {
        "code": error.code,
        "description": description[:DESCRIPTION_LIMIT],
        "errorName": error.name,
        "data": error.data,
        "source": "partnercenter",
    }


def error_response(error: ApiError) -> HttpResponse:
    response = HttpResponse(
        json.dumps(error_body(error), ensure_ascii=False), status=error.status, content_type=JSON
    )
    if error.status == HTTPStatus.UNAUTHORIZED:
        response["WWW-Authenticate"] = (
            REALM if isinstance(error, TokenMissing) else f'{REALM}, error="invalid_token"'
        )
    for header, value in error.headers.items():
        response[header] = value
    return response
