"""Listing cursors that cannot be altered unnoticed: HMAC-SHA256 signed, keyed by the stack.

A cursor is ``<payload>.<tag>``, both base64url: the payload is the JSON of the listing's
position (its owner and the last task id listed), the tag the first 16 bytes of its HMAC
under the stack's cursor key. Any change to either part (a task id moved by one, a byte
flipped, a cursor assembled by hand) fails the check, so a caller never silently gets a page
that no listing of theirs led to. The signature protects a cursor's integrity only: which
partition a listing reads is the caller's own owner, whatever a cursor says.

The key is a Secrets Manager secret of the stack (template.yaml's CursorKeySecret, generated
by CloudFormation: never in the repo), read on the first listing that needs it and then kept
for the life of the process, so Init makes no request for it; locally ``make run`` and the
tests create one per stack (infra.local.resources).
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from app import aws

__all__ = ["CursorSigner", "InvalidCursor", "secret_key", "stack_cursors"]

TAG_BYTES = 16
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
# Python caches the key itself; Powertools' own cache would read the secret again after this.
_KEEP_SECONDS = 10**9


class InvalidCursor(ValueError):
    """A cursor this API did not issue to this caller (garbled, tampered with, or another's)."""


GARBLED = "cursor is not valid: pass back a next_cursor exactly as received"


class CursorSigner:
    """Signs and checks cursors with a key read once, when first needed."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    def sign(self, fields: dict[str, str]) -> str:
        payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
        return f"{_encode(payload)}.{_encode(self._tag(payload))}"

    def verify(self, cursor: str) -> dict[str, Any]:
        """The fields a cursor signed here carries; InvalidCursor for anything else."""
        payload_text, _, tag_text = cursor.partition(".")
        if not (_BASE64URL.match(payload_text) and _BASE64URL.match(tag_text)):
            raise InvalidCursor(GARBLED)
        try:
            payload, tag = _decode(payload_text), _decode(tag_text)
        except (binascii.Error, ValueError):
            raise InvalidCursor(GARBLED) from None
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise InvalidCursor(GARBLED)
        fields = json.loads(payload)  # signed here, so it is the JSON object sign() wrote
        assert isinstance(fields, dict)
        return fields

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key(), payload, hashlib.sha256).digest()[:TAG_BYTES]


@cache
def stack_cursors(secret_id: str) -> CursorSigner:
    """The process's signer for the stack's key in ``secret_id``, read when first needed."""
    return CursorSigner(cache(lambda: secret_key(aws.secretsmanager, secret_id)))


def secret_key(client: Callable[[], Any], secret_id: str) -> bytes:
    """The cursor key held in the secret ``secret_id`` (its SecretString's bytes)."""
    if not secret_id:
        raise RuntimeError(
            "CURSOR_KEY_SECRET_ARN is not set: the stack's cursor key secret (CursorKeySecret)"
        )
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = SecretsProvider(boto3_client=client())
    value = provider.get(secret_id, max_age=_KEEP_SECONDS)
    assert isinstance(value, str)
    return value.encode()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
