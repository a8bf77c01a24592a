"""The booster's decisions (`relay.core.boosting`), on plain data."""

from __future__ import annotations

import pytest

from relay.core.boosting import Failure, Step, failure, first_step, reblog_refusal, reconciled, refusal


class TestFirstStep:
    def test_a_fresh_intent_with_its_home_id_is_reblogged_straight_away(self) -> None:
        """A post whose home id is known costs the reblog alone."""
        assert first_step(earlier=False, local_id="42") is Step.REBLOG

    def test_a_post_known_only_by_its_uri_is_resolved_first(self) -> None:
        """Without a home id, the post is resolved by its uri before the reblog."""
        assert first_step(earlier=False, local_id=None) is Step.RESOLVE

    def test_an_intent_left_by_an_earlier_run_is_fetched_first(self) -> None:
        """An earlier run may have reblogged before a crash: fetch first, even with the home id."""
        assert first_step(earlier=True, local_id="42") is Step.RESOLVE
        assert first_step(earlier=True, local_id=None) is Step.RESOLVE


class TestEligibility:
    def test_public_posts_are_boosted(self) -> None:
        """A public post may be boosted, with or without unlisted allowed."""
        assert refusal("public", allow_unlisted=False) is None
        assert refusal("public", allow_unlisted=True) is None

    def test_unlisted_only_where_the_admin_allowed_it(self) -> None:
        """An unlisted post is refused unless the admin allowed unlisted posts."""
        assert (
            refusal("unlisted", allow_unlisted=False)
            == "visibility is unlisted: only public posts are boosted"
        )
        assert refusal("unlisted", allow_unlisted=True) is None

    @pytest.mark.parametrize("visibility", ["private", "direct", None, "limited"])
    def test_private_direct_and_unknown_never(self, visibility: object) -> None:
        """Private, direct, missing or unknown visibilities are never boosted, whatever is allowed."""
        assert refusal(visibility, allow_unlisted=True) == (
            f"visibility is {visibility}: only public or unlisted posts are boosted"
        )

    def test_only_an_earlier_runs_reblog_is_reconciled(self) -> None:
        """A reblog already made is taken as done only for an intent an earlier run left open."""
        assert reconciled(earlier=True, reblogged=True)
        assert not reconciled(earlier=True, reblogged=False)
        assert not reconciled(earlier=False, reblogged=True)


class TestFailures:
    def test_the_reblogs_refusals_are_permanent(self) -> None:
        """404 (gone), 403 and 422 (not allowed) to the reblog mean the post is never boosted."""
        assert reblog_refusal(404, "Record not found") == (
            "the home instance answered 404 to the reblog: the post is gone (or hidden from the bot)"
        )
        assert reblog_refusal(403, "This action is not allowed") == (
            "the home instance answered 403 to the reblog: This action is not allowed"
        )
        assert reblog_refusal(422, "Validation failed") is not None

    @pytest.mark.parametrize("status", [None, 400, 429, 500, 503])
    def test_other_answers_are_no_refusal(self, status: int | None) -> None:
        """Any other failed reblog is not a reason to give the post up."""
        assert reblog_refusal(status, "x") is None

    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (None, Failure.RETRY),
            (500, Failure.RETRY),
            (502, Failure.RETRY),
            (503, Failure.RETRY),
            (511, Failure.RETRY),
            (429, Failure.RATE_LIMITED),
            (401, Failure.CREDENTIALS),
            (400, Failure.UNEXPECTED),
            (404, Failure.UNEXPECTED),
            (0, Failure.UNEXPECTED),
        ],
    )
    def test_failed_calls_are_sorted_by_their_answer(self, status: int | None, kind: Failure) -> None:
        """No answer or a 5xx is retried, a 429 waits for the reset, a 401 ends the relay, and
        anything else is not the booster's to decide."""
        assert failure(status) is kind
