"""``python -m infra.local.upload FILE [KEY]``: put a file in the running local stack's bucket.

The bucket and uploads prefix are the ones ``python -m infra.local`` created from the
template; KEY defaults to the uploads prefix plus the file's name. Prints the key to pass
to ``POST /process/?file_path=...``.
"""

import argparse
import os
from pathlib import Path

import boto3

from infra.local.resources import planned_physical
from infra.local.template import function_environment, load_template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("file", type=Path)
    parser.add_argument("key", nargs="?")
    arguments = parser.parse_args(argv)
    port = os.environ.get("LOCAL_AWS_PORT", "4566")
    endpoint = f"http://127.0.0.1:{port}"
    template = load_template()
    environment = function_environment(
        template, "WorkerFunction", planned_physical(template, endpoint_url=endpoint)
    )
    key = arguments.key or environment["UPLOADS_PREFIX"] + arguments.file.name
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.upload_file(str(arguments.file), environment["BUCKET_NAME"], key)
    print(key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
