"""The relay's core: what happens to each post that any source brings in.

Sources (stream readers, catch-up, pollers) run in their own threads, turn what they read into
`Delivered`, `Sighting` and `Deleted` items (`relay.sources.normalise`, with this pipeline's seen-cache)
and put them on one queue; the pipeline, on the one store thread, takes them in order:

    Delivered ──► observe (dedupe by uri) ──► screen ──► accept: boost intent (the booster reblogs)
                                                 ──► hold: review queue (moderators decide)
                                                 ──► reject: reasons kept
    Deleted ──► the uri is retracted: never boosted again; an open intent is cancelled

Events come in any order. Mastodon's streaming server sends a `delete` at once but holds each
`update` for per-viewer checks, so a post deleted soon after it was published comes as its delete
first. A delete for a status id that the source has not shown yet is remembered (the
`early_deletes` table, by source and that source's id, for `KEEP_EARLY_DELETES`, at most
`MAX_EARLY_DELETES` of them); when the post then comes from that source, it is recorded as
retracted without being screened (never boosted, no moderator asked), or, if the relay already had
it from elsewhere, retracted like any deleted post. An older version arriving after a newer one is
a duplicate (see `relay.core.dedupe`): it changes nothing.

An edit (`status.update`, a newer version from a poll, or one that `relay.runtime.recheck` read back
after a restart or reconnect) is screened again; a boosted post that
no longer passes is unboosted (or, with `on_edit = "hold"`, held for a moderator). What an edit or
a delete means where the post stands is decided in `relay.core.edits`; the pipeline carries it out.
Every decision is logged and written to the audit log.

The pipeline calls nobody sideways: `handle_batch` returns what happened that others need to know
(`relay.runtime.events`: a post held, a home id learnt, a cursor moved), once the batch is
committed, and the wiring routes it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from relay.core import edits
from relay.core.anchors import ANCHOR_RULE
from relay.core.dedupe import Arrival, decide
from relay.core.edits import DeleteAction, EditAction, Standing
from relay.core.ids import is_numeric_id
from relay.core.items import Deleted, Delivered, Fatal, Item, Sighting
from relay.core.lifecycle import Event as Move
from relay.core.post import Post
from relay.core.rules import Rules
from relay.core.screen import screen
from relay.core.seen import SeenCache
from relay.core.verdict import Decision, Verdict
from relay.errors import IllegalTransition, RelayError
from relay.log import lines_held
from relay.runtime.events import CursorMoved, Event, Held, HomeId
from relay.runtime.metrics import Metrics
from relay.store.store import Store

log = structlog.get_logger()

# How long a delete that came before its post is kept: far past the seconds the streaming server
# holds a post, and long enough for a catch-up after an outage to bring the post. A hashtag stream
# sends the deletes of tagged posts only, and an instance never reuses a status id, so the limits
# only bound the table and its set in memory (100,000 keys: about 17 MB).
KEEP_EARLY_DELETES = timedelta(days=1)
MAX_EARLY_DELETES = 100_000  # past this, the oldest are forgotten down to 90 % of it
PRUNE_EARLY_DELETES_EVERY = timedelta(hours=1)


def _fatal(exc: BaseException) -> bool:
    """Whether `exc` must end the relay (a `RelayError`: the store failing, a revoked token) rather
    than fail one item. A move the lifecycle table refuses is a bug about one post: that item is
    rolled back and logged (`queue.illegal_move`, then `pipeline.error`), and the relay goes on."""
    return isinstance(exc, RelayError) and not isinstance(exc, IllegalTransition)


class _ItemFailed(Exception):
    """An item raised while its batch was taken in one go: take the batch again, item by item."""


def _reasons(verdict: Verdict) -> list[str]:
    """What the log line and the audit row say of a verdict: each reason that did not accept, and
    the anchor a reply passed by ("anchor: reply to anchor <url>")."""
    return [
        f"{r.rule}: {r.detail}"
        for r in verdict.reasons
        if r.decision is not Decision.ACCEPT or r.rule == ANCHOR_RULE
    ]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class Pipeline:
    """Turns queue items into store records, boost intents and held posts."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        *,
        home_host: str,
        on_edit: str = "unboost",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self._home = home_host
        self._on_edit = on_edit
        self._clock = clock
        self.metrics = metrics or Metrics()
        self.seen = SeenCache()  # read by the source threads (`relay.sources.normalise`)
        self._after_commit: list[Callable[[], object]] = []
        self._events: list[Event] = []  # the batch's, reported once it is committed
        self._counts: Counter[str] = Counter()
        self._seen_by: list[tuple[str, str]] = []  # the batch's metrics, counted once it is committed
        self._verdicts: list[tuple[str, tuple[str, ...]]] = []
        self._now = clock()
        # (source, local_id) of each remembered early delete: a new post's check is a set lookup.
        # It may hold more than the table (an added key whose batch was rolled back, one taken by
        # a batch not yet committed), never less: a key in it is only a reason to ask the store.
        self._early = store.posts.remembered_deletes(self._now - KEEP_EARLY_DELETES)
        self._next_prune = self._now

    def handle(self, item: Item) -> list[Event]:
        """Take one item (see `handle_batch`)."""
        return self.handle_batch([item])

    def handle_batch(self, items: Sequence[Item]) -> list[Event]:
        """Take several items in ONE transaction, each on its own if one of them fails.

        One commit (one fsync) for a whole batch is what makes a busy relay cheap; a crash keeps
        all of a batch or none of it (cursors included, so catch-up brings the lost part back).
        An item that fails is rolled back alone, logged, and the batch goes on: the batch is
        first taken in one go, and if an item raises, it is rolled back and taken again with a
        savepoint around each item (a savepoint per item always would cost SQLite a copy of every
        page each item touches). What an item does outside the database (log lines, metrics,
        caches) happens once the batch is committed, so a retried batch does it once; what others
        need to know is returned (`relay.runtime.events`), in the order it happened.
        """
        try:
            after, events = self._take(items, isolate=False)
        except _ItemFailed:
            after, events = self._take(items, isolate=True)
        with lines_held():  # the batch's log lines in one write
            for action in after:
                action()
        return events

    def _take(
        self, items: Sequence[Item], *, isolate: bool
    ) -> tuple[list[Callable[[], object]], list[Event]]:
        after: list[Callable[[], object]] = []
        events: list[Event] = []  # a failed item's own are dropped with it (see below)
        self._events = events
        sightings: list[tuple[str, str, str | None]] = []
        self._counts = Counter()
        self._seen_by, self._verdicts = [], []
        self._now = self._clock()  # one time for the whole batch: the time of its transaction
        with self.store.atomic():
            for item in items:
                if isinstance(item, Fatal):
                    raise item.error
                self._after_commit = []
                if isinstance(item, Deleted) and sightings:  # its lookup may need one of them
                    self.store.posts.record_sightings(sightings, self._now)
                    sightings.clear()
                if isinstance(item, Sighting) and (item.source, item.local_id) not in self._early:
                    self._sighted(item, sightings)
                elif isolate:
                    counted = len(self._seen_by), len(self._verdicts), len(events)
                    try:
                        with self.store.savepoint():
                            self._take_one(item, sightings)
                    except Exception as exc:
                        if _fatal(exc):
                            raise
                        # One bad item must never stop the relay: log it with its context and go on.
                        del self._seen_by[counted[0] :], self._verdicts[counted[1] :], events[counted[2] :]
                        self.metrics.error("pipeline")
                        uri = item.post.uri if isinstance(item, Delivered) else None
                        log.exception("pipeline.error", item=type(item).__name__, uri=uri)
                        continue
                else:
                    try:
                        self._take_one(item, sightings)
                    except Exception as exc:
                        if _fatal(exc):
                            raise
                        raise _ItemFailed from exc  # rolls the batch back: taken again, item by item
                after.extend(self._after_commit)
            if sightings:
                self.store.posts.record_sightings(sightings, self._now)
            if self._counts:
                self.store.statistics.record_source_events(self._counts, self._now)
        after.append(functools.partial(self._count, Counter(self._seen_by), Counter(self._verdicts)))
        return after, events

    def _count(
        self, seen_by: Counter[tuple[str, str]], verdicts: Counter[tuple[str, tuple[str, ...]]]
    ) -> None:
        """The metrics of a committed batch: posts by (source, via), verdicts by (decision, rules)."""
        for (source, via), n in seen_by.items():
            self.metrics.seen(source, via, n)
        for (decision, rules), n in verdicts.items():
            self.metrics.verdict(decision, rules, n)

    def _take_one(
        self, item: Delivered | Sighting | Deleted, sightings: list[tuple[str, str, str | None]]
    ) -> None:
        if isinstance(item, Delivered):
            self._seen(item)
        elif isinstance(item, Sighting):  # a known post whose delete came from this source first
            self._sighted(item, sightings)
            if item.local_id is not None and self._take_early_delete(item.source, item.local_id):
                self._retract(item.uri, item.source, early=True)
        else:
            self._deleted(item)

    def _later(self, action: Callable[..., object], *args: object, **kwargs: object) -> None:
        """Do `action(*args, **kwargs)` once the item's batch is committed."""
        self._after_commit.append(functools.partial(action, *args, **kwargs))

    def _sighted(self, item: Sighting, sightings: list[tuple[str, str, str | None]]) -> None:
        self._seen_by.append((item.source, item.via))
        self._counts[item.source] += 1
        sightings.append((item.uri, item.source, item.local_id))
        if item.source == self._home and item.local_id:
            self._events.append(HomeId(item.uri, item.local_id))
        if item.hashtag is not None and item.via != "rss" and item.local_id and is_numeric_id(item.local_id):
            self._move_cursor(item.source, item.hashtag, item.local_id)

    def _move_cursor(self, source: str, hashtag: str, status_id: str) -> None:
        if self.store.posts.set_cursor(source, hashtag, status_id, self._now):
            self._events.append(CursorMoved(source, hashtag, status_id))

    # -- a status arrives ------------------------------------------------------------------------

    def _seen(self, item: Delivered) -> None:
        post, now, store = item.post, self._now, self.store
        self._seen_by.append((post.source, item.via))
        self._counts[post.source] += 1
        if item.hashtag is not None and item.via != "rss" and is_numeric_id(post.id):
            self._move_cursor(post.source, item.hashtag, post.id)
        fingerprint = post.text_fingerprint  # a hash of the folded text: computed once here
        edited_at = _iso(post.edited_at)
        sighting: dict[str, Any] = {
            "source": post.source,
            "acct": post.author.acct,
            "url": post.url,
            "edited_at": edited_at,
            "text_fingerprint": fingerprint,
            "local_id": post.id or None,
            "now": now,
        }
        # Dedupe: the store says what it has about the uri, `decide` says what this arrival is,
        # the store writes that (one read, then one write of the post, in the batch's transaction).
        arrival = decide(store.posts.stored(post.uri), edited_at)
        if item.anchor is not None and self._newly_anchored(post.uri, item.anchor, arrival):
            arrival = Arrival.RESCREEN  # refused before (no hashtag, a reply): an anchor's reply now
        if (post.source, post.id) in self._early and self._take_early_delete(post.source, post.id):
            store.posts.record_arrival(
                post.uri, arrival, **sighting
            )  # recorded, never screened: its delete came first
            self._retract(post.uri, post.source, early=True)
            return
        if arrival is Arrival.SCREEN:  # the common case: a new post is written once, with its verdict
            verdict = self._screen(post, fingerprint, now)
            reasons = _reasons(verdict)
            store.posts.add_screened(  # with its boost intent if accepted (see `_first_decision`)
                post.uri,
                verdict,
                audit_detail="; ".join(reasons) or None,
                boost=verdict.decision is Decision.ACCEPT,
                boost_local_id=self._home_id(post),
                **sighting,
            )
        else:
            store.posts.record_arrival(post.uri, arrival, **sighting)
        if post.source == self._home and post.id:
            self._events.append(HomeId(post.uri, post.id))
        if arrival is Arrival.RETRACTED:
            self._after_commit.append(lambda: self.seen.retract(post.uri))
        elif arrival is not Arrival.DUPLICATE or post.edited_at is None:
            self._after_commit.append(lambda: self.seen.remember(post.uri, post.edited_at))
        if arrival in (Arrival.DUPLICATE, Arrival.RETRACTED):
            self._later(
                log.debug,
                "post.duplicate",
                uri=post.uri,
                source=post.source,
                via=item.via,
                arrival=arrival.value,
            )
            return
        if arrival is Arrival.RESCREEN:
            verdict = self._screen(post, fingerprint, now)
            reasons = _reasons(verdict)
            store.posts.record_verdict(post.uri, verdict, now, audit_detail="; ".join(reasons) or None)
        self._verdicts.append((verdict.decision.value, tuple([r.rule for r in verdict.reasons])))
        self._later(
            log.info,
            "post.screened",
            uri=post.uri,
            acct=post.author.acct,
            source=post.source,
            via=item.via,
            edit=arrival is Arrival.RESCREEN,
            anchor=item.anchor,
            decision=verdict.decision.value,
            reasons=reasons,
        )
        if arrival is Arrival.SCREEN:
            self._first_decision(post, verdict)
        else:
            self._edited(post, verdict)

    def _newly_anchored(self, uri: str, anchor: str, arrival: Arrival) -> bool:
        """Link `uri` to `anchor`; True when that makes a stored, refused version worth screening
        again (it came first from a hashtag feed, where a reply without the hashtag is refused)."""
        linked = self.store.anchors.link(uri, anchor, self._now)
        if not linked or arrival is not Arrival.DUPLICATE:
            return False
        verdict = self.store.posts.verdict_for(uri)
        return verdict is not None and verdict.decision is Decision.REJECT

    def _screen(self, post: Post, fingerprint: str, now: datetime) -> Verdict:
        history = self.store.people.history(post.author.acct, fingerprint, now, uri=post.uri)
        # An anchor's reply is a reply: a post that is none is never asked about (most of them).
        anchor = self.store.anchors.anchor_of(post.uri) if post.is_reply else None
        if anchor is not None:
            history = dataclasses.replace(history, anchor=anchor)
        return screen(post, self.rules, history, now)

    def _first_decision(self, post: Post, verdict: Verdict) -> None:
        # An accepted new post's boost intent was written with it, by `Store.add_screened`.
        if verdict.decision is Decision.HOLD:
            self._hold(post, verdict)

    def _home_id(self, post: Post) -> str | None:
        """The post's status id on the home instance, if it came from there (the booster needs it)."""
        return post.id if post.source == self._home and post.id else None

    def _intend_boost(self, post: Post) -> None:
        self.store.boosts.boost_intent(post.uri, self._home_id(post), self._now)

    def _hold(self, post: Post, verdict: Verdict) -> None:
        short_id = self.store.queue.hold(post.uri, verdict, self._now)
        self._events.append(Held(short_id, post, verdict))

    def _standing(self, uri: str) -> Standing:
        """Where `uri` stands, for `relay.core.edits` to decide on its edit or delete."""
        store = self.store
        item = store.queue.queue_by_uri(uri)
        return Standing(
            boosted=store.boosts.is_boosted(uri),
            boost_pending=store.boosts.boost_pending(uri),
            queue_state=None if item is None else item.state,
            retracted=store.posts.is_retracted(uri),
        )

    def _edited(self, post: Post, verdict: Verdict) -> None:
        store, uri = self.store, post.uri
        standing = self._standing(uri)
        action = edits.on_edit(standing, verdict, on_edit=self._on_edit)
        if action is EditAction.BOOST:
            self._intend_boost(post)
        elif action is EditAction.HOLD:
            self._hold(post, verdict)
        elif action is EditAction.REHOLD:
            # The lifecycle's `boosted --hold--> held`: a held post is never boosted, so the reblog
            # is undone as the item goes back to the moderators.
            store.boosts.unboost_intent(uri, post.id if post.source == self._home else None, self._now)
            self._hold(post, verdict)
        elif action is EditAction.UNBOOST:
            store.boosts.unboost_intent(uri, post.id if post.source == self._home else None, self._now)
            self._move_queue(uri, standing, Move.RETRACT, edits.UNBOOST_REASON)
        elif action is EditAction.CANCEL:
            store.boosts.boost_failed(uri, edits.CANCEL_REASON, self._now)
        event = edits.edit_log(standing, action)
        if event is not None:
            self._later(log.info, event, uri=uri)

    def _move_queue(self, uri: str, standing: Standing, move: Move, reason: str) -> None:
        if edits.moves_queue(standing):
            item = self.store.queue.queue_by_uri(uri)
            if item is not None:
                self.store.queue.move(item.short_id, move, "relay", reason, self._now)

    # -- a status is deleted ---------------------------------------------------------------------

    def _deleted(self, item: Deleted) -> None:
        uri = self.store.posts.uri_for_local_id(item.source, item.local_id)
        if uri is None:
            self._remember_delete(item.source, item.local_id)
        else:
            self._retract(uri, item.source, early=False)

    def _retract(self, uri: str, source: str, *, early: bool) -> None:
        """`uri` was deleted (`early`: its delete came before the post from `source`)."""
        store, now = self.store, self._now
        standing = self._standing(uri)
        action = edits.on_delete(standing)
        if action is DeleteAction.NOTHING:
            return
        if action is DeleteAction.RECORD_UNBOOST:
            # Mastodon removes the reblogs of a deleted post itself: record it, call nothing.
            store.boosts.unboost_intent(uri, None, now)
            store.boosts.unboost_done(uri, now)
            self._move_queue(uri, standing, Move.RETRACT, edits.DELETE_REASON)
        elif action is DeleteAction.CANCEL:
            store.boosts.boost_failed(uri, edits.CANCEL_DELETED_REASON, now)
        store.posts.mark_retracted(uri, edits.DELETE_REASON, now)
        self._after_commit.append(lambda: self.seen.retract(uri))
        self._later(self.metrics.retracted)
        self._later(log.info, "post.retracted", uri=uri, source=source, reason="deleted", early=early)

    def _remember_delete(self, source: str, local_id: str) -> None:
        """Keep the delete of a status that `source` has not shown yet, for when it does."""
        store, now = self.store, self._now
        store.posts.remember_delete(source, local_id, now)
        self._early.add((source, local_id))  # at once: the post may come later in this batch
        if len(self._early) > MAX_EARLY_DELETES or now >= self._next_prune:
            self._next_prune = now + PRUNE_EARLY_DELETES_EVERY
            forgotten = store.posts.prune_deletes(now - KEEP_EARLY_DELETES, MAX_EARLY_DELETES * 9 // 10)
            self._later(self._early.difference_update, forgotten)
        self._later(log.debug, "post.delete_unknown", source=source, local_id=local_id, remembered=True)

    def _take_early_delete(self, source: str, local_id: str) -> bool:
        """True (and the delete forgotten) if `source` deleted `local_id` before showing it."""
        if not self.store.posts.take_delete(source, local_id, self._now - KEEP_EARLY_DELETES):
            return False
        self._later(self._early.discard, (source, local_id))
        return True
