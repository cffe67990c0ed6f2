"""The API reference for signed-in staff: every endpoint of the OpenAPI document, in words."""

from functools import cache

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from api import errors
from api.endpoints import api
from partnercenter.access import partner_staff
from partnercenter.htmx import AuthenticatedHttpRequest

METHOD_ORDER = ("get", "put", "patch", "post", "delete")


def _schema_name(content: dict | None) -> str:
    schema = (content or {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").rsplit("/", 1)[-1] or schema.get("title", "")


@cache
def endpoints() -> list[dict]:
    """The served endpoints, as the document describes them (built once per process)."""
    document = api.get_openapi_schema(path_prefix="/v1")
    found = []
    for path, operations in document["paths"].items():
        for method in METHOD_ORDER:
            operation = operations.get(method)
            if operation is None:
                continue
            found.append(
                {
                    "anchor": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", "").replace("`", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": sorted(
                        operation.get("requestBody", {})
                        .get("content", {})
                        .get("application/json", {})
                        .get("schema", {})
                        .get("properties", {})
                    ),
                    "responses": [
                        (status, _schema_name(answer.get("content")))
                        for status, answer in sorted(operation["responses"].items())
                    ],
                }
            )
    return found


def error_codes() -> list[type[errors.ApiError]]:
    found = {e for e in vars(errors).values() if isinstance(e, type)}
    return sorted(
        (e for e in found if issubclass(e, errors.ApiError)),
        key=lambda e: (e.status, e.code, e.name),
    )


@require_GET
@partner_staff
def reference(request: AuthenticatedHttpRequest):
    return TemplateResponse(
        request,
        "api/reference.html",
        {
            "endpoints": endpoints(),
            "errors": error_codes(),
            "base_url": request.build_absolute_uri("/v1"),
        },
    )
