"""What every answer under /v1/ shares, whatever answers it (an endpoint, the URL resolver, a
crash): no cookies read, request ids echoed, the caller's language, JSON errors, no caching."""

import logging
import uuid

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_cache_control

from api import errors

logger = logging.getLogger("partnercenter.api")

PREFIX = "/v1/"
REQUEST_IDS = ("MS-RequestId", "MS-CorrelationId")


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
    """First in MIDDLEWARE. Under /v1/ only the bearer token authenticates: the request's
    cookies are dropped before the session and CSRF middleware look, so a browser's session
    neither signs in nor needs a CSRF token there."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        request.COOKIES = {}
        ids = {header: request.headers.get(header) or str(uuid.uuid4()) for header in REQUEST_IDS}
        request.META["MS_REQUEST_ID"] = ids["MS-RequestId"]
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
        logger.exception("Unexpected API error (MS-RequestId %s)", request.META["MS_REQUEST_ID"])
        return errors.error_response(errors.UnexpectedError())

    def _as_api_answer(self, request, response):
        """Django's own answers (a 405 from the endpoint's router, an error page) as API
        errors; an endpoint's JSON as it is."""
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 405:
            allowed = response.get("Allow", "")
            answer = errors.error_response(errors.MethodNotAllowed())
            answer["Allow"] = allowed
            return answer
        if response.status_code == 404:
            return errors.error_response(errors.NotFound())
        if response.status_code >= 500:
            return errors.error_response(errors.UnexpectedError())
        if response.status_code >= 400:
            return errors.error_response(errors.InvalidRequestInput())
        return response
