"""Which S3 keys a client may name: relative keys inside the uploads prefix, nothing else."""

from posixpath import normpath

from app.config import get_settings

MAX_KEY_LENGTH = 1024  # S3's own limit


def check_upload_key(key: str) -> str:
    """Return ``key`` if it names an object under the uploads prefix; say what is wrong if not."""
    prefix = get_settings().uploads_prefix
    if not key or not key.strip():
        raise ValueError("file_path must not be empty")
    if key.startswith("/"):
        raise ValueError(
            f"file_path must be a relative key like '{prefix}report.csv', not absolute"
        )
    if ".." in key.split("/"):
        raise ValueError("file_path must not contain '..' segments")
    if len(key.encode()) > MAX_KEY_LENGTH:
        raise ValueError(f"file_path must be at most {MAX_KEY_LENGTH} bytes")
    if any(ord(char) < 32 for char in key):
        raise ValueError("file_path must not contain control characters")
    if not key.startswith(prefix) or normpath(key) in (".", prefix.rstrip("/")):
        raise ValueError(f"file_path must name an object under '{prefix}'")
    return key
