"""The pure silence alert: when moderators hear that no source has delivered a post, and when not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relay.core.silence import Resumed, Silent, from_setting, message, to_setting, watch

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=30)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


class TestWatch:
    def test_silence_is_announced_once_the_limit_is_reached(self) -> None:
        """Nothing before `limit` without events; at the limit, a Silent naming the last event."""
        started = minutes(-120)
        assert watch(T0, started=started, now=minutes(29.9), limit=LIMIT, told=None) is None
        assert watch(T0, started=started, now=minutes(30), limit=LIMIT, told=None) == Silent(T0)

    def test_the_start_counts_as_an_event(self) -> None:
        """After a restart, the relay gets the full limit to catch up, however old the last event."""
        last = minutes(-24 * 60)
        assert watch(last, started=T0, now=minutes(29), limit=LIMIT, told=None) is None
        assert watch(last, started=T0, now=minutes(30), limit=LIMIT, told=None) == Silent(last)

    def test_a_relay_that_never_saw_anything_is_silent_from_its_start(self) -> None:
        """Without any event ever, the silence is counted from the start and names no event."""
        assert watch(None, started=T0, now=minutes(10), limit=LIMIT, told=None) is None
        assert watch(None, started=T0, now=minutes(30), limit=LIMIT, told=None) == Silent(None)

    @pytest.mark.parametrize("later", [30, 31, 600, 10_000])
    def test_one_alert_per_silence(self, later: float) -> None:
        """Once told, the same silence is never announced again, however long it lasts."""
        assert watch(T0, started=T0, now=minutes(later), limit=LIMIT, told=Silent(T0)) is None
        assert watch(None, started=T0, now=minutes(later), limit=LIMIT, told=Silent(None)) is None

    def test_a_newer_event_ends_the_silence(self) -> None:
        """An event newer than the one the alert named is Resumed; from no event, any event is."""
        assert watch(minutes(1), started=T0, now=minutes(45), limit=LIMIT, told=Silent(T0)) == Resumed()
        assert watch(minutes(44), started=T0, now=minutes(45), limit=LIMIT, told=Silent(None)) == Resumed()

    def test_after_resuming_a_new_silence_gets_its_own_alert(self) -> None:
        """Once resumed (nothing open), the next silence from the newer event is announced again."""
        last = minutes(40)
        assert watch(last, started=T0, now=minutes(69), limit=LIMIT, told=None) is None
        assert watch(last, started=T0, now=minutes(70), limit=LIMIT, told=None) == Silent(last)

    def test_zero_limit_is_off(self) -> None:
        """A limit of zero never alerts."""
        assert watch(None, started=T0, now=minutes(10_000), limit=timedelta(0), told=None) is None


class TestMessages:
    def test_silence_text_names_the_limit_and_the_next_step(self) -> None:
        """The alert says how long, what may be wrong and where to look; minutes read naturally."""
        text = message(Silent(T0), 30)
        assert text.startswith("The relay has seen no post from any source for 30 minutes:")
        assert "streams may be down" in text
        assert "`relay status` on the server" in text
        assert "for 1 minute:" in message(Silent(None), 1)
        assert "for 0.02 minutes:" in message(Silent(None), 0.02)

    def test_resumed_text(self) -> None:
        """The end of a silence says that posts are arriving again."""
        assert message(Resumed(), 30).startswith("Posts are arriving again")


class TestSetting:
    @pytest.mark.parametrize("told", [Silent(T0), Silent(None), Silent(minutes(0.001))])
    def test_an_open_silence_round_trips(self, told: Silent) -> None:
        """What is stored for an announced silence reads back equal."""
        assert from_setting(to_setting(told)) == told

    def test_resumed_or_nothing_stored_is_no_open_silence(self) -> None:
        """After Resumed (stored as "") or before any alert (no setting), no silence is open."""
        assert to_setting(Resumed()) == ""
        assert from_setting("") is None
        assert from_setting(None) is None
