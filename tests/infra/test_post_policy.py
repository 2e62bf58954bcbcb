"""The local stack's S3 refuses POST uploads their signed policy does not allow, as S3 does.

moto stores whatever is posted; infra.local.post_policy checks the presigned POST's policy in
front of it. The policies are boto3's own (generate_presigned_post), posted to moto's server.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.post_policy import policy_refusal
from infra.local.servers import MotoServer, bound_port, listen

BUCKET = "uploads-bucket"
LIMIT = 1024


@pytest.fixture
def s3() -> Iterator[Any]:
    """The local stack's moto server (with its policy check) on a free port, and a bucket."""
    sock = listen("127.0.0.1", 0, "LOCAL_AWS_PORT")
    server = MotoServer(sock)
    server.start()
    try:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{bound_port(sock)}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=BUCKET)
        yield client
    finally:
        server.stop()
        sock.close()


def presigned(s3: Any, key: str = "uploads/a.csv", expires_in: int = 300) -> dict[str, Any]:
    """A POST as POST /uploads makes it: bounded to 1..LIMIT bytes."""
    post: dict[str, Any] = s3.generate_presigned_post(
        Bucket=BUCKET,
        Key=key,
        Conditions=[["content-length-range", 1, LIMIT]],
        ExpiresIn=expires_in,
    )
    return post


def post(post: dict[str, Any], content: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        post["url"],
        data={**post["fields"], **fields},
        files={"file": ("a.csv", content)},
        timeout=30,
    )


def stored(s3: Any, key: str) -> bytes | None:
    try:
        body: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError:
        return None
    return body


def error_code(response: httpx.Response) -> str:
    found = re.search(r"<Code>(\w+)</Code>", response.text)
    return found.group(1) if found else ""


def test_a_file_at_the_limit_is_stored_and_one_byte_more_is_refused_as_s3_does(s3: Any) -> None:
    # GIVEN a presigned POST bounded to LIMIT bytes
    upload = presigned(s3)
    # WHEN a file of exactly LIMIT bytes is posted THEN it is stored
    assert post(upload, b"x" * LIMIT).status_code == 204
    assert stored(s3, "uploads/a.csv") == b"x" * LIMIT
    # WHEN one a byte over is posted to another key
    over = presigned(s3, "uploads/b.csv")
    refused = post(over, b"x" * (LIMIT + 1))
    # THEN S3's EntityTooLarge comes back, with the sizes, and nothing is stored
    assert refused.status_code == 400
    assert error_code(refused) == "EntityTooLarge"
    assert f"<ProposedSize>{LIMIT + 1}</ProposedSize>" in refused.text
    assert f"<MaxSizeAllowed>{LIMIT}</MaxSizeAllowed>" in refused.text
    assert stored(s3, "uploads/b.csv") is None
    # AND an empty file is too small
    empty = post(over, b"")
    assert (empty.status_code, error_code(empty)) == (400, "EntityTooSmall")


def test_an_expired_or_altered_post_is_denied(s3: Any) -> None:
    # GIVEN a POST whose policy has expired
    expired = presigned(s3, expires_in=-1)
    # THEN S3 denies it
    answer = post(expired, b"1\n")
    assert (answer.status_code, error_code(answer)) == (403, "AccessDenied")
    assert "Policy expired" in answer.text
    # GIVEN a valid POST, sent for another key than it was signed for
    upload = presigned(s3)
    answer = post(upload, b"1\n", key="uploads/someone-else.csv")
    # THEN the key's condition fails
    assert (answer.status_code, error_code(answer)) == (403, "AccessDenied")
    assert "Policy Condition failed" in answer.text
    assert stored(s3, "uploads/someone-else.csv") is None
    # AND a field no condition names is refused too
    answer = post(upload, b"1\n", acl="public-read")
    assert (answer.status_code, error_code(answer)) == (403, "AccessDenied")
    assert "Extra input fields: acl" in answer.text


def boto3_policy(low: int, high: int) -> dict[str, str]:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    fields: dict[str, str] = client.generate_presigned_post(
        Bucket=BUCKET, Key="k", Conditions=[["content-length-range", low, high]], ExpiresIn=300
    )["fields"]
    return fields


@given(
    low=st.integers(0, 2**20),
    span=st.integers(0, 2**20),
    size=st.integers(0, 2**21 + 10),
)
@settings(max_examples=100, deadline=None)
def test_the_size_is_refused_exactly_outside_the_policys_range(
    low: int, span: int, size: int
) -> None:
    # GIVEN boto3's policy for any content-length-range, and a file of any size
    fields = boto3_policy(low, low + span)
    policy = json.loads(base64.b64decode(fields["policy"]))
    now = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")) - timedelta(seconds=1)
    # WHEN its POST is checked
    refusal = policy_refusal(fields, size, BUCKET, now)
    # THEN it is refused exactly when the size is outside the range, with S3's code
    if size > low + span:
        assert getattr(refusal, "code", None) == "EntityTooLarge"
    elif size < low:
        assert getattr(refusal, "code", None) == "EntityTooSmall"
    else:
        assert refusal is None
    # AND after the expiry it is denied whatever the size
    expired = policy_refusal(fields, size, BUCKET, now + timedelta(seconds=2))
    assert getattr(expired, "code", None) == "AccessDenied"
