"""PURE rate budgets for calls to the home instance: every method takes the time as an argument.

Mastodon announces its budget on every response (`X-RateLimit-Limit/Remaining/Reset`, which
Mastodon.py parses into epoch seconds). `ServerBudget` keeps a reserve so that normal operation
never reaches a 429, and after a 429 waits until the reset.

Pleroma and Akkoma announce nothing (and answer a spent budget with 429 `{"error": "Throttled"}`,
no headers either). While the server's answers carry no reset, `ServerBudget` counts the calls
itself against a budget of its own, `UNANNOUNCED` (below Pleroma's and Akkoma's default limits for
the calls the relay makes), and a 429 without a reset waits `fallback` seconds, doubled for each
429 that follows close on the end of the last wait (up to `MAX_BLOCK`). `WindowBudget` counts our own calls
in a sliding window, for the limits the headers do not show (unreblog: 30 per 30 minutes) and for
the optional spacing of boosts (`max_boosts_per_hour`).

The home token's budget is shared by the booster (the store thread) and the edit recheck (the home
catch-up thread): `relay.runtime.budget.SharedServerBudget` is this one behind a lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# The budget kept where the server announces none. Pleroma's and Akkoma's defaults
# (config/config.exs, `:rate_limit`, per user): statuses_actions {10_000 ms, 15} for reblogs,
# unreblogs and posts; status_id_action {60_000 ms, 3} per status; relations_actions {10_000 ms,
# 10}; search [{1000, 10}, {1000, 30}]. The relay spends at most 10 calls in any 10 seconds, two
# thirds of the tightest broad limit, leaving the rest for the moderation channel's replies; it
# never acts on one status three times a minute.
UNANNOUNCED = (10, 10.0)  # calls, seconds
MAX_BLOCK = 900.0  # seconds: the longest wait after repeated 429s without a reset


@dataclass(slots=True)
class ServerBudget:
    """The server's own budget as last announced, with `reserve` calls kept back for other work."""

    reserve: int = 10
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # epoch seconds
    blocked_until: float | None = None  # set by a 429
    unannounced: bool = False  # the last answer carried no reset: our own count applies
    own: WindowBudget = field(default_factory=lambda: WindowBudget(*UNANNOUNCED))
    _block: float = 0.0  # the length of the last wait after a 429 without a reset
    _block_ended: float | None = None

    def observe(
        self, limit: int | None, remaining: int | None, reset_at: float | None, now: float | None = None
    ) -> None:
        """Take the figures from the latest response's headers (`now`: count the call, which
        matters only while the server announces nothing)."""
        if limit is not None:
            self.limit = limit
        if remaining is not None:
            self.remaining = remaining
        if reset_at is not None:
            self.reset_at = reset_at
        if now is not None:
            self.unannounced = reset_at is None
            self.own.spend(now)

    def hit_limit(self, now: float, reset_at: float | None, fallback: float = 60.0) -> None:
        """A 429 arrived: nothing more until the announced reset, or, without one, `fallback`
        seconds, twice the last wait when this 429 comes within a `fallback` of its end."""
        self.remaining = 0
        if reset_at is not None and reset_at > now:
            self.blocked_until = reset_at
            self._block = 0.0
            return
        again = self._block_ended is not None and now - self._block_ended < fallback
        self._block = min(self._block * 2, MAX_BLOCK) if again and self._block else fallback
        self.blocked_until = now + self._block

    def wait(self, now: float) -> float:
        """Seconds to wait before the next call may go out (0 when it may go now)."""
        if self.blocked_until is not None:
            if now < self.blocked_until:
                return self.blocked_until - now
            self._block_ended = self.blocked_until
            self.blocked_until = None
        if self.unannounced:
            return self.own.wait(now)
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
