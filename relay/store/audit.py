"""The audit log: who did what, to which post or target, and when (append-only).

The other parts write their audit rows with `AuditLog.write` inside their own transaction (see the
rule in `relay.store`); `audit()` is for a decision that the store records nowhere else.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from relay.store.db import Db
from relay.store.records import AuditRow, from_text, to_text


class AuditLog:
    """The `audit` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def write(
        self,
        c: sqlite3.Connection,
        action: str,
        *,
        actor: str,
        at: str,
        uri: str | None = None,
        target: str | None = None,
        detail: str | None = None,
    ) -> int:
        """Append one audit row inside the caller's transaction `c`; return its id."""
        cur = c.execute(
            "INSERT INTO audit (at, actor, action, uri, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (at, actor, action, uri, target, detail),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def audit(
        self,
        action: str,
        *,
        actor: str,
        uri: str | None = None,
        target: str | None = None,
        detail: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Append an audit row (`actor` is `relay` or a moderator's `user@domain`); return its id.

        For a decision that no other write records (a refused DM, a moderator's `boost` command,
        whose only write is the journal's intent): every other write audits itself.
        """
        at = self._db.at(now)
        with self._db.writing() as c:
            return self.write(c, action, actor=actor, at=at, uri=uri, target=target, detail=detail)

    def audit_rows(
        self,
        since: datetime | None = None,
        actor: str | None = None,
        uri: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRow]:
        """Audit rows matching every filter given, oldest first; with `limit`, the newest ones."""
        since_text = None if since is None else to_text(since)
        with self._db.reading() as c:
            rows = c.execute(
                "SELECT id, at, actor, action, uri, target, detail FROM audit"
                " WHERE (:since IS NULL OR at >= :since) AND (:actor IS NULL OR actor = :actor)"
                " AND (:uri IS NULL OR uri = :uri) ORDER BY id DESC LIMIT :limit",
                {"since": since_text, "actor": actor, "uri": uri, "limit": limit or -1},
            ).fetchall()
        return [
            AuditRow(id=r[0], at=from_text(r[1]), actor=r[2], action=r[3], uri=r[4], target=r[5], detail=r[6])
            for r in reversed(rows)
        ]
