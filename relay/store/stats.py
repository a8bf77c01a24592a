"""Statistics: events per source and day, and what `relay status` shows about the last 24 hours."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from relay.store.db import Db
from relay.store.records import SourceStats, Stats, from_text, to_text, verdict_from

_DAY = timedelta(hours=24)


class Statistics:
    """The `source_days` table, and counts read across the others."""

    def __init__(self, db: Db) -> None:
        self._db = db

    # -- statistics ----------------------------------------------------------------------------

    def record_source_event(self, source: str, now: datetime | None = None) -> None:
        """Count one event delivered by `source` (for `relay status` and the watchdog)."""
        self.record_source_events({source: 1}, now)

    def record_source_events(self, counts: Mapping[str, int], now: datetime | None = None) -> None:
        """Count events by source, several at once (the pipeline counts a batch in memory)."""
        at = to_text(self._db.clock(now))
        day = from_text(at).date().isoformat()
        with self._db.writing() as c:
            c.executemany(
                "INSERT INTO source_days (source, day, count, last_seen) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source, day)"
                " DO UPDATE SET count = count + excluded.count, last_seen = excluded.last_seen",
                [(source, day, n, at) for source, n in counts.items() if n > 0],
            )

    def source_stats(self, now: datetime | None = None) -> list[SourceStats]:
        """Each source's last event time and its event count on `now`'s UTC day, by name."""
        today = from_text(self._db.at(now)).date().isoformat()
        with self._db.reading() as c:
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
        since = to_text(self._db.clock(now) - _DAY)
        by_decision: dict[str, int] = {}
        by_rule: dict[str, int] = {}
        with self._db.reading() as c:
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
