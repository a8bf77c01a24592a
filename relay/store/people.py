"""The part of `relay.store.store.Store` about people and operations: the audit log, consent, blocks,
trust, settings (the `paused` flag), the bot's handled mentions, the author history screening
needs, and statistics.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta

from relay.core.rules import CONSENT_MODES
from relay.core.screen import History, covering_domains
from relay.store.base import StoreBase
from relay.store.records import (
    AuditRow,
    Block,
    SourceStats,
    Stats,
    Trust,
    domain_of,
    from_text,
    norm_acct,
    to_text,
    verdict_from,
)

_DAY = timedelta(hours=24)
_PAUSED = "paused"

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


class PeopleMixin(StoreBase):
    """Audit log, consent, blocks, trust, settings, handled mentions, history, statistics (see `Store`)."""

    _last_day_before: tuple[datetime, str] | None = None

    # -- audit log -----------------------------------------------------------------------------

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
        """Append an audit row (`actor` is `relay` or a moderator's `user@domain`); return its id."""
        at = self._at(now)
        with self._writing() as c:
            return self._audit_in(c, action, actor=actor, at=at, uri=uri, target=target, detail=detail)

    def audit_rows(
        self,
        since: datetime | None = None,
        actor: str | None = None,
        uri: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRow]:
        """Audit rows matching every filter given, oldest first; with `limit`, the newest ones."""
        since_text = None if since is None else to_text(since)
        with self._reading() as c:
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

    # -- consent -------------------------------------------------------------------------------

    def set_consent(self, acct: str, mode: str | None, actor: str, now: datetime | None = None) -> None:
        """Record `acct`'s choice: `opt-out`, `opt-in`, or `None` to forget it. Audited."""
        if mode is not None and mode not in CONSENT_MODES:
            raise ValueError(f"unknown consent {mode!r}; known: {sorted(CONSENT_MODES)} or None")
        acct, at = norm_acct(acct), self._at(now)
        with self._writing() as c:
            if mode is None:
                c.execute("DELETE FROM consent WHERE acct = ?", (acct,))
            else:
                c.execute(
                    "INSERT INTO consent (acct, mode, actor, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (acct) DO UPDATE SET mode = excluded.mode,"
                    " actor = excluded.actor, updated_at = excluded.updated_at",
                    (acct, mode, actor, at),
                )
            self._audit_in(c, f"consent.{mode or 'cleared'}", actor=actor, at=at, target=acct)

    def consent(self, acct: str) -> str | None:
        """`opt-out`, `opt-in`, or `None` when `acct` said nothing."""
        value = self._one("SELECT mode FROM consent WHERE acct = ?", (norm_acct(acct),))
        return None if value is None else str(value)

    # -- blocks and trust ----------------------------------------------------------------------

    def block(self, target: str, reason: str, actor: str, now: datetime | None = None) -> None:
        """Block `user@domain`, or a bare domain with all its subdomains. Audited."""
        target, at = norm_acct(target), self._at(now)
        if not target:
            raise ValueError("an empty block target")
        kind = "account" if "@" in target else "domain"
        with self._writing() as c:
            c.execute(
                "INSERT INTO blocks (target, kind, reason, actor, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE SET"
                " reason = excluded.reason, actor = excluded.actor",
                (target, kind, reason, actor, at),
            )
            self._audit_in(c, f"block.{kind}", actor=actor, at=at, target=target, detail=reason)

    def unblock(self, target: str, actor: str, now: datetime | None = None) -> bool:
        """Lift a block; return whether there was one. Audited either way."""
        target, at = norm_acct(target), self._at(now)
        with self._writing() as c:
            existed = c.execute("DELETE FROM blocks WHERE target = ?", (target,)).rowcount > 0
            detail = None if existed else "was not blocked"
            self._audit_in(c, "unblock", actor=actor, at=at, target=target, detail=detail)
        return existed

    def blocks(self) -> list[Block]:
        """Every block, oldest first."""
        with self._reading() as c:
            rows = c.execute(
                "SELECT target, kind, reason, actor, created_at FROM blocks ORDER BY created_at"
            ).fetchall()
        return [Block(r[0], r[1], r[2], r[3], from_text(r[4])) for r in rows]

    def trust(self, acct: str, actor: str, now: datetime | None = None) -> None:
        """Trust `acct` (screening may then skip holds for it). Audited."""
        acct, at = norm_acct(acct), self._at(now)
        with self._writing() as c:
            c.execute(
                "INSERT INTO trusted (acct, actor, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (acct) DO NOTHING",
                (acct, actor, at),
            )
            self._audit_in(c, "trust", actor=actor, at=at, target=acct)

    def untrust(self, acct: str, actor: str, now: datetime | None = None) -> bool:
        """Stop trusting `acct`; return whether it was trusted. Audited either way."""
        acct, at = norm_acct(acct), self._at(now)
        with self._writing() as c:
            existed = c.execute("DELETE FROM trusted WHERE acct = ?", (acct,)).rowcount > 0
            detail = None if existed else "was not trusted"
            self._audit_in(c, "untrust", actor=actor, at=at, target=acct, detail=detail)
        return existed

    def trusts(self) -> list[Trust]:
        """Every trusted account, oldest first."""
        with self._reading() as c:
            rows = c.execute("SELECT acct, actor, created_at FROM trusted ORDER BY created_at").fetchall()
        return [Trust(r[0], r[1], from_text(r[2])) for r in rows]

    # -- settings ------------------------------------------------------------------------------

    def paused(self) -> bool:
        """True while moderators have paused boosting."""
        return self.get_setting(_PAUSED) == "1"

    def set_paused(self, paused: bool, actor: str, now: datetime | None = None) -> None:
        """Pause or resume boosting. Audited as `pause` or `resume`."""
        at = self._at(now)
        with self._writing() as c:
            self._put_setting(c, _PAUSED, "1" if paused else "0", at)
            self._audit_in(c, "pause" if paused else "resume", actor=actor, at=at)

    def get_setting(self, key: str) -> str | None:
        """A small stored value, or `None`."""
        value = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_setting(self, key: str, value: str, now: datetime | None = None) -> None:
        """Store a small value under `key` (not audited: use a dedicated method for that)."""
        at = self._at(now)
        with self._writing() as c:
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
        at = self._at(now)
        with self._writing() as c:
            c.execute(
                "INSERT INTO handled_mentions (status_id, handled_at) VALUES (?, ?)"
                " ON CONFLICT (status_id) DO NOTHING",
                (status_id, at),
            )

    def is_mention_handled(self, status_id: str) -> bool:
        """True once `mark_mention_handled(status_id)` was called (and not pruned since)."""
        return self._one("SELECT 1 FROM handled_mentions WHERE status_id = ?", (status_id,)) is not None

    def prune_handled_mentions(self, before: datetime) -> int:
        """Forget the mentions handled before `before`; return how many were forgotten."""
        with self._writing() as c:
            cur = c.execute("DELETE FROM handled_mentions WHERE handled_at < ?", (to_text(before),))
        return cur.rowcount

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
        with self._reading() as c:
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
        when = self._clock(now)
        last = self._last_day_before
        if last is None or last[0] != when:
            last = self._last_day_before = (when, to_text(when - _DAY))
        return last[1]

    # -- statistics ----------------------------------------------------------------------------

    def record_source_event(self, source: str, now: datetime | None = None) -> None:
        """Count one event delivered by `source` (for `relay status` and the watchdog)."""
        self.record_source_events({source: 1}, now)

    def record_source_events(self, counts: Mapping[str, int], now: datetime | None = None) -> None:
        """Count events by source, several at once (the pipeline counts a batch in memory)."""
        at = to_text(self._clock(now))
        day = from_text(at).date().isoformat()
        with self._writing() as c:
            c.executemany(
                "INSERT INTO source_days (source, day, count, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source, day)"
                " DO UPDATE SET count = count + excluded.count, last_seen = excluded.last_seen",
                [(source, day, n, at) for source, n in counts.items() if n > 0],
            )

    def source_stats(self, now: datetime | None = None) -> list[SourceStats]:
        """Each source's last event time and its event count on `now`'s UTC day, by name."""
        today = from_text(self._at(now)).date().isoformat()
        with self._reading() as c:
            rows = c.execute(
                "SELECT source, max(last_seen), sum(CASE WHEN day = ? THEN count ELSE 0 END)"
                " FROM source_days GROUP BY source ORDER BY source",
                (today,),
            ).fetchall()
        return [SourceStats(source=r[0], last_seen=from_text(r[1]), today=int(r[2])) for r in rows]

    def stats(self, now: datetime | None = None) -> Stats:
        """Verdicts by decision and by rule (last 24 h), queue length, boosts (last 24 h), sources.

        A post screened more than once counts with its last verdict.
        """
        since = to_text(self._clock(now) - _DAY)
        by_decision: dict[str, int] = {}
        by_rule: dict[str, int] = {}
        with self._reading() as c:
            for decision, reasons in c.execute(
                "SELECT decision, reasons FROM posts WHERE screened_at >= ?", (since,)
            ):
                by_decision[decision] = by_decision.get(decision, 0) + 1
                for rule in {r.rule for r in verdict_from(decision, reasons).reasons}:
                    by_rule[rule] = by_rule.get(rule, 0) + 1
            (queued,) = c.execute("SELECT count(*) FROM queue WHERE state = 'held'").fetchone()
            (boosts,) = c.execute(
                "SELECT count(*) FROM journal WHERE kind = 'boost' AND state = 'done' AND finished_at >= ?",
                (since,),
            ).fetchone()
        return Stats(
            verdicts_by_decision=by_decision,
            verdicts_by_rule=by_rule,
            queue_length=int(queued),
            boosts_last_24h=int(boosts),
            sources=tuple(self.source_stats(now)),
        )
