"""Capped, jittered exponential backoff for reconnect loops, with a switch that zeroes waits in tests.

Pure: it computes delays and never sleeps. The caller waits with `stop.wait(delay)`, so a shutdown
interrupts a long wait at once (a plain `time.sleep`, as in stamina's synchronous retries, would not).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_testing = False


def set_testing(on: bool) -> None:
    """Make every `Backoff.next_delay()` return 0.0 (attempts are still counted), like stamina's."""
    global _testing
    _testing = on


def is_testing() -> bool:
    """Whether `set_testing(True)` is in force."""
    return _testing


@dataclass(slots=True)
class Backoff:
    """Delay before reconnect attempt *n*: ``min(maximum, initial * multiplier ** (n - 1))``,
    scaled down by a random factor in ``[1 - jitter, 1]`` so that many clients cut off by the
    same server restart do not all come back in the same second.

    Call `reset()` after a connection that was healthy, so that the next outage starts small.
    """

    initial: float = 1.0
    maximum: float = 120.0
    multiplier: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f"need 0 < initial <= maximum, got {self.initial} and {self.maximum}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter}")

    def next_delay(self) -> float:
        """Count one more failed attempt and return how long to wait before the next one."""
        self.attempt += 1
        if _testing:
            return 0.0
        # The exponent is capped so that a very long outage cannot overflow the float.
        base = self.initial * self.multiplier ** min(self.attempt - 1, 64)
        capped = min(self.maximum, base)
        return capped * (1 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """Forget past failures: the next delay is `initial` again."""
        self.attempt = 0
