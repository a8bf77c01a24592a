"""PURE weekly-digest periods: when a digest is due and which stretch of time it sums up.

A digest is due once a week at a local wall-clock moment (`Schedule`: a weekday, an hour, a time
zone). The period it sums up runs from the previous scheduled moment to this one, both computed in
local time, so a week that crosses a daylight-saving change is 167 or 169 hours long and the digest
still comes at the same local hour. A local hour that does not exist (the clocks jump over it)
is taken as the moment of the jump; one that happens twice (the clocks go back) as its first
occurrence: each scheduled moment is one instant, whatever the zone does.

`due_period(schedule, now, last_end)` is the one decision: the period whose digest should be
written now, or None. A period already recorded (`last_end`, the end of the newest recorded
period) is never due again; a period whose moment passed more than `GRACE` ago is not posted late
(a relay that was down all that day skips it, rather than posting "this week" days afterwards);
after a change of schedule the next period starts where the last recorded one ended, so no post is
counted twice.

No I/O and no clock: `now` is passed in, aware; the zone is a `tzinfo` made by the caller
(`relay.config.load` makes it from the IANA name in relay.toml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""The names relay.toml's `[digest] day` takes, Monday first (`datetime.weekday()` order)."""

GRACE = timedelta(days=1)
"""How late a digest may still be posted after its moment (a restart, an outage that day)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Once a week on `weekday` (0 = Monday) at `hour`:00 local time in `zone`."""

    weekday: int
    hour: int
    zone: tzinfo

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")
        if not 0 <= self.hour <= 23:
            raise ValueError(f"hour must be 0 to 23, not {self.hour}")

    def moment(self, day: date) -> datetime:
        """The scheduled instant on local date `day` (which must be the schedule's weekday), in UTC.

        A local time in a gap (spring forward) resolves with the offset from before the gap, which
        is the instant of the jump or after it; an ambiguous one (fall back) to its first occurrence.
        """
        if day.weekday() != self.weekday:
            raise ValueError(f"{day} is a {WEEKDAYS[day.weekday()]}, not a {WEEKDAYS[self.weekday]}")
        local = datetime.combine(day, time(self.hour), tzinfo=self.zone)  # fold=0: see above
        return local.astimezone(UTC)

    def latest(self, now: datetime) -> datetime:
        """The newest scheduled instant at or before `now` (aware), in UTC."""
        local = _aware(now).astimezone(self.zone)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        moment = self.moment(day)
        return moment if moment <= now else self.moment(day - timedelta(days=7))

    def following(self, moment: datetime) -> datetime:
        """The scheduled instant one local week after the scheduled instant `moment`."""
        return self.moment(self._day_of(moment) + timedelta(days=7))

    def preceding(self, moment: datetime) -> datetime:
        """The scheduled instant one local week before the scheduled instant `moment`."""
        return self.moment(self._day_of(moment) - timedelta(days=7))

    def next(self, now: datetime) -> datetime:
        """The first scheduled instant after `now`, in UTC."""
        return self.following(self.latest(now))

    def _day_of(self, moment: datetime) -> date:
        """The local date of a scheduled instant (its first occurrence, when ambiguous)."""
        local = _aware(moment).astimezone(self.zone)
        day = local.date()
        if local.weekday() != self.weekday:  # an hour in a gap resolved past midnight: the day before
            day -= timedelta(days=1)
        return day


@dataclass(frozen=True, slots=True)
class Period:
    """What one digest sums up: from `start` (inclusive) to `end` (exclusive), both UTC. `end` is
    the scheduled instant the digest is for, and the period's key in the store."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"a period must end after it starts: {self.start} .. {self.end}")

    def local(self, zone: tzinfo) -> tuple[date, date]:
        """The first and last local dates the period covers (its end instant itself excluded)."""
        last = (self.end - timedelta(microseconds=1)).astimezone(zone).date()
        return self.start.astimezone(zone).date(), last


@dataclass(frozen=True, slots=True)
class DigestFacts:
    """What one digest says: its period, the authors (`user@domain`) of the posts boosted in it, one
    entry per post, and the new members of the directory (`user@domain`), the only people named."""

    period: Period
    boosted_authors: tuple[str, ...] = ()
    new_members: tuple[str, ...] = ()

    @property
    def nothing_to_say(self) -> bool:
        """No post boosted and nobody new: no digest is posted for the period."""
        return not self.boosted_authors and not self.new_members

    @property
    def people(self) -> int:
        return len(set(self.boosted_authors))

    def servers(self) -> list[tuple[str, int]]:
        """The servers the boosted posts came from, with how many posts each, most first (then by
        name)."""
        counts: dict[str, int] = {}
        for acct in self.boosted_authors:
            domain = acct.rpartition("@")[2]
            counts[domain] = counts.get(domain, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def due_period(
    schedule: Schedule, now: datetime, last_end: datetime | None, *, grace: timedelta = GRACE
) -> Period | None:
    """The period whose digest is due at `now`, or None.

    `last_end` is the end of the newest period already recorded (posted, found empty, failed or
    still being posted), None if none. The latest scheduled instant at or before `now` is due
    unless it is recorded already (`last_end >= it`) or passed more than `grace` ago. Its period
    starts one local week earlier, or where the last recorded period ended if that is later.
    """
    end = schedule.latest(now)
    if now - end > grace:
        return None
    if last_end is not None and last_end >= end:
        return None
    start = schedule.preceding(end)
    if last_end is not None and last_end > start:
        start = last_end
    return Period(start, end)


def upcoming_period(schedule: Schedule, now: datetime, last_end: datetime | None) -> Period:
    """The period the next digest after `now` will sum up (for `relay digest --preview`): the one
    due now if there is one, else the one ending at the next scheduled instant."""
    due = due_period(schedule, now, last_end)
    if due is not None:
        return due
    end = schedule.next(now)
    start = schedule.preceding(end)
    if last_end is not None and start < last_end < end:
        start = last_end
    return Period(start, end)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"a time with a zone is needed, not {moment!r}")
    return moment
