"""Email is no relay: who may be emailed, how often, and which addresses SES can take (moto SES)."""

import json
import time
from typing import Any

import pytest

from app.config import get_settings
from tests.functional.callers import ALICE, BOB, FORMATS, Format, call
from tests.functional.stack import Stack


def notify(
    stack: Stack, claims: dict[str, Any] | None, email: str, fmt: Format = "http-api-v2"
) -> dict[str, Any]:
    return call(stack, fmt, "POST", f"/send-notification/{email}", claims=claims)


@pytest.mark.parametrize("event_format", FORMATS)
def test_by_default_a_caller_may_email_only_their_own_verified_address(
    stack_with_auth: Stack, event_format: Format
) -> None:
    stack = stack_with_auth
    # WHEN Alice emails herself, Bob, and a stranger; and Bob (unverified) emails himself
    own = notify(stack, ALICE, "alice@example.com", event_format)
    other = notify(stack, ALICE, "bob@example.org", event_format)
    stranger = notify(stack, ALICE, "victim@elsewhere.net", event_format)
    unverified = notify(stack, {**BOB, "email_verified": "false"}, "bob@example.org", event_format)
    # THEN only her own address is emailed; the others are 403s that say why
    assert own["statusCode"] == 200
    for refused in (other, stranger):
        assert refused["statusCode"] == 403
        assert "your own verified address" in json.loads(refused["body"])["detail"]
    assert unverified["statusCode"] == 403
    assert "carries none" in json.loads(unverified["body"])["detail"]
    assert [m.destinations["ToAddresses"] for m in stack.sent_emails()] == [["alice@example.com"]]


def test_the_async_route_follows_the_same_policy(stack_with_auth: Stack) -> None:
    refused = call(
        stack_with_auth,
        "http-api-v2",
        "POST",
        "/send-notification/",
        query="email=victim%40elsewhere.net",
        claims=ALICE,
    )
    assert refused["statusCode"] == 403
    assert stack_with_auth.sent_emails() == []


def test_an_allow_list_of_domains(stack_with_auth: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stack deployed with EmailRecipients=domains, EmailAllowedDomains=example.org
    monkeypatch.setenv("EMAIL_RECIPIENTS", "domains")
    monkeypatch.setenv("EMAIL_ALLOWED_DOMAINS", "example.org,partner.net")
    get_settings.cache_clear()
    # THEN any address of those domains may be emailed, and nothing else
    assert notify(stack_with_auth, ALICE, "bob@example.org")["statusCode"] == 200
    assert notify(stack_with_auth, ALICE, "x@Partner.Net")["statusCode"] == 200
    refused = notify(stack_with_auth, ALICE, "alice@example.com")
    assert refused["statusCode"] == 403
    assert "allowed domains" in json.loads(refused["body"])["detail"]
    assert len(stack_with_auth.sent_emails()) == 2


def test_anyone_is_an_explicit_opt_in(
    stack_with_auth: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_RECIPIENTS", "anyone")
    get_settings.cache_clear()
    assert notify(stack_with_auth, BOB, "someone@elsewhere.net")["statusCode"] == 200


def test_emails_per_hour_are_capped_per_owner(
    stack_with_auth: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a quota of two emails an hour
    monkeypatch.setenv("EMAILS_PER_HOUR", "2")
    monkeypatch.setenv("EMAIL_RECIPIENTS", "anyone")
    get_settings.cache_clear()
    # WHEN Alice sends three
    answers = [notify(stack_with_auth, ALICE, f"n{i}@example.com") for i in range(3)]
    # THEN the third is a 429 with Retry-After (seconds until the next hour), and not sent
    assert [a["statusCode"] for a in answers] == [200, 200, 429]
    retry_after = int(answers[2]["headers"]["retry-after"])
    assert 0 < retry_after <= 3600
    assert "at most 2 emails per hour" in json.loads(answers[2]["body"])["detail"]
    assert len(stack_with_auth.sent_emails()) == 2
    # AND Bob's allowance is his own
    assert notify(stack_with_auth, BOB, "n@example.com")["statusCode"] == 200
    # AND the counters expire by TTL once their hour is over
    items = stack_with_auth.dynamodb.scan(TableName=stack_with_auth.env["QUOTA_TABLE_NAME"])
    expiries = [int(item["expires_at"]["N"]) for item in items["Items"]]
    assert expiries
    assert all(time.time() < e <= time.time() + 2 * 3600 for e in expiries)


def test_tasks_per_hour_are_capped_per_owner_and_a_refused_batch_queues_nothing(
    stack_with_auth: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKS_PER_HOUR", "3")
    get_settings.cache_clear()
    prefix = f"uploads/{ALICE['sub']}/"
    batch = {"file_paths": [prefix + "a.csv", prefix + "b.csv"]}
    first = call(stack_with_auth, "http-api-v2", "POST", "/process/batch", body=batch, claims=ALICE)
    second = call(
        stack_with_auth, "http-api-v2", "POST", "/process/batch", body=batch, claims=ALICE
    )
    assert first["statusCode"] == 202
    assert second["statusCode"] == 429
    assert "retry-after" in second["headers"]
    assert len(stack_with_auth.receive_messages()) == 2


def test_addresses_ses_cannot_take_are_422_and_idn_domains_go_out_as_punycode(
    stack_with_auth: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_RECIPIENTS", "anyone")
    get_settings.cache_clear()
    # WHEN the local part is not ASCII (SES has no SMTPUTF8)
    refused = notify(stack_with_auth, ALICE, "j%C3%BCrgen@example.com")
    assert refused["statusCode"] == 422
    assert "SES can send to" in refused["body"]
    # WHEN the domain is internationalised
    sent = notify(stack_with_auth, ALICE, "jane@b%C3%BCcher.de")
    # THEN it is sent to the punycode form
    assert sent["statusCode"] == 200
    [email] = stack_with_auth.sent_emails()
    assert email.destinations["ToAddresses"] == ["jane@xn--bcher-kva.de"]


def test_with_auth_off_anyone_may_be_emailed(stack: Stack) -> None:
    assert notify(stack, None, "anyone@elsewhere.net")["statusCode"] == 200
