"""``python -m infra.local.upload FILE``: upload a file the way any client does, print its key.

It asks the API for a presigned S3 POST (``POST /uploads``), then posts the file to it, so the
local stack and a deployed one share one path. Prints the key to pass to
``POST /process/?file_path=...``. The API is the local stack's (``LOCAL_API_PORT``) unless
``--api`` names another; a deployed stack with auth on also needs ``API_TOKEN`` (a JWT).
"""

import argparse
import os
import sys
from pathlib import Path

import httpx

TIMEOUT_SECONDS = 30


class UploadError(Exception):
    """Something the user can fix, said in one line."""


def upload(file: Path, api: str, token: str | None = None) -> str:
    """Upload ``file`` through ``api``'s presigned POST; return the object's key."""
    if not file.is_file():
        raise UploadError(f"no such file: {file}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.post(
            f"{api.rstrip('/')}/uploads",
            json={"filename": file.name},
            headers=headers,
            timeout=TIMEOUT_SECONDS,
        )
    except httpx.TransportError:
        raise UploadError(
            f"the API at {api} does not answer: start the local stack with `make run` "
            "(LOCAL_API_PORT changes its port), or name another with --api"
        ) from None
    if answer.status_code != 201:
        raise UploadError(f"POST {api}/uploads answered {answer.status_code}: {_detail(answer)}")
    presigned = answer.json()
    with file.open("rb") as content:
        try:
            stored = httpx.post(
                presigned["url"],
                data=presigned["fields"],
                files={"file": (file.name, content)},
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.TransportError:
            raise UploadError(f"S3 at {presigned['url']} does not answer") from None
    if stored.status_code not in (200, 201, 204):
        raise UploadError(f"S3 refused the upload ({stored.status_code}): {stored.text[:300]}")
    key: str = presigned["key"]
    return key


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))[:300]
    except ValueError:
        return response.text[:300]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make upload",
        usage="make upload FILE=path  (or: python -m infra.local.upload path [--api URL])",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("file", type=Path, nargs="?", help="the file to upload (FILE=)")
    parser.add_argument(
        "--api",
        default=f"http://127.0.0.1:{os.environ.get('LOCAL_API_PORT', '8000')}",
        help="the API's base URL (default: the local stack's)",
    )
    arguments = parser.parse_args(argv)
    if arguments.file is None:
        print("upload: name the file to upload: make upload FILE=path", file=sys.stderr)
        return 2
    try:
        print(upload(arguments.file, arguments.api, os.environ.get("API_TOKEN")))
    except UploadError as error:
        print(f"upload: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
