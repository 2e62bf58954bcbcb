"""Who the service may email for a caller: so that it is nobody's open relay."""

from collections.abc import Collection
from typing import Literal

RecipientPolicy = Literal["self", "domains", "anyone"]


def refusal(
    recipient: str,
    *,
    policy: RecipientPolicy,
    caller_email: str | None,
    allowed_domains: Collection[str],
) -> str | None:
    """Why ``recipient`` may not be emailed under ``policy``, or None when it may.

    ``recipient`` is normalised (ASCII, punycode domain); ``caller_email`` is the caller's
    verified address, if their token carries one.
    """
    if policy == "anyone":
        return None
    if policy == "domains":
        domain = recipient.rpartition("@")[2].lower()
        if domain in allowed_domains:
            return None
        return "this service emails addresses of its allowed domains only"
    if caller_email is None:
        return (
            "this service emails only your own verified address, and your token carries none "
            "(send an ID token with the email and email_verified claims)"
        )
    if recipient.lower() != caller_email.lower():
        return "this service emails only your own verified address"
    return None
