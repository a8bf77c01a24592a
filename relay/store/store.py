"""`Store`: the relay's state file, as one connection and one part per concept.

`Store.open(path)` gives one connection for the relay's store thread; `Store.open(path,
readonly=True)` is for `relay queue/audit/status` while the relay runs. The parts share the
connection and its transaction (`atomic()`, `savepoint()`):

    store.posts      relay.store.posts     seen posts, sightings, verdicts, retractions, cursors
    store.queue      relay.store.queue     the review queue (moves by `relay.core.lifecycle`)
    store.boosts     relay.store.journal   the boost journal (moves by `relay.core.lifecycle`)
    store.people     relay.store.people    consent, blocks, trust, the author history
    store.audit_log  relay.store.audit     the audit log
    store.settings   relay.store.settings  small settings (pause), handled mentions
    store.statistics relay.store.stats     events per source, `relay status` figures

Each public method of a part is also a method of `Store` of the same name (`store.hold(...)` is
`store.queue.hold(...)`), declared below by part: the callers written before the split use those.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from relay.store.audit import AuditLog
from relay.store.db import Db
from relay.store.journal import Journal
from relay.store.people import People
from relay.store.posts import Posts
from relay.store.queue import ReviewQueue
from relay.store.settings import Settings
from relay.store.stats import Statistics

__all__ = ["Store"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Part(Generic[_P, _R]):
    """A `Store` method that is a method of one of its parts (`store.hold` is `store.queue.hold`),
    with its signature and docstring. Bound once per store, on first use, so a call costs what a
    call to the part costs."""

    def __init__(self, part: str, method: Callable[Concatenate[Any, _P], _R]) -> None:
        self._part = part
        self._attr = self._name = method.__name__
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, store: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, store: Store, owner: type | None = None) -> Callable[_P, _R]: ...

    def __get__(self, store: Store | None, owner: type | None = None) -> Self | Callable[_P, _R]:
        if store is None:
            return self
        bound: Callable[_P, _R] = getattr(getattr(store, self._part), self._attr)
        store.__dict__[self._name] = bound  # the next lookup finds it before this descriptor
        return bound


class Store(Db):
    """The relay's state. Open with `Store.open(path)`; close, or use as a context manager."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, readonly: bool, now: Callable[[], datetime]
    ) -> None:
        """Wrap an open, migrated connection; use `Store.open()` rather than this."""
        super().__init__(conn, path, readonly=readonly, now=now)
        self.audit_log = AuditLog(self)
        self.boosts = Journal(self)
        self.posts = Posts(self, self.audit_log, self.boosts)
        self.queue = ReviewQueue(self, self.audit_log)
        self.people = People(self, self.audit_log)
        self.settings = Settings(self, self.audit_log)
        self.statistics = Statistics(self)

    # -- posts -----------------------------------------------------------------------------------
    stored = _Part("posts", Posts.stored)
    observe = _Part("posts", Posts.observe)
    add_screened = _Part("posts", Posts.add_screened)
    record_sightings = _Part("posts", Posts.record_sightings)
    uri_for_local_id = _Part("posts", Posts.uri_for_local_id)
    remember_delete = _Part("posts", Posts.remember_delete)
    take_delete = _Part("posts", Posts.take_delete)
    remembered_deletes = _Part("posts", Posts.remembered_deletes)
    prune_deletes = _Part("posts", Posts.prune_deletes)
    record_verdict = _Part("posts", Posts.record_verdict)
    verdict_for = _Part("posts", Posts.verdict_for)
    screened_count = _Part("posts", Posts.screened_count)
    sightings = _Part("posts", Posts.sightings)
    mark_retracted = _Part("posts", Posts.mark_retracted)
    is_retracted = _Part("posts", Posts.is_retracted)
    author_of = _Part("posts", Posts.author_of)
    get_cursor = _Part("posts", Posts.get_cursor)
    set_cursor = _Part("posts", Posts.set_cursor)

    # -- review queue ----------------------------------------------------------------------------
    hold = _Part("queue", ReviewQueue.hold)
    move_queue = _Part("queue", ReviewQueue.move)
    queue_item = _Part("queue", ReviewQueue.queue_item)
    queue_by_uri = _Part("queue", ReviewQueue.queue_by_uri)
    queue_by_announcement = _Part("queue", ReviewQueue.queue_by_announcement)
    pending = _Part("queue", ReviewQueue.pending)
    set_announcement = _Part("queue", ReviewQueue.set_announcement)
    queue_length = _Part("queue", ReviewQueue.queue_length)

    # -- boost journal ---------------------------------------------------------------------------
    boost_intent = _Part("boosts", Journal.boost_intent)
    boost_done = _Part("boosts", Journal.boost_done)
    boost_failed = _Part("boosts", Journal.boost_failed)
    unboost_intent = _Part("boosts", Journal.unboost_intent)
    unboost_done = _Part("boosts", Journal.unboost_done)
    unboost_failed = _Part("boosts", Journal.unboost_failed)
    unfinished_intents = _Part("boosts", Journal.unfinished_intents)
    intent_count = _Part("boosts", Journal.intent_count)
    journal = _Part("boosts", Journal.journal)
    is_boosted = _Part("boosts", Journal.is_boosted)
    boost_pending = _Part("boosts", Journal.boost_pending)
    boosts_to_recheck = _Part("boosts", Journal.boosts_to_recheck)
    boosts_by_author = _Part("boosts", Journal.boosts_by_author)
    boosts_by_domain = _Part("boosts", Journal.boosts_by_domain)
    boost_count = _Part("boosts", Journal.boost_count)

    # -- people ----------------------------------------------------------------------------------
    set_consent = _Part("people", People.set_consent)
    consent = _Part("people", People.consent)
    block = _Part("people", People.block)
    unblock = _Part("people", People.unblock)
    blocks = _Part("people", People.blocks)
    trust = _Part("people", People.trust)
    untrust = _Part("people", People.untrust)
    trusts = _Part("people", People.trusts)
    history = _Part("people", People.history)

    # -- audit log -------------------------------------------------------------------------------
    audit = _Part("audit_log", AuditLog.audit)
    audit_rows = _Part("audit_log", AuditLog.audit_rows)

    # -- settings and handled mentions -----------------------------------------------------------
    paused = _Part("settings", Settings.paused)
    set_paused = _Part("settings", Settings.set_paused)
    get_setting = _Part("settings", Settings.get_setting)
    set_setting = _Part("settings", Settings.set_setting)
    mark_mention_handled = _Part("settings", Settings.mark_mention_handled)
    is_mention_handled = _Part("settings", Settings.is_mention_handled)
    prune_handled_mentions = _Part("settings", Settings.prune_handled_mentions)

    # -- statistics ------------------------------------------------------------------------------
    record_source_event = _Part("statistics", Statistics.record_source_event)
    record_source_events = _Part("statistics", Statistics.record_source_events)
    source_stats = _Part("statistics", Statistics.source_stats)
    stats = _Part("statistics", Statistics.stats)
