"""Listing cursors: what one signed key issued, it accepts back; anything else is refused."""

import base64

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from app import aws
from app.tasks.cursors import GARBLED, CursorSigner, InvalidCursor, stack_cursors

fields = st.fixed_dictionaries(
    {"o": st.text(min_size=1, max_size=64), "t": st.text(min_size=1, max_size=64)}
)
SIGNER = CursorSigner(lambda: b"a stack's key")


@given(fields)
def test_a_signed_cursor_reads_back_as_it_was_made(position: dict[str, str]) -> None:
    assert SIGNER.verify(SIGNER.sign(position)) == position


@given(fields, st.data())
def test_any_changed_character_is_refused(position: dict[str, str], data: st.DataObject) -> None:
    # GIVEN a cursor, and one character of it replaced by another base64url character
    cursor = SIGNER.sign(position)
    index = data.draw(st.integers(min_value=0, max_value=len(cursor) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != cursor[index]))
    changed = cursor[:index] + replacement + cursor[index + 1 :]
    # THEN it is refused as not valid, unless the change only touched the unused low bits
    # of a part's last base64 character (the same bytes, so the same cursor)
    if decoded(changed) == decoded(cursor):
        assert SIGNER.verify(changed) == position
        return
    with pytest.raises(InvalidCursor, match=f"^{GARBLED}$"):
        SIGNER.verify(changed)


def decoded(cursor: str) -> list[bytes] | None:
    try:
        return [
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in cursor.split(".")
        ]
    except ValueError:
        return None


@given(fields)
def test_a_cursor_signed_with_another_key_is_refused(position: dict[str, str]) -> None:
    other = CursorSigner(lambda: b"another stack's key")
    with pytest.raises(InvalidCursor, match="not valid"):
        SIGNER.verify(other.sign(position))


@given(st.text(max_size=200))
def test_arbitrary_text_is_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(InvalidCursor):
        SIGNER.verify(text)


def test_the_stacks_key_is_read_once_per_process_and_only_when_a_cursor_is_needed() -> None:
    with mock_aws():
        aws.reset_clients()
        # GIVEN the stack's cursor key secret, and every GetSecretValue counted
        arn = boto3.client("secretsmanager").create_secret(Name="k", SecretString="s3cret")["ARN"]
        reads: list[str] = []
        aws.secretsmanager().meta.events.register(
            "before-call.secrets-manager.GetSecretValue", lambda **_: reads.append("read")
        )
        # WHEN the signer is made THEN nothing is read yet (no request at Init)
        signer = stack_cursors(arn)
        assert reads == []
        # WHEN cursors are made and checked, many times
        for number in range(5):
            assert signer.verify(signer.sign({"o": "a", "t": str(number)})) == {
                "o": "a",
                "t": str(number),
            }
        # THEN the secret was read once, and its value is the key
        assert reads == ["read"]
        assert CursorSigner(lambda: b"s3cret").verify(signer.sign({"o": "a", "t": "b"}))
        aws.reset_clients()


def test_a_stack_without_a_cursor_key_says_which_variable_is_missing() -> None:
    with pytest.raises(RuntimeError, match="CURSOR_KEY_SECRET_ARN is not set"):
        stack_cursors("").sign({"o": "a", "t": "b"})
