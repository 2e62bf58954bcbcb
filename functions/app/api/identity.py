"""Who is calling: the JWT subject API Gateway's authorizer verified, or one fixed local owner.

API Gateway checks the token; the claims reach the app in the Lambda event, which Mangum puts
in ``scope["aws.event"]``. With auth on, a request that carries no usable subject is refused
here, whatever shape its event has, so a route added tomorrow is protected too.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import get_settings
from app.tasks.periodic import SYSTEM_OWNER

# The owner every caller is when auth is off (a dev stack, the local stack, the tests).
LOCAL_OWNER = "local"
# Readable without a token, as in template.yaml's public routes.
PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
# The owner names an S3 key prefix: a subject must be one plain path segment (Cognito's are
# UUIDs), never "." or "..", never a "/" that would reach into someone else's prefix.
_SAFE_OWNER = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._@+=-]{0,127}$")


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: the owner of what they create, and their verified email."""

    owner: str
    verified_email: str | None = None


class IdentityRefused(Exception):
    """The request cannot be attributed to an owner (401) or its subject is unusable (403)."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


LOCAL_CALLER = Caller(LOCAL_OWNER)


def jwt_claims(event: object) -> Mapping[str, Any] | None:
    """The authorizer's claims: HTTP API v2 (``authorizer.jwt.claims``) or REST v1 (``claims``)."""
    if not isinstance(event, Mapping):
        return None
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    if not isinstance(authorizer, Mapping):
        return None
    jwt = authorizer.get("jwt")
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else authorizer.get("claims")
    return claims if isinstance(claims, Mapping) else None


def caller_from_event(event: object, *, auth_enabled: bool) -> Caller:
    """The caller a Lambda event speaks for; IdentityRefused when it speaks for nobody."""
    if not auth_enabled:
        return LOCAL_CALLER
    claims = jwt_claims(event)
    subject = claims.get("sub") if claims is not None else None
    if not isinstance(subject, str) or not subject:
        raise IdentityRefused(
            401, "authentication required: send 'Authorization: Bearer <token>' from the issuer"
        )
    # The periodic tasks' owner can never match the pattern; checked by name too, so that a
    # looser pattern could not hand a caller the system's tasks. fullmatch: match's $ would
    # admit a final newline.
    if not _SAFE_OWNER.fullmatch(subject) or subject == SYSTEM_OWNER:
        raise IdentityRefused(
            403,
            "the token's subject (sub) cannot name your files: it must be 1-128 letters, digits "
            "or ._@+=-, the first a letter, digit, _ or -",
        )
    assert claims is not None
    return Caller(subject, _verified_email(claims))


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    # API Gateway passes claims as strings ("true"); a REST authorizer may pass booleans.
    verified = claims.get("email_verified")
    if isinstance(email, str) and email and (verified is True or verified == "true"):
        return email
    return None


class IdentityMiddleware:
    """Puts the Caller in ``request.state.caller``; with auth on, refuses anonymous requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            caller = caller_from_event(
                scope.get("aws.event"), auth_enabled=get_settings().auth_enabled
            )
        except IdentityRefused as refused:
            if _path(scope) not in PUBLIC_PATHS:
                headers = {"WWW-Authenticate": "Bearer"} if refused.status_code == 401 else {}
                response = JSONResponse(
                    {"detail": refused.detail}, refused.status_code, headers=headers
                )
                await response(scope, receive, send)
                return
            caller = None
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


def _path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path
