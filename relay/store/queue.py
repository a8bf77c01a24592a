"""The review queue: held posts waiting for a moderator, each with its short id (`h42`).

Every state change is a move of `relay.core.lifecycle.REVIEW` (`hold`, `move`): a move that is not
in the table raises `IllegalTransition` (logged) and writes nothing. Each move is audited as
`queue.<new state>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from relay.core.lifecycle import REVIEW, Event, State
from relay.core.verdict import Verdict
from relay.errors import IllegalTransition
from relay.store.audit import AuditLog
from relay.store.db import Db
from relay.store.records import QueueItem, from_text, reasons_to_json, verdict_from

log = structlog.get_logger()

_QUEUE_COLUMNS = """
    q.id, q.uri, p.acct, p.url, q.state, q.decision, q.reasons, q.held_at, q.updated_at,
    q.actor, q.reason, q.announcement_id
"""
_QUEUE_FROM = f"SELECT {_QUEUE_COLUMNS} FROM queue q JOIN posts p ON p.uri = q.uri"  # noqa: S608


class ReviewQueue:
    """The `queue` table."""

    def __init__(self, db: Db, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    def hold(self, uri: str, verdict: Verdict, now: datetime | None = None) -> str:
        """Put an observed `uri` in the review queue as `held`; return its short id (`h42`).

        Holding the same uri again (say, after an edit) keeps its id, replaces the verdict and
        makes it `held` again: the `hold` move of the lifecycle table, refused (`IllegalTransition`,
        logged, nothing written) from a state it does not allow. Audited as `queue.held` by `relay`.
        """
        at = self._db.at(now)
        with self._db.writing() as c:
            row = c.execute(
                "SELECT q.id, q.state FROM posts p LEFT JOIN queue q ON q.uri = p.uri WHERE p.uri = ?", (uri,)
            ).fetchone()
            if row is None:
                raise LookupError(f"no observed post with uri {uri!r}")
            if row[0] is not None:
                _next(f"h{row[0]}", uri, row[1], Event.HOLD)
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
            self._audit.write(c, "queue.held", actor="relay", at=at, uri=uri, target=short_id, detail=detail)
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
        with self._db.reading() as c:
            rows = c.execute(
                f"{_QUEUE_FROM} WHERE q.state = 'held' ORDER BY q.held_at, q.id LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [_queue_item(row) for row in rows]

    def move(
        self,
        short_id: str,
        event: Event,
        actor: str,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> QueueItem:
        """Apply `event` to item `short_id`, by `actor` for `reason`; return the updated item.

        The new state is the lifecycle table's (`relay.core.lifecycle.REVIEW`); a move it does not
        allow raises `IllegalTransition`, logged as `queue.illegal_move`, and writes nothing.
        LookupError for an unknown id. Audited as `queue.<new state>`.
        """
        pk = _queue_pk(short_id)
        at = self._db.at(now)
        with self._db.writing() as c:
            row = (
                None
                if pk is None
                else c.execute("SELECT uri, state FROM queue WHERE id = ?", (pk,)).fetchone()
            )
            if row is None:
                raise LookupError(f"no queue item {short_id!r}")
            uri, state = row
            to = _next(f"h{pk}", uri, state, event)
            c.execute(
                "UPDATE queue SET state = ?, actor = ?, reason = ?, updated_at = ? WHERE id = ?",
                (to.value, actor, reason, at, pk),
            )
            self._audit.write(c, f"queue.{to}", actor=actor, at=at, uri=uri, target=f"h{pk}", detail=reason)
        item = self.queue_item(f"h{pk}")
        assert item is not None
        return item

    def set_announcement(self, short_id: str, status_id: str) -> None:
        """Remember the id of the moderator DM that announced item `short_id`."""
        pk = _queue_pk(short_id)
        with self._db.writing() as c:
            cur = c.execute("UPDATE queue SET announcement_id = ? WHERE id = ?", (status_id, pk))
            if cur.rowcount == 0:
                raise LookupError(f"no queue item {short_id!r}")

    def queue_length(self) -> int:
        """How many items are `held`."""
        return int(self._db.one("SELECT count(*) FROM queue WHERE state = 'held'"))

    def _queue_one(self, sql: str, params: tuple[Any, ...]) -> QueueItem | None:
        with self._db.reading() as c:
            row = c.execute(sql, params).fetchone()
        return None if row is None else _queue_item(row)


def _next(short_id: str, uri: str, state: str, event: Event) -> State:
    """The table's new state for `event` on an item in `state`; logged and raised if refused."""
    try:
        return REVIEW.next(state, event)
    except IllegalTransition:
        log.warning("queue.illegal_move", id=short_id, uri=uri, state=state, move=str(event))
        raise


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
        state=State(state),
        verdict=verdict_from(decision, reasons),
        held_at=from_text(held_at),
        updated_at=from_text(updated_at),
        actor=actor,
        reason=reason,
        announcement_id=ann,
    )
