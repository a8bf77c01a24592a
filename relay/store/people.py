"""People: authors' consent, moderators' blocks and trust, and the author history screening needs."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from relay.core.accounts import domain_of, norm_acct
from relay.core.history import History, covering_domains
from relay.core.rules import CONSENT_MODES
from relay.store.audit import AuditLog
from relay.store.db import Db
from relay.store.records import Block, Trust, from_text, to_text

_DAY = timedelta(hours=24)

# Everything `history()` needs about an author, in one statement, each part by its own index: the
# author's posts other than :uri with a boost intent written since :since, whatever became of it
# (posts_author_boosts: one range, read from the index alone, however many posts the author has
# had); the same non-empty text from the same author under another uri
# (posts_acct); consent; an account block; the longest domain block covering the domain, found
# by looking up the domain and then each of its parents, longest first, by primary key (:c0, :c1,
# ..., see `_covering`; coalesce stops at the first found), so that a long block list costs no
# more than a short one; trust.
_HISTORY = """
SELECT
    (SELECT count(*) FROM posts INDEXED BY posts_author_boosts
     WHERE acct = :acct AND boost_intent_at >= :since AND uri != :uri),
    :fingerprint != '' AND EXISTS (SELECT 1 FROM posts
        WHERE acct = :acct AND text_fingerprint = :fingerprint AND uri != :uri),
    (SELECT mode FROM consent WHERE acct = :acct),
    (SELECT reason FROM blocks WHERE kind = 'account' AND target = :acct),
    {covering},
    EXISTS (SELECT 1 FROM trusted WHERE acct = :acct)
"""


@functools.lru_cache(maxsize=64)
def _history_sql(depth: int) -> str:
    """`_HISTORY` for a domain with `depth` covering targets (the statement cache keeps each)."""
    # S608: the text holds only parameter names made here, never a value.
    lookups = [f"(SELECT reason FROM blocks WHERE target = :c{i} AND kind = 'domain')" for i in range(depth)]  # noqa: S608
    while len(lookups) > 1:  # SQLite takes at most 127 arguments a function: coalesce 100 at a time
        groups = [lookups[i : i + 100] for i in range(0, len(lookups), 100)]
        lookups = [f"coalesce({', '.join(group)})" if len(group) > 1 else group[0] for group in groups]
    return _HISTORY.format(covering=lookups[0] if lookups else "NULL")


@functools.lru_cache(maxsize=4096)
def _covering(domain: str | None) -> dict[str, str]:
    """The block targets that cover `domain` (`covering_domains`), as parameters c0, c1, ...; none
    for a handle without a domain. Callers unpack it, never change it: it is shared by the cache."""
    return {} if domain is None else {f"c{i}": target for i, target in enumerate(covering_domains(domain))}


class People:
    """The `consent`, `blocks` and `trusted` tables, and the author history read across them."""

    _last_day_before: tuple[datetime, str] | None = None

    def __init__(self, db: Db, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    # -- consent -------------------------------------------------------------------------------

    def set_consent(self, acct: str, mode: str | None, actor: str, now: datetime | None = None) -> None:
        """Record `acct`'s choice: `opt-out`, `opt-in`, or `None` to forget it. Audited."""
        if mode is not None and mode not in CONSENT_MODES:
            raise ValueError(f"unknown consent {mode!r}; known: {sorted(CONSENT_MODES)} or None")
        acct, at = norm_acct(acct), self._db.at(now)
        with self._db.writing() as c:
            if mode is None:
                c.execute("DELETE FROM consent WHERE acct = ?", (acct,))
            else:
                c.execute(
                    "INSERT INTO consent (acct, mode, actor, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (acct) DO UPDATE SET mode = excluded.mode,"
                    " actor = excluded.actor, updated_at = excluded.updated_at",
                    (acct, mode, actor, at),
                )
            self._audit.write(c, f"consent.{mode or 'cleared'}", actor=actor, at=at, target=acct)

    def consent(self, acct: str) -> str | None:
        """`opt-out`, `opt-in`, or `None` when `acct` said nothing."""
        value = self._db.one("SELECT mode FROM consent WHERE acct = ?", (norm_acct(acct),))
        return None if value is None else str(value)

    # -- blocks and trust ----------------------------------------------------------------------

    def block(self, target: str, reason: str, actor: str, now: datetime | None = None) -> None:
        """Block `user@domain`, or a bare domain with all its subdomains. Audited."""
        target, at = norm_acct(target), self._db.at(now)
        if not target:
            raise ValueError("an empty block target")
        kind = "account" if "@" in target else "domain"
        with self._db.writing() as c:
            c.execute(
                "INSERT INTO blocks (target, kind, reason, actor, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE SET"
                " reason = excluded.reason, actor = excluded.actor",
                (target, kind, reason, actor, at),
            )
            self._audit.write(c, f"block.{kind}", actor=actor, at=at, target=target, detail=reason)

    def unblock(self, target: str, actor: str, now: datetime | None = None) -> bool:
        """Lift a block; return whether there was one. Audited either way."""
        return self._lift(
            "DELETE FROM blocks WHERE target = ?", "unblock", "was not blocked", target, actor, now
        )

    def blocks(self) -> list[Block]:
        """Every block, oldest first."""
        with self._db.reading() as c:
            rows = c.execute(
                "SELECT target, kind, reason, actor, created_at FROM blocks ORDER BY created_at"
            ).fetchall()
        return [Block(r[0], r[1], r[2], r[3], from_text(r[4])) for r in rows]

    def trust(self, acct: str, actor: str, now: datetime | None = None) -> None:
        """Trust `acct` (screening may then skip holds for it). Audited."""
        acct, at = norm_acct(acct), self._db.at(now)
        with self._db.writing() as c:
            c.execute(
                "INSERT INTO trusted (acct, actor, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (acct) DO NOTHING",
                (acct, actor, at),
            )
            self._audit.write(c, "trust", actor=actor, at=at, target=acct)

    def untrust(self, acct: str, actor: str, now: datetime | None = None) -> bool:
        """Stop trusting `acct`; return whether it was trusted. Audited either way."""
        return self._lift(
            "DELETE FROM trusted WHERE acct = ?", "untrust", "was not trusted", acct, actor, now
        )

    def _lift(
        self, delete: str, action: str, absent: str, target: str, actor: str, now: datetime | None
    ) -> bool:
        """Run `delete` for the handle or domain `target`; audit `action` either way (`absent` when
        there was nothing to lift, so a no-op is visible too). Whether a row went."""
        target, at = norm_acct(target), self._db.at(now)
        with self._db.writing() as c:
            existed = c.execute(delete, (target,)).rowcount > 0
            self._audit.write(
                c, action, actor=actor, at=at, target=target, detail=None if existed else absent
            )
        return existed

    def trusts(self) -> list[Trust]:
        """Every trusted account, oldest first."""
        with self._db.reading() as c:
            rows = c.execute("SELECT acct, actor, created_at FROM trusted ORDER BY created_at").fetchall()
        return [Trust(r[0], r[1], from_text(r[2])) for r in rows]

    # -- what screening needs ------------------------------------------------------------------

    def history(self, acct: str, text_fingerprint: str, now: datetime | None = None, *, uri: str) -> History:
        """What screening needs to know about `acct` when screening post `uri`.

        `same_text_seen` is true when the same non-empty fingerprint from the same author was
        seen under a uri other than `uri` (so the post being screened never matches itself).
        `boosts_last_24h` counts the author's posts other than `uri` accepted for boosting (by
        screening or by a moderator) in the 24 h before `now`: each post with a boost intent
        written in that time, whether the boost is done, still an intent, failed (a dry run, a
        post deleted or edited before its boost) or was undone since (a delete, an edit, an
        opt-out). It is a function of the decisions made, not of how far the booster got, and
        the post being screened never counts against itself (an edit of a boosted post).
        """
        acct = norm_acct(acct)
        covering = _covering(domain_of(acct))
        with self._db.reading() as c:
            row = c.execute(
                _history_sql(len(covering)),
                {
                    "acct": acct,
                    "since": self._day_before(now),
                    "fingerprint": text_fingerprint,
                    "uri": uri,
                    **covering,
                },
            ).fetchone()
        boosts, same_text, consent, account_block, domain_block, trusted = row
        return History(
            boosts_last_24h=int(boosts),
            same_text_seen=bool(same_text),
            opted_out=consent == "opt-out",
            opted_in=consent == "opt-in",
            account_blocked=account_block,
            domain_blocked=domain_block,
            trusted=bool(trusted),
        )

    def _day_before(self, now: datetime | None) -> str:
        """24 hours before `now`, as stored text (remembered, as `_at` is)."""
        when = self._db.clock(now)
        last = self._last_day_before
        if last is None or last[0] != when:
            last = self._last_day_before = (when, to_text(when - _DAY))
        return last[1]
