"""The part of the client's URL that lies before the app's own routes: the ASGI root_path.

API Gateway puts it in the event in three ways (the app's routes never include it):

* a REST API's default endpoint (``…execute-api…/Prod/health``): ``path`` is ``/health``,
  ``requestContext.path`` is ``/Prod/health``;
* an HTTP API's named stage on its default endpoint (``…execute-api…/dev/health``): ``rawPath``
  and ``requestContext.http.path`` (payload 1.0: ``path``) are ``/dev/health``; the
  ``$default`` stage adds nothing;
* a custom domain's API mapping (HTTP API) or base path mapping (REST API), such as
  ``api.example.com/v1/health``: the path is ``/v1/health`` and no field names the mapping, so
  the deployment says it (``ApiBasePath``, ``API_BASE_PATH``).

Serving the prefix as root_path (with the path starting with it, as ASGI has it) lets the app
route on ``/health`` and build links that work from the client's side: the docs page's
``openapi.json``, the ``Location`` of a queued task.
"""

from typing import Any

DEFAULT_STAGE = "$default"


def prefix_scope(event: dict[str, Any], path: str, base_path: str) -> dict[str, Any]:
    """The scope keys that put ``path`` (Mangum's, unquoted) under its URL prefix, if any."""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    if isinstance(stage, str) and stage not in ("", DEFAULT_STAGE):
        if _stage_only_in_context(event, context, stage):  # REST, or a payload 1.0 so shaped
            return {"root_path": f"/{stage}", "path": f"/{stage}{path}"}
        if _stage_in_path(event, context, stage, path):  # HTTP API, payloads 1.0 and 2.0
            return {"root_path": f"/{stage}"}
    if base_path and _under(path, base_path):
        return {"root_path": base_path}
    return {}


def normalize_base_path(value: str) -> str:
    """``v1``, ``/v1/`` or ``/v1`` as ``/v1``; empty (or ``/``) for none."""
    stripped = value.strip().strip("/")
    return f"/{stripped}" if stripped else ""


def _stage_only_in_context(event: dict[str, Any], context: dict[str, Any], stage: str) -> bool:
    full_path = context.get("path")
    return event.get("version") != "2.0" and full_path == f"/{stage}{event.get('path')}"


def _stage_in_path(event: dict[str, Any], context: dict[str, Any], stage: str, path: str) -> bool:
    return "version" in event and _on_default_endpoint(context) and _under(path, f"/{stage}")


def _on_default_endpoint(context: dict[str, Any]) -> bool:
    # A custom domain maps to a stage without the stage in its URL: its path never has it.
    domain = context.get("domainName")
    return not isinstance(domain, str) or ".execute-api." in domain


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(f"{prefix}/")
