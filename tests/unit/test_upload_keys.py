import pytest

from app.files.keys import check_upload_key


@pytest.mark.parametrize("key", ["uploads/report.csv", "uploads/2026/11/a b.txt"])
def test_keys_under_the_uploads_prefix_are_accepted(key: str) -> None:
    assert check_upload_key(key) == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("/uploads/a.csv", "relative key"),
        ("uploads/../secrets.txt", "'..'"),
        ("results/a.json", "under 'uploads/'"),
        ("uploads/", "under 'uploads/'"),
        ("uploads", "under 'uploads/'"),
        ("uploads/a\x00b", "control characters"),
        ("uploads/" + "a" * 1100, "at most 1024 bytes"),
    ],
)
def test_bad_keys_say_what_is_wrong(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_upload_key(key)
