"""Normalise: every source's data becomes core items (`relay.core.items`) here, in one place.

    stream event (update, status.update) ─┐
    catch-up and poll statuses (REST)      ├─► status() ─► Sighting (known to the seen-cache)
    the recheck of recent boosts (REST)    │              or Delivered(Post), or None (malformed: logged)
    an RSS item, resolved on the home inst.┘
    stream event (delete)                  ───► Deleted
    notification (user stream, catch-up)   ───► mention() ─► Mention, or None (malformed: logged)
    an anchor's context (its replies)      ───► status(anchor=URL) ─► Delivered with its anchor
    a public reply to the bot's own anchor ───► mention() ─► Mention with its `anchor_reply`

The source threads call these; nothing past them indexes into Mastodon JSON. A status the store
already has at this version (`relay.core.seen.SeenCache`, filled by the pipeline after each
commit) becomes a light `Sighting` before any parsing: a duplicate costs a dict lookup, not a
`Post`. A malformed status or notification is logged under its source's event name and skipped;
nothing else is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from relay.core.dm import DirectMessage
from relay.core.items import Deleted, Delivered, Mention, Sighting
from relay.core.mastodon_json import MalformedStatus
from relay.core.post import Post
from relay.core.seen import SeenCache

log = structlog.get_logger()

# The log event of a malformed status, by the path that brought it (the names predate this module).
MALFORMED = {
    "anchor": "anchor.malformed_status",
    "mention": "mentions.malformed",
    "stream": "stream.malformed_status",
    "catch-up": "fetch.malformed_status",
    "poll": "fetch.malformed_status",
    "recheck": "recheck.malformed_status",
    "rss": "rss.item_skipped",
}
MALFORMED_MENTION = {"stream": "stream.malformed_mention", "catch-up": "mentions.malformed"}
STATUS_EVENTS = frozenset({"update", "status.update"})


def status(
    data: Mapping[str, Any],
    *,
    source: str,
    via: str,
    hashtag: str | None = None,
    seen: SeenCache | None = None,
    anchor: str | None = None,
    **context: Any,
) -> Delivered | Sighting | None:
    """A status (Mastodon JSON) that `source` delivered `via` a path, as a queue item.

    `hashtag`: the watched hashtag whose feed brought it (moves that cursor). `anchor`: the anchor
    post it replies to, when an anchor's context brought it (never a `Sighting`: the pipeline links
    it to its anchor even when it has the post already). With `seen`, a status
    the store already has at this version is a `Sighting`. None for a malformed status (logged
    with `context`).
    """
    if seen is not None and anchor is None:
        uri = seen.known(data)
        if uri is not None:  # the fast path: a duplicate costs a lookup, not a parse
            local_id = (data.get("reblog") or data).get("id")
            return Sighting(source, uri, str(local_id) if local_id else None, via, hashtag)
    try:
        post = Post.from_status(data, source=source)
    except MalformedStatus as exc:
        log.warning(MALFORMED.get(via, "source.malformed_status"), source=source, error=str(exc), **context)
        return None
    return Delivered(post, via=via, hashtag=hashtag, anchor=anchor)


def stream_event(
    name: str, data: Any, *, source: str, seen: SeenCache | None = None
) -> Delivered | Sighting | Deleted | None:
    """A hashtag stream's event as a queue item (None: not one the relay takes, or malformed)."""
    if name in STATUS_EVENTS:
        return status(data, source=source, via="stream", seen=seen, event_name=name)
    if name == "delete":
        return Deleted(source, str(data))
    return None


def rss_entry(entry: Mapping[str, Any], *, source: str, link: str) -> bool:
    """True if an RSS item is well-formed enough to be resolved (else logged as skipped)."""
    try:
        Post.from_rss_entry(entry, source=source)
    except MalformedStatus as exc:
        log.warning(MALFORMED["rss"], source=source, link=link, error=str(exc))
        return False
    return True


def mention(
    notification: Mapping[str, Any], *, home: str, via: str, anchors: OwnAnchors | None = None
) -> Mention | None:
    """A mention notification of the bot as a queue item; None for a malformed one (logged).

    `home`: the home instance's account domain (local accounts' handles get it). `anchors`: the
    bot's own anchor posts; a reply to one of them that is not a DM also goes to the pipeline as
    an anchor reply (`Mention.anchor_reply`), as that anchor's context would bring it.
    """
    try:
        dm = DirectMessage.from_notification(notification, home=home)
    except MalformedStatus as exc:
        log.warning(MALFORMED_MENTION[via], error=str(exc))
        return None
    anchor = None if anchors is None or dm.is_direct else anchors.by_id.get(dm.in_reply_to_id or "")
    if anchors is None or anchor is None:
        return Mention(dm, via=via)
    reply = status(notification["status"], source=anchors.host, via="mention", anchor=anchor)
    return Mention(dm, via=via, anchor_reply=reply if isinstance(reply, Delivered) else None)


@dataclass(frozen=True, slots=True)
class OwnAnchors:
    """The anchors on the home instance, by their status id there (replies to the bot's own posts
    come as mentions); `host`: the home instance, as a post's source is named."""

    host: str
    by_id: Mapping[str, str]  # status id on the home instance → the anchor's URL


def notification_event(
    name: str, data: Any, *, home: str, anchors: OwnAnchors | None = None
) -> Mention | None:
    """The bot's user stream event as a `Mention`, if it is a mention notification."""
    if name != "notification" or not isinstance(data, dict) or data.get("type") != "mention":
        return None
    return mention(data, home=home, via="stream", anchors=anchors)
