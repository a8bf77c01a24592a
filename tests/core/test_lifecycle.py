"""The lifecycle tables (relay.core.lifecycle): the review queue's and the boost journal's moves."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from relay.core.lifecycle import (
    FINAL_STATES,
    JOURNAL,
    JOURNAL_MOVES,
    MOVES,
    REVIEW,
    TRANSITIONS,
    Event,
    JournalEvent,
    JournalState,
    State,
    Table,
    allowed_events,
    is_expired,
    next_state,
)
from relay.errors import IllegalTransition, RelayError

LEGAL = {(frm, event): to for frm, event, to in MOVES}
ILLEGAL = [pair for pair in itertools.product(State, Event) if pair not in LEGAL]
JOURNAL_LEGAL = {(frm, event): to for frm, event, to in JOURNAL_MOVES}
JOURNAL_ILLEGAL = [p for p in itertools.product(JournalState, JournalEvent) if p not in JOURNAL_LEGAL]


class TestReviewTable:
    @pytest.mark.parametrize(("frm", "event", "to"), MOVES, ids=[f"{f}-{e}" for f, e, _ in MOVES])
    def test_every_legal_move(self, frm: State, event: Event, to: State) -> None:
        """Each move in the table goes where the table says, from enum values and from plain strings."""
        assert next_state(frm, event) is to
        assert next_state(frm.value, event.value) is to

    @pytest.mark.parametrize(("frm", "event"), ILLEGAL, ids=[f"{f}-{e}" for f, e in ILLEGAL])
    def test_every_other_move_is_refused(self, frm: State, event: Event) -> None:
        """Every state×event pair not in the table raises IllegalTransition naming what is allowed."""
        with pytest.raises(IllegalTransition) as raised:
            next_state(frm, event)
        message = str(raised.value)
        assert message.startswith(f"can't {event} a post that is {frm}")
        allowed = allowed_events(frm)
        if allowed:
            assert all(str(e) in message.partition("you can:")[2] for e in allowed)
        else:
            assert f"{frm} is final" in message

    def test_refusal_reads_like_h11(self) -> None:
        """Approving a boosted post says so and offers the one move left."""
        with pytest.raises(
            IllegalTransition,
            match=r"^can't approve a post that is boosted; from boosted you can: retract, hold$",
        ):
            next_state("boosted", "approve")

    def test_refusal_is_a_relay_error(self) -> None:
        """IllegalTransition is caught by code that catches RelayError."""
        with pytest.raises(RelayError):
            next_state(State.EXPIRED, Event.APPROVE)

    @pytest.mark.parametrize(("state", "event"), [("limbo", "approve"), ("held", "teleport")])
    def test_unknown_names_are_refused(self, state: str, event: str) -> None:
        """An unknown state or event string raises IllegalTransition listing the known names."""
        with pytest.raises(IllegalTransition, match="unknown review"):
            next_state(state, event)

    def test_table_has_no_duplicate_moves(self) -> None:
        """No (state, event) pair appears twice in MOVES, so the table is a function."""
        assert len(LEGAL) == len(MOVES)

    def test_allowed_events_match_the_table(self) -> None:
        """allowed_events lists exactly the table's events for each state, in table order."""
        for state in State:
            assert allowed_events(state) == tuple(e for f, e, _ in MOVES if f is state)
            assert tuple(TRANSITIONS[state]) == allowed_events(state.value)

    def test_final_states(self) -> None:
        """Only retracted and expired are final: nothing moves out of them."""
        assert frozenset({State.RETRACTED, State.EXPIRED}) == FINAL_STATES

    def test_every_state_is_reachable_from_held(self) -> None:
        """Walking the table from held reaches every state."""
        seen, frontier = {State.HELD}, [State.HELD]
        while frontier:
            for to in TRANSITIONS[frontier.pop()].values():
                if to not in seen:
                    seen.add(to)
                    frontier.append(to)
        assert seen == set(State)

    @pytest.mark.parametrize(
        ("path", "end"),
        [
            (["approve", "boost", "retract"], State.RETRACTED),
            (["approve", "fail", "retry", "boost"], State.BOOSTED),
            (["reject", "approve", "boost"], State.BOOSTED),
            (["hold", "approve", "hold", "expire"], State.EXPIRED),
            (["retract"], State.RETRACTED),
        ],
    )
    def test_lifecycles(self, path: list[str], end: State) -> None:
        """Whole lifecycles a post really goes through end where expected."""
        state = State.HELD
        for event in path:
            state = next_state(state, event)
        assert state is end

    def test_a_moderator_can_reverse_a_reject(self) -> None:
        """rejected --approve--> approved is allowed (the caller checks freshness with is_expired)."""
        assert next_state("rejected", "approve") is State.APPROVED

    def test_a_second_approval_is_refused(self) -> None:
        """Approving an approved post (two moderators at once) is refused, not silently accepted."""
        with pytest.raises(IllegalTransition, match="can't approve a post that is approved"):
            next_state("approved", "approve")

    def test_an_edit_held_after_its_boost_is_held(self) -> None:
        """boosted --hold--> held is in the table: with on_edit = "hold", an edited boosted post is
        unboosted and waits for a moderator like any held post (approve boosts it again)."""
        assert next_state(State.BOOSTED, Event.HOLD) is State.HELD
        state = State.HELD
        for event in ("approve", "boost", "hold", "approve", "boost"):
            state = next_state(state, event)
        assert state is State.BOOSTED

    def test_the_review_functions_are_the_review_table(self) -> None:
        """next_state and allowed_events answer what the REVIEW table answers."""
        for (frm, event), to in LEGAL.items():
            assert REVIEW.next(frm, event) is next_state(frm, event) is to
        assert REVIEW.final == FINAL_STATES


class TestJournalTable:
    @pytest.mark.parametrize(
        ("frm", "event", "to"), JOURNAL_MOVES, ids=[f"{f}-{e}" for f, e, _ in JOURNAL_MOVES]
    )
    def test_every_legal_move(self, frm: JournalState, event: JournalEvent, to: JournalState) -> None:
        """An open intent is finished as done or failed, from enum values and from stored strings."""
        assert JOURNAL.next(frm, event) is to
        assert JOURNAL.next(frm.value, event.value) is to

    @pytest.mark.parametrize(("frm", "event"), JOURNAL_ILLEGAL, ids=[f"{f}-{e}" for f, e in JOURNAL_ILLEGAL])
    def test_every_other_move_is_refused(self, frm: JournalState, event: JournalEvent) -> None:
        """A finished entry is never finished again: done and failed are final."""
        with pytest.raises(IllegalTransition, match=f"^can't {event} a boost that is {frm}; {frm} is final$"):
            JOURNAL.next(frm, event, thing="a boost")

    def test_final_states(self) -> None:
        """Only the open intent moves; done and failed are final."""
        assert JOURNAL.final == {JournalState.DONE, JournalState.FAILED}
        assert JOURNAL.allowed("intent") == (JournalEvent.SUCCEED, JournalEvent.FAIL)

    def test_unknown_names_are_refused(self) -> None:
        """A state string the journal does not know is refused, naming the known ones."""
        with pytest.raises(IllegalTransition, match="unknown journal state 'limbo'; known states: intent"):
            JOURNAL.next("limbo", "fail")


def test_a_table_with_a_move_twice_is_refused() -> None:
    """A table that names the same (state, event) twice is not a function: refused when built."""
    with pytest.raises(ValueError, match="twice"):
        Table("t", "a thing", JournalState, JournalEvent, JOURNAL_MOVES + JOURNAL_MOVES[:1])


class TestExpiry:
    NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("age", "expired"),
        [(timedelta(0), False), (timedelta(hours=23, minutes=59), False), (timedelta(hours=24), True),
         (timedelta(days=9), True), (timedelta(hours=-1), False)],
    )  # fmt: skip
    def test_is_expired_at_the_boundary(self, age: timedelta, expired: bool) -> None:
        """A hold is expired once it is at least max_age old (a hold from the future is not)."""
        assert is_expired(self.NOW - age, self.NOW, timedelta(hours=24)) is expired

    def test_negative_max_age_is_refused(self) -> None:
        """A negative max_age is a programming error, not 'everything expired'."""
        with pytest.raises(ValueError, match="negative"):
            is_expired(self.NOW, self.NOW, timedelta(seconds=-1))
