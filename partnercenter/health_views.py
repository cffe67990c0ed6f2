"""The health endpoints a load balancer or an orchestrator probes: open to anyone, JSON, never
cached, no Content Security Policy (nothing is rendered)."""

from csp.decorators import csp_exempt
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from partnercenter import health
from partnercenter.access import public


@never_cache
@csp_exempt()
@require_safe
@public
def healthz(request: HttpRequest):
    """The process is up and answers: no database, no cache (a liveness probe)."""
    return JsonResponse({"status": health.OK})


@never_cache
@csp_exempt()
@require_safe
@public
def readyz(request: HttpRequest):
    """Whether this server can serve: 200 with each check, 503 naming the failing ones."""
    checks = health.readiness()
    ready = health.is_ready(checks)
    return JsonResponse(
        {"status": health.OK if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
