"""PURE rate budgets for calls to the home instance: every method takes the time as an argument.

Mastodon announces its budget on every response (`X-RateLimit-Limit/Remaining/Reset`, which
Mastodon.py parses into epoch seconds). `ServerBudget` keeps a reserve so that normal operation
never reaches a 429, and after a 429 waits until the reset. `WindowBudget` counts our own calls
in a sliding window, for the limits the headers do not show (unreblog: 30 per 30 minutes) and for
the optional spacing of boosts (`max_boosts_per_hour`).

The home token's budget is shared by the booster (the store thread) and the edit recheck (the home
catch-up thread): `relay.runtime.budget.SharedServerBudget` is this one behind a lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class ServerBudget:
    """The server's own budget as last announced, with `reserve` calls kept back for other work."""

    reserve: int = 10
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # epoch seconds
    blocked_until: float | None = None  # set by a 429

    def observe(self, limit: int | None, remaining: int | None, reset_at: float | None) -> None:
        """Take the figures from the latest response's headers."""
        if limit is not None:
            self.limit = limit
        if remaining is not None:
            self.remaining = remaining
        if reset_at is not None:
            self.reset_at = reset_at

    def hit_limit(self, now: float, reset_at: float | None, fallback: float = 60.0) -> None:
        """A 429 arrived: nothing more until the announced reset (or `fallback` seconds)."""
        self.remaining = 0
        self.blocked_until = reset_at if reset_at is not None and reset_at > now else now + fallback

    def wait(self, now: float) -> float:
        """Seconds to wait before the next call may go out (0 when it may go now)."""
        if self.blocked_until is not None:
            if now < self.blocked_until:
                return self.blocked_until - now
            self.blocked_until = None
        if self.reset_at is not None and now >= self.reset_at:
            self.remaining, self.reset_at = None, None  # a new window has begun
        if self.remaining is not None and self.remaining <= self.kept() and self.reset_at is not None:
            return max(self.reset_at - now, 0.0)
        return 0.0

    def kept(self) -> int:
        """The calls of each window kept back: `reserve`, but never more than a tenth of a small budget."""
        return min(self.reserve, self.limit // 10) if self.limit else self.reserve


@dataclass(slots=True)
class WindowBudget:
    """At most `count` calls in any `window` seconds (our own count; 0 means no limit)."""

    count: int
    window: float
    _calls: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        if self.count <= 0:
            return 0.0
        while self._calls and self._calls[0] <= now - self.window:
            self._calls.popleft()
        if len(self._calls) < self.count:
            return 0.0
        return self._calls[0] + self.window - now

    def spend(self, now: float) -> None:
        if self.count > 0:
            self._calls.append(now)

    def used(self, now: float) -> int:
        self.wait(now)
        return len(self._calls)
