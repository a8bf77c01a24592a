"""PURE review-queue lifecycle as one transition table (the DMs about holds: `relay.moderation.notices`).

The store records a state string per queue item (`relay.store.records.QUEUE_STATES`); this module
decides which moves are legal. `next_state(state, event)` returns the new state or raises
`IllegalTransition` naming what *is* allowed, the way h11's `_state.py` refuses events.

The table (`MOVES`), one row per legal move::

    held      --hold-->     held       re-held after an edit: new text, new reasons, still waiting
    held      --approve-->  approved
    held      --reject-->   rejected
    held      --expire-->   expired    nobody decided within the review window
    held      --retract-->  retracted  withdrawn before a decision: deleted, opt-out, block
    approved  --boost-->    boosted    the booster's reblog succeeded
    approved  --fail-->     failed     the booster gave up (resolve or reblog failed)
    approved  --hold-->     held       edited before the booster reached it: review the new text
    approved  --reject-->   rejected   a moderator changes their mind before the boost (e.g. paused)
    approved  --retract-->  retracted  withdrawn before the boost: deleted, opt-out, block
    failed    --retry-->    approved   the booster (or a moderator) tries again
    failed    --reject-->   rejected   a moderator gives up on it
    failed    --expire-->   expired    too old to retry
    failed    --retract-->  retracted  withdrawn: deleted, opt-out, block
    rejected  --approve-->  approved   a moderator reverses a reject (the caller checks freshness)
    boosted   --retract-->  retracted  unboosted: moderator, opt-out, block, failing edit, deletion

Choices, and why:

- `rejected --approve--> approved` is allowed: moderators misclick and change their minds. The
  table has no clock, so the caller must refuse it with `is_expired(held_at, now, max_age)` when
  the post is no longer fresh; boosting a week-old post helps nobody.
- `held --hold--> held` is allowed (an edit re-screened as held again refreshes the reasons), and
  so is `approved --hold--> held`: an approval covers the text the moderator read, not a new one.
- `retracted` and `expired` are final. A retracted post was deleted, or its author or a
  moderator took it back; boosting it again would undo a decision about consent. `retract` from a
  state other than `boosted` needs no unreblog (nothing was boosted); only the caller knows that.
- A repeated move (`approve` an `approved` post, two moderators at once) is refused like any
  other, so the second moderator learns the post is already approved.

No I/O and no clock: times are passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TypeVar

from relay.errors import IllegalTransition


class State(enum.StrEnum):
    """Where a review-queue item is; the values are the strings the store records."""

    HELD = "held"
    APPROVED = "approved"
    BOOSTED = "boosted"
    REJECTED = "rejected"
    RETRACTED = "retracted"
    FAILED = "failed"
    EXPIRED = "expired"


class Event(enum.StrEnum):
    """What happened to a review-queue item."""

    HOLD = "hold"
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    BOOST = "boost"
    FAIL = "fail"
    RETRY = "retry"
    RETRACT = "retract"


_Kind = TypeVar("_Kind", State, Event)

S, E = State, Event
MOVES: tuple[tuple[State, Event, State], ...] = (
    (S.HELD, E.HOLD, S.HELD),
    (S.HELD, E.APPROVE, S.APPROVED),
    (S.HELD, E.REJECT, S.REJECTED),
    (S.HELD, E.EXPIRE, S.EXPIRED),
    (S.HELD, E.RETRACT, S.RETRACTED),
    (S.APPROVED, E.BOOST, S.BOOSTED),
    (S.APPROVED, E.FAIL, S.FAILED),
    (S.APPROVED, E.HOLD, S.HELD),
    (S.APPROVED, E.REJECT, S.REJECTED),
    (S.APPROVED, E.RETRACT, S.RETRACTED),
    (S.FAILED, E.RETRY, S.APPROVED),
    (S.FAILED, E.REJECT, S.REJECTED),
    (S.FAILED, E.EXPIRE, S.EXPIRED),
    (S.FAILED, E.RETRACT, S.RETRACTED),
    (S.REJECTED, E.APPROVE, S.APPROVED),
    (S.BOOSTED, E.RETRACT, S.RETRACTED),
)
"""Every legal move as (from, event, to); see the module docstring for the reason of each."""
del S, E

TRANSITIONS: Mapping[State, Mapping[Event, State]] = MappingProxyType(
    {state: MappingProxyType({event: to for frm, event, to in MOVES if frm is state}) for state in State}
)
"""`MOVES` as state -> event -> new state (every state present; final states map to nothing)."""

FINAL_STATES = frozenset(state for state, moves in TRANSITIONS.items() if not moves)


def _member(kind: type[_Kind], value: _Kind | str) -> _Kind:
    """`value` as a member of `kind` (State or Event); IllegalTransition naming the known ones else."""
    try:
        return kind(value)
    except ValueError:
        name = kind.__name__.lower()
        known = ", ".join(kind)
        raise IllegalTransition(f"unknown review {name} {value!r}; known {name}s: {known}") from None


def allowed_events(state: State | str) -> tuple[Event, ...]:
    """The events allowed from `state`, in table order (empty for a final state)."""
    return tuple(TRANSITIONS[_member(State, state)])


def next_state(state: State | str, event: Event | str) -> State:
    """The state after `event` happens to an item in `state`; `IllegalTransition` if not in the table."""
    frm, ev = _member(State, state), _member(Event, event)
    try:
        return TRANSITIONS[frm][ev]
    except KeyError:
        allowed = allowed_events(frm)
        also = f"; from {frm} you can: {', '.join(allowed)}" if allowed else f"; {frm} is final"
        raise IllegalTransition(f"can't {ev} a post that is {frm}{also}") from None


def is_expired(held_at: datetime, now: datetime, max_age: timedelta) -> bool:
    """Whether an item held at `held_at` is at least `max_age` old at `now` (both timezone-aware)."""
    if max_age < timedelta(0):
        raise ValueError(f"max_age must not be negative, got {max_age}")
    return now - held_at >= max_age
