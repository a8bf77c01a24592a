"""The store's API over a real SQLite file: seen posts, cursors, review queue and boost journal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import storehelp

from relay.core.dedupe import Arrival, Stored, decide
from relay.core.lifecycle import Event, State
from relay.core.verdict import Decision, Reason, Verdict
from relay.errors import IllegalTransition
from relay.store.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
URI = "https://social.example/users/alice/statuses/1"
HOLD = Verdict(Decision.HOLD, (Reason("new-account", Decision.HOLD, "account is 2 days old"),))
ACCEPT = Verdict(Decision.ACCEPT)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary file, whose clock stands at T0."""
    with Store.open(tmp_path / "state.db", now=lambda: T0) as opened:
        yield opened


def observe(
    store: Store,
    uri: str = URI,
    *,
    source: str = "home:stream",
    acct: str = "alice@social.example",
    edited_at: str | None = None,
    fingerprint: str = "fp-1",
    now: datetime = T0,
) -> Arrival:
    """Observe a post with sensible defaults, deciding dedupe as the pipeline does."""
    return storehelp.arrive(
        store,
        uri,
        source=source,
        acct=acct,
        url=uri.replace("/users/alice/statuses/", "/@alice/"),
        edited_at=edited_at,
        text_fingerprint=fingerprint,
        now=now,
    )


class TestSeenPosts:
    def test_one_post_from_many_sources_is_screened_once(self, store: Store) -> None:
        """The same uri from several sources, by stream and poll, is screened once and counted."""
        assert observe(store, source="home:stream") is Arrival.SCREEN
        assert observe(store, source="other:poll") is Arrival.DUPLICATE
        assert observe(store, source="other:poll") is Arrival.DUPLICATE
        assert observe(store, source="third:rss") is Arrival.DUPLICATE
        assert store.posts.sightings(URI) == {"home:stream": 1, "other:poll": 2, "third:rss": 1}

    def test_newer_edit_is_rescreened_and_becomes_the_stored_version(self, store: Store) -> None:
        """An edit is rescreened once; the original arriving late afterwards is a duplicate."""
        observe(store)
        edit = "2026-11-25T12:05:00.000Z"
        assert observe(store, edited_at=edit, fingerprint="fp-2") is Arrival.RESCREEN
        assert observe(store, edited_at=edit, source="other:poll") is Arrival.DUPLICATE
        assert observe(store, edited_at=None, source="third:rss") is Arrival.DUPLICATE

    def test_verdict_round_trips_with_every_reason(self, store: Store) -> None:
        """A recorded verdict reads back equal, and the screened count grows with each one."""
        observe(store)
        assert store.posts.verdict_for(URI) is None
        store.posts.record_verdict(URI, HOLD)
        store.posts.record_verdict(URI, ACCEPT)
        store.posts.record_verdict(URI, HOLD)
        assert store.posts.verdict_for(URI) == HOLD
        assert store.posts.screened_count(URI) == 3

    def test_verdict_for_unobserved_uri_is_refused(self, store: Store) -> None:
        """Recording a verdict for a uri never observed is a LookupError."""
        with pytest.raises(LookupError, match="no observed post"):
            store.posts.record_verdict(URI, ACCEPT)

    def test_retracted_uri_is_never_screened_again(self, store: Store) -> None:
        """After a delete, even a newer edit from another source is RETRACTED."""
        observe(store)
        store.posts.mark_retracted(URI, "deleted by author")
        assert observe(store, source="other:poll") is Arrival.RETRACTED
        assert observe(store, edited_at="2030-01-01T00:00:00Z") is Arrival.RETRACTED
        assert store.posts.is_retracted(URI)

    def test_delete_before_first_sighting_leaves_a_tombstone(self, store: Store) -> None:
        """A delete for a uri never seen makes its later (stale) arrival RETRACTED."""
        store.posts.mark_retracted(URI, "deleted by author")
        assert observe(store) is Arrival.RETRACTED
        assert [r.action for r in store.audit_log.audit_rows(uri=URI)] == ["post.retracted"]

    def test_author_is_the_observed_account_in_lower_case(self, store: Store) -> None:
        """`author_of` gives the stored user@domain; None for an unknown uri or a bare tombstone."""
        observe(store, acct="@Alice@Social.Example")
        assert store.posts.author_of(URI) == "alice@social.example"
        assert store.posts.author_of("https://social.example/unknown") is None
        tombstone = "https://social.example/users/bob/statuses/2"
        store.posts.mark_retracted(tombstone, "deleted by author")
        assert store.posts.author_of(tombstone) is None
        observe(store, tombstone, acct="bob@social.example")  # a stale copy fills in the author
        assert store.posts.author_of(tombstone) == "bob@social.example"

    def test_local_ids_find_the_uri_per_source(self, store: Store) -> None:
        """A delete event's id (local to its source) leads back to the post's uri."""
        storehelp.arrive(
            store,
            URI,
            source="a.example",
            acct="alice@social.example",
            url=None,
            edited_at=None,
            text_fingerprint="fp",
            local_id="111",
        )
        storehelp.arrive(
            store,
            URI,
            source="b.example",
            acct="alice@social.example",
            url=None,
            edited_at=None,
            text_fingerprint="fp",
            local_id="999",
        )
        assert store.posts.uri_for_local_id("a.example", "111") == URI
        assert store.posts.uri_for_local_id("b.example", "999") == URI
        assert store.posts.uri_for_local_id("a.example", "999") is None

    def test_a_new_post_written_with_its_verdict_is_what_observe_and_record_verdict_make(
        self, store: Store, tmp_path: Path
    ) -> None:
        """`add_screened` (the pipeline's path for a new post) leaves the same rows, audit row
        included, as `observe` + `record_verdict`, and later arrivals are decided the same way."""
        with Store.open(tmp_path / "other.db", now=lambda: T0) as slow:
            observe(slow, source="a.example", acct="Alice@Social.example")
            slow.posts.record_verdict(URI, HOLD, audit_detail="new")
            assert store.posts.stored(URI) is None
            store.posts.add_screened(
                URI,
                HOLD,
                source="a.example",
                acct="Alice@Social.example",
                url=URI.replace("/users/alice/statuses/", "/@alice/"),
                edited_at=None,
                text_fingerprint="fp-1",
                audit_detail="new",
            )
            for check in (slow, store):
                assert check.posts.verdict_for(URI) == HOLD
                assert check.posts.screened_count(URI) == 1
                assert check.posts.sightings(URI) == {"a.example": 1}
                assert check.posts.author_of(URI) == "alice@social.example"
                assert [(r.action, r.target, r.detail) for r in check.audit_log.audit_rows(uri=URI)] == [
                    ("screen.hold", "alice@social.example", "new")
                ]
                assert check.posts.stored(URI) == Stored(None)
                assert decide(check.posts.stored(URI), None) is Arrival.DUPLICATE
                assert decide(check.posts.stored(URI), "2026-11-25T13:00:00Z") is Arrival.RESCREEN
            tables = ("posts", "sightings")
            rows = [[c._conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables] for c in (slow, store)]  # noqa: S608
            assert rows[0] == rows[1]

    def test_a_new_accepted_post_gets_the_intent_boost_intent_would_write(
        self, store: Store, tmp_path: Path
    ) -> None:
        """`add_screened(boost=True)` writes the same journal row (and time of the post's boost
        intent) as `observe` + `boost_intent`, and the intent is then open, reused and finished as
        any other."""
        with Store.open(tmp_path / "other.db", now=lambda: T0) as slow:
            observe(slow, source="a.example", acct="Alice@Social.example")
            slow.boosts.boost_intent(URI, "111")
            store.posts.add_screened(
                URI,
                ACCEPT,
                source="a.example",
                acct="Alice@Social.example",
                url=None,
                edited_at=None,
                text_fingerprint="fp-1",
                boost=True,
                boost_local_id="111",
            )
            rows = [c._conn.execute("SELECT * FROM journal").fetchall() for c in (slow, store)]
            assert rows[0] == rows[1]
            intent_at = [
                c._conn.execute("SELECT boost_intent_at FROM posts").fetchall() for c in (slow, store)
            ]
            assert intent_at[0] == intent_at[1] == [(T0.isoformat(timespec="microseconds"),)]
            assert [(e.uri, e.local_id) for e in store.boosts.unfinished_intents()] == [(URI, "111")]
            assert store.boosts.boost_intent(URI, "111") == rows[1][0][0]  # reused, not a second one
            store.boosts.boost_done(URI, "r1")
            assert store.boosts.is_boosted(URI)
            assert store.boosts.boost_count(T0 - timedelta(hours=1), "alice@social.example") == 1

    def test_a_new_post_not_accepted_gets_no_intent(self, store: Store) -> None:
        store.posts.add_screened(
            URI, HOLD, source="a.example", acct="a@x.example", url=None, edited_at=None, text_fingerprint=""
        )
        assert store.boosts.journal(URI) == []
        assert store.boosts.unfinished_intents() == []

    def test_adding_a_post_the_store_has_is_refused(self, store: Store) -> None:
        """`add_screened` is for a uri the store does not have: a second one raises and writes nothing."""
        observe(store)
        with pytest.raises(sqlite3.IntegrityError):
            store.posts.add_screened(
                URI,
                ACCEPT,
                source="x.example",
                acct="a@x.example",
                url=None,
                edited_at=None,
                text_fingerprint="",
            )
        assert store.posts.sightings(URI) == {"home:stream": 1}
        assert store.audit_log.audit_rows(uri=URI) == []
        store.posts.mark_retracted(URI, "deleted")
        assert store.posts.stored(URI) == Stored(None, retracted=True)


class TestEarlyDeletes:
    def test_a_remembered_delete_is_taken_once(self, store: Store) -> None:
        """A delete kept for (source, local id) is found once by that key, then forgotten."""
        store.posts.remember_delete("a.example", "7")
        assert store.posts.remembered_deletes(T0) == {("a.example", "7")}
        assert not store.posts.take_delete("b.example", "7", T0)
        assert store.posts.take_delete("a.example", "7", T0)
        assert not store.posts.take_delete("a.example", "7", T0)
        assert store.posts.remembered_deletes(T0) == set()

    def test_the_first_time_stays_and_an_older_one_is_not_taken(self, store: Store) -> None:
        """Remembering a delete again keeps its first time; one from before `since` is not taken."""
        store.posts.remember_delete("a.example", "7", T0 - timedelta(days=2))
        store.posts.remember_delete("a.example", "7", T0)
        assert store.posts.remembered_deletes(T0 - timedelta(days=1)) == set()
        assert not store.posts.take_delete("a.example", "7", T0 - timedelta(days=1))
        assert store.posts.remembered_deletes(T0 - timedelta(days=30)) == set()  # and it is gone

    def test_pruning_forgets_the_old_and_the_oldest_beyond_the_cap(self, store: Store) -> None:
        """Deletes from before the cut go, then the oldest of the rest beyond `keep_at_most`."""
        for n in range(6):
            store.posts.remember_delete("a.example", str(n), T0 + timedelta(minutes=n))
        forgotten = store.posts.prune_deletes(T0 + timedelta(minutes=1), keep_at_most=3)
        assert sorted(forgotten) == [("a.example", "0"), ("a.example", "1"), ("a.example", "2")]
        assert store.posts.remembered_deletes(T0) == {("a.example", str(n)) for n in (3, 4, 5)}
        assert store.posts.prune_deletes(T0, keep_at_most=3) == []


class TestCursors:
    def test_cursor_moves_forward_by_numeric_value(self, store: Store) -> None:
        """A longer id is later than a shorter one even when it sorts earlier as text."""
        assert store.posts.get_cursor("home", "therapistsconnect") is None
        assert store.posts.set_cursor("home", "therapistsconnect", "999")
        assert store.posts.set_cursor("home", "therapistsconnect", "1000")
        assert store.posts.get_cursor("home", "therapistsconnect") == "1000"

    def test_cursor_never_moves_back(self, store: Store) -> None:
        """An older or equal id leaves the cursor where it is."""
        store.posts.set_cursor("home", "tag", "113456789012345678")
        assert not store.posts.set_cursor("home", "tag", "113456789012345677")
        assert not store.posts.set_cursor("home", "tag", "113456789012345678")
        assert not store.posts.set_cursor("home", "tag", "99999")
        assert store.posts.get_cursor("home", "tag") == "113456789012345678"

    def test_cursors_are_per_source_and_hashtag(self, store: Store) -> None:
        """Each (source, hashtag) pair has its own cursor."""
        store.posts.set_cursor("home", "a", "5")
        store.posts.set_cursor("other", "a", "7")
        store.posts.set_cursor("home", "b", "9")
        assert (store.posts.get_cursor("home", "a"), store.posts.get_cursor("other", "a")) == ("5", "7")
        assert store.posts.get_cursor("home", "b") == "9"

    def test_non_numeric_cursor_is_refused(self, store: Store) -> None:
        """A status id that is not a numeric string is a ValueError."""
        with pytest.raises(ValueError, match="not a numeric string"):
            store.posts.set_cursor("home", "tag", "12a")


class TestReviewQueue:
    def test_hold_gives_a_short_stable_id(self, store: Store) -> None:
        """Holding a uri gives `h<n>`; holding it again gives the same id."""
        observe(store)
        short_id = store.queue.hold(URI, HOLD)
        assert short_id.startswith("h")
        assert short_id[1:].isdigit()
        assert store.queue.hold(URI, ACCEPT) == short_id
        item = store.queue.queue_item(short_id)
        assert item is not None
        assert (item.state, item.uri, item.verdict) == (State.HELD, URI, ACCEPT)
        assert item.acct == "alice@social.example"

    def test_pending_is_oldest_first_and_only_held(self, store: Store) -> None:
        """`pending` lists held items by hold time, skipping decided ones, up to a limit."""
        ids = []
        for n in range(4):
            uri = f"{URI}{n}"
            observe(store, uri)
            ids.append(store.queue.hold(uri, HOLD, T0 + timedelta(minutes=10 - n)))
        store.queue.move(ids[1], Event.APPROVE, "mod@social.example")
        assert [i.short_id for i in store.queue.pending()] == [ids[3], ids[2], ids[0]]
        assert [i.short_id for i in store.queue.pending(limit=2)] == [ids[3], ids[2]]
        assert store.queue.queue_length() == 3

    def test_state_change_is_recorded_and_audited(self, store: Store) -> None:
        """A state change records who, why and when, and writes an audit row."""
        observe(store)
        short_id = store.queue.hold(URI, HOLD)
        later = T0 + timedelta(minutes=3)
        item = store.queue.move(short_id, Event.APPROVE, "mod@social.example", "fine", later)
        assert (item.state, item.actor, item.reason, item.updated_at) == (
            "approved",
            "mod@social.example",
            "fine",
            later,
        )
        assert [(r.action, r.actor, r.target) for r in store.audit_log.audit_rows(uri=URI)] == [
            ("queue.held", "relay", short_id),
            ("queue.approved", "mod@social.example", short_id),
        ]

    def test_unknown_state_and_unknown_id_are_refused(self, store: Store) -> None:
        """An unknown event is an IllegalTransition; an unknown id is a LookupError."""
        observe(store)
        short_id = store.queue.hold(URI, HOLD)
        with pytest.raises(IllegalTransition, match="unknown review event 'maybe'"):
            store.queue.move(short_id, "maybe", "mod@social.example")  # type: ignore[arg-type]
        with pytest.raises(LookupError):
            store.queue.move("h999", Event.APPROVE, "mod@social.example")
        assert store.queue.queue_item("h999") is None
        assert store.queue.queue_item("bogus") is None

    def test_queue_is_found_by_uri_and_by_announcement(self, store: Store) -> None:
        """A held item is found by its uri and by the id of the DM that announced it."""
        observe(store)
        short_id = store.queue.hold(URI, HOLD)
        store.queue.set_announcement(short_id, "11350")
        by_uri = store.queue.queue_by_uri(URI)
        by_dm = store.queue.queue_by_announcement("11350")
        assert by_uri is not None
        assert by_dm is not None
        assert by_uri.short_id == by_dm.short_id == short_id
        assert by_dm.announcement_id == "11350"
        assert store.queue.queue_by_announcement("1") is None

    def test_holding_an_unobserved_uri_is_refused(self, store: Store) -> None:
        """Only an observed post can be held."""
        with pytest.raises(LookupError):
            store.queue.hold(URI, HOLD)


class TestBoostJournal:
    def test_boost_pending_while_the_intent_is_open(self, store: Store) -> None:
        """An open boost intent is pending until its outcome is recorded."""
        observe(store)
        assert not store.boosts.boost_pending(URI)
        store.boosts.boost_intent(URI, None)
        assert store.boosts.boost_pending(URI)
        store.boosts.boost_done(URI, "r1")
        assert not store.boosts.boost_pending(URI)

    def test_intent_then_done_makes_it_boosted(self, store: Store) -> None:
        """An intent is unfinished until done; then the uri is boosted and nothing is open."""
        observe(store)
        journal_id = store.boosts.boost_intent(URI, "1001")
        assert [e.id for e in store.boosts.unfinished_intents()] == [journal_id]
        assert not store.boosts.is_boosted(URI)
        store.boosts.boost_done(URI, "2002", T0 + timedelta(seconds=1))
        assert store.boosts.unfinished_intents() == []
        assert store.boosts.is_boosted(URI)
        (entry,) = store.boosts.journal(URI)
        assert (entry.kind, entry.state, entry.local_id, entry.reblog_id) == (
            "boost",
            "done",
            "1001",
            "2002",
        )

    def test_intent_is_idempotent(self, store: Store) -> None:
        """A second intent reuses the open one; after done it returns the done boost's id."""
        observe(store)
        first = store.boosts.boost_intent(URI, None)
        assert store.boosts.boost_intent(URI, "1001") == first
        store.boosts.boost_done(URI, "2002")
        assert store.boosts.boost_intent(URI, "1001") == first
        assert len(store.boosts.journal(URI)) == 1

    def test_failed_boost_can_be_retried(self, store: Store) -> None:
        """A failed intent is closed, not boosted, and a new intent may follow."""
        observe(store)
        first = store.boosts.boost_intent(URI, "1001")
        store.boosts.boost_failed(URI, "HTTP 503")
        assert not store.boosts.is_boosted(URI)
        assert store.boosts.unfinished_intents() == []
        assert store.boosts.boost_intent(URI, "1001") != first

    def test_unboost_clears_boosted(self, store: Store) -> None:
        """A done unboost after a done boost means the uri is no longer boosted."""
        observe(store)
        store.boosts.boost_intent(URI, "1001")
        store.boosts.boost_done(URI, "2002")
        store.boosts.unboost_intent(URI, "1001")
        assert store.boosts.is_boosted(URI)
        assert [e.kind for e in store.boosts.unfinished_intents()] == ["unboost"]
        store.boosts.unboost_done(URI)
        assert not store.boosts.is_boosted(URI)

    def test_retracted_uri_cannot_be_boosted(self, store: Store) -> None:
        """The journal refuses an intent to boost a retracted uri."""
        observe(store)
        store.posts.mark_retracted(URI, "deleted")
        with pytest.raises(ValueError, match="retracted"):
            store.boosts.boost_intent(URI, "1001")

    def test_outcome_without_intent_is_refused(self, store: Store) -> None:
        """Recording an outcome with no open intent is a LookupError."""
        observe(store)
        with pytest.raises(LookupError, match="no open boost intent"):
            store.boosts.boost_done(URI, "2002")
        store.boosts.boost_intent(URI, "1001")  # the failed transaction was rolled back cleanly
        assert len(store.boosts.unfinished_intents()) == 1

    def test_boosts_by_author_and_domain(self, store: Store) -> None:
        """Boosted uris are listed by author and by domain, subdomains included, unboosts not."""
        posts = {
            "https://a.example/1": "alice@a.example",
            "https://a.example/2": "alice@a.example",
            "https://m.a.example/3": "bob@m.a.example",
            "https://bad-a.example/4": "carol@bad-a.example",
        }
        for uri, acct in posts.items():
            observe(store, uri, acct=acct)
            store.boosts.boost_intent(uri, None)
            store.boosts.boost_done(uri, None)
        store.boosts.unboost_intent("https://a.example/2", None)
        store.boosts.unboost_done("https://a.example/2")
        assert store.boosts.boosts_by_author("Alice@A.example") == ["https://a.example/1"]
        assert store.boosts.boosts_by_domain("a.example") == ["https://a.example/1", "https://m.a.example/3"]

    def test_boost_count_covers_the_window(self, store: Store) -> None:
        """Done boosts are counted from `since`, per author or in total."""
        for n, acct in enumerate(["alice@a.example", "alice@a.example", "bob@b.example"]):
            uri = f"https://x.example/{n}"
            observe(store, uri, acct=acct)
            store.boosts.boost_intent(uri, None)
            store.boosts.boost_done(uri, None, T0 + timedelta(hours=n))
        assert store.boosts.boost_count(T0, "alice@a.example") == 2
        assert store.boosts.boost_count(T0 + timedelta(minutes=1), "alice@a.example") == 1
        assert store.boosts.boost_count(T0) == 3


class TestHandledMentions:
    def test_a_handled_mention_is_remembered_once(self, store: Store) -> None:
        """A mention marked handled is known as handled; marking it again changes nothing."""
        assert not store.settings.is_mention_handled("1001")
        store.settings.mark_mention_handled("1001", T0)
        store.settings.mark_mention_handled("1001", T0 + timedelta(days=40))  # a second delivery: no new date
        assert store.settings.is_mention_handled("1001")
        assert not store.settings.is_mention_handled("1002")
        assert store.settings.prune_handled_mentions(T0 + timedelta(days=30)) == 1

    def test_pruning_forgets_only_mentions_handled_before_the_cut(self, store: Store) -> None:
        """`prune_handled_mentions(before)` forgets older mentions and keeps the rest."""
        for day in range(5):
            store.settings.mark_mention_handled(str(2000 + day), T0 + timedelta(days=day))
        assert store.settings.prune_handled_mentions(T0 + timedelta(days=3)) == 3
        assert [store.settings.is_mention_handled(str(2000 + day)) for day in range(5)] == [False] * 3 + [
            True
        ] * 2
        assert store.settings.prune_handled_mentions(T0 + timedelta(days=3)) == 0

    def test_marking_is_part_of_the_enclosing_transaction(self, store: Store) -> None:
        """Inside `atomic()`, a failure after the mark undoes the mark with everything else."""

        def handle_and_fail() -> None:
            with store.atomic():
                store.settings.mark_mention_handled("3001", T0)
                store.settings.set_paused(True, "mira@home.example", T0)
                raise RuntimeError("the command failed")

        with pytest.raises(RuntimeError, match="the command failed"):
            handle_and_fail()
        assert not store.settings.is_mention_handled("3001")
        assert not store.settings.paused()
