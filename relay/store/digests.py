"""The weekly digests: one row per period, written as an intent before the first post.

A period's row is written with the texts to post (fixed then, so that a restart posts the same
words) BEFORE the first call to the home instance; each part's status id is added AFTER its call
returns; the row is `done` once every part is posted. A period with nothing to say is written
`done` with no parts, at once. Every finish is a move of `relay.core.lifecycle.JOURNAL` (intent →
done | failed), as for the boost journal: finishing a row that is not open raises
`IllegalTransition` (logged) and writes nothing.

`boosted_between` reads what a digest sums up from the posts and the boost journal.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

import structlog

from relay.core.digest import Period
from relay.core.lifecycle import JOURNAL, JournalEvent, JournalState
from relay.errors import IllegalTransition
from relay.store.db import Db
from relay.store.records import BoostedPost, DigestRecord, from_text, maybe_time, to_text

log = structlog.get_logger()

_COLUMNS = "period_start, period_end, state, parts, status_ids, error, created_at, finished_at"


class Digests:
    """The `digests` table, and the figures a digest is made of."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, period_end: datetime) -> DigestRecord | None:
        """The digest of the period ending at `period_end`, or None."""
        with self._db.reading() as c:
            return _read(c, period_end)

    def latest(self) -> DigestRecord | None:
        """The digest of the newest period recorded (whatever its state), or None."""
        with self._db.reading() as c:
            row = c.execute(
                f"SELECT {_COLUMNS} FROM digests ORDER BY period_end DESC LIMIT 1"  # noqa: S608
            ).fetchone()
        return None if row is None else _record(row)

    def unfinished(self) -> list[DigestRecord]:
        """Digests still being posted (an intent a crash or an error left open), oldest first."""
        with self._db.reading() as c:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM digests WHERE state = 'intent' ORDER BY period_end"  # noqa: S608
            ).fetchall()
        return [_record(row) for row in rows]

    def intent(self, period: Period, parts: list[str], now: datetime | None = None) -> DigestRecord:
        """Record that `parts` are to be posted for `period`, BEFORE the first post.

        With no parts the period had nothing to say: it is recorded `done` at once. Idempotent: a
        period already recorded is returned as it is, its texts unchanged.
        """
        at = self._db.at(now)
        state = JournalState.INTENT if parts else JournalState.DONE
        with self._db.writing() as c:
            existing = _read(c, period.end)
            if existing is not None:
                return existing
            c.execute(
                "INSERT INTO digests (period_start, period_end, state, parts, created_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    to_text(period.start),
                    to_text(period.end),
                    state.value,
                    json.dumps(parts, ensure_ascii=False),
                    at,
                    None if parts else at,
                ),
            )
            record = _read(c, period.end)
        assert record is not None
        return record

    def part_posted(
        self, period_end: datetime, index: int, status_id: str, now: datetime | None = None
    ) -> DigestRecord:
        """Record AFTER its call that part `index` was posted as `status_id`; the digest is done
        when that was its last part. Recording a part twice changes nothing; a part out of order
        is a ValueError (the parts are a thread: each replies to the one before)."""
        at = self._db.at(now)
        with self._db.writing() as c:
            record = _read(c, period_end)
            if record is None:
                raise LookupError(f"no digest for the period ending {to_text(period_end)}")
            if index < len(record.status_ids):
                return record
            if index != len(record.status_ids) or index >= len(record.parts):
                raise ValueError(f"part {index} of {len(record.parts)} after {len(record.status_ids)} posted")
            ids = [*record.status_ids, status_id]
            last = len(ids) == len(record.parts)
            state = self._move(record, JournalEvent.SUCCEED) if last else record.state
            c.execute(
                "UPDATE digests SET status_ids = ?, state = ?, finished_at = ? WHERE period_end = ?",
                (json.dumps(ids), state.value, at if last else None, to_text(period_end)),
            )
            updated = _read(c, period_end)
        assert updated is not None
        return updated

    def failed(self, period_end: datetime, error: str, now: datetime | None = None) -> None:
        """Record that the digest's posting was given up with `error` (the server refused it)."""
        at = self._db.at(now)
        with self._db.writing() as c:
            record = _read(c, period_end)
            if record is None:
                raise LookupError(f"no digest for the period ending {to_text(period_end)}")
            state = self._move(record, JournalEvent.FAIL)
            c.execute(
                "UPDATE digests SET state = ?, error = ?, finished_at = ? WHERE period_end = ?",
                (state.value, error, at, to_text(period_end)),
            )

    def boosted_between(self, start: datetime, end: datetime) -> list[BoostedPost]:
        """The posts whose boost was done from `start` (inclusive) to `end` (exclusive) and that are
        still boosted (not unboosted, retracted or opted out since), oldest boost first."""
        sql = (
            "SELECT p.uri, p.acct, p.domain FROM journal j JOIN posts p ON p.uri = j.uri"
            " WHERE j.kind = 'boost' AND j.state = 'done' AND j.finished_at >= ? AND j.finished_at < ?"
            " AND p.retracted_at IS NULL AND p.acct IS NOT NULL"
            " AND j.id = (SELECT max(k.id) FROM journal k INDEXED BY journal_uri"
            " WHERE k.uri = j.uri AND k.state = 'done')"
            " ORDER BY j.finished_at"
        )
        with self._db.reading() as c:
            rows = c.execute(sql, (to_text(start), to_text(end))).fetchall()
        return [BoostedPost(uri, acct, domain or acct.rpartition("@")[2]) for uri, acct, domain in rows]

    @staticmethod
    def _move(record: DigestRecord, event: JournalEvent) -> JournalState:
        try:
            return JOURNAL.next(record.state, event, thing="a digest")
        except IllegalTransition as exc:
            log.warning("digest.illegal_move", period_end=to_text(record.period_end), state=str(record.state))
            raise IllegalTransition(f"{exc.message} (period ending {to_text(record.period_end)})") from None


def _read(c: sqlite3.Connection, period_end: datetime) -> DigestRecord | None:
    row = c.execute(
        f"SELECT {_COLUMNS} FROM digests WHERE period_end = ?",  # noqa: S608
        (to_text(period_end),),
    ).fetchone()
    return None if row is None else _record(row)


def _record(row: tuple[Any, ...]) -> DigestRecord:
    start, end, state, parts, ids, error, created_at, finished_at = row
    return DigestRecord(
        period_start=from_text(start),
        period_end=from_text(end),
        state=JournalState(state),
        parts=tuple(json.loads(parts)),
        status_ids=tuple(json.loads(ids)),
        error=error,
        created_at=from_text(created_at),
        finished_at=maybe_time(finished_at),
    )
