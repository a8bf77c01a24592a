"""The frozen records `relay.store.store.Store` returns, and the value conversions its parts share.

Kept apart from the `Store` class so the records can be imported (by the CLI, the booster, the
moderation channel) without reading the SQL.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from relay.core.lifecycle import JournalKind, JournalState, State
from relay.core.verdict import Decision, Reason, Verdict


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One held post as moderators see it: its short id (`h42`), post, verdict and current state."""

    short_id: str
    uri: str
    acct: str | None
    url: str | None
    state: State
    verdict: Verdict
    held_at: datetime
    updated_at: datetime
    actor: str
    reason: str | None
    announcement_id: str | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One boost or unboost in the journal: written as an intent before the call to the server."""

    id: int
    uri: str
    kind: JournalKind
    state: JournalState
    local_id: str | None
    reblog_id: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One append-only audit-log row: who did what, to which post or target, and when."""

    id: int
    at: datetime
    actor: str
    action: str
    uri: str | None
    target: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Recheck:
    """A post the relay boosted or means to boost, as the store has it (see `relay.runtime.recheck`)."""

    uri: str
    local_id: str  # its status id on the home instance
    edited_at: str | None  # the version the store has (Mastodon's `edited_at`, ISO text)
    quote_state: str | None = None  # that version's quote state (None: the post is no quote)


@dataclass(frozen=True, slots=True)
class Block:
    """A moderator's block of an account (`user@domain`) or a domain (and its subdomains)."""

    target: str
    kind: str  # "account" | "domain"
    reason: str
    actor: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Trust:
    """An account a moderator trusts."""

    acct: str
    actor: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberAccount:
    """What the directory keeps of an account when it joins: its profile as its server gave it."""

    acct: str  # user@domain
    uri: str  # the ActivityPub id
    url: str | None  # the profile page
    display_name: str
    note: str  # the bio, HTML as the server sent it (sanitised where it is shown)
    account_id: str | None = None  # its id on the home instance (for Mastodon Collections)


@dataclass(frozen=True, slots=True)
class Member:
    """One person in the directory (listed while `left_at` is `None`)."""

    acct: str
    account_id: str | None
    uri: str
    url: str | None
    display_name: str
    note: str  # the bio (HTML, unsanitised)
    joined_at: datetime  # the latest join
    intro_uri: str | None  # the introduction post, if any
    intro_url: str | None
    intro_html: str | None  # its content (HTML, unsanitised)
    intro_chosen: bool  # chosen by the member with `intro` (else the relay's pick: the first boost)
    left_at: datetime | None
    left_reason: str | None  # leave | unlist | optout | block
    collection_id: str | None  # the Mastodon Collection item publishing the member, if any
    item_id: str | None
    item_state: str | None  # pending | accepted | rejected | revoked


@dataclass(frozen=True, slots=True)
class FirstBoost:
    """A member's first post the relay boosted: their introduction until they choose another."""

    acct: str
    uri: str
    url: str | None
    local_id: str  # its status id on the home instance


@dataclass(frozen=True, slots=True)
class SourceStats:
    """When a source last delivered anything, and how many events it delivered today (UTC)."""

    source: str
    last_seen: datetime
    today: int


@dataclass(frozen=True, slots=True)
class Stats:
    """What `relay status` shows about the last 24 hours and right now."""

    verdicts_by_decision: dict[str, int] = field(default_factory=dict)
    verdicts_by_rule: dict[str, int] = field(default_factory=dict)
    queue_length: int = 0
    boosts_last_24h: int = 0
    sources: tuple[SourceStats, ...] = ()


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """One weekly digest in the store: its period, the texts fixed at the intent, the parts posted."""

    period_start: datetime
    period_end: datetime  # the scheduled instant it is for: the key
    state: JournalState  # intent (being posted) → done | failed, by `relay.core.lifecycle.JOURNAL`
    parts: tuple[str, ...]  # empty: the period had nothing to say, and nothing was posted
    status_ids: tuple[str, ...]  # the home ids of parts[: len(status_ids)], posted
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def next_part(self) -> int | None:
        """The index of the first part not posted yet; None when every part is."""
        return len(self.status_ids) if len(self.status_ids) < len(self.parts) else None


@dataclass(frozen=True, slots=True)
class BoostedPost:
    """A post boosted in a digest's period and still boosted: whose, and from which server."""

    uri: str
    acct: str
    domain: str


def to_text(when: datetime) -> str:
    """A timezone-aware datetime as fixed-width UTC ISO-8601 text (text order is time order)."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: relay stores only timezone-aware UTC times")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    """The inverse of `to_text`."""
    return datetime.fromisoformat(text)


def maybe_time(text: str | None) -> datetime | None:
    """`from_text`, passing `None` through."""
    return None if text is None else from_text(text)


@functools.lru_cache(maxsize=1024)
def reasons_to_json(verdict: Verdict) -> str:
    """A verdict's reasons as a JSON list of `{rule, decision, detail}` objects.

    Remembered for the last verdicts: most posts are decided for the same few reasons."""
    return json.dumps(
        [{"rule": r.rule, "decision": r.decision.value, "detail": r.detail} for r in verdict.reasons]
    )


def verdict_from(decision: str, reasons_json: str) -> Verdict:
    """Rebuild a `Verdict` from its stored decision and JSON reasons."""
    reasons = tuple(
        Reason(rule=r["rule"], decision=Decision(r["decision"]), detail=r["detail"])
        for r in json.loads(reasons_json)
    )
    return Verdict(decision=Decision(decision), reasons=reasons)
