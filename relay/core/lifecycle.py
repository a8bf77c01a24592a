"""PURE lifecycle tables: the only code that decides whether a state may change.

Two things in the store have a state: a review-queue item (a held post) and a boost-journal entry
(one boost or unboost). Each has a table of legal moves, `(from, event, to)`, and nothing else
moves it: the store's state-writing methods ask `Table.next(state, event)` and write what it
answers, or raise `IllegalTransition` naming what *is* allowed (the way h11's `_state.py` refuses
events) and write nothing.

The review queue (`REVIEW`, moves in `MOVES`), one row per legal move::

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
    boosted   --hold-->     held       edited so that it is held, with `on_edit = "hold"`: unboosted
                                       and held for a moderator (see below)

Choices, and why:

- `rejected --approve--> approved` is allowed: moderators misclick and change their minds. The
  table has no clock, so the caller must refuse it with `is_expired(held_at, now, max_age)` when
  the post is no longer fresh; boosting a week-old post helps nobody.
- `held --hold--> held` is allowed (an edit re-screened as held again refreshes the reasons), and
  so is `approved --hold--> held`: an approval covers the text the moderator read, not a new one.
- `boosted --hold--> held` is allowed for one case: a boosted post edited so that screening holds
  it, with `on_edit = "hold"` (the admin's choice of a moderator over an automatic unboost). The
  edit is unboosted (the caller writes the unboost intent with the move, in one transaction) and
  the post waits as `held` like any other: a held post is never boosted, so every move out of
  `held` means what it says (`approve` boosts the new text again, `reject` and `expire` leave it
  unboosted). Keeping the old reblog up while the post is held would show followers the text
  that made it fail, and a `reject` would then have to undo a boost that `held` does not admit to.
- `retracted` and `expired` are final. A retracted post was deleted, or its author or a
  moderator took it back; boosting it again would undo a decision about consent. `retract` from a
  state other than `boosted` needs no unreblog (nothing was boosted); only the caller knows that.
- A repeated move (`approve` an `approved` post, two moderators at once) is refused like any
  other, so the second moderator learns the post is already approved.

The boost journal (`JOURNAL`, moves in `JOURNAL_MOVES`): each entry is one call to make, of kind
`boost` or `unboost`, written as an `intent` before the call; the call's outcome finishes it::

    intent  --succeed-->  done     the server did it (or had done it: reconciled after a crash)
    intent  --fail-->     failed   given up: refused for good, a dry run, or cancelled (a delete,
                                   an edit, a reject before the booster got to it)

`done` and `failed` are final: a later boost or unboost of the same post is a new entry.

No I/O and no clock: times are passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Generic, TypeVar

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


class JournalKind(enum.StrEnum):
    """What a boost-journal entry asks of the home instance; the values are the stored strings."""

    BOOST = "boost"
    UNBOOST = "unboost"


class JournalState(enum.StrEnum):
    """Where a boost-journal entry is; the values are the strings the store records."""

    INTENT = "intent"
    DONE = "done"
    FAILED = "failed"


class JournalEvent(enum.StrEnum):
    """What happened to a boost-journal entry's call."""

    SUCCEED = "succeed"
    FAIL = "fail"


_S = TypeVar("_S", State, JournalState)
_E = TypeVar("_E", Event, JournalEvent)
_K = TypeVar("_K", State, Event, JournalState, JournalEvent)


@dataclass(frozen=True)
class Table(Generic[_S, _E]):
    """A lifecycle as its legal moves; `next()` is the one way to learn a new state."""

    name: str  # the lifecycle's name, for messages: "review", "journal"
    thing: str  # what moves, for messages: "a post", "a journal entry"
    states: type[_S]
    events: type[_E]
    moves: tuple[tuple[_S, _E, _S], ...]
    transitions: Mapping[_S, Mapping[_E, _S]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len({(frm, event) for frm, event, _ in self.moves}) != len(self.moves):
            raise ValueError(f"the {self.thing} table has a move twice")
        table = {s: MappingProxyType({e: to for frm, e, to in self.moves if frm is s}) for s in self.states}
        object.__setattr__(self, "transitions", MappingProxyType(table))

    @property
    def final(self) -> frozenset[_S]:
        """The states nothing moves out of."""
        return frozenset(state for state, moves in self.transitions.items() if not moves)

    def allowed(self, state: _S | str) -> tuple[_E, ...]:
        """The events allowed from `state`, in table order (empty for a final state)."""
        return tuple(self.transitions[self._member(self.states, state)])

    def next(self, state: _S | str, event: _E | str, *, thing: str | None = None) -> _S:
        """The state after `event` happens in `state`; `IllegalTransition` if not in the table.

        `thing` names what moves in the message ("a boost"; default: the table's).
        """
        frm, ev = self._member(self.states, state), self._member(self.events, event)
        try:
            return self.transitions[frm][ev]
        except KeyError:
            allowed = self.allowed(frm)
            also = f"; from {frm} you can: {', '.join(allowed)}" if allowed else f"; {frm} is final"
            raise IllegalTransition(f"can't {ev} {thing or self.thing} that is {frm}{also}") from None

    def _member(self, kind: type[_K], value: str) -> _K:
        """`value` as a member of `kind`; IllegalTransition naming the known ones else."""
        try:
            return kind(value)
        except ValueError:
            name = "state" if kind is self.states else "event"
            known = ", ".join(kind)
            raise IllegalTransition(f"unknown {self.name} {name} {value!r}; known {name}s: {known}") from None


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
    (S.BOOSTED, E.HOLD, S.HELD),
)
"""Every legal review-queue move as (from, event, to); see the module docstring for each reason."""
del S, E

JOURNAL_MOVES: tuple[tuple[JournalState, JournalEvent, JournalState], ...] = (
    (JournalState.INTENT, JournalEvent.SUCCEED, JournalState.DONE),
    (JournalState.INTENT, JournalEvent.FAIL, JournalState.FAILED),
)
"""Every legal boost-journal move as (from, event, to)."""

REVIEW: Table[State, Event] = Table("review", "a post", State, Event, MOVES)
JOURNAL: Table[JournalState, JournalEvent] = Table(
    "journal", "a journal entry", JournalState, JournalEvent, JOURNAL_MOVES
)

TRANSITIONS = REVIEW.transitions
"""`MOVES` as state -> event -> new state (every state present; final states map to nothing)."""
FINAL_STATES = REVIEW.final


def allowed_events(state: State | str) -> tuple[Event, ...]:
    """The review events allowed from `state`, in table order (empty for a final state)."""
    return REVIEW.allowed(state)


def next_state(state: State | str, event: Event | str) -> State:
    """The review state after `event` happens to an item in `state`; `IllegalTransition` if not in
    the table."""
    return REVIEW.next(state, event)


def is_expired(held_at: datetime, now: datetime, max_age: timedelta) -> bool:
    """Whether an item held at `held_at` is at least `max_age` old at `now` (both timezone-aware)."""
    if max_age < timedelta(0):
        raise ValueError(f"max_age must not be negative, got {max_age}")
    return now - held_at >= max_age
