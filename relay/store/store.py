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
from typing import Any, Concatenate, ParamSpec, TypeVar

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


def _part(name: str, method: Callable[Concatenate[Any, _P], _R]) -> Callable[Concatenate[Store, _P], _R]:
    """A `Store` method that calls `method` on the part `name` (same signature, same docstring)."""
    attr = method.__name__

    def call(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        result: _R = getattr(getattr(self, name), attr)(*args, **kwargs)
        return result

    call.__name__ = call.__qualname__ = attr
    call.__doc__ = method.__doc__
    return call


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
    stored = _part("posts", Posts.stored)
    observe = _part("posts", Posts.observe)
    add_screened = _part("posts", Posts.add_screened)
    record_sightings = _part("posts", Posts.record_sightings)
    uri_for_local_id = _part("posts", Posts.uri_for_local_id)
    remember_delete = _part("posts", Posts.remember_delete)
    take_delete = _part("posts", Posts.take_delete)
    remembered_deletes = _part("posts", Posts.remembered_deletes)
    prune_deletes = _part("posts", Posts.prune_deletes)
    record_verdict = _part("posts", Posts.record_verdict)
    verdict_for = _part("posts", Posts.verdict_for)
    screened_count = _part("posts", Posts.screened_count)
    sightings = _part("posts", Posts.sightings)
    mark_retracted = _part("posts", Posts.mark_retracted)
    is_retracted = _part("posts", Posts.is_retracted)
    author_of = _part("posts", Posts.author_of)
    get_cursor = _part("posts", Posts.get_cursor)
    set_cursor = _part("posts", Posts.set_cursor)

    # -- review queue ----------------------------------------------------------------------------
    hold = _part("queue", ReviewQueue.hold)
    move_queue = _part("queue", ReviewQueue.move)
    queue_item = _part("queue", ReviewQueue.queue_item)
    queue_by_uri = _part("queue", ReviewQueue.queue_by_uri)
    queue_by_announcement = _part("queue", ReviewQueue.queue_by_announcement)
    pending = _part("queue", ReviewQueue.pending)
    set_announcement = _part("queue", ReviewQueue.set_announcement)
    queue_length = _part("queue", ReviewQueue.queue_length)

    # -- boost journal ---------------------------------------------------------------------------
    boost_intent = _part("boosts", Journal.boost_intent)
    boost_done = _part("boosts", Journal.boost_done)
    boost_failed = _part("boosts", Journal.boost_failed)
    unboost_intent = _part("boosts", Journal.unboost_intent)
    unboost_done = _part("boosts", Journal.unboost_done)
    unboost_failed = _part("boosts", Journal.unboost_failed)
    unfinished_intents = _part("boosts", Journal.unfinished_intents)
    intent_count = _part("boosts", Journal.intent_count)
    journal = _part("boosts", Journal.journal)
    is_boosted = _part("boosts", Journal.is_boosted)
    boost_pending = _part("boosts", Journal.boost_pending)
    boosts_to_recheck = _part("boosts", Journal.boosts_to_recheck)
    boosts_by_author = _part("boosts", Journal.boosts_by_author)
    boosts_by_domain = _part("boosts", Journal.boosts_by_domain)
    boost_count = _part("boosts", Journal.boost_count)

    # -- people ----------------------------------------------------------------------------------
    set_consent = _part("people", People.set_consent)
    consent = _part("people", People.consent)
    block = _part("people", People.block)
    unblock = _part("people", People.unblock)
    blocks = _part("people", People.blocks)
    trust = _part("people", People.trust)
    untrust = _part("people", People.untrust)
    trusts = _part("people", People.trusts)
    history = _part("people", People.history)

    # -- audit log -------------------------------------------------------------------------------
    audit = _part("audit_log", AuditLog.audit)
    audit_rows = _part("audit_log", AuditLog.audit_rows)

    # -- settings and handled mentions -----------------------------------------------------------
    paused = _part("settings", Settings.paused)
    set_paused = _part("settings", Settings.set_paused)
    get_setting = _part("settings", Settings.get_setting)
    set_setting = _part("settings", Settings.set_setting)
    mark_mention_handled = _part("settings", Settings.mark_mention_handled)
    is_mention_handled = _part("settings", Settings.is_mention_handled)
    prune_handled_mentions = _part("settings", Settings.prune_handled_mentions)

    # -- statistics ------------------------------------------------------------------------------
    record_source_event = _part("statistics", Statistics.record_source_event)
    record_source_events = _part("statistics", Statistics.record_source_events)
    source_stats = _part("statistics", Statistics.source_stats)
    stats = _part("statistics", Statistics.stats)
