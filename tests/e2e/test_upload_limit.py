"""`make run`'s S3 refuses an upload over MaxUploadBytes, as S3 does (moto alone stores it)."""

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.local_stack_process import running_local_stack

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # template.yaml's default, which the local stack uses


@pytest.mark.timeout(180)
def test_a_file_over_max_upload_bytes_is_refused_by_the_local_s3(tmp_path: Path) -> None:
    # GIVEN the local stack, and a file one byte over MaxUploadBytes (101 MiB in the issue)
    big = tmp_path / "big.csv"
    with big.open("wb") as output:
        output.truncate(MAX_UPLOAD_BYTES + 1)
    with running_local_stack(tmp_path) as stack:
        # WHEN it is uploaded as the README says (`make upload FILE=big.csv`)
        uploaded = stack.upload(big, timeout=120)
        # THEN S3's refusal is what the user reads, and nothing is under the uploads prefix
        assert uploaded.returncode == 1
        assert "S3 refused the upload (400)" in uploaded.stderr
        assert "EntityTooLarge" in uploaded.stderr
        assert uploaded.stdout == ""
        listed = stack.client("s3").list_objects_v2(
            Bucket="local-uploads-bucket", Prefix="uploads/"
        )
        assert listed["KeyCount"] == 0
        # AND a file at the limit's other end (one byte) still goes in
        small = tmp_path / "small.csv"
        small.write_bytes(b"\n")
        fits = stack.upload(small, timeout=60)
        assert fits.returncode == 0, fits.stderr
        key = fits.stdout.strip()
        try:
            body = stack.client("s3").get_object(Bucket="local-uploads-bucket", Key=key)
        except ClientError as error:
            pytest.fail(f"the one-byte upload is not stored: {error}")
        assert body["Body"].read() == b"\n"
