import pytest

from app.files.keys import KeyNotOwned, Uploads, check_upload_key

UPLOADS = Uploads("uploads/", "results/")


@pytest.mark.parametrize("key", ["uploads/alice/report.csv", "uploads/alice/2026/11/a-b.txt"])
def test_keys_under_the_owners_prefix_are_accepted(key: str) -> None:
    assert UPLOADS.check_owned(key, "alice") == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("/uploads/a.csv", "relative key"),
        ("uploads/../secrets.txt", "'..'"),
        ("uploads/a\x00b", "U\\+0000"),
        ("uploads/a\u200bb", "U\\+200B"),  # zero-width space (format)
        ("uploads/a\u202eb", "U\\+202E"),  # right-to-left override (format)
        ("uploads/a\u2028b", "U\\+2028"),  # line separator
        ("uploads/a b", "U\\+0020"),  # space separator
        ("uploads/" + "a" * 1100, "at most 1024 bytes"),
    ],
)
def test_bad_keys_say_what_is_wrong(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_upload_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "uploads/bob/report.csv",
        "uploads/alicex/report.csv",  # a prefix of another owner's name is not the owner
        "uploads/alice",
        "uploads/alice/",
        "results/alice/report.csv",
        "uploads/report.csv",
    ],
)
def test_keys_outside_the_owners_prefix_are_not_theirs(key: str) -> None:
    with pytest.raises(KeyNotOwned, match="under 'uploads/alice/'"):
        UPLOADS.check_owned(key, "alice")


def test_a_key_whose_result_key_would_pass_s3s_limit_is_refused() -> None:
    # GIVEN the longest key whose result key still fits in 1,024 bytes
    prefix = "uploads/alice/"
    room = 1024 - len("results/alice/") - len(".json")
    longest = prefix + "a" * room
    assert len(UPLOADS.result_key(longest, "alice")) == 1024
    assert UPLOADS.check_owned(longest, "alice") == longest
    # THEN one byte more is refused, saying how long it may be
    with pytest.raises(ValueError, match=f"at most {room} bytes after 'uploads/alice/'"):
        UPLOADS.check_owned(longest + "a", "alice")


def test_results_mirror_uploads_under_the_same_owner() -> None:
    assert UPLOADS.result_key("uploads/alice/x/y.csv", "alice") == "results/alice/x/y.csv.json"
