"""Who a Lambda event speaks for (app.api.identity), as a pure function of the event."""

from typing import Any

import pytest

from app.api.identity import LOCAL_CALLER, Caller, IdentityRefused, caller_from_event

CLAIMS = {"sub": "abc-123", "email": "jane@example.com", "email_verified": "true"}


def v2(claims: Any) -> dict[str, Any]:
    return {"version": "2.0", "requestContext": {"authorizer": {"jwt": {"claims": claims}}}}


def v1(claims: Any) -> dict[str, Any]:
    return {"httpMethod": "GET", "requestContext": {"authorizer": {"claims": claims}}}


@pytest.mark.parametrize("event", [v2(CLAIMS), v1(CLAIMS)])
def test_the_subject_is_the_owner_in_both_event_formats(event: dict[str, Any]) -> None:
    assert caller_from_event(event, auth_enabled=True) == Caller("abc-123", "jane@example.com")


@pytest.mark.parametrize("verified", ["false", False, None, "True "])
def test_an_unverified_email_is_not_the_callers(verified: Any) -> None:
    caller = caller_from_event(v2({**CLAIMS, "email_verified": verified}), auth_enabled=True)
    assert caller.verified_email is None


def test_a_rest_authorizer_may_pass_a_boolean_email_verified() -> None:
    caller = caller_from_event(v1({**CLAIMS, "email_verified": True}), auth_enabled=True)
    assert caller.verified_email == "jane@example.com"


@pytest.mark.parametrize("event", [None, [], "x", {}, {"requestContext": None}, v2(None), v1([])])
def test_no_claims_is_401(event: Any) -> None:
    with pytest.raises(IdentityRefused) as refused:
        caller_from_event(event, auth_enabled=True)
    assert refused.value.status_code == 401


def test_with_auth_off_everyone_is_the_local_owner() -> None:
    assert caller_from_event(v2(CLAIMS), auth_enabled=False) == LOCAL_CALLER
    assert caller_from_event(None, auth_enabled=False).owner == "local"
