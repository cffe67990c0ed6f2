"""What every answer under /v1/ shares, whatever answers it (an endpoint, the URL resolver, a
crash): no cookies read, request ids echoed, the caller's language, JSON errors, no caching."""

import logging
import uuid
from http import HTTPStatus

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy

from api import errors
from partnercenter.error_views import database_unavailable
from partnercenter.tracing import changes_committed

logger = logging.getLogger("partnercenter.api")

PREFIX = "/v1/"
# Django's own answers under /v1/ (a 405 from the endpoint's router, an error page), as the
# API's error of the same status.
_AS_API_ERROR = {
    HTTPStatus.BAD_REQUEST: errors.InvalidRequestInput,
    HTTPStatus.FORBIDDEN: errors.RoleNotAllowed,
    HTTPStatus.NOT_FOUND: errors.NotFound,
    HTTPStatus.TOO_MANY_REQUESTS: errors.TooManyRequests,
    HTTPStatus.SERVICE_UNAVAILABLE: errors.ServiceUnavailable,
}
SAVED_BUT_UNANSWERED = gettext_lazy(
    "Your change was saved, but the answer could not be completed. Read the resource again."
)
# Headers of Django's answer that its API error keeps.
_KEPT_HEADERS = ("Allow", "Retry-After")


def _language(request) -> str:
    """X-Locale, else Accept-Language, else English: never a cookie or a session."""
    wanted = request.headers.get("X-Locale", "")
    candidates = [wanted] if wanted else []
    candidates += [
        code
        for code, _q in translation.trans_real.parse_accept_lang_header(
            request.headers.get("Accept-Language", "")
        )
    ]
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code.replace("_", "-"))
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class ApiMiddleware:
    """Right after the request id's middleware. Under /v1/ only the bearer token authenticates:
    the request's cookies are dropped before the session and CSRF middleware look, so a
    browser's session neither signs in nor needs a CSRF token there."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        request.COOKIES = {}
        # The request's id is partnercenter/tracing.py's (taken from MS-RequestId when sent).
        ids = {
            "MS-RequestId": request.id,
            "MS-CorrelationId": request.headers.get("MS-CorrelationId") or str(uuid.uuid4()),
        }
        request.api_language = _language(request)
        with translation.override(request.api_language):
            response = self.get_response(request)
            response = self._as_api_answer(request, response)
        for header, value in ids.items():
            response[header] = value
        if etag := getattr(request, "api_etag", None):
            response["ETag"] = f'"{etag}"'
        patch_cache_control(response, no_store=True)
        return response

    def process_view(self, request, view, args, kwargs):
        if request.path_info.startswith(PREFIX):
            translation.activate(request.api_language)  # over LocaleMiddleware's choice

    def process_exception(self, request, exception):
        if not request.path_info.startswith(PREFIX):
            return None
        return unexpected_error_response(exception)

    def _as_api_answer(self, request, response):
        """Django's own answers (a 405 from the endpoint's router, an error page) as API
        errors; an endpoint's JSON as it is."""
        status = response.status_code
        if response.get("Content-Type", "").startswith("application/json") or status < 400:
            return response
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            error = errors.MethodNotAllowed()
        elif status in _AS_API_ERROR:
            error = _AS_API_ERROR[status]()
        else:
            error = errors.UnexpectedError() if status >= 500 else errors.InvalidRequestInput()
        answer = errors.error_response(error)
        for header in _KEPT_HEADERS:
            if header in response:
                answer[header] = response[header]
        return answer


def unexpected_error_response(exception: Exception):
    """An exception no endpoint foresaw: 503 when the database is away (try again), else 500
    with the traceback in the log under the request's id. Nothing was changed, unless a change
    committed before the failure: then the description says so."""
    if database_unavailable(exception):
        logger.warning("The database is unavailable: %s", exception)
        error = errors.ServiceUnavailable
    else:
        logger.exception("Unexpected API error")
        error = errors.UnexpectedError
    return errors.error_response(error(SAVED_BUT_UNANSWERED if changes_committed() else None))
