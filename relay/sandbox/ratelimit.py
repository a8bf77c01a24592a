"""Fixed-window rate limits as Mastodon's rack-attack throttles apply them.

Budgets are counted per token (per client IP when anonymous). Every API response carries the
``X-RateLimit-*`` headers of the tightest budget the request counted against; an exhausted
budget answers 429 ``{"error": "Too many requests"}`` with the same headers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Budget:
    limit: int
    period: float  # seconds


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The budgets one instance enforces; Mastodon's defaults."""

    api: Budget = Budget(300, 300.0)
    paging: Budget = Budget(300, 900.0)  # requests with max_id / since_id / min_id
    unreblog_delete: Budget = Budget(30, 1800.0)  # unreblog and status delete, per account


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: datetime

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": self.reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._counts: dict[tuple[str, str, int], int] = {}
        self._lock = threading.Lock()
        self.refused = 0  # requests answered 429, for tests and benchmarks to count

    def hit(self, names: list[str], key: str, now: float | None = None) -> Verdict:
        """Count one request against each named budget; the verdict of the tightest one."""
        now = time.time() if now is None else now
        verdicts = []
        with self._lock:
            for name in names:
                budget: Budget = getattr(self.limits, name)
                window = int(now // budget.period)
                slot = (name, key, window)
                used = self._counts.get(slot, 0)
                allowed = used < budget.limit
                if allowed:
                    used += 1
                    self._counts[slot] = used
                reset_at = (window + 1) * budget.period + (now % 1)
                verdicts.append(
                    Verdict(
                        allowed,
                        budget.limit,
                        budget.limit - used,
                        datetime.fromtimestamp(reset_at, UTC),
                    )
                )
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            with self._lock:
                self.refused += 1
            return refused[0]
        return min(verdicts, key=lambda v: (v.remaining, v.limit))
