"""The weekly digests in a real state file (relay.store.digests): intent before the post, each part
recorded after it, once per period; the figures a digest sums up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import storehelp

from relay.core.digest import Period
from relay.core.lifecycle import JournalState
from relay.errors import IllegalTransition
from relay.store.store import Store

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
WEEK = Period(T0 - timedelta(days=7), T0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary file, whose clock stands at T0."""
    with Store.open(tmp_path / "state.db", now=lambda: T0) as opened:
        yield opened


def boost(store: Store, uri: str, acct: str, at: datetime) -> None:
    """A post by `acct` seen and boosted at `at`."""
    storehelp.boosted(store, uri, acct, at)


class TestIntent:
    def test_a_digest_goes_from_intent_to_done_part_by_part(self, store: Store) -> None:
        """The texts are kept at the intent; each posted part is added; the last one finishes it."""
        record = store.digests.intent(WEEK, ["one", "two"])
        assert (record.state, record.parts, record.status_ids, record.next_part) == (
            JournalState.INTENT, ("one", "two"), (), 0
        )  # fmt: skip
        assert store.digests.unfinished() == [record]
        record = store.digests.part_posted(T0, 0, "101")
        assert (record.state, record.next_part) == (JournalState.INTENT, 1)
        record = store.digests.part_posted(T0, 1, "102")
        assert (record.state, record.status_ids, record.next_part) == (
            JournalState.DONE,
            ("101", "102"),
            None,
        )
        assert record.finished_at == T0
        assert store.digests.unfinished() == []
        assert store.digests.latest() == record

    def test_a_second_intent_for_the_period_changes_nothing(self, store: Store) -> None:
        """A period is recorded once: a later intent (other figures, a restart) returns the first."""
        first = store.digests.intent(WEEK, ["the first words"])
        assert store.digests.intent(WEEK, ["other words"]) == first
        assert store.digests.get(T0) == first

    def test_nothing_to_say_is_recorded_done_without_parts(self, store: Store) -> None:
        """An empty period is done at once, with nothing to post."""
        record = store.digests.intent(WEEK, [])
        assert (record.state, record.parts, record.next_part) == (JournalState.DONE, (), None)
        assert store.digests.unfinished() == []

    def test_a_part_recorded_twice_is_kept_once_and_order_is_kept(self, store: Store) -> None:
        """Recording part 0 again changes nothing; part 2 before part 1 is refused."""
        store.digests.intent(WEEK, ["a", "b", "c"])
        store.digests.part_posted(T0, 0, "1")
        assert store.digests.part_posted(T0, 0, "1").status_ids == ("1",)
        with pytest.raises(ValueError, match="part 2 of 3 after 1 posted"):
            store.digests.part_posted(T0, 2, "3")

    def test_a_finished_digest_cannot_fail_or_take_more_parts(self, store: Store) -> None:
        """done and failed are final, as in the boost journal."""
        store.digests.intent(WEEK, ["a"])
        store.digests.part_posted(T0, 0, "1")
        with pytest.raises(IllegalTransition, match="can't fail a digest that is done"):
            store.digests.failed(T0, "HTTP 422")
        other = Period(T0, T0 + timedelta(days=7))
        store.digests.intent(other, ["b"])
        store.digests.failed(other.end, "HTTP 422: Text character limit of 500 exceeded")
        failed = store.digests.get(other.end)
        assert failed is not None
        assert (failed.state, failed.error) == (
            JournalState.FAILED,
            "HTTP 422: Text character limit of 500 exceeded",
        )

    def test_the_intent_survives_closing_the_file(self, tmp_path: Path) -> None:
        """What was written before a crash is there after it: the intent and the parts posted."""
        with Store.open(tmp_path / "state.db", now=lambda: T0) as store:
            store.digests.intent(WEEK, ["a", "b"])
            store.digests.part_posted(T0, 0, "1")
        with Store.open(tmp_path / "state.db") as store:
            (record,) = store.digests.unfinished()
            assert (record.parts, record.status_ids, record.period_start) == (("a", "b"), ("1",), WEEK.start)


class TestBoostedBetween:
    def test_counts_the_period_and_only_what_is_still_boosted(self, store: Store) -> None:
        """Boosts done within [start, end) count; one before, one at the end, an unboosted and a
        retracted post do not."""
        inside = T0 - timedelta(days=1)
        boost(store, "https://a.example/s/1", "ann@a.example", inside)
        boost(store, "https://b.example/s/2", "bob@b.example", inside)
        boost(store, "https://b.example/s/3", "bob@b.example", inside)
        boost(store, "https://c.example/s/4", "cat@c.example", WEEK.start - timedelta(seconds=1))
        boost(store, "https://c.example/s/5", "cat@c.example", T0)
        boost(store, "https://d.example/s/6", "dan@d.example", inside)
        store.boosts.unboost_intent("https://d.example/s/6", None, now=inside)
        store.boosts.unboost_done("https://d.example/s/6", now=inside)
        boost(store, "https://e.example/s/7", "eve@e.example", inside)
        store.posts.mark_retracted("https://e.example/s/7", "deleted", now=inside)
        found = store.digests.boosted_between(WEEK.start, WEEK.end)
        assert [(p.acct, p.domain) for p in found] == [
            ("ann@a.example", "a.example"), ("bob@b.example", "b.example"), ("bob@b.example", "b.example")
        ]  # fmt: skip
