"""The home token's rate budget shared between threads: `relay.core.budget.ServerBudget` behind a lock.

The booster (the store thread) and the recheck of recent boosts (the home catch-up thread) spend
the same server budget; each call reads and updates it in one step under the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from relay.core.budget import ServerBudget


@dataclass(slots=True)
class SharedServerBudget(ServerBudget):
    """A `ServerBudget` whose methods may be called from several threads."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def observe(
        self, limit: int | None, remaining: int | None, reset_at: float | None, now: float | None = None
    ) -> None:
        with self._lock:
            ServerBudget.observe(self, limit, remaining, reset_at, now)

    def hit_limit(self, now: float, reset_at: float | None, fallback: float = 60.0) -> None:
        with self._lock:
            ServerBudget.hit_limit(self, now, reset_at, fallback)

    def wait(self, now: float) -> float:
        with self._lock:
            return ServerBudget.wait(self, now)
