"""The records one sandbox instance keeps: accounts, statuses, notifications, apps and tokens.

Value types handed to callers (``SeededAccount``) are frozen. The server-side records are
deliberately mutable dataclasses: they are the in-memory database, changed only under the
``Fediverse`` lock by ``relay.sandbox.state``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

VISIBILITIES = ("public", "unlisted", "private", "direct")
ALL_SCOPES = ("read", "write", "follow", "push")
POLICY_VALUES = ("accept", "filter", "drop")
FEED_ACCESS = ("public", "authenticated", "disabled")


class SnowflakeIds:
    """Mastodon-like numeric ids: milliseconds shifted left 16 bits plus a sequence, increasing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            candidate = int(time.time() * 1000) << 16
            self._last = max(candidate, self._last + 1)
            return str(self._last)


SNOWFLAKES = SnowflakeIds()
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_from(number: str) -> str:
    """A 26-character ULID (GoToSocial's ids) made from a snowflake or small id: its number in the
    high bits, 64 bits derived from it below, so ULIDs sort (as strings) as the numbers do."""
    noise = int.from_bytes(hashlib.blake2b(number.encode(), digest_size=8).digest(), "big")
    value = (int(number) << 64) | noise
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def id_order(value: str) -> tuple[int, str]:
    """Sort key for ids as the API shows them: numeric ids by number, ULIDs (fixed width) as text."""
    return len(value), value


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Mastodon's timestamp format: ``2026-08-01T13:53:54.008Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def scope_allows(granted: frozenset[str], *needed: str) -> bool:
    """True if any of ``needed`` (e.g. ``read:statuses``) is covered by the granted scopes."""
    return any(n in granted or n.split(":")[0] in granted for n in needed)


@dataclass(frozen=True, slots=True)
class SeededAccount:
    """A local account created from Python, with a token that holds every scope."""

    id: str
    username: str
    acct: str
    uri: str
    url: str
    token: str


@dataclass(eq=False)
class Account:
    """An account known to one instance: local (``domain`` None) or a copy of a peer's account."""

    id: str
    username: str
    domain: str | None
    uri: str
    url: str
    display_name: str = ""
    note: str = ""
    bot: bool = False
    group: bool = False
    locked: bool = False
    indexable: bool = False
    fields: tuple[tuple[str, str], ...] = ()
    created_at: datetime = field(default_factory=utcnow)
    language: str | None = None
    chosen_languages: tuple[str, ...] | None = None
    quote_policy: str = "public"  # who may quote new posts: "public", "followers" or "nobody"
    # Consent to be featured in Collections: "automatic", "manual" or "denied"; None is Mastodon's
    # rule (Mastodon 4.6 ties it to `discoverable`: automatic when discoverable, else denied).
    feature_approval: str | None = None

    @property
    def feature_policy(self) -> str:
        if self.feature_approval is not None:
            return self.feature_approval
        return "automatic" if self.indexable else "denied"

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


@dataclass(eq=False)
class Status:
    """A status (or a reblog wrapper when ``reblog`` is set) as stored on one instance."""

    id: str
    uri: str
    url: str
    account: Account
    text: str
    content: str
    visibility: str
    created_at: datetime
    local: bool
    spoiler_text: str = ""
    sensitive: bool = False
    language: str | None = None
    in_reply_to: Status | None = None
    mentions: list[Account] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    reblog: Status | None = None
    edited_at: datetime | None = None
    application: str | None = None
    quote: Quote | None = None  # what this status quotes (Mastodon 4.5)
    quote_policy: str = "public"  # who may quote this status (its `quote_approval_policy`)


@dataclass(eq=False)
class Quote:
    """A status's quote of another: its state (Mastodon's Quote entity) and the quoted status
    (None once the quoted status is gone)."""

    state: str
    quoted: Status | None


@dataclass(eq=False)
class CollectionItem:
    """One account featured in a Collection, with its consent state (Mastodon 4.6)."""

    id: str
    account: Account
    state: str  # pending | accepted | rejected | revoked
    created_at: datetime = field(default_factory=utcnow)


@dataclass(eq=False)
class Collection:
    """A Mastodon 4.6 Collection: accounts a user recommends following."""

    id: str
    owner: Account
    name: str
    description: str = ""
    language: str | None = None
    tag: str | None = None
    sensitive: bool = False
    discoverable: bool = True
    items: list[CollectionItem] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(eq=False)
class Notification:
    id: int
    type: str
    recipient: Account
    account: Account
    status: Status | None
    created_at: datetime = field(default_factory=utcnow)
    filtered: bool = False


@dataclass(eq=False)
class App:
    id: str
    name: str
    website: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    client_id: str
    client_secret: str


@dataclass(eq=False)
class Token:
    value: str
    app: App
    account: Account | None
    scopes: frozenset[str]
    revoked: bool = False


@dataclass(eq=False)
class AuthCode:
    code: str
    app: App
    account: Account
    scopes: frozenset[str]
    redirect_uri: str


@dataclass
class NotificationPolicy:
    """Mastodon 4.3+ notification policy (``/api/v2/notifications/policy``)."""

    for_not_following: str = "accept"
    for_not_followers: str = "accept"
    for_new_accounts: str = "accept"
    for_private_mentions: str = "filter"
    for_limited_accounts: str = "filter"


@dataclass
class Conversation:
    id: int
    owner: Account
    participants: list[Account]
    last_status: Status
    unread: bool = True
