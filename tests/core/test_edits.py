"""What an edit or a delete means for a post where it stands (`relay.core.edits`), on plain data."""

from __future__ import annotations

import pytest

from relay.core.edits import (
    DeleteAction,
    EditAction,
    Standing,
    edit_log,
    moves_queue,
    on_delete,
    on_edit,
    passes,
)
from relay.core.lifecycle import State
from relay.core.verdict import Decision, Reason, Verdict

ACCEPT = Verdict(Decision.ACCEPT)
REVIEW = Verdict(Decision.HOLD, (Reason("mode", Decision.HOLD, "review"),))  # passes: review mode only
HOLD = Verdict(Decision.HOLD, (Reason("keywords.hold", Decision.HOLD, "matched 'workshop'"),))
REJECT = Verdict(Decision.REJECT, (Reason("keywords.reject", Decision.REJECT, "matched 'spam'"),))

BOOSTED = Standing(boosted=True, queue_state=State.BOOSTED)
PENDING = Standing(boost_pending=True)


class TestPasses:
    def test_only_review_mode_is_ignored(self) -> None:
        """Review mode's own hold does not count against a post; any other hold or reject does."""
        mode = Reason("mode", Decision.HOLD, "review")
        other = Reason("keywords.hold", Decision.HOLD, "word")
        assert passes(Verdict(Decision.HOLD, (mode,)))
        assert passes(ACCEPT)
        assert not passes(Verdict(Decision.HOLD, (mode, other)))
        assert not passes(REJECT)


class TestEditOfABoostedPost:
    @pytest.mark.parametrize("verdict", [ACCEPT, REVIEW], ids=["accept", "review-mode"])
    def test_one_that_still_passes_changes_nothing(self, verdict: Verdict) -> None:
        """A boosted post edited into something that still passes stays boosted, whatever on_edit says."""
        assert on_edit(BOOSTED, verdict, on_edit="unboost") is EditAction.NOTHING
        assert on_edit(BOOSTED, verdict, on_edit="hold") is EditAction.NOTHING

    def test_one_that_no_longer_passes_is_unboosted(self) -> None:
        """By default a boosted post that now holds or is rejected is unboosted."""
        assert on_edit(BOOSTED, HOLD) is EditAction.UNBOOST
        assert on_edit(BOOSTED, REJECT) is EditAction.UNBOOST

    def test_with_on_edit_hold_a_held_verdict_asks_a_moderator(self) -> None:
        """With on_edit = "hold" a boosted post whose edit holds is unboosted and held again (the
        lifecycle's boosted --hold--> held); a rejected one is still unboosted."""
        assert on_edit(BOOSTED, HOLD, on_edit="hold") is EditAction.REHOLD
        assert on_edit(BOOSTED, REJECT, on_edit="hold") is EditAction.UNBOOST

    def test_the_actions_are_logged_under_their_events(self) -> None:
        """Each action on a boosted post has its log event; doing nothing logs nothing."""
        assert edit_log(BOOSTED, EditAction.UNBOOST) == "post.edit_unboost"
        assert edit_log(BOOSTED, EditAction.HOLD) == "post.edit_held"
        assert edit_log(BOOSTED, EditAction.NOTHING) is None


class TestEditBeforeTheBoost:
    def test_an_open_intent_is_cancelled_when_the_edit_no_longer_passes(self) -> None:
        """An edit that holds or rejects cancels an open boost intent (logged); one that passes keeps it."""
        assert on_edit(PENDING, HOLD) is EditAction.CANCEL
        assert on_edit(PENDING, REJECT, on_edit="hold") is EditAction.CANCEL
        assert on_edit(PENDING, ACCEPT) is EditAction.NOTHING
        assert on_edit(PENDING, REVIEW) is EditAction.NOTHING
        assert edit_log(PENDING, EditAction.CANCEL) == "post.edit_cancelled"


class TestEditOfAPostNeverBoosted:
    @pytest.mark.parametrize("state", [None, State.HELD, State.REJECTED, State.EXPIRED])
    def test_an_accepted_edit_is_boosted(self, state: State | None) -> None:
        """An edit that is now accepted is boosted if the post was never queued, or its review
        item was held, rejected or expired."""
        assert on_edit(Standing(queue_state=state), ACCEPT) is EditAction.BOOST

    @pytest.mark.parametrize("state", [State.APPROVED, State.BOOSTED, State.RETRACTED])
    def test_an_accepted_edit_does_not_overrule_a_moderator_in_flight(self, state: State) -> None:
        """An approved (boost on its way), boosted or retracted review item is left alone."""
        assert on_edit(Standing(queue_state=state), ACCEPT) is EditAction.NOTHING

    @pytest.mark.parametrize(
        ("state", "action"),
        [(None, EditAction.HOLD), (State.HELD, EditAction.HOLD), (State.REJECTED, EditAction.NOTHING)],
    )
    def test_a_held_edit_is_held_unless_a_moderator_decided(
        self, state: State | None, action: EditAction
    ) -> None:
        """An edit that holds is held (a held post's notice again); one a moderator rejected stays so."""
        assert on_edit(Standing(queue_state=state), HOLD) is action

    def test_a_rejected_edit_changes_nothing(self) -> None:
        """A post that was never boosted and is now rejected needs nothing done (its verdict is kept)."""
        assert on_edit(Standing(), REJECT) is EditAction.NOTHING
        assert edit_log(Standing(), EditAction.HOLD) is None  # not a boosted post's hold: not logged


class TestDelete:
    def test_a_boosted_post_records_its_unboost(self) -> None:
        """A deleted boosted post: Mastodon removed the reblog; record it and move the item."""
        assert on_delete(BOOSTED) is DeleteAction.RECORD_UNBOOST
        assert moves_queue(BOOSTED)

    def test_an_open_intent_is_cancelled(self) -> None:
        """A post deleted before its boost has its intent closed."""
        assert on_delete(PENDING) is DeleteAction.CANCEL

    def test_a_post_never_boosted_is_only_retracted(self) -> None:
        """A post never boosted is only marked retracted, whatever its review state."""
        assert on_delete(Standing(queue_state=State.HELD)) is DeleteAction.RETRACT
        assert not moves_queue(Standing(queue_state=State.HELD))

    def test_a_second_delete_does_nothing(self) -> None:
        """A post already retracted is left alone (the delete came from another instance too)."""
        assert on_delete(Standing(retracted=True, boosted=True)) is DeleteAction.NOTHING
