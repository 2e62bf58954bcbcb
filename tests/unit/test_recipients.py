"""The recipient policy (app.notifications.recipients) and masked addresses in logs."""

import pytest

from app.notifications.addresses import mask
from app.notifications.recipients import refusal


def test_self_allows_only_the_callers_verified_address() -> None:
    assert refusal("a@x.com", policy="self", caller_email="A@x.com", allowed_domains=()) is None
    assert refusal("b@x.com", policy="self", caller_email="a@x.com", allowed_domains=())
    assert refusal("a@x.com", policy="self", caller_email=None, allowed_domains=())


def test_domains_allows_only_listed_domains_whoever_asks() -> None:
    domains = {"x.com"}
    assert refusal("b@x.com", policy="domains", caller_email=None, allowed_domains=domains) is None
    assert refusal("b@X.COM", policy="domains", caller_email=None, allowed_domains=domains) is None
    assert refusal("b@y.x.com", policy="domains", caller_email=None, allowed_domains=domains)
    assert refusal("b@x.com.evil", policy="domains", caller_email=None, allowed_domains=domains)


def test_anyone_allows_anyone() -> None:
    assert refusal("z@z.net", policy="anyone", caller_email=None, allowed_domains=()) is None


@pytest.mark.parametrize(
    ("address", "masked"),
    [("jane@example.com", "j***@example.com"), ("j@x.org", "j***@x.org"), ("odd", "***")],
)
def test_logs_show_addresses_masked(address: str, masked: str) -> None:
    assert mask(address) == masked
