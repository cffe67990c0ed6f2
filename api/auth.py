"""Who calls: an API token in `Authorization: Bearer`, acting as one partner staff user (roles
read afresh on every call), and how often that token may call."""

import time

from django.conf import settings
from django.core.cache import cache
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle, SimpleRateThrottle

from api.errors import InvalidToken, TokenMissing
from partnercenter.api_tokens import api_token_authenticate


class BearerToken(HttpBearer):
    """The token's user, or a 401: `TokenMissing` without a bearer token, `InvalidToken` for a
    token that does not (or no longer) work. Session cookies never count (api/middleware.py)."""

    def __call__(self, request):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise TokenMissing()
        return self.authenticate(request, raw.strip())

    def authenticate(self, request, token):
        user = api_token_authenticate(token)
        if user is None:
            raise InvalidToken()
        return user


class PerToken(BaseThrottle):
    """At most `API_RATE_LIMIT` calls per token (settings, e.g. "600/min") in each window of
    that length, counted in the shared cache with an atomic increment, so every app server
    counts the same calls and a call costs one cache round trip; beyond it, 429 with
    Retry-After (the rest of the window)."""

    def allow_request(self, request) -> bool:
        count, _, period = settings.API_RATE_LIMIT.partition("/")
        limit, seconds = int(count), SimpleRateThrottle._PERIODS[period]
        now = time.time()
        window = int(now // seconds)
        key = f"api-throttle:{request.auth.api_token.prefix}:{window}"
        try:
            calls = cache.incr(key)  # one round trip, but for a window's first call
        except ValueError:  # no key yet: the window's first call (or a racing first)
            calls = 1 if cache.add(key, 1, timeout=seconds + 1) else cache.incr(key)
        self._retry_after = (window + 1) * seconds - now
        return calls <= limit

    def wait(self) -> float:
        return self._retry_after
