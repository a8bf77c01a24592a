"""`Store`: the relay's state file, as one connection and one part per concept.

`Store.open(path)` gives one connection for the relay's store thread; `Store.open(path,
readonly=True)` is for `relay queue/audit/status` while the relay runs. The parts share the
connection and its transaction (`atomic()`, `savepoint()`):

    store.posts      relay.store.posts     seen posts, sightings, verdicts, retractions, cursors
    store.queue      relay.store.queue     the review queue (moves by `relay.core.lifecycle`)
    store.boosts     relay.store.journal   the boost journal (moves by `relay.core.lifecycle`)
    store.people     relay.store.people    consent, blocks, trust, the author history
    store.members    relay.store.members   the directory: who joined, introductions, Collections
    store.audit_log  relay.store.audit     the audit log
    store.settings   relay.store.settings  small settings (pause), handled mentions
    store.statistics relay.store.stats     events per source, `relay status` figures
    store.anchors    relay.store.anchors   which post replies to which anchor post
    store.digests    relay.store.digests   the weekly digests (intent, parts posted) and their figures

Callers name the part: `store.queue.hold(...)`, `store.boosts.boost_done(...)`, so that what a
line of the pipeline or the booster touches is plain where it is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from relay.store.anchors import AnchorReplies
from relay.store.audit import AuditLog
from relay.store.db import Db
from relay.store.digests import Digests
from relay.store.journal import Journal
from relay.store.members import Members
from relay.store.people import People
from relay.store.posts import Posts
from relay.store.queue import ReviewQueue
from relay.store.settings import Settings
from relay.store.stats import Statistics

__all__ = ["Store"]


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
        self.members = Members(self, self.audit_log)
        self.settings = Settings(self, self.audit_log)
        self.statistics = Statistics(self)
        self.anchors = AnchorReplies(self)
        self.digests = Digests(self)
