"""S3's POST policy, checked in front of moto's S3 (which stores any POST it is given).

A presigned POST carries a signed policy: an expiry and conditions every upload must meet, the
file's size among them (``content-length-range``: how POST /uploads bounds uploads to
MaxUploadBytes). S3 refuses an upload that breaks one; moto ignores them. ``PostPolicyCheck``
wraps moto's WSGI app and answers as S3 does, with S3's error codes, before moto sees the
request: EntityTooLarge or EntityTooSmall (400) for the size, AccessDenied (403) for an expired
policy, a failed condition or a form field no condition names. The signature is not checked:
the local stack takes any credentials.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.formparser import parse_form_data

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Fields S3 does not require a condition for (besides x-ignore-*).
_UNCONDITIONED = frozenset(
    {"file", "policy", "x-amz-signature", "signature", "awsaccesskeyid", "x-amz-security-token"}
)


@dataclass(frozen=True)
class Refusal:
    """S3's answer to an upload its policy does not allow."""

    status: int
    code: str
    message: str
    details: Mapping[str, str | int]

    def xml(self) -> bytes:
        parts = [f"<Code>{self.code}</Code>", f"<Message>{escape(self.message)}</Message>"]
        parts += [f"<{name}>{escape(str(value))}</{name}>" for name, value in self.details.items()]
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{"".join(parts)}</Error>'.encode()


_INVALID_CONDITION = Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition.", {})


def _denied(reason: str) -> Refusal:
    return Refusal(403, "AccessDenied", f"Invalid according to Policy: {reason}", {})


def policy_refusal(
    fields: Mapping[str, str], file_size: int, bucket: str, now: datetime
) -> Refusal | None:
    """Why S3 would refuse this POST (its form ``fields`` and a file of ``file_size`` bytes to
    ``bucket`` at ``now``), or None; a POST without a policy is left to moto."""
    form = {name.lower(): value for name, value in fields.items()}
    if "policy" not in form:
        return None
    try:
        policy = json.loads(base64.b64decode(form["policy"], validate=True))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        conditions = list(policy.get("conditions", []))
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        return Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", {})
    if expiration <= now:
        return _denied("Policy expired.")
    values = {**form, "bucket": bucket}
    named: set[str] = set()
    for condition in conditions:
        refusal, names = _check(condition, values, file_size)
        if refusal is not None:
            return refusal
        named |= names
    extra = sorted(
        name
        for name in form
        if name not in _UNCONDITIONED and not name.startswith("x-ignore-") and name not in named
    )
    if extra:
        return _denied(f"Extra input fields: {', '.join(extra)}")
    return None


def _check(
    condition: Any, values: Mapping[str, str], file_size: int
) -> tuple[Refusal | None, set[str]]:
    """One condition: the refusal it causes (if any) and the form fields it names."""
    failed = _denied(f"Policy Condition failed: {json.dumps(condition)}")
    if isinstance(condition, dict):
        names = {name.lower() for name in condition}
        equal = all(values.get(name.lower()) == str(value) for name, value in condition.items())
        return (None if equal else failed), names
    if not isinstance(condition, list) or len(condition) != 3:
        return _INVALID_CONDITION, set()
    operator, first, second = condition
    if str(operator).lower() == "content-length-range":
        low, high = int(first), int(second)
        if file_size > high:
            details = {"ProposedSize": file_size, "MaxSizeAllowed": high}
            message = "Your proposed upload exceeds the maximum allowed size"
            return Refusal(400, "EntityTooLarge", message, details), set()
        if file_size < low:
            details = {"ProposedSize": file_size, "MinSizeAllowed": low}
            message = "Your proposed upload is smaller than the minimum allowed size"
            return Refusal(400, "EntityTooSmall", message, details), set()
        return None, set()
    name = str(first).lstrip("$").lower()
    value = values.get(name, "")
    if str(operator).lower() == "eq":
        return (None if value == str(second) else failed), {name}
    if str(operator).lower() == "starts-with":
        return (None if value.startswith(str(second)) else failed), {name}
    return _INVALID_CONDITION, set()


class PostPolicyCheck:
    """WSGI middleware: S3 POST uploads whose policy refuses them never reach ``app``."""

    def __init__(self, app: WsgiApp, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._app = app
        self._clock = clock

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        content_type = str(environ.get("CONTENT_TYPE", ""))
        if environ.get("REQUEST_METHOD") != "POST" or not content_type.startswith(
            "multipart/form-data"
        ):
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        parsed = {**environ, "wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))}
        _, form, files = parse_form_data(parsed)
        size = 0
        try:
            if (upload := files.get("file")) is not None:
                upload.stream.seek(0, io.SEEK_END)
                size = upload.stream.tell()
        finally:
            for parsed_file in files.values():
                parsed_file.close()
        bucket = str(environ.get("PATH_INFO", "")).strip("/").split("/", 1)[0]
        refusal = policy_refusal(dict(form.items()), size, bucket, self._clock())
        if refusal is not None:
            body = refusal.xml()
            start_response(
                f"{refusal.status} {HTTPStatus(refusal.status).phrase}",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        return self._app(environ, start_response)
