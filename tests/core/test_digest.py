"""Weekly digest periods (relay.core.digest): scheduled instants, DST edges, what is due when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.digest import GRACE, WEEKDAYS, Period, Schedule, due_period, upcoming_period

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")  # its clocks change at midnight
MON, SUN = WEEKDAYS.index("mon"), WEEKDAYS.index("sun")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestSchedule:
    def test_latest_is_the_newest_instant_at_or_before_now(self) -> None:
        """Monday 09:00 London in winter is 09:00 UTC; on Monday 08:59 the latest is a week back."""
        monday_nine = Schedule(MON, 9, LONDON)
        assert monday_nine.latest(utc(2026, 12, 7, 9, 0)) == utc(2026, 12, 7, 9, 0)
        assert monday_nine.latest(utc(2026, 12, 7, 8, 59)) == utc(2026, 11, 30, 9, 0)
        assert monday_nine.latest(utc(2026, 12, 10, 12, 0)) == utc(2026, 12, 7, 9, 0)
        assert monday_nine.next(utc(2026, 12, 7, 9, 0)) == utc(2026, 12, 14, 9, 0)

    def test_summer_time_moves_the_utc_instant_not_the_local_hour(self) -> None:
        """Monday 09:00 London in July is 08:00 UTC (BST)."""
        assert Schedule(MON, 9, LONDON).latest(utc(2026, 7, 6, 8, 30)) == utc(2026, 7, 6, 8, 0)

    def test_a_week_across_spring_forward_is_167_hours(self) -> None:
        """London's clocks jump on Sunday 29 March 2026: Monday 09:00 to Monday 09:00 is 167 h."""
        schedule = Schedule(MON, 9, LONDON)
        end = schedule.latest(utc(2026, 3, 30, 12, 0))
        assert end == utc(2026, 3, 30, 8, 0)
        assert end - schedule.preceding(end) == timedelta(hours=167)

    def test_a_week_across_fall_back_is_169_hours(self) -> None:
        """London's clocks go back on Sunday 25 October 2026: that week is 169 h."""
        schedule = Schedule(MON, 9, LONDON)
        end = schedule.latest(utc(2026, 10, 26, 12, 0))
        assert end == utc(2026, 10, 26, 9, 0)
        assert end - schedule.preceding(end) == timedelta(hours=169)

    def test_an_hour_the_clocks_skip_is_the_instant_of_the_jump(self) -> None:
        """Sunday 01:00 London on 29 March 2026 does not exist (01:00 GMT becomes 02:00 BST): the
        digest is due at the jump, 01:00 UTC, once."""
        schedule = Schedule(SUN, 1, LONDON)
        assert schedule.latest(utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 1, 0)
        assert schedule.latest(utc(2026, 3, 29, 0, 59)) == utc(2026, 3, 22, 1, 0)
        assert schedule.next(utc(2026, 3, 22, 1, 0)) == utc(2026, 3, 29, 1, 0)

    def test_an_hour_that_happens_twice_is_its_first_occurrence(self) -> None:
        """Sunday 01:00 London on 25 October 2026 happens twice (BST, then GMT): the first, 00:00
        UTC, is the instant; the second is not due again."""
        schedule = Schedule(SUN, 1, LONDON)
        first = utc(2026, 10, 25, 0, 0)
        assert schedule.latest(utc(2026, 10, 25, 1, 30)) == first  # during the second 01:00 hour
        assert due_period(schedule, utc(2026, 10, 25, 1, 30), last_end=first) is None

    def test_a_zone_whose_clocks_change_at_midnight(self) -> None:
        """Santiago skips 00:00 on Sunday 6 September 2026: a Sunday-midnight digest comes at 01:00
        local that day (04:00 UTC, the instant of the jump): 168 h after the Sunday before, and the
        next is 167 h later (the hour lost is lost from the week after the jump)."""
        schedule = Schedule(SUN, 0, SANTIAGO)
        end = schedule.latest(utc(2026, 9, 6, 12, 0))
        assert end == utc(2026, 9, 6, 4, 0)
        assert end.astimezone(SANTIAGO).hour == 1
        assert end - schedule.preceding(end) == timedelta(hours=168)
        assert schedule.following(end) - end == timedelta(hours=167)

    def test_bad_values_are_refused(self) -> None:
        """A weekday outside 0..6 or an hour outside 0..23 is a ValueError."""
        with pytest.raises(ValueError, match="weekday"):
            Schedule(7, 9, LONDON)
        with pytest.raises(ValueError, match="hour"):
            Schedule(0, 24, LONDON)

    def test_a_naive_now_is_refused(self) -> None:
        """The clock must give aware times: a naive one is a ValueError, never a guess."""
        with pytest.raises(ValueError, match="zone"):
            Schedule(MON, 9, LONDON).latest(datetime(2026, 12, 7, 9, 0))

    @given(
        now=st.datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1), timezones=st.just(UTC)),
        weekday=st.integers(0, 6),
        hour=st.integers(0, 23),
        zone=st.sampled_from([LONDON, NEW_YORK, SANTIAGO, ZoneInfo("Australia/Lord_Howe"), UTC]),
    )
    def test_latest_and_next_bracket_now(
        self, now: datetime, weekday: int, hour: int, zone: ZoneInfo
    ) -> None:
        """For any instant, zone and schedule: latest <= now < next, about a week apart, and the
        latest instant falls on the schedule's weekday in local time."""
        schedule = Schedule(weekday, hour, zone)
        latest, upcoming = schedule.latest(now), schedule.next(now)
        assert latest <= now < upcoming
        assert timedelta(hours=166) <= upcoming - latest <= timedelta(hours=170)
        assert schedule.preceding(upcoming) == latest
        assert latest.astimezone(zone).weekday() in (weekday, (weekday + 1) % 7)


class TestDuePeriod:
    schedule = Schedule(MON, 9, LONDON)

    def test_the_week_before_the_moment_is_due_at_the_moment(self) -> None:
        """At Monday 09:00 the week since last Monday 09:00 is due."""
        assert due_period(self.schedule, utc(2026, 12, 7, 9, 0), None) == Period(
            utc(2026, 11, 30, 9, 0), utc(2026, 12, 7, 9, 0)
        )

    def test_a_recorded_period_is_never_due_again(self) -> None:
        """Once the period ending at the moment is recorded, nothing is due until the next."""
        assert due_period(self.schedule, utc(2026, 12, 7, 9, 5), utc(2026, 12, 7, 9, 0)) is None
        assert due_period(self.schedule, utc(2026, 12, 14, 9, 0), utc(2026, 12, 7, 9, 0)) == Period(
            utc(2026, 12, 7, 9, 0), utc(2026, 12, 14, 9, 0)
        )

    def test_a_late_start_within_the_grace_still_posts(self) -> None:
        """A relay that starts again on Monday afternoon posts the morning's digest."""
        assert due_period(self.schedule, utc(2026, 12, 7, 15, 0), None) is not None
        assert due_period(self.schedule, utc(2026, 12, 7, 9, 0) + GRACE, None) is not None

    def test_a_moment_missed_by_more_than_the_grace_is_skipped(self) -> None:
        """Started again on Wednesday: Monday's digest is not posted late."""
        assert due_period(self.schedule, utc(2026, 12, 9, 12, 0), None) is None

    def test_after_a_change_of_schedule_nothing_is_counted_twice(self) -> None:
        """Moved from Monday to Tuesday: Tuesday's period starts where Monday's ended."""
        tuesday = Schedule(WEEKDAYS.index("tue"), 9, LONDON)
        assert due_period(tuesday, utc(2026, 12, 8, 9, 0), utc(2026, 12, 7, 9, 0)) == Period(
            utc(2026, 12, 7, 9, 0), utc(2026, 12, 8, 9, 0)
        )

    def test_upcoming_is_the_running_week_when_nothing_is_due(self) -> None:
        """On Wednesday the preview shows the week that ends next Monday."""
        assert upcoming_period(self.schedule, utc(2026, 12, 9, 12, 0), utc(2026, 12, 7, 9, 0)) == Period(
            utc(2026, 12, 7, 9, 0), utc(2026, 12, 14, 9, 0)
        )

    def test_local_dates_of_a_period(self) -> None:
        """A period from Monday 09:00 to Monday 09:00 covers Monday to the next Monday in local dates."""
        period = Period(utc(2026, 11, 30, 9, 0), utc(2026, 12, 7, 9, 0))
        first, last = period.local(LONDON)
        assert (first.isoformat(), last.isoformat()) == ("2026-11-30", "2026-12-07")
        with pytest.raises(ValueError, match="end after"):
            Period(utc(2026, 12, 7), utc(2026, 12, 7))
