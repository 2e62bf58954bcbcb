"""Which S3 keys a client may name: relative keys inside their own uploads prefix, nothing else.

Every owner's uploads live under ``<uploads prefix><owner>/`` and their results under
``<results prefix><owner>/``, so a key says whose it is; the API and the worker both check.
"""

import unicodedata
from dataclasses import dataclass
from posixpath import normpath

MAX_KEY_BYTES = 1024  # S3's own limit
RESULT_SUFFIX = ".json"
# Unicode control, format (zero-width, bidi overrides), surrogate, unassigned and separator
# characters: invisible or misleading in a key, in a log line and in a console.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


class KeyNotOwned(ValueError):
    """The key is not under the caller's own uploads prefix (answered as 403, never a probe)."""


def check_upload_key(key: str) -> str:
    """Return ``key`` if it is a well-formed relative key; a ValueError saying why if not."""
    if not key or not key.strip():
        raise ValueError("file_path must not be empty")
    if key.startswith("/"):
        raise ValueError("file_path must be a relative key like 'uploads/<owner>/report.csv'")
    if ".." in key.split("/"):
        raise ValueError("file_path must not contain '..' segments")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"file_path must be at most {MAX_KEY_BYTES} bytes")
    for char in key:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ValueError(
                f"file_path must not contain control, format or space characters "
                f"(found U+{ord(char):04X})"
            )
    return key


@dataclass(frozen=True)
class Uploads:
    """The bucket's layout: where each owner's uploads and results live."""

    uploads_prefix: str
    results_prefix: str

    def owner_prefix(self, owner: str) -> str:
        return f"{self.uploads_prefix}{owner}/"

    def check_owned(self, key: str, owner: str) -> str:
        """``key`` if it names an object of ``owner``'s; KeyNotOwned or ValueError if not."""
        check_upload_key(key)
        prefix = self.owner_prefix(owner)
        if not key.startswith(prefix) or normpath(key) == prefix.rstrip("/"):
            raise KeyNotOwned(f"file_path must name one of your uploads, under '{prefix}'")
        if len(self.result_key(key, owner).encode()) > MAX_KEY_BYTES:
            limit = MAX_KEY_BYTES - len(self.result_key(prefix, owner).encode())
            raise ValueError(
                f"file_path is too long: its result key would exceed S3's {MAX_KEY_BYTES} bytes "
                f"(at most {limit} bytes after '{prefix}')"
            )
        return key

    def result_key(self, key: str, owner: str) -> str:
        """Where the result of processing ``key`` (one of ``owner``'s uploads) is stored."""
        relative = key.removeprefix(self.owner_prefix(owner))
        return f"{self.results_prefix}{owner}/{relative}{RESULT_SUFFIX}"
