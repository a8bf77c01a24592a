"""relay.core.budget: the server's announced budget, our own where it announces none, and 429s."""

from __future__ import annotations

from relay.core.budget import MAX_BLOCK, UNANNOUNCED, ServerBudget

NOW = 1_800_000_000.0


def spend(budget: ServerBudget, calls: int, now: float, reset_at: float | None = None) -> None:
    for _ in range(calls):
        budget.observe(300, 200, reset_at, now)


class TestAnnounced:
    def test_announced_budget_does_not_count_our_calls(self) -> None:
        """With a reset announced (Mastodon), many calls in a moment never wait on our own count."""
        budget = ServerBudget()
        spend(budget, 50, NOW, reset_at=NOW + 300)
        assert budget.wait(NOW) == 0.0

    def test_reserve_kept_until_the_reset(self) -> None:
        """With the announced calls down to the reserve, the next waits for the reset."""
        budget = ServerBudget(reserve=10)
        budget.observe(300, 10, NOW + 120, NOW)
        assert budget.wait(NOW) == 120.0

    def test_429_with_reset_waits_for_it(self) -> None:
        """A 429 with a reset blocks exactly until it."""
        budget = ServerBudget()
        budget.hit_limit(NOW, NOW + 42)
        assert budget.wait(NOW) == 42.0


class TestUnannounced:
    def test_own_budget_applies_without_headers(self) -> None:
        """Pleroma/Akkoma send no rate headers: at most UNANNOUNCED calls per window, then a wait
        until the oldest leaves the window."""
        calls, window = UNANNOUNCED
        budget = ServerBudget()
        spend(budget, calls - 1, NOW)
        assert budget.wait(NOW) == 0.0
        spend(budget, 1, NOW)
        assert budget.wait(NOW) == window
        assert budget.wait(NOW + window) == 0.0

    def test_own_budget_is_below_pleromas_defaults(self) -> None:
        """The own budget stays under Pleroma's and Akkoma's statuses_actions (15 per 10 s)."""
        calls, window = UNANNOUNCED
        assert calls / window < 15 / 10.0

    def test_headers_coming_back_lift_our_own_count(self) -> None:
        """Once answers carry a reset again, the server's announced figures rule."""
        budget = ServerBudget()
        spend(budget, UNANNOUNCED[0], NOW)
        assert budget.wait(NOW) > 0
        budget.observe(300, 250, NOW + 300, NOW)
        assert budget.wait(NOW) == 0.0

    def test_429_without_reset_backs_off_and_doubles(self) -> None:
        """A 429 without headers ("Throttled") waits the fallback; one right after that wait ends
        waits twice as long, up to MAX_BLOCK; a 429 long after starts again from the fallback."""
        budget = ServerBudget()
        budget.hit_limit(NOW, None, fallback=60.0)
        assert budget.wait(NOW) == 60.0
        now = NOW + 60.0
        assert budget.wait(now) == 0.0  # the wait is over
        budget.hit_limit(now + 1, None, fallback=60.0)
        assert budget.wait(now + 1) == 120.0
        now += 1 + 120.0
        assert budget.wait(now) == 0.0
        budget.hit_limit(now, None, fallback=60.0)
        assert budget.wait(now) == 240.0
        for _ in range(10):
            now += budget.wait(now)
            assert budget.wait(now) == 0.0
            budget.hit_limit(now, None, fallback=60.0)
        assert budget.wait(now) == MAX_BLOCK
        later = now + MAX_BLOCK + 3600
        assert budget.wait(later) == 0.0
        budget.hit_limit(later, None, fallback=60.0)
        assert budget.wait(later) == 60.0

    def test_a_stale_reset_is_no_reset(self) -> None:
        """A reset already past (as Mastodon.py leaves it) is treated as none: the fallback applies."""
        budget = ServerBudget()
        budget.hit_limit(NOW, NOW - 5)
        assert budget.wait(NOW) == 60.0
