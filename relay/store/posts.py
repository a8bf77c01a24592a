"""Posts: which uri at which version was seen where (what dedupe needs, recorded as the caller
decided), verdicts, retractions, deletes that came before their post, and the cursors of the
hashtag feeds.

The store does not decide dedupe: `stored(uri)` reports what it has about a uri, the caller
(`relay.runtime.pipeline`) asks `relay.core.dedupe.decide`, and `observe` or `add_screened` write
the outcome, all inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from relay.core.accounts import domain_of, norm_acct
from relay.core.dedupe import Arrival, Stored
from relay.core.ids import numeric_id_key
from relay.core.lifecycle import JournalKind
from relay.core.verdict import Verdict
from relay.store.audit import AuditLog
from relay.store.db import Db
from relay.store.journal import Journal
from relay.store.records import (
    reasons_to_json,
    to_text,
    verdict_from,
)

_INSERT_POST = (
    "INSERT INTO posts (uri, acct, domain, url, first_source, first_seen, last_seen, edited_at,"
    " quote_state, text_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SIGHTING = (
    "INSERT INTO sightings (uri, source, first_seen, last_seen, count, local_id) VALUES (?, ?, ?, ?, 1, ?)"
    " ON CONFLICT (uri, source) DO UPDATE SET last_seen = excluded.last_seen, count = count + 1,"
    " local_id = coalesce(excluded.local_id, local_id)"
)


def _post_row(
    uri: str,
    acct: str,
    url: str | None,
    source: str,
    at: str,
    edited_at: str | None,
    quote_state: str | None,
    text_fingerprint: str,
) -> tuple[str | None, ...]:
    """The values of `_INSERT_POST`'s columns for a post first seen `at`, in their order."""
    return (uri, acct, domain_of(acct), url, source, at, at, edited_at, quote_state, text_fingerprint)


class Posts:
    """The `posts`, `sightings`, `early_deletes` and `cursors` tables."""

    def __init__(self, db: Db, audit: AuditLog, journal: Journal) -> None:
        self._db = db
        self._audit = audit
        self._journal = journal

    # -- seen posts and dedupe -----------------------------------------------------------------

    def stored(self, uri: str) -> Stored | None:
        """What the store has about `uri` for dedupe (its newest version and that version's quote
        state, whether it was retracted),
        or None if nothing: what `relay.core.dedupe.decide` needs."""
        with self._db.reading() as c:
            row = c.execute(
                "SELECT edited_at, retracted_at, quote_state FROM posts WHERE uri = ?", (uri,)
            ).fetchone()
        return None if row is None else Stored(row[0], retracted=row[1] is not None, quote_state=row[2])

    def record_arrival(
        self,
        uri: str,
        arrival: Arrival,
        *,
        source: str,
        acct: str,
        url: str | None,
        edited_at: str | None,
        text_fingerprint: str,
        local_id: str | None = None,
        quote_state: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record that `source` delivered this version of `uri`, as the caller's dedupe decision
        `arrival` (from `stored(uri)` in the same transaction) says: SCREEN, a first sighting, adds
        the post; RESCREEN, a newer edit (or quote state), makes this version, quote state,
        fingerprint and url the stored ones;
        DUPLICATE and RETRACTED change nothing but fill in a bare tombstone. Every sighting is
        counted per source, with the source's own `local_id` for the post when given (see
        `uri_for_local_id`).
        """
        at = self._db.at(now)
        acct = norm_acct(acct)
        with self._db.writing() as c:
            if arrival is Arrival.SCREEN:
                c.execute(
                    _INSERT_POST,
                    _post_row(uri, acct, url, source, at, edited_at, quote_state, text_fingerprint),
                )
            elif arrival is Arrival.RESCREEN:
                c.execute(
                    "UPDATE posts SET edited_at = ?, quote_state = ?, text_fingerprint = ?, url = ?,"
                    " last_seen = ? WHERE uri = ?",
                    (edited_at, quote_state, text_fingerprint, url, at, uri),
                )
            else:  # a duplicate, or a stale copy of a retracted post: fill in a bare tombstone
                c.execute(
                    "UPDATE posts SET last_seen = ?, acct = coalesce(acct, ?),"
                    " domain = coalesce(domain, ?), url = coalesce(url, ?),"
                    " first_source = coalesce(first_source, ?) WHERE uri = ?",
                    (at, acct, domain_of(acct), url, source, uri),
                )
            c.execute(_SIGHTING, (uri, source, at, at, local_id))

    def add_screened(
        self,
        uri: str,
        verdict: Verdict,
        *,
        source: str,
        acct: str,
        url: str | None,
        edited_at: str | None,
        text_fingerprint: str,
        local_id: str | None = None,
        audit_detail: str | None = None,
        boost: bool = False,
        boost_local_id: str | None = None,
        quote_state: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record a post seen for the first time (a SCREEN arrival) together with its first verdict:
        what `observe` and `record_verdict` record for it, with one row of `posts` (plus its
        sighting and the `screen.<decision>` audit row). With `boost`, also its boost intent, as
        `boost_intent(uri, boost_local_id)` would write it (a new post has no journal row yet and
        is not retracted, so nothing needs to be looked up). Raises `sqlite3.IntegrityError` if
        the uri is already stored (ask `stored` first)."""
        at = self._db.at(now)
        acct = norm_acct(acct)
        decision = verdict.decision.value
        with self._db.writing() as c:
            c.execute(
                "INSERT INTO posts (uri, acct, domain, url, first_source, first_seen, last_seen, edited_at,"
                " quote_state, text_fingerprint, decision, reasons, screened_at, screened_count,"
                " boost_intent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (
                    *_post_row(uri, acct, url, source, at, edited_at, quote_state, text_fingerprint),
                    decision,
                    reasons_to_json(verdict),
                    at,
                    at if boost else None,
                ),
            )
            c.execute(_SIGHTING, (uri, source, at, at, local_id))
            self._audit.write(
                c, f"screen.{decision}", actor="relay", at=at, uri=uri, target=acct, detail=audit_detail
            )
            if boost:
                self._journal.write_intent(c, uri, acct, JournalKind.BOOST, boost_local_id, at)

    def record_sightings(
        self, sightings: Iterable[tuple[str, str, str | None]], now: datetime | None = None
    ) -> None:
        """Record known posts seen again: (uri, source, local_id) rows, in one statement.

        The pipeline's fast path for duplicates: no dedupe decision is needed (the uri and its
        version are known), only the source's own id for its later `delete` events.
        """
        at = self._db.at(now)
        with self._db.writing() as c:
            c.executemany(
                "INSERT INTO sightings (uri, source, first_seen, last_seen, count, local_id)"
                " SELECT ?, ?, ?, ?, 1, ? WHERE EXISTS (SELECT 1 FROM posts WHERE uri = ?)"
                " ON CONFLICT (uri, source) DO UPDATE SET last_seen = excluded.last_seen,"
                " count = count + 1, local_id = coalesce(excluded.local_id, local_id)",
                [(uri, source, at, at, local_id, uri) for uri, source, local_id in sightings],
            )

    def uri_for_local_id(self, source: str, local_id: str) -> str | None:
        """The uri of the post that `source` knows as `local_id` (for its `delete` events)."""
        with self._db.reading() as c:
            row = c.execute(
                "SELECT uri FROM sightings WHERE source = ? AND local_id = ?", (source, local_id)
            ).fetchone()
        return None if row is None else str(row[0])

    # -- deletes that came before their post ----------------------------------------------------

    def remember_delete(self, source: str, local_id: str, now: datetime | None = None) -> None:
        """Keep a `delete` from `source` for a status id it has not shown yet (the first one stays)."""
        at = self._db.at(now)
        with self._db.writing() as c:
            c.execute(
                "INSERT INTO early_deletes (source, local_id, deleted_at) VALUES (?, ?, ?)"
                " ON CONFLICT (source, local_id) DO NOTHING",
                (source, local_id, at),
            )

    def take_delete(self, source: str, local_id: str, since: datetime) -> bool:
        """Forget the remembered delete of `local_id` by `source`; True if there was one from
        `since` on (an older one is forgotten as if pruned)."""
        with self._db.writing() as c:
            row = c.execute(
                "SELECT deleted_at FROM early_deletes WHERE source = ? AND local_id = ?", (source, local_id)
            ).fetchone()
            if row is None:
                return False
            c.execute("DELETE FROM early_deletes WHERE source = ? AND local_id = ?", (source, local_id))
        return bool(row[0] >= to_text(since))

    def remembered_deletes(self, since: datetime) -> set[tuple[str, str]]:
        """The (source, local_id) of every delete remembered from `since` on."""
        with self._db.reading() as c:
            rows = c.execute(
                "SELECT source, local_id FROM early_deletes WHERE deleted_at >= ?", (to_text(since),)
            ).fetchall()
        return {(source, local_id) for source, local_id in rows}

    def prune_deletes(self, before: datetime, keep_at_most: int) -> list[tuple[str, str]]:
        """Forget remembered deletes older than `before`, and the oldest beyond `keep_at_most`;
        return the (source, local_id) of each one forgotten."""
        with self._db.writing() as c:
            rows = c.execute(
                "SELECT source, local_id FROM early_deletes WHERE deleted_at < ?"
                " UNION SELECT source, local_id FROM (SELECT source, local_id FROM early_deletes"
                " ORDER BY deleted_at DESC LIMIT -1 OFFSET ?)",
                (to_text(before), keep_at_most),
            ).fetchall()
            c.executemany("DELETE FROM early_deletes WHERE source = ? AND local_id = ?", rows)
        return [(source, local_id) for source, local_id in rows]

    def record_verdict(
        self, uri: str, verdict: Verdict, now: datetime | None = None, *, audit_detail: str | None = None
    ) -> None:
        """Store the screening result of an observed `uri` (the last one wins; the count grows).
        Audited as `screen.<decision>` by `relay`, for the post's author, with `audit_detail`."""
        at = self._db.at(now)
        decision = verdict.decision.value
        with self._db.writing() as c:
            row = c.execute(
                "UPDATE posts SET decision = ?, reasons = ?, screened_at = ?,"
                " screened_count = screened_count + 1 WHERE uri = ? RETURNING acct",
                (decision, reasons_to_json(verdict), at, uri),
            ).fetchone()
            if row is None:
                raise LookupError(f"no observed post with uri {uri!r}")
            self._audit.write(
                c, f"screen.{decision}", actor="relay", at=at, uri=uri, target=row[0], detail=audit_detail
            )

    def verdict_for(self, uri: str) -> Verdict | None:
        """The last verdict recorded for `uri`, or `None` if it was never screened."""
        with self._db.reading() as c:
            row = c.execute("SELECT decision, reasons FROM posts WHERE uri = ?", (uri,)).fetchone()
        if row is None or row[0] is None:
            return None
        return verdict_from(row[0], row[1])

    def screened_count(self, uri: str) -> int:
        """How many times `uri` was screened (0 if unknown)."""
        return int(self._db.one("SELECT screened_count FROM posts WHERE uri = ?", (uri,)) or 0)

    def sightings(self, uri: str) -> dict[str, int]:
        """How many times each source delivered `uri`."""
        with self._db.reading() as c:
            rows = c.execute("SELECT source, count FROM sightings WHERE uri = ?", (uri,)).fetchall()
        return {source: count for source, count in rows}

    def mark_retracted(
        self, uri: str, reason: str, now: datetime | None = None, *, actor: str = "relay"
    ) -> None:
        """Record that `uri` was deleted (or must never be boosted): every later arrival of it is
        RETRACTED and `boost_intent` refuses it. Works for a uri never seen before. Audited."""
        at = self._db.at(now)
        with self._db.writing() as c:
            c.execute(
                "INSERT INTO posts (uri, first_seen, last_seen, retracted_at, retract_reason)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (uri) DO UPDATE SET"
                " retracted_at = coalesce(retracted_at, excluded.retracted_at),"
                " retract_reason = coalesce(retract_reason, excluded.retract_reason)",
                (uri, at, at, at, reason),
            )
            self._audit.write(c, "post.retracted", actor=actor, at=at, uri=uri, detail=reason)

    def is_retracted(self, uri: str) -> bool:
        """True once `mark_retracted(uri)` was called."""
        return self._db.one("SELECT retracted_at FROM posts WHERE uri = ?", (uri,)) is not None

    def author_of(self, uri: str) -> str | None:
        """The `user@domain` who wrote `uri` (None: never observed, or only a bare tombstone)."""
        acct = self._db.one("SELECT acct FROM posts WHERE uri = ?", (uri,))
        return None if acct is None else str(acct)

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, source: str, hashtag: str) -> str | None:
        """The newest status id seen from `source` for `hashtag` (for `min_id=` catch-up)."""
        value = self._db.one(
            "SELECT status_id FROM cursors WHERE source = ? AND hashtag = ?", (source, hashtag)
        )
        return None if value is None else str(value)

    def set_cursor(self, source: str, hashtag: str, status_id: str, now: datetime | None = None) -> bool:
        """Move the cursor to `status_id` if it is numerically later; return whether it moved.

        Raises ValueError for an id that is not a numeric string.
        """
        new_key = numeric_id_key(status_id)
        at = self._db.at(now)
        with self._db.writing() as c:
            row = c.execute(
                "SELECT status_id FROM cursors WHERE source = ? AND hashtag = ?", (source, hashtag)
            ).fetchone()
            if row is not None and numeric_id_key(row[0]) >= new_key:
                return False
            c.execute(
                "INSERT INTO cursors (source, hashtag, status_id, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source, hashtag)"
                " DO UPDATE SET status_id = excluded.status_id, updated_at = excluded.updated_at",
                (source, hashtag, status_id.strip(), at),
            )
        return True
