"""Members: the community directory, people who asked to be listed (`join` by DM) and nobody else.

A member leaves (`leave`), is removed by a moderator (`unlist`), by their own opt-out or by a block;
their row stays with `left_at` set, so that the audit log's targets keep their meaning and the
Mastodon Collection item that published them is still known until the bot removed it. Joining again
lists them again from that moment (`joined_at` is the latest join: the digest's "new members").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay.core.accounts import domain_of, norm_acct
from relay.core.history import covering_domains
from relay.store.audit import AuditLog
from relay.store.db import Db
from relay.store.records import FirstBoost, Member, MemberAccount, from_text, maybe_time, to_text

LEAVE_REASONS = frozenset({"leave", "unlist", "optout", "block"})
"""Why a member is no longer listed: they left, a moderator unlisted them, they opted out, a block."""

_COLUMNS = (
    "acct, account_id, uri, url, display_name, note, joined_at, intro_uri, intro_url, intro_html,"
    " intro_chosen, left_at, left_reason, collection_id, item_id, item_state"
)


class Members:
    """The `members` and `directory_collections` tables."""

    def __init__(self, db: Db, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    # -- joining and leaving ------------------------------------------------------------------

    def join(self, account: MemberAccount, actor: str, now: datetime | None = None) -> bool:
        """List `account` (its profile as the server gave it); return False if it was listed already
        (its profile is refreshed either way). Audited as `directory.join` when it is new. Joining
        again after leaving asks the Collections anew (a refusal there is forgotten)."""
        acct, at = norm_acct(account.acct), self._db.at(now)
        with self._db.writing() as c:
            row = c.execute("SELECT left_at FROM members WHERE acct = ?", (acct,)).fetchone()
            listed = row is not None and row[0] is None
            c.execute(
                "INSERT INTO members (acct, account_id, uri, url, display_name, note, joined_at,"
                " updated_at) VALUES (:acct, :account_id, :uri, :url, :name, :note, :at, :at)"
                " ON CONFLICT (acct) DO UPDATE SET account_id = coalesce(excluded.account_id,"
                " account_id), uri = excluded.uri, url = excluded.url, display_name ="
                " excluded.display_name, note = excluded.note, updated_at = excluded.updated_at,"
                " joined_at = CASE WHEN left_at IS NULL THEN joined_at ELSE excluded.joined_at END,"
                " item_state = CASE WHEN left_at IS NULL OR item_id IS NOT NULL THEN item_state END,"
                " left_reason = NULL, left_at = NULL",
                {
                    "acct": acct,
                    "account_id": account.account_id,
                    "uri": account.uri,
                    "url": account.url,
                    "name": account.display_name,
                    "note": account.note,
                    "at": at,
                },
            )
            if not listed:
                self._audit.write(c, "directory.join", actor=actor, at=at, target=acct)
        return not listed

    def leave(self, target: str, reason: str, actor: str, now: datetime | None = None) -> list[str]:
        """Unlist `target` (a `user@domain`, or a domain with its subdomains: a domain block) for
        `reason` (one of `LEAVE_REASONS`); return the handles unlisted, each audited as
        `directory.<reason>`. Nothing written when nobody listed matches."""
        if reason not in LEAVE_REASONS:
            raise ValueError(f"unknown reason {reason!r}; known: {sorted(LEAVE_REASONS)}")
        target, at = norm_acct(target), self._db.at(now)
        with self._db.writing() as c:
            listed = [row[0] for row in c.execute("SELECT acct FROM members WHERE left_at IS NULL")]
            gone = [acct for acct in listed if _covers(target, acct)]
            for acct in gone:
                c.execute(
                    "UPDATE members SET left_at = ?, left_reason = ?, updated_at = ? WHERE acct = ?",
                    (at, reason, at, acct),
                )
                self._audit.write(c, f"directory.{reason}", actor=actor, at=at, target=acct)
        return gone

    # -- reading ------------------------------------------------------------------------------

    def get(self, acct: str) -> Member | None:
        """The member `acct`, listed or not, or `None` if they never joined."""
        rows = self._select("WHERE acct = ?", (norm_acct(acct),))
        return rows[0] if rows else None

    def listed(self) -> list[Member]:
        """Everyone listed now, in the order they joined."""
        return self._select("WHERE left_at IS NULL ORDER BY joined_at, acct")

    def joined_since(self, since: datetime, until: datetime | None = None) -> list[Member]:
        """The members listed now who joined at or after `since` (and before `until`), oldest first."""
        return self._select(
            "WHERE left_at IS NULL AND joined_at >= ? AND (? IS NULL OR joined_at < ?)"
            " ORDER BY joined_at, acct",
            (to_text(since), *(2 * (None if until is None else to_text(until),))),
        )

    def unlisted_with_items(self) -> list[Member]:
        """Members no longer listed whose Collection item the bot has yet to remove."""
        return self._select("WHERE left_at IS NOT NULL AND item_id IS NOT NULL ORDER BY acct")

    # -- introductions ------------------------------------------------------------------------

    def set_intro(
        self,
        acct: str,
        uri: str | None,
        url: str | None,
        html: str | None,
        *,
        chosen: bool,
        actor: str,
        now: datetime | None = None,
    ) -> bool:
        """Make post `uri` the member's introduction (`None`: none, the bio stands in); `chosen` when
        the member chose it (`intro`), not the relay (their first boost). False for a handle that is
        not listed. Audited as `directory.intro` when chosen (the relay's pick is bookkeeping)."""
        acct, at = norm_acct(acct), self._db.at(now)
        with self._db.writing() as c:
            cur = c.execute(
                "UPDATE members SET intro_uri = ?, intro_url = ?, intro_html = ?, intro_chosen = ?,"
                " updated_at = ? WHERE acct = ? AND left_at IS NULL",
                (uri, url, html, int(chosen), at, acct),
            )
            if cur.rowcount and chosen:
                self._audit.write(c, "directory.intro", actor=actor, at=at, uri=uri, target=acct)
        return cur.rowcount > 0

    def first_boosts(self) -> list[FirstBoost]:
        """For each listed member without an introduction: their first post the relay boosted (and
        has not retracted or unboosted since), with its status id on the home instance."""
        with self._db.reading() as c:
            rows = c.execute(
                "SELECT m.acct, j.uri, p.url, j.local_id FROM members m"
                " JOIN posts p ON p.acct = m.acct AND p.boost_intent_at IS NOT NULL"
                " AND p.retracted_at IS NULL"
                " JOIN journal j ON j.uri = p.uri AND j.kind = 'boost' AND j.state = 'done'"
                " AND j.local_id IS NOT NULL"
                " WHERE m.left_at IS NULL AND m.intro_uri IS NULL AND NOT EXISTS (SELECT 1 FROM"
                " journal u WHERE u.uri = j.uri AND u.kind = 'unboost' AND u.id > j.id)"
                " ORDER BY m.acct, j.finished_at"
            ).fetchall()
        first: dict[str, FirstBoost] = {}
        for acct, uri, url, local_id in rows:
            first.setdefault(acct, FirstBoost(acct, uri, url, local_id))
        return list(first.values())

    def drop_intro_of(self, uri: str, now: datetime | None = None) -> list[str]:
        """Forget `uri` as anyone's introduction (the post was deleted or unboosted); the handles
        whose introduction it was (their first boost is looked for again, or their bio stands in)."""
        at = self._db.at(now)
        with self._db.writing() as c:
            accts = [r[0] for r in c.execute("SELECT acct FROM members WHERE intro_uri = ?", (uri,))]
            c.execute(
                "UPDATE members SET intro_uri = NULL, intro_url = NULL, intro_html = NULL,"
                " intro_chosen = 0, updated_at = ? WHERE intro_uri = ?",
                (at, uri),
            )
        return accts

    # -- the Mastodon Collections that publish the directory -----------------------------------

    def set_item(
        self,
        acct: str,
        collection_id: str | None,
        item_id: str | None,
        state: str | None,
        now: datetime | None = None,
    ) -> None:
        """Record the member's Collection item (all `None`: it is gone). Bookkeeping, not audited."""
        at = self._db.at(now)
        with self._db.writing() as c:
            c.execute(
                "UPDATE members SET collection_id = ?, item_id = ?, item_state = ?, updated_at = ?"
                " WHERE acct = ?",
                (collection_id, item_id, state, at, norm_acct(acct)),
            )

    def add_collection(self, collection_id: str, url: str | None, now: datetime | None = None) -> None:
        """Remember a Collection the bot created for the directory."""
        at = self._db.at(now)
        with self._db.writing() as c:
            c.execute(
                "INSERT INTO directory_collections (id, url, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET url = excluded.url",
                (collection_id, url, at),
            )

    def drop_collection(self, collection_id: str) -> None:
        """Forget a Collection (it was deleted on the server); its items' records go with it."""
        with self._db.writing() as c:
            c.execute("DELETE FROM directory_collections WHERE id = ?", (collection_id,))
            c.execute(
                "UPDATE members SET collection_id = NULL, item_id = NULL, item_state = NULL"
                " WHERE collection_id = ?",
                (collection_id,),
            )

    def collections(self) -> list[tuple[str, str | None, int]]:
        """The directory's Collections, oldest first: id, url and how many items the bot put there."""
        with self._db.reading() as c:
            rows = c.execute(
                "SELECT d.id, d.url, (SELECT count(*) FROM members m WHERE m.collection_id = d.id)"
                " FROM directory_collections d ORDER BY d.created_at, d.id"
            ).fetchall()
        return [(r[0], r[1], int(r[2])) for r in rows]

    def _select(self, where: str, params: tuple[Any, ...] = ()) -> list[Member]:
        with self._db.reading() as c:
            rows = c.execute(f"SELECT {_COLUMNS} FROM members {where}", params).fetchall()  # noqa: S608
        return [_member(row) for row in rows]


def _covers(target: str, acct: str) -> bool:
    """True when the handle or domain `target` names `acct` (a domain covers its subdomains)."""
    if "@" in target:
        return acct == target
    domain = domain_of(acct)
    return domain is not None and target in covering_domains(domain)


def _member(row: tuple[Any, ...]) -> Member:
    (acct, account_id, uri, url, name, note, joined_at, intro_uri, intro_url, intro_html) = row[:10]
    intro_chosen, left_at, left_reason, collection_id, item_id, item_state = row[10:]
    return Member(
        acct=acct,
        account_id=account_id,
        uri=uri,
        url=url,
        display_name=name,
        note=note,
        joined_at=from_text(joined_at),
        intro_uri=intro_uri,
        intro_url=intro_url,
        intro_html=intro_html,
        intro_chosen=bool(intro_chosen),
        left_at=maybe_time(left_at),
        left_reason=left_reason,
        collection_id=collection_id,
        item_id=item_id,
        item_state=item_state,
    )
