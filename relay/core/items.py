"""PURE: what travels on the event queue from the sources to the pipeline.

Every source (stream readers, catch-up, pollers, RSS, the recheck of recent boosts, the bot's
notifications) turns what it reads into these items in one place, `relay.sources.normalise`; the
main thread takes them in order: posts and deletes go to the pipeline, mentions to moderation.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.core.dm import DirectMessage
from relay.core.post import Post
from relay.errors import RelayError


@dataclass(frozen=True, slots=True)
class Delivered:
    """A status that a source delivered: by stream, catch-up, poll or RSS."""

    post: Post
    via: str  # "stream" | "catch-up" | "poll" | "rss" | "recheck" | "anchor" | "mention"
    hashtag: str | None = None  # the watched hashtag whose feed brought it (moves that cursor)
    anchor: str | None = None  # the anchor post (its `[[anchors]]` URL) it replies to, if it came as one


@dataclass(frozen=True, slots=True)
class Sighting:
    """A status whose uri and version the store already has (see `relay.core.seen`): only counted."""

    source: str
    uri: str
    local_id: str | None
    via: str
    hashtag: str | None = None


@dataclass(frozen=True, slots=True)
class Deleted:
    """A `delete` event: `source` no longer has its status `local_id`."""

    source: str
    local_id: str


@dataclass(frozen=True, slots=True)
class Fatal:
    """A source thread met an error that must end the relay (e.g. the home token was revoked)."""

    error: RelayError


Item = Delivered | Sighting | Deleted | Fatal  # what the pipeline takes


@dataclass(frozen=True, slots=True)
class Mention:
    """A notification that mentions the bot, from the user stream or the catch-up."""

    dm: DirectMessage
    via: str  # "stream" | "catch-up"
    anchor_reply: Delivered | None = None  # a public reply to the bot's own anchor post, for the pipeline


@dataclass(frozen=True, slots=True)
class MentionsSeen:
    """The catch-up read notifications up to `notification_id` (moves its cursor)."""

    notification_id: str
