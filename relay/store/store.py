"""SQLite state (WAL): seen posts, cursors, the review queue and the boost journal.

`Store.open(path)` gives one connection for the relay's store thread; `Store.open(path,
readonly=True)` is for `relay queue/audit/status` while the relay runs. Seen posts (dedupe,
verdicts, retractions) and cursors are in `relay.store.posts`; people-related state (consent,
blocks, trust), settings, the audit log reader and statistics in `relay.store.people`; the
schema is in `relay.store.migrations`; the records returned are in `relay.store.records`.

Every method takes `now` (a timezone-aware datetime; default: the store's clock). Methods that a
moderator or an automatic decision would want in the audit log write their own audit row in the
same transaction: `add_screened`, `hold`, `set_queue_state`, `mark_retracted`, `set_consent`,
`block`, `unblock`, `trust`, `untrust`, `set_paused`. Everything else is audited by the caller with `audit()`.

Misuse raises `LookupError` (an unknown uri or queue id where one must exist) or `ValueError`
(an unknown state, a malformed id, boosting a retracted post); a file that cannot be used raises
`relay.errors.StoreError`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from relay.core.screen import Verdict
from relay.store.people import PeopleMixin
from relay.store.posts import _INSERT_INTENT, PostsMixin
from relay.store.records import (
    QUEUE_STATES,
    JournalEntry,
    QueueItem,
    Recheck,
    from_text,
    maybe_time,
    norm_acct,
    reasons_to_json,
    to_text,
    verdict_from,
)

__all__ = ["Store"]

_QUEUE_COLUMNS = """
    q.id, q.uri, p.acct, p.url, q.state, q.decision, q.reasons, q.held_at, q.updated_at,
    q.actor, q.reason, q.announcement_id
"""
_QUEUE_FROM = f"SELECT {_QUEUE_COLUMNS} FROM queue q JOIN posts p ON p.uri = q.uri"  # noqa: S608
_JOURNAL_COLUMNS = "id, uri, kind, state, local_id, reblog_id, error, created_at, finished_at"
# The post an intent is for: retracted?, its author, and whether it has no journal row yet (the
# usual case, a post's first intent, which then needs no more lookups). `INSERT ... SELECT` from
# the journal into the journal would be one statement but costs more: SQLite copies the SELECT's
# rows to a temporary table first.
_POST_FOR_INTENT = (
    "SELECT retracted_at, acct, NOT EXISTS (SELECT 1 FROM journal INDEXED BY journal_uri WHERE uri = ?1)"
    " FROM posts WHERE uri = ?1"
)
# "journal INDEXED BY journal_uri" below: for `uri = ? AND kind = ? AND state = ?` SQLite would
# rather take journal_done_at (kind, state, ...) and walk every open intent; with a backlog (a
# paused relay, a rate limit) each boost then cost time in proportion to the backlog.


class Store(PostsMixin, PeopleMixin):
    """The relay's state. Open with `Store.open(path)`; close, or use as a context manager."""

    # -- review queue --------------------------------------------------------------------------

    def hold(self, uri: str, verdict: Verdict, now: datetime | None = None) -> str:
        """Put an observed `uri` in the review queue as `held`; return its short id (`h42`).

        Holding the same uri again (say, after an edit) keeps its id, replaces the verdict and
        makes it `held` again. Audited as `queue.held` by `relay`.
        """
        at = self._at(now)
        with self._writing() as c:
            if c.execute("SELECT 1 FROM posts WHERE uri = ?", (uri,)).fetchone() is None:
                raise LookupError(f"no observed post with uri {uri!r}")
            c.execute(
                "INSERT INTO queue (uri, state, decision, reasons, held_at, updated_at, actor)"
                " VALUES (?, 'held', ?, ?, ?, ?, 'relay') ON CONFLICT (uri) DO UPDATE SET"
                " state = 'held', decision = excluded.decision, reasons = excluded.reasons,"
                " held_at = excluded.held_at, updated_at = excluded.updated_at,"
                " actor = 'relay', reason = NULL",
                (uri, verdict.decision.value, reasons_to_json(verdict), at, at),
            )
            (pk,) = c.execute("SELECT id FROM queue WHERE uri = ?", (uri,)).fetchone()
            short_id = f"h{pk}"
            detail = "; ".join(f"{r.rule}: {r.detail}" for r in verdict.reasons) or None
            self._audit_in(c, "queue.held", actor="relay", at=at, uri=uri, target=short_id, detail=detail)
        return short_id

    def queue_item(self, short_id: str) -> QueueItem | None:
        """The queue item with this short id (`h42`; `H42` and `42` also work), or `None`."""
        pk = _queue_pk(short_id)
        if pk is None:
            return None
        return self._queue_one(f"{_QUEUE_FROM} WHERE q.id = ?", (pk,))

    def queue_by_uri(self, uri: str) -> QueueItem | None:
        """The queue item for `uri`, or `None` if it was never held."""
        return self._queue_one(f"{_QUEUE_FROM} WHERE q.uri = ?", (uri,))

    def queue_by_announcement(self, status_id: str) -> QueueItem | None:
        """The queue item announced to moderators by DM `status_id` (a reply names it)."""
        return self._queue_one(f"{_QUEUE_FROM} WHERE q.announcement_id = ?", (status_id,))

    def pending(self, limit: int | None = None) -> list[QueueItem]:
        """Items in state `held`, oldest hold first (at most `limit`)."""
        with self._reading() as c:
            rows = c.execute(
                f"{_QUEUE_FROM} WHERE q.state = 'held' ORDER BY q.held_at, q.id LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [_queue_item(row) for row in rows]

    def set_queue_state(
        self,
        short_id: str,
        state: str,
        actor: str,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> QueueItem:
        """Record that item `short_id` is now in `state`, moved by `actor` for `reason`.

        The store does not judge whether the move is allowed (`relay.core.review` does); it raises
        ValueError for a state it does not know and LookupError for an unknown id. Audited as
        `queue.<state>`. Returns the updated item.
        """
        if state not in QUEUE_STATES:
            raise ValueError(f"unknown queue state {state!r}; known: {sorted(QUEUE_STATES)}")
        pk = _queue_pk(short_id)
        at = self._at(now)
        with self._writing() as c:
            row = None if pk is None else c.execute("SELECT uri FROM queue WHERE id = ?", (pk,)).fetchone()
            if row is None:
                raise LookupError(f"no queue item {short_id!r}")
            c.execute(
                "UPDATE queue SET state = ?, actor = ?, reason = ?, updated_at = ? WHERE id = ?",
                (state, actor, reason, at, pk),
            )
            self._audit_in(
                c, f"queue.{state}", actor=actor, at=at, uri=row[0], target=f"h{pk}", detail=reason
            )
        item = self.queue_item(f"h{pk}")
        assert item is not None
        return item

    def set_announcement(self, short_id: str, status_id: str) -> None:
        """Remember the id of the moderator DM that announced item `short_id`."""
        pk = _queue_pk(short_id)
        with self._writing() as c:
            cur = c.execute("UPDATE queue SET announcement_id = ? WHERE id = ?", (status_id, pk))
            if cur.rowcount == 0:
                raise LookupError(f"no queue item {short_id!r}")

    def queue_length(self) -> int:
        """How many items are `held`."""
        return int(self._one("SELECT count(*) FROM queue WHERE state = 'held'"))

    def _queue_one(self, sql: str, params: tuple[Any, ...]) -> QueueItem | None:
        with self._reading() as c:
            row = c.execute(sql, params).fetchone()
        return None if row is None else _queue_item(row)

    # -- boost journal -------------------------------------------------------------------------

    def boost_intent(self, uri: str, local_id: str | None, now: datetime | None = None) -> int:
        """Write the intent to reblog `uri` (home-instance status `local_id`) BEFORE the call.

        Returns the journal id. Idempotent: if `uri` is already boosted, the id of that done
        boost is returned and nothing is written; an open intent is reused. A new intent is also
        the post's `boost_intent_at`, by which the per-author cap counts it (see `history`).
        Raises ValueError for a retracted uri and LookupError for one never observed.
        """
        return self._intent(uri, "boost", local_id, now)

    def boost_done(
        self, uri: str, reblog_id: str | None, now: datetime | None = None, *, local_id: str | None = None
    ) -> None:
        """Record AFTER the call that the open boost intent for `uri` succeeded; `local_id`, the
        post's id on the home instance if the booster learnt it (by resolving the post), is kept
        where the intent had none, so that `boosts_to_recheck` can read the post back."""
        self._finish(uri, "boost", "done", now, reblog_id=reblog_id, local_id=local_id)

    def boost_failed(self, uri: str, error: str, now: datetime | None = None) -> None:
        """Record that the open boost intent for `uri` failed with `error`."""
        self._finish(uri, "boost", "failed", now, error=error)

    def unboost_intent(self, uri: str, local_id: str | None, now: datetime | None = None) -> int:
        """Write the intent to undo the reblog of `uri` BEFORE the call (idempotent likewise)."""
        return self._intent(uri, "unboost", local_id, now)

    def unboost_done(self, uri: str, now: datetime | None = None) -> None:
        """Record AFTER the call that the open unboost intent for `uri` succeeded."""
        self._finish(uri, "unboost", "done", now)

    def unboost_failed(self, uri: str, error: str, now: datetime | None = None) -> None:
        """Record that the open unboost intent for `uri` failed with `error`."""
        self._finish(uri, "unboost", "failed", now, error=error)

    def unfinished_intents(self, kind: str | None = None, limit: int | None = None) -> list[JournalEntry]:
        """Open intents, oldest first: of one `kind` ("boost" or "unboost") or both, the first
        `limit` of them or all (the booster looks at the head of each queue on every turn; at
        start it reconciles every intent a crash may have left open)."""
        sql = f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE state = 'intent'"  # noqa: S608
        params: list[Any] = []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._reading() as c:
            rows = c.execute(sql, params).fetchall()
        return [_journal_entry(row) for row in rows]

    def intent_count(self, kind: str) -> int:
        """How many `kind` intents are open."""
        return int(self._one("SELECT count(*) FROM journal WHERE state = 'intent' AND kind = ?", (kind,)))

    def journal(self, uri: str) -> list[JournalEntry]:
        """Every journal entry for `uri`, oldest first."""
        with self._reading() as c:
            rows = c.execute(
                f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE uri = ? ORDER BY id",  # noqa: S608
                (uri,),
            ).fetchall()
        return [_journal_entry(row) for row in rows]

    def is_boosted(self, uri: str) -> bool:
        """True when the latest finished journal entry for `uri` is a done boost."""
        with self._reading() as c:
            return _boosted_id(c, uri) is not None

    def boost_pending(self, uri: str) -> bool:
        """True when `uri` has an open boost intent (accepted or approved, not yet reblogged)."""
        sql = (
            "SELECT 1 FROM journal INDEXED BY journal_uri"
            " WHERE uri = ? AND kind = 'boost' AND state = 'intent' LIMIT 1"
        )
        return self._one(sql, (uri,)) is not None

    def boosts_to_recheck(self, home: str, since: datetime, limit: int) -> list[Recheck]:
        """The posts boosted now or with an open boost intent, whose boost intent was written at
        or after `since`, newest first, at most `limit`: each with its status id on `home` (from
        the intent, or `home`'s sighting) and the version the store has. A post without a known
        home id, or retracted, is left out.

        Walks the journal from its newest row back to `since` (rows are written in time order),
        so the cost is the window's rows, not the whole journal's.
        """
        sql = (
            "SELECT j.uri, j.created_at, coalesce(j.local_id, s.local_id), p.edited_at"
            " FROM journal j JOIN posts p ON p.uri = j.uri"
            " LEFT JOIN sightings s ON s.uri = j.uri AND s.source = ?"
            " WHERE j.kind = 'boost' AND p.retracted_at IS NULL AND (j.state = 'intent'"
            " OR (j.state = 'done' AND NOT EXISTS (SELECT 1 FROM journal AS k INDEXED BY journal_uri"
            " WHERE k.uri = j.uri AND k.state = 'done' AND k.id > j.id)))"
            " ORDER BY j.id DESC"
        )
        after = to_text(since)
        found: dict[str, Recheck] = {}
        with self._reading() as c:
            for uri, created_at, local_id, edited_at in c.execute(sql, (home,)):
                if created_at < after or len(found) >= limit:
                    break
                if local_id and uri not in found:
                    found[uri] = Recheck(uri, str(local_id), edited_at)
        return list(found.values())

    def boosts_by_author(self, acct: str) -> list[str]:
        """The uris by `acct` that are boosted now (for opt-out and account-block retraction)."""
        return self._boosted_where("p.acct = ?", (norm_acct(acct),))

    def boosts_by_domain(self, domain: str) -> list[str]:
        """The uris from `domain` or its subdomains that are boosted now (for a domain block)."""
        domain = domain.strip().lower()
        return self._boosted_where(
            "(p.domain = ? OR substr(p.domain, -(length(?) + 1)) = '.' || ?)",
            (domain, domain, domain),
        )

    def boost_count(self, since: datetime, acct: str | None = None) -> int:
        """Done boosts finished at or after `since`, of `acct`'s posts or of everyone's."""
        return int(
            self._one(
                "SELECT count(*) FROM journal"
                " WHERE kind = 'boost' AND state = 'done' AND finished_at >= ? AND (? IS NULL OR acct = ?)",
                (self._at(since), acct and norm_acct(acct), acct and norm_acct(acct)),
            )
        )

    def _boosted_where(self, condition: str, params: tuple[Any, ...]) -> list[str]:
        sql = (
            "SELECT p.uri FROM posts p JOIN journal j ON j.uri = p.uri"  # noqa: S608
            " WHERE j.kind = 'boost' AND j.id = (SELECT max(id) FROM journal"
            " WHERE uri = p.uri AND state = 'done')"
            f" AND {condition} ORDER BY j.id"
        )
        with self._reading() as c:
            return [row[0] for row in c.execute(sql, params)]

    def _intent(self, uri: str, kind: str, local_id: str | None, now: datetime | None) -> int:
        at = self._at(now)
        with self._writing() as c:
            post = c.execute(_POST_FOR_INTENT, (uri,)).fetchone()
            if post is None:
                raise LookupError(f"no observed post with uri {uri!r}")
            retracted, acct, first = post
            if kind == "boost" and retracted is not None:
                raise ValueError(f"{uri} was retracted: it is never boosted again")
            if not first:
                last = c.execute(
                    "SELECT id, kind FROM journal WHERE uri = ? AND state = 'done' ORDER BY id DESC LIMIT 1",
                    (uri,),
                ).fetchone()
                if last is not None and last[1] == kind:
                    return int(last[0])
                open_row = c.execute(
                    "SELECT id FROM journal INDEXED BY journal_uri"
                    " WHERE uri = ? AND kind = ? AND state = 'intent'",
                    (uri, kind),
                ).fetchone()
                if open_row is not None:
                    c.execute(
                        "UPDATE journal SET local_id = coalesce(?, local_id) WHERE id = ?",
                        (local_id, open_row[0]),
                    )
                    return int(open_row[0])
            cur = c.execute(_INSERT_INTENT, (uri, acct, kind, local_id, at))
            assert cur.lastrowid is not None
            if kind == "boost":  # the per-author cap counts the post from now (see `history`)
                c.execute("UPDATE posts SET boost_intent_at = ? WHERE uri = ?", (at, uri))
            return cur.lastrowid

    def _finish(
        self,
        uri: str,
        kind: str,
        state: str,
        now: datetime | None,
        *,
        reblog_id: str | None = None,
        error: str | None = None,
        local_id: str | None = None,
    ) -> None:
        at = self._at(now)
        with self._writing() as c:
            cur = c.execute(
                "UPDATE journal INDEXED BY journal_uri"
                " SET state = ?, reblog_id = ?, error = ?, finished_at = ?, local_id = coalesce(local_id, ?)"
                " WHERE uri = ? AND kind = ? AND state = 'intent'",
                (state, reblog_id, error, at, local_id, uri, kind),
            )
            if cur.rowcount == 0:
                raise LookupError(f"no open {kind} intent for {uri!r}")


def _boosted_id(c: sqlite3.Connection, uri: str) -> int | None:
    row = c.execute(
        "SELECT id, kind FROM journal WHERE uri = ? AND state = 'done' ORDER BY id DESC LIMIT 1",
        (uri,),
    ).fetchone()
    return int(row[0]) if row is not None and row[1] == "boost" else None


def _queue_pk(short_id: str) -> int | None:
    digits = short_id.strip().lower().removeprefix("h")
    return int(digits) if digits.isascii() and digits.isdigit() else None


def _queue_item(row: tuple[Any, ...]) -> QueueItem:
    pk, uri, acct, url, state, decision, reasons, held_at, updated_at, actor, reason, ann = row
    return QueueItem(
        short_id=f"h{pk}",
        uri=uri,
        acct=acct,
        url=url,
        state=state,
        verdict=verdict_from(decision, reasons),
        held_at=from_text(held_at),
        updated_at=from_text(updated_at),
        actor=actor,
        reason=reason,
        announcement_id=ann,
    )


def _journal_entry(row: tuple[Any, ...]) -> JournalEntry:
    pk, uri, kind, state, local_id, reblog_id, error, created_at, finished_at = row
    return JournalEntry(
        id=pk,
        uri=uri,
        kind=kind,
        state=state,
        local_id=local_id,
        reblog_id=reblog_id,
        error=error,
        created_at=from_text(created_at),
        finished_at=maybe_time(finished_at),
    )
