"""PURE what screening decides about a post: a `Verdict` (decision and every reason).

`relay.core.screen` makes verdicts; the store keeps each post's last one (`relay.store.records`
turns it into text and back); the moderation channel shows them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Decision(enum.Enum):
    """What happens to a post. Ordered by severity: reject beats hold beats accept."""

    ACCEPT = "accept"
    HOLD = "hold"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that applied: its name (as in relay.toml), what it decided, and why."""

    rule: str
    decision: Decision
    detail: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision and every reason that applied (not only the first)."""

    decision: Decision
    reasons: tuple[Reason, ...] = ()
