"""Settings: small stored values (the `paused` flag, the moderation channel's cursor and digests),
and the bot's handled mentions."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from relay.store.audit import AuditLog
from relay.store.db import Db
from relay.store.records import to_text

_PAUSED = "paused"


class Settings:
    """The `settings` and `handled_mentions` tables."""

    def __init__(self, db: Db, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    # -- settings ------------------------------------------------------------------------------

    def paused(self) -> bool:
        """True while moderators have paused boosting."""
        return self.get_setting(_PAUSED) == "1"

    def set_paused(self, paused: bool, actor: str, now: datetime | None = None) -> None:
        """Pause or resume boosting. Audited as `pause` or `resume`."""
        at = self._db.at(now)
        with self._db.writing() as c:
            self._put_setting(c, _PAUSED, "1" if paused else "0", at)
            self._audit.write(c, "pause" if paused else "resume", actor=actor, at=at)

    def get_setting(self, key: str) -> str | None:
        """A small stored value, or `None`."""
        value = self._db.one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_setting(self, key: str, value: str, now: datetime | None = None) -> None:
        """Store a small value under `key` (not audited: use a dedicated method for that)."""
        at = self._db.at(now)
        with self._db.writing() as c:
            self._put_setting(c, key, value, at)

    def _put_setting(self, c: sqlite3.Connection, key: str, value: str, at: str) -> None:
        c.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key)"
            " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, at),
        )

    # -- handled mentions -----------------------------------------------------------------------

    def mark_mention_handled(self, status_id: str, now: datetime | None = None) -> None:
        """Record that the bot's mention `status_id` was handled (call it in the same transaction
        as the commands' effects, so that it is never handled twice nor lost)."""
        at = self._db.at(now)
        with self._db.writing() as c:
            c.execute(
                "INSERT INTO handled_mentions (status_id, handled_at) VALUES (?, ?)"
                " ON CONFLICT (status_id) DO NOTHING",
                (status_id, at),
            )

    def is_mention_handled(self, status_id: str) -> bool:
        """True once `mark_mention_handled(status_id)` was called (and not pruned since)."""
        return self._db.one("SELECT 1 FROM handled_mentions WHERE status_id = ?", (status_id,)) is not None

    def prune_handled_mentions(self, before: datetime) -> int:
        """Forget the mentions handled before `before`; return how many were forgotten."""
        with self._db.writing() as c:
            cur = c.execute("DELETE FROM handled_mentions WHERE handled_at < ?", (to_text(before),))
        return cur.rowcount
