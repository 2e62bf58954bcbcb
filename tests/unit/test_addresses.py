import pytest

from app.notifications.addresses import normalise_email


def test_addresses_are_normalised() -> None:
    # The domain is case-insensitive and is lowered; the local part is kept as given.
    assert normalise_email("Jane@Example.COM") == "Jane@example.com"


def test_internationalised_domains_become_punycode() -> None:
    assert normalise_email("jane@bücher.de") == "jane@xn--bcher-kva.de"


@pytest.mark.parametrize(
    "value", ["nobody", "a@b", "two@@example.com", "jane@example..com", "jürgen@example.com"]
)
def test_bad_addresses_say_why(value: str) -> None:
    with pytest.raises(ValueError, match=r"value is not an email address SES can send to: .+"):
        normalise_email(value)
