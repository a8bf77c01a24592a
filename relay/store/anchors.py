"""Anchor replies: which stored post replies to which anchor post (relay.toml's `[[anchors]]`).

The pipeline links a reply when an anchor's context (or a mention of the bot) brings it; from
then on every screening of that post, whatever source brings its next version, knows it is an
anchor reply (`History.anchor`). Bookkeeping, not a decision: not audited (the verdict is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relay.store.db import Db


@dataclass(frozen=True, slots=True)
class AnchorCounts:
    """What `relay status` shows of one anchor: its replies seen, and how many of them are boosted."""

    replies: int
    boosted: int


class AnchorReplies:
    """The `anchor_replies` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def link(self, uri: str, anchor: str, now: datetime | None = None) -> bool:
        """Record that `uri` replies to `anchor`; True if it was not known to before."""
        with self._db.writing() as c:
            cursor = c.execute(
                "INSERT INTO anchor_replies (uri, anchor, linked_at) VALUES (?, ?, ?)"
                " ON CONFLICT (uri) DO NOTHING",
                (uri, anchor, self._db.at(now)),
            )
            return cursor.rowcount > 0

    def anchor_of(self, uri: str) -> str | None:
        """The anchor `uri` is known to reply to, or None."""
        value = self._db.one("SELECT anchor FROM anchor_replies WHERE uri = ?", (uri,))
        return None if value is None else str(value)

    def counts(self) -> dict[str, AnchorCounts]:
        """Each anchor with linked replies: how many, and how many are boosted now."""
        sql = (
            "SELECT a.anchor, count(*), sum(EXISTS (SELECT 1 FROM journal j WHERE j.uri = a.uri"
            " AND j.kind = 'boost' AND j.state = 'done' AND NOT EXISTS (SELECT 1 FROM journal k"
            " WHERE k.uri = a.uri AND k.kind = 'unboost' AND k.state = 'done' AND k.id > j.id)))"
            " FROM anchor_replies a GROUP BY a.anchor"
        )
        with self._db.reading() as c:
            return {str(a): AnchorCounts(int(n), int(b or 0)) for a, n, b in c.execute(sql)}
