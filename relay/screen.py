"""PURE moderation filter: `screen(post, rules, history, now) -> Verdict`.

(Skeleton: the shared result types. The rules and `screen()` are filled in by the decision core.)
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


@dataclass(frozen=True, slots=True)
class History:
    """What the store knows about the author at screening time (filled by the store, read here)."""

    boosts_last_24h: int = 0
    same_text_seen: bool = False
    opted_out: bool = False
    opted_in: bool = False
    account_blocked: str | None = None  # the block reason, when blocked by a moderator
    domain_blocked: str | None = None
    trusted: bool = False
