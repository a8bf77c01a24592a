"""The boost journal: the booster's to-do list, one entry per boost or unboost of a post.

An entry is written as an `intent` BEFORE the call to the home instance and finished (`done` or
`failed`) after it; an intent left open by a crash is reconciled at the next start. Every finish
is a move of `relay.core.lifecycle.JOURNAL`: finishing an entry that is not open raises
`IllegalTransition` (logged) and writes nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import structlog

from relay.core.accounts import norm_acct
from relay.core.lifecycle import JOURNAL, JournalEvent, JournalKind, JournalState
from relay.errors import IllegalTransition
from relay.store.db import Db
from relay.store.records import JournalEntry, Recheck, from_text, maybe_time, to_text

log = structlog.get_logger()

_JOURNAL_COLUMNS = "id, uri, kind, state, local_id, reblog_id, error, created_at, finished_at"
_INSERT_INTENT = (
    "INSERT INTO journal (uri, acct, kind, state, local_id, created_at) VALUES (?, ?, ?, 'intent', ?, ?)"
)
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


class Journal:
    """The `journal` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def boost_intent(self, uri: str, local_id: str | None, now: datetime | None = None) -> int:
        """Write the intent to reblog `uri` (home-instance status `local_id`) BEFORE the call.

        Returns the journal id. Idempotent: if `uri` is already boosted, the id of that done
        boost is returned and nothing is written; an open intent is reused. A new intent is also
        the post's `boost_intent_at`, by which the per-author cap counts it (see `history`).
        Raises ValueError for a retracted uri and LookupError for one never observed.
        """
        return self._intent(uri, JournalKind.BOOST, local_id, now)

    def boost_done(
        self, uri: str, reblog_id: str | None, now: datetime | None = None, *, local_id: str | None = None
    ) -> None:
        """Record AFTER the call that the open boost intent for `uri` succeeded; `local_id`, the
        post's id on the home instance if the booster learnt it (by resolving the post), is kept
        where the intent had none, so that `boosts_to_recheck` can read the post back."""
        self._finish(
            uri, JournalKind.BOOST, JournalEvent.SUCCEED, now, reblog_id=reblog_id, local_id=local_id
        )

    def boost_failed(self, uri: str, error: str, now: datetime | None = None) -> None:
        """Record that the open boost intent for `uri` failed with `error`."""
        self._finish(uri, JournalKind.BOOST, JournalEvent.FAIL, now, error=error)

    def unboost_intent(self, uri: str, local_id: str | None, now: datetime | None = None) -> int:
        """Write the intent to undo the reblog of `uri` BEFORE the call (idempotent likewise)."""
        return self._intent(uri, JournalKind.UNBOOST, local_id, now)

    def unboost_done(self, uri: str, now: datetime | None = None) -> None:
        """Record AFTER the call that the open unboost intent for `uri` succeeded."""
        self._finish(uri, JournalKind.UNBOOST, JournalEvent.SUCCEED, now)

    def unboost_failed(self, uri: str, error: str, now: datetime | None = None) -> None:
        """Record that the open unboost intent for `uri` failed with `error`."""
        self._finish(uri, JournalKind.UNBOOST, JournalEvent.FAIL, now, error=error)

    def unfinished_intents(
        self, kind: JournalKind | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
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
        with self._db.reading() as c:
            rows = c.execute(sql, params).fetchall()
        return [_journal_entry(row) for row in rows]

    def intent_count(self, kind: JournalKind) -> int:
        """How many `kind` intents are open."""
        return int(self._db.one("SELECT count(*) FROM journal WHERE state = 'intent' AND kind = ?", (kind,)))

    def journal(self, uri: str) -> list[JournalEntry]:
        """Every journal entry for `uri`, oldest first."""
        with self._db.reading() as c:
            rows = c.execute(
                f"SELECT {_JOURNAL_COLUMNS} FROM journal WHERE uri = ? ORDER BY id",  # noqa: S608
                (uri,),
            ).fetchall()
        return [_journal_entry(row) for row in rows]

    def is_boosted(self, uri: str) -> bool:
        """True when the latest finished journal entry for `uri` is a done boost."""
        with self._db.reading() as c:
            return _boosted_id(c, uri) is not None

    def boost_pending(self, uri: str) -> bool:
        """True when `uri` has an open boost intent (accepted or approved, not yet reblogged)."""
        sql = (
            "SELECT 1 FROM journal INDEXED BY journal_uri"
            " WHERE uri = ? AND kind = 'boost' AND state = 'intent' LIMIT 1"
        )
        return self._db.one(sql, (uri,)) is not None

    def boosts_to_recheck(self, home: str, since: datetime, limit: int) -> list[Recheck]:
        """The posts boosted now or with an open boost intent, whose boost intent was written at
        or after `since`, newest first, at most `limit`: each with its status id on `home` (from
        the intent, or `home`'s sighting) and the version (and quote state) the store has. A post
        without a known home id, or retracted, is left out.

        Walks the journal from its newest row back to `since` (rows are written in time order),
        so the cost is the window's rows, not the whole journal's.
        """
        sql = (
            "SELECT j.uri, j.created_at, coalesce(j.local_id, s.local_id), p.edited_at, p.quote_state"
            " FROM journal j JOIN posts p ON p.uri = j.uri"
            " LEFT JOIN sightings s ON s.uri = j.uri AND s.source = ?"
            " WHERE j.kind = 'boost' AND p.retracted_at IS NULL AND (j.state = 'intent'"
            " OR (j.state = 'done' AND NOT EXISTS (SELECT 1 FROM journal AS k INDEXED BY journal_uri"
            " WHERE k.uri = j.uri AND k.state = 'done' AND k.id > j.id)))"
            " ORDER BY j.id DESC"
        )
        after = to_text(since)
        found: dict[str, Recheck] = {}
        with self._db.reading() as c:
            for uri, created_at, local_id, edited_at, quote_state in c.execute(sql, (home,)):
                if created_at < after or len(found) >= limit:
                    break
                if local_id and uri not in found:
                    found[uri] = Recheck(uri, str(local_id), edited_at, quote_state)
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
            self._db.one(
                "SELECT count(*) FROM journal"
                " WHERE kind = 'boost' AND state = 'done' AND finished_at >= ? AND (? IS NULL OR acct = ?)",
                (self._db.at(since), acct and norm_acct(acct), acct and norm_acct(acct)),
            )
        )

    def _boosted_where(self, condition: str, params: tuple[Any, ...]) -> list[str]:
        sql = (
            "SELECT p.uri FROM posts p JOIN journal j ON j.uri = p.uri"  # noqa: S608
            " WHERE j.kind = 'boost' AND j.id = (SELECT max(id) FROM journal"
            " WHERE uri = p.uri AND state = 'done')"
            f" AND {condition} ORDER BY j.id"
        )
        with self._db.reading() as c:
            return [row[0] for row in c.execute(sql, params)]

    def _intent(self, uri: str, kind: JournalKind, local_id: str | None, now: datetime | None) -> int:
        at = self._db.at(now)
        with self._db.writing() as c:
            post = c.execute(_POST_FOR_INTENT, (uri,)).fetchone()
            if post is None:
                raise LookupError(f"no observed post with uri {uri!r}")
            retracted, acct, first = post
            if kind is JournalKind.BOOST and retracted is not None:
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
            entry = self.write_intent(c, uri, acct, kind, local_id, at)
            if kind is JournalKind.BOOST:  # the per-author cap counts the post from now (see `history`)
                c.execute("UPDATE posts SET boost_intent_at = ? WHERE uri = ?", (at, uri))
            return entry

    def write_intent(
        self,
        c: sqlite3.Connection,
        uri: str,
        acct: str | None,
        kind: JournalKind,
        local_id: str | None,
        at: str,
    ) -> int:
        """Insert a new open intent inside the caller's transaction `c`, looking nothing up (the
        caller knows the post has no open or done entry of `kind`); return its id."""
        cur = c.execute(_INSERT_INTENT, (uri, acct, kind.value, local_id, at))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _finish(
        self,
        uri: str,
        kind: JournalKind,
        event: JournalEvent,
        now: datetime | None,
        *,
        reblog_id: str | None = None,
        error: str | None = None,
        local_id: str | None = None,
    ) -> None:
        """Move the open `kind` entry of `uri` by `event` (`relay.core.lifecycle.JOURNAL`).

        LookupError when `uri` has no `kind` entry at all; `IllegalTransition` (logged, nothing
        written) when its latest one is already finished."""
        at = self._db.at(now)
        with self._db.writing() as c:
            row = c.execute(
                "SELECT id, state FROM journal INDEXED BY journal_uri"
                " WHERE uri = ? AND kind = ? ORDER BY state = 'intent' DESC, id DESC LIMIT 1",
                (uri, kind.value),
            ).fetchone()
            if row is None:
                raise LookupError(f"no open {kind} intent for {uri!r}")
            pk, state = row
            try:
                to = JOURNAL.next(state, event, thing=f"a {kind}")
            except IllegalTransition as exc:
                log.warning("journal.illegal_move", uri=uri, kind=str(kind), state=state, move=str(event))
                raise IllegalTransition(f"{exc.message} ({uri})") from None
            c.execute(
                "UPDATE journal SET state = ?, reblog_id = ?, error = ?, finished_at = ?,"
                " local_id = coalesce(local_id, ?) WHERE id = ?",
                (to.value, reblog_id, error, at, local_id, pk),
            )


def _boosted_id(c: sqlite3.Connection, uri: str) -> int | None:
    row = c.execute(
        "SELECT id, kind FROM journal WHERE uri = ? AND state = 'done' ORDER BY id DESC LIMIT 1",
        (uri,),
    ).fetchone()
    return int(row[0]) if row is not None and row[1] == JournalKind.BOOST else None


def _journal_entry(row: tuple[Any, ...]) -> JournalEntry:
    pk, uri, kind, state, local_id, reblog_id, error, created_at, finished_at = row
    return JournalEntry(
        id=pk,
        uri=uri,
        kind=JournalKind(kind),
        state=JournalState(state),
        local_id=local_id,
        reblog_id=reblog_id,
        error=error,
        created_at=from_text(created_at),
        finished_at=maybe_time(finished_at),
    )
