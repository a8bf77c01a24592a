"""PURE: the booster's decisions, on plain data: what to call first, whether a post may be boosted,
whether an earlier run's reblog already happened, and what a failed call means.

`relay.runtime.booster.Booster` is the shell that makes the calls and records the outcome:

1. `first_step`: an intent left open by an earlier run is fetched first (its reblog may have gone
   out before a crash); a fresh intent whose home id is known is reblogged straight away (the
   reblog's answer says all a fetch would); any other post is resolved by its uri first.
2. After a fetch: `refusal` (the visibility rule: public, and unlisted only where the admin
   allowed it; private and direct never) and `reconciled` (an earlier run's intent whose post the
   bot has already reblogged is done, with no second reblog).
3. The reblog's answer: `reblog_refusal` (404 gone, 403 or 422 refused: never boostable).
4. Any other failed call: `failure` sorts it into retry later (no answer, 5xx), wait for the rate
   limit's reset (429), end the relay (401: the token is gone) or unexpected (raised).
"""

from __future__ import annotations

import enum

from relay.core.rules import BOOSTABLE_VISIBILITIES

REFUSED_BY_SERVER = frozenset({403, 422})  # the reblog's answer for a post the bot may not reblog
GONE = 404


class Step(enum.Enum):
    """What the booster does first for an open boost intent."""

    RESOLVE = "resolve"  # fetch the post (by its home id, or by resolving its uri)
    REBLOG = "reblog"  # reblog it by its known home id


def first_step(*, earlier: bool, local_id: str | None) -> Step:
    """`earlier`: the intent was open before this process started; `local_id`: the post's home id,
    if known."""
    return Step.REBLOG if local_id is not None and not earlier else Step.RESOLVE


def allowed_visibilities(*, allow_unlisted: bool) -> tuple[str, ...]:
    """What the booster reblogs: public posts, and unlisted ones where the admin allowed them."""
    return BOOSTABLE_VISIBILITIES if allow_unlisted else ("public",)


def refusal(visibility: object, *, allow_unlisted: bool) -> str | None:
    """Why a post of this visibility may not be boosted; None if it may."""
    allowed = allowed_visibilities(allow_unlisted=allow_unlisted)
    if visibility in allowed:
        return None
    return f"visibility is {visibility}: only {' or '.join(allowed)} posts are boosted"


def reconciled(*, earlier: bool, reblogged: bool) -> bool:
    """An earlier run's intent whose post the bot has reblogged: the boost is done, call nothing."""
    return earlier and reblogged


def reblog_refusal(status: int | None, message: str) -> str | None:
    """Why the reblog's failed answer (HTTP `status`, the server's `message`) means the post can
    never be boosted; None if it does not."""
    if status == GONE:
        return "the home instance answered 404 to the reblog: the post is gone (or hidden from the bot)"
    if status in REFUSED_BY_SERVER:
        return f"the home instance answered {status} to the reblog: {message}"
    return None


class Failure(enum.Enum):
    """What a failed call to the home instance means for the intent."""

    RETRY = "retry"  # no answer, or a 5xx: try again after a backoff
    RATE_LIMITED = "rate_limited"  # 429: wait until the budget's reset
    CREDENTIALS = "credentials"  # 401: the token was revoked; the relay ends
    UNEXPECTED = "unexpected"  # anything else: not the booster's to decide (raised)


def failure(status: int | None) -> Failure:
    """The class of a failed call by its HTTP `status` (None: no answer: a network error)."""
    if status is None or 500 <= status <= 511:
        return Failure.RETRY
    if status == 429:
        return Failure.RATE_LIMITED
    if status == 401:
        return Failure.CREDENTIALS
    return Failure.UNEXPECTED
