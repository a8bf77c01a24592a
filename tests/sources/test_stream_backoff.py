"""Backoff: capped, jittered, exponential, reset after health, zero in testing mode."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from relay.core import backoff as backoff_module
from relay.core.backoff import Backoff


@pytest.fixture
def testing_mode() -> Iterator[None]:
    backoff_module.set_testing(True)
    yield
    backoff_module.set_testing(False)


class TestBackoff:
    def test_grows_exponentially_up_to_the_cap(self) -> None:
        """Without jitter the delays double from `initial` and stop at `maximum`."""
        backoff = Backoff(initial=1.0, maximum=10.0, jitter=0.0)
        assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
        assert backoff.attempt == 6

    def test_jitter_stays_within_its_band(self) -> None:
        """With jitter j each delay lies in [(1 - j) * base, base], and they differ."""
        backoff = Backoff(initial=4.0, maximum=4.0, jitter=0.5, rng=random.Random(7))
        delays = [backoff.next_delay() for _ in range(200)]
        assert all(2.0 <= d <= 4.0 for d in delays)
        assert len(set(delays)) > 100

    def test_reset_starts_over(self) -> None:
        """After reset() the next delay is `initial` again."""
        backoff = Backoff(initial=0.5, maximum=60.0, jitter=0.0)
        for _ in range(5):
            backoff.next_delay()
        backoff.reset()
        assert backoff.attempt == 0
        assert backoff.next_delay() == 0.5

    def test_a_very_long_outage_does_not_overflow(self) -> None:
        """Thousands of attempts still give the capped delay."""
        backoff = Backoff(initial=1.0, maximum=120.0, jitter=0.0)
        for _ in range(5000):
            delay = backoff.next_delay()
        assert delay == 120.0

    @pytest.mark.usefixtures("testing_mode")
    def test_testing_mode_makes_waits_zero_but_counts(self) -> None:
        """In testing mode every delay is 0 while attempts are still counted."""
        backoff = Backoff(initial=5.0, maximum=60.0)
        assert [backoff.next_delay() for _ in range(3)] == [0.0, 0.0, 0.0]
        assert backoff.attempt == 3
        assert backoff_module.is_testing()

    @pytest.mark.parametrize(
        "kwargs",
        [{"initial": 0.0}, {"initial": 5.0, "maximum": 1.0}, {"multiplier": 0.5}, {"jitter": 1.5}],
    )
    def test_nonsense_settings_are_refused(self, kwargs: dict[str, float]) -> None:
        """Settings that would make no sense raise ValueError at once."""
        with pytest.raises(ValueError, match=r"must|need"):
            Backoff(**kwargs)
