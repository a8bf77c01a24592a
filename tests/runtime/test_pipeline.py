"""The pipeline over a real SQLite store, with the real recorded `#hoot` status as input."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from statusgen import HOME, hoot, quote_status, quoted_status
from storecrash import crash_after
from structlog.testing import capture_logs

from relay.config.rules import default_rules
from relay.core.items import Deleted, Delivered, Sighting
from relay.core.lifecycle import Event
from relay.core.post import Post
from relay.core.rules import Rules
from relay.core.seen import SeenCache
from relay.core.verdict import Decision
from relay.errors import IllegalTransition
from relay.runtime import pipeline as pipeline_module
from relay.runtime.events import CursorMoved, Held, HomeId
from relay.runtime.pipeline import KEEP_EARLY_DELETES, Pipeline
from relay.sources import normalise
from relay.store.store import Store

NOW = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store whose clock stands at NOW."""
    with Store.open(tmp_path / "relay.sqlite3", now=lambda: NOW) as opened:
        yield opened


def rules(mode: str = "open", **changes: Any) -> Rules:
    import dataclasses

    return dataclasses.replace(default_rules(["hoot"], mode=mode), **changes)


def pipeline(store: Store, mode: str = "open", **kwargs: Any) -> Pipeline:
    return Pipeline(store, rules(mode), home_host=HOME, clock=lambda: NOW, **kwargs)


def status(
    text: str = "<p>Hello <a href='x' class='mention hashtag'>#<span>hoot</span></a></p>", **changes: Any
) -> dict:
    data = copy.deepcopy(hoot())
    data["content"] = text
    data.update(changes)
    return data


def seen(
    data: dict[str, Any], source: str = HOME, via: str = "stream", hashtag: str | None = None
) -> Delivered:
    return Delivered(Post.from_status(data, source=source), via=via, hashtag=hashtag)


def sighting_of(p: Pipeline, data: dict[str, Any], **kwargs: Any) -> Sighting | None:
    """What a source thread makes of `data` with the pipeline's seen-cache: a `Sighting` if known."""
    item = normalise.status(data, seen=p.seen, **kwargs)
    return item if isinstance(item, Sighting) else None


class TestDecisions:
    def test_accepted_post_gets_one_boost_intent(self, store: Store) -> None:
        """An accepted post from the home stream becomes an open boost intent with its local id."""
        data = status()
        pipeline(store).handle(seen(data))
        [intent] = store.boosts.unfinished_intents()
        assert (intent.uri, intent.kind, intent.local_id) == (data["uri"], "boost", data["id"])

    def test_post_from_elsewhere_is_resolved_later(self, store: Store) -> None:
        """A post seen on another instance gets an intent without a local id (the booster resolves it)."""
        pipeline(store).handle(seen(status(), source="other.example"))
        [intent] = store.boosts.unfinished_intents()
        assert intent.local_id is None

    def test_review_mode_holds_with_a_short_id(self, store: Store) -> None:
        """In review mode a passing post is held, reported once (for moderators), and not boosted."""
        p = pipeline(store, "review")
        data = status()
        events = p.handle(seen(data))
        assert [e.short_id for e in events if isinstance(e, Held)] == ["h1"]
        [held] = [e for e in events if isinstance(e, Held)]
        assert held.post.uri == data["uri"]
        assert store.queue.queue_item("h1").uri == data["uri"]
        assert store.boosts.unfinished_intents() == []

    def test_rejected_post_keeps_its_reasons(self, store: Store) -> None:
        """A reply is rejected with the replies rule recorded, and nothing is boosted."""
        data = status(in_reply_to_id="1", in_reply_to_account_id="2")
        pipeline(store).handle(seen(data))
        verdict = store.posts.verdict_for(data["uri"])
        assert verdict is not None
        assert verdict.decision is Decision.REJECT
        assert [r.rule for r in verdict.reasons] == ["replies"]
        assert store.boosts.unfinished_intents() == []

    def test_same_post_from_three_sources_is_screened_once(self, store: Store) -> None:
        """Arrivals from several sources and paths dedupe on the uri."""
        p = pipeline(store)
        data = status()
        p.handle(seen(data))
        p.handle(seen(dict(data, id="999"), source="a.example", via="poll", hashtag="hoot"))
        p.handle(seen(dict(data, id="555"), source="b.example", via="catch-up", hashtag="hoot"))
        assert store.posts.screened_count(data["uri"]) == 1
        assert len(store.boosts.unfinished_intents()) == 1
        assert store.posts.sightings(data["uri"]) == {HOME: 1, "a.example": 1, "b.example": 1}

    def test_catch_up_moves_the_cursor_after_commit(self, store: Store) -> None:
        """A status fetched for a hashtag moves that source's cursor in the store, and the move is
        reported (for the fetchers); an older status moves nothing."""
        p = pipeline(store)
        data = status(id="117024236408130890")
        events = p.handle(seen(data, source="a.example", via="catch-up", hashtag="hoot"))
        assert store.posts.get_cursor("a.example", "hoot") == "117024236408130890"
        assert events == [CursorMoved("a.example", "hoot", "117024236408130890")]
        older = status(id="117024236408130889", uri=data["uri"] + "-older")
        assert p.handle(seen(older, source="a.example", via="catch-up", hashtag="hoot")) == []

    @pytest.mark.parametrize("status_id", ["١٢٣", "²"])
    def test_an_id_of_other_digits_moves_no_cursor(self, store: Store, status_id: str) -> None:
        """An id of digits that are not ASCII ("١٢٣".isdigit() is true) is no Mastodon id: the post is
        taken and no cursor moves (the store's cursor refuses such an id: ValueError, post dropped)."""
        p = pipeline(store)
        events = p.handle(seen(status(id=status_id), source="a.example", via="catch-up", hashtag="hoot"))
        assert store.posts.get_cursor("a.example", "hoot") is None
        assert not any(isinstance(event, CursorMoved) for event in events)
        assert store.posts.stored(hoot()["uri"]) is not None

    def test_a_home_post_reports_its_home_id(self, store: Store) -> None:
        """A post (or a known post's sighting) from the home instance reports its home id, for the
        booster; one from elsewhere does not."""
        p = pipeline(store)
        data = status()
        assert p.handle(seen(data)) == [HomeId(data["uri"], data["id"])]
        again = sighting_of(p, dict(data, id="777"), source=HOME, via="catch-up")
        assert again is not None
        assert p.handle(again) == [HomeId(data["uri"], "777")]
        other = status(id="31", uri=data["uri"] + "-other")
        assert p.handle(seen(other, source="a.example")) == []


class TestEditsAndDeletes:
    def boosted(self, store: Store, p: Pipeline, data: dict) -> None:
        p.handle(seen(data))
        store.boosts.boost_done(data["uri"], "r1")

    def test_edit_that_no_longer_passes_unboosts(self, store: Store) -> None:
        """A boosted post edited to add a rejected keyword gets an unboost intent."""
        import dataclasses

        p = pipeline(store)
        p.rules = dataclasses.replace(
            p.rules, keywords=dataclasses.replace(p.rules.keywords, reject=("casino",))
        )
        data = status()
        self.boosted(store, p, data)
        edited = status("<p>Casino! #hoot</p>", edited_at="2026-08-01T13:00:00.000Z")
        p.handle(seen(edited, via="stream"))
        [intent] = store.boosts.unfinished_intents()
        assert (intent.kind, intent.uri) == ("unboost", data["uri"])

    @pytest.mark.parametrize("state", ["revoked", "deleted"])
    def test_a_boosted_quote_revoked_or_its_quoted_post_deleted_is_unboosted(
        self, store: Store, state: str
    ) -> None:
        """The same post (same `edited_at`) with its quote moved on is screened again and unboosted;
        a stale copy of the accepted quote after that changes nothing."""
        p = pipeline(store)
        p.rules = rules(quotes="accept")
        accepted = quote_status(quoted_status())
        self.boosted(store, p, accepted)
        p.handle(seen(quote_status(quoted_status(), state)))
        [intent] = store.boosts.unfinished_intents()
        assert (intent.kind, intent.uri) == ("unboost", accepted["uri"])
        verdict = store.posts.verdict_for(accepted["uri"])
        assert verdict is not None
        assert [r.rule for r in verdict.reasons] == ["quotes.state"]
        assert store.posts.screened_count(accepted["uri"]) == 2
        p.handle(seen(accepted))
        assert store.posts.screened_count(accepted["uri"]) == 2

    def test_the_quoted_authors_opt_out_refuses_the_quote(self, store: Store) -> None:
        """The pipeline screens a quote with the quoted author's history from the store."""
        store.people.set_consent("quoted@elsewhere.example", "opt-out", "quoted@elsewhere.example")
        p = pipeline(store)
        p.rules = rules(quotes="accept")
        data = quote_status(quoted_status())
        p.handle(seen(data))
        verdict = store.posts.verdict_for(data["uri"])
        assert verdict is not None
        assert verdict.decision is Decision.REJECT
        assert "quotes.consent.opt_out" in [r.rule for r in verdict.reasons]

    @pytest.mark.parametrize("reviewed", [False, True], ids=["accepted", "approved"])
    def test_edit_held_with_on_edit_hold_unboosts_and_holds(self, store: Store, reviewed: bool) -> None:
        """With on_edit = "hold", a boosted post edited so that it is held gets an unboost intent
        and waits as held for a moderator (`boosted --hold--> held`), whether it was accepted or
        approved by a moderator before its boost."""
        import dataclasses

        p = pipeline(store, on_edit="hold")
        data = status()
        if reviewed:  # held, approved and boosted: its queue item is `boosted`
            p.rules = dataclasses.replace(p.rules, mode="review")
            p.handle(seen(data))
            short_id = store.queue.queue_by_uri(data["uri"]).short_id  # type: ignore[union-attr]
            store.queue.move(short_id, Event.APPROVE, "mod@home.example")
            store.boosts.boost_intent(data["uri"], None)
            store.boosts.boost_done(data["uri"], "r1")
            store.queue.move(short_id, Event.BOOST, "relay")
        else:
            self.boosted(store, p, data)
        p.rules = dataclasses.replace(
            p.rules, mode="open", keywords=dataclasses.replace(p.rules.keywords, hold=("casino",))
        )
        with capture_logs() as logs:
            p.handle(seen(status("<p>Casino? #hoot</p>", edited_at="2026-08-01T13:00:00.000Z")))
        [intent] = store.boosts.unfinished_intents()
        assert (intent.kind, intent.uri) == ("unboost", data["uri"])
        item = store.queue.queue_by_uri(data["uri"])
        assert item is not None
        assert item.state == "held"
        assert [r.rule for r in item.verdict.reasons] == ["keywords.hold"]
        assert "post.edit_held" in [e["event"] for e in logs]

    def test_edit_that_still_passes_changes_nothing(self, store: Store) -> None:
        """A harmless edit of a boosted post is screened again and stays boosted."""
        p = pipeline(store)
        data = status()
        self.boosted(store, p, data)
        p.handle(seen(status("<p>Hello again #hoot</p>", edited_at="2026-08-01T13:00:00.000Z")))
        assert store.posts.screened_count(data["uri"]) == 2
        assert store.boosts.unfinished_intents() == []
        assert store.boosts.is_boosted(data["uri"])

    def test_delete_retracts_and_a_stale_copy_is_ignored(self, store: Store) -> None:
        """A delete event retracts the post; the same post from another source later is not boosted."""
        p = pipeline(store)
        data = status()
        self.boosted(store, p, data)
        p.handle(Deleted(HOME, data["id"]))
        assert store.posts.is_retracted(data["uri"])
        assert not store.boosts.is_boosted(data["uri"])
        p.handle(seen(dict(data, id="777"), source="late.example"))
        assert store.boosts.unfinished_intents() == []

    def test_delete_before_the_boost_cancels_the_intent(self, store: Store) -> None:
        """A post deleted while its boost waits is never boosted."""
        p = pipeline(store)
        data = status()
        p.handle(seen(data))
        p.handle(Deleted(HOME, data["id"]))
        assert store.boosts.unfinished_intents() == []
        assert [e.state for e in store.boosts.journal(data["uri"])] == ["failed"]


class TestOutOfOrder:
    """Events in any order: Mastodon's streaming server sends a delete at once but holds its post."""

    def test_a_post_whose_delete_came_first_is_retracted_not_screened(self, store: Store) -> None:
        """A delete for an id the source has not shown yet is kept; the post, when it comes, is
        recorded as retracted: never screened, no boost intent, audited."""
        p = pipeline(store)
        data = status()
        p.handle(Deleted(HOME, data["id"]))
        with capture_logs() as logs:
            p.handle(seen(data))
        assert store.posts.is_retracted(data["uri"])
        assert store.posts.screened_count(data["uri"]) == 0
        assert store.boosts.unfinished_intents() == []
        assert [r.action for r in store.audit_log.audit_rows() if r.uri == data["uri"]] == ["post.retracted"]
        assert [(e["event"], e.get("early")) for e in logs if e["log_level"] == "info"] == [
            ("post.retracted", True)
        ]
        assert store.posts.uri_for_local_id(HOME, data["id"]) == data["uri"]
        assert store.posts.remembered_deletes(NOW) == set()

    def test_in_review_mode_moderators_are_not_asked(self, store: Store) -> None:
        """A post whose delete came first is never held, so no moderator hears of it."""
        p = pipeline(store, "review")
        data = status()
        events = p.handle_batch([Deleted(HOME, data["id"]), seen(data)])
        assert [e for e in events if isinstance(e, Held)] == []
        assert store.queue.pending() == []
        assert store.posts.is_retracted(data["uri"])

    def test_a_later_copy_is_a_sighting(self, store: Store) -> None:
        """Once applied, the delete is forgotten and every later copy of the post is only counted."""
        p = pipeline(store)
        data = status()
        p.handle_batch([Deleted(HOME, data["id"]), seen(data)])
        again = sighting_of(p, data, source=HOME, via="catch-up")
        assert again is not None
        p.handle(again)
        p.handle(seen(dict(data, id="5"), source="late.example", via="poll"))
        assert store.boosts.unfinished_intents() == []
        assert store.posts.sightings(data["uri"]) == {HOME: 2, "late.example": 1}

    def test_a_delete_applies_only_to_its_own_source(self, store: Store) -> None:
        """Status ids are per instance: another instance's delete of the same id changes nothing."""
        p = pipeline(store)
        data = status()
        p.handle(Deleted("other.example", data["id"]))
        p.handle(seen(data))
        assert not store.posts.is_retracted(data["uri"])
        assert [i.uri for i in store.boosts.unfinished_intents()] == [data["uri"]]
        assert store.posts.remembered_deletes(NOW) == {("other.example", data["id"])}

    @pytest.mark.parametrize("light", [True, False], ids=["sighting", "seen"])
    def test_a_boosted_post_is_unboosted_when_its_copy_comes_after_that_copys_delete(
        self, store: Store, light: bool
    ) -> None:
        """A post boosted from one instance is retracted when another instance's delete of it came
        before that instance's copy (known to the cache as a light sighting, or not)."""
        p = pipeline(store)
        data = status()
        p.handle(seen(data))
        store.boosts.boost_done(data["uri"], "r1")
        p.handle(Deleted("a.example", "999"))
        assert store.boosts.is_boosted(data["uri"])
        copy_there = dict(data, id="999")
        late = sighting_of(p, copy_there, source="a.example", via="stream") if light else None
        p.handle(late or seen(copy_there, source="a.example"))
        assert store.posts.is_retracted(data["uri"])
        assert not store.boosts.is_boosted(data["uri"])
        assert store.posts.remembered_deletes(NOW) == set()

    def test_a_restart_keeps_the_remembered_delete(self, store: Store) -> None:
        """The delete is in the state file: a new pipeline (a restarted relay) still applies it."""
        data = status()
        pipeline(store).handle(Deleted(HOME, data["id"]))
        pipeline(store).handle(seen(data))
        assert store.posts.is_retracted(data["uri"])
        assert store.boosts.unfinished_intents() == []

    def test_a_delete_survives_a_batch_taken_again_item_by_item(self, store: Store) -> None:
        """A delete remembered in a batch that an item's failure made the pipeline take again, item
        by item, is remembered once and still applied to its post."""
        p = pipeline(store)
        data = status()
        broken = status(
            "<p>Broken #hoot</p>", uri="https://b.example/1", id="1", url="https://b.example/@b/1"
        )
        with (
            crash_after(store.posts, "add_screened", lambda uri, *a, **k: uri == broken["uri"]),
            capture_logs(),
        ):
            p.handle_batch([Deleted(HOME, data["id"]), seen(broken)])
        assert store.posts.remembered_deletes(NOW) == {(HOME, data["id"])}
        p.handle(seen(data))
        assert store.posts.is_retracted(data["uri"])

    def test_remembered_deletes_are_forgotten_after_a_day(self, store: Store) -> None:
        """A day later the pipeline no longer applies a remembered delete, and prunes it."""
        clock = [NOW]
        p = Pipeline(store, rules(), home_host=HOME, clock=lambda: clock[0])
        data = status()
        p.handle(Deleted(HOME, "gone-long-ago"))
        p.handle(Deleted(HOME, data["id"]))
        clock[0] = NOW + KEEP_EARLY_DELETES + timedelta(minutes=1)
        p.handle(seen(data))
        assert not store.posts.is_retracted(data["uri"])
        assert [i.uri for i in store.boosts.unfinished_intents()] == [data["uri"]]
        p.handle(Deleted(HOME, "new"))  # an hour has passed: the old ones are pruned
        assert store.posts.remembered_deletes(NOW - timedelta(days=30)) == {(HOME, "new")}

    def test_at_most_so_many_deletes_are_remembered(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Past `MAX_EARLY_DELETES` the oldest are forgotten, in the state file and in memory."""
        monkeypatch.setattr(pipeline_module, "MAX_EARLY_DELETES", 10)
        clock = [NOW]
        p = Pipeline(store, rules(), home_host=HOME, clock=lambda: clock[0])
        for n in range(12):
            clock[0] = NOW + timedelta(seconds=n)
            p.handle(Deleted(HOME, str(n)))
        kept = store.posts.remembered_deletes(NOW)
        assert kept == {(HOME, str(n)) for n in range(2, 12)}  # at 11, the oldest two went (to 90 %)
        assert p._early == kept

    def test_an_older_version_after_a_newer_one_changes_nothing(self, store: Store) -> None:
        """An edit that fails, then the unedited original that would pass, arriving late: the
        original is a duplicate, not screened again, not boosted."""
        import dataclasses

        p = pipeline(store)
        p.rules = dataclasses.replace(
            p.rules, keywords=dataclasses.replace(p.rules.keywords, reject=("casino",))
        )
        data = status()
        p.handle(seen(status("<p>Casino! #hoot</p>", edited_at="2026-08-01T13:00:00.000Z")))
        p.handle(seen(data))
        assert store.posts.screened_count(data["uri"]) == 1
        assert store.posts.verdict_for(data["uri"]).decision is Decision.REJECT
        assert store.boosts.unfinished_intents() == []


class TestAtomicity:
    @pytest.mark.parametrize("batch", [False, True], ids=["one item", "in a batch"])
    def test_a_move_the_lifecycle_refuses_fails_its_item_only(self, store: Store, batch: bool) -> None:
        """An `IllegalTransition` (a bug about one post) rolls that item back and is logged; the
        relay goes on with the others instead of stopping, as it would for a failing store."""
        p = pipeline(store)
        bad = status("<p>Bad move #hoot</p>", uri="https://b.example/1", id="1", url="https://b.example/@b/1")
        good = status("<p>Another post #hoot</p>", uri="https://other.example/1", id="42")
        refused = crash_after(
            store.posts,
            "add_screened",
            lambda uri, *a, **k: uri == bad["uri"],
            error=lambda: IllegalTransition("held --boost--> ?"),
        )
        with refused, capture_logs() as logs:
            if batch:
                p.handle_batch([seen(bad), seen(good)])
            else:
                p.handle(seen(bad))
                p.handle(seen(good))
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["pipeline.error"]
        assert store.posts.verdict_for(bad["uri"]) is None
        assert store.posts.verdict_for(good["uri"]) is not None

    def test_a_failure_mid_decision_leaves_nothing_behind(self, store: Store) -> None:
        """If deciding on a post fails half-way, that item is rolled back alone and logged."""
        p = pipeline(store)
        data = status()
        other = status("<p>Another post #hoot</p>", uri="https://other.example/1", id="42")
        broken = Delivered(Post.from_status(data, source=HOME), via="stream")
        # The post, its verdict, audit row and intent are written, then the item fails.
        with (
            crash_after(store.posts, "add_screened", lambda uri, *a, **k: uri == data["uri"]),
            capture_logs() as logs,
        ):
            p.handle_batch([broken, seen(other)])
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["pipeline.error"]
        assert store.posts.verdict_for(data["uri"]) is None
        assert store.posts.sightings(data["uri"]) == {}
        assert [e.uri for e in store.boosts.unfinished_intents()] == [other["uri"]]  # the batch went on
        p.handle(broken)  # the same post again: screened as new, boosted
        assert len(store.boosts.unfinished_intents()) == 2

    def test_a_batch_retried_item_by_item_does_everything_once(self, store: Store) -> None:
        """The items before and after a failing one are kept, and logged, counted, audited and
        reported once, although the batch was rolled back and taken again when the failure came;
        the failing one reports nothing (its cursor move was rolled back with it)."""
        p = pipeline(store)
        first, broken_data, last = (
            status(
                f"<p>Post {n} #hoot</p>",
                uri=f"https://a.example/{n}",
                id=str(n),
                url=f"https://a.example/@a/{n}",
            )
            for n in (1, 2, 3)
        )
        with (
            crash_after(store.posts, "add_screened", lambda uri, *a, **k: uri == broken_data["uri"]),
            capture_logs() as logs,
        ):
            events = p.handle_batch(
                [seen(d, via="catch-up", hashtag="hoot") for d in (first, broken_data, last)]
            )
        assert events == [
            CursorMoved(HOME, "hoot", "1"),
            HomeId(first["uri"], "1"),
            CursorMoved(HOME, "hoot", "3"),
            HomeId(last["uri"], "3"),
        ]
        assert store.posts.get_cursor(HOME, "hoot") == "3"
        screened = [e["uri"] for e in logs if e["event"] == "post.screened"]
        assert screened == [first["uri"], last["uri"]]
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["pipeline.error"]
        assert store.posts.verdict_for(broken_data["uri"]) is None
        assert sorted(e.uri for e in store.boosts.unfinished_intents()) == [first["uri"], last["uri"]]
        assert [r.uri for r in store.audit_log.audit_rows() if r.action.startswith("screen.")] == [
            first["uri"],
            last["uri"],
        ]
        registry = p.metrics.registry
        assert registry.get_sample_value("relay_screened_total", {"decision": "accept"}) == 2
        assert registry.get_sample_value("relay_posts_seen_total", {"source": HOME, "via": "catch-up"}) == 2
        assert registry.get_sample_value("relay_errors_total", {"kind": "pipeline"}) == 1


class TestFastPath:
    def test_a_delete_right_after_a_sighting_in_one_batch_finds_the_post(self, store: Store) -> None:
        """A source's delete that follows its sighting of a known post in the same batch finds the
        post by that source's id (sightings are written in one go, but before a delete looks)."""
        p = pipeline(store)
        data = status()
        p.handle(seen(data))
        sighting = sighting_of(p, dict(data, id="999"), source="a.example", via="stream")
        assert sighting is not None
        p.handle_batch([sighting, Deleted("a.example", "999")])
        assert store.posts.is_retracted(data["uri"])

    def test_known_post_becomes_a_light_sighting(self, store: Store) -> None:
        """After a post is committed, the same status from another source is only a sighting."""
        p = pipeline(store)
        data = status()
        assert sighting_of(p, data, source="a.example", via="stream") is None  # not known yet
        p.handle(seen(data))
        copy_elsewhere = dict(data, id="999")
        sighting = sighting_of(p, copy_elsewhere, source="a.example", via="stream")
        assert sighting is not None
        p.handle(sighting)
        assert store.posts.sightings(data["uri"]) == {HOME: 1, "a.example": 1}
        assert store.posts.uri_for_local_id("a.example", "999") == data["uri"]
        assert store.posts.screened_count(data["uri"]) == 1

    def test_an_edit_is_not_a_sighting(self, store: Store) -> None:
        """A newer version of a known post takes the full path and is screened again."""
        p = pipeline(store)
        data = status()
        p.handle(seen(data))
        assert (
            sighting_of(p, dict(data, edited_at="2026-08-01T13:00:00.000Z"), source=HOME, via="stream")
            is None
        )

    def test_a_retracted_post_is_a_sighting_and_never_boosted(self, store: Store) -> None:
        """After a delete, any copy of the post is only counted."""
        p = pipeline(store)
        data = status()
        p.handle(seen(data))
        p.handle(Deleted(HOME, data["id"]))
        assert sighting_of(p, dict(data, id="5"), source="late.example", via="poll") is not None

    def test_the_cache_forgets_the_oldest(self) -> None:
        """The seen cache is bounded: the oldest uris leave first."""
        cache = SeenCache(size=2)
        for uri in ("a", "b", "c"):
            cache.remember(uri, None)
        assert cache.known({"uri": "a"}) is None
        assert cache.known({"uri": "c"}) == "c"
        assert len(cache) == 2
