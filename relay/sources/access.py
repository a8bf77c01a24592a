"""PURE: how a source without a token is read, decided from its instance JSON.

Mastodon 4.5+ announces in `/api/v2/instance` whether its hashtag feeds are open to anonymous
readers: `configuration.timelines_access.hashtag_feeds`, with `local` and `remote` each "public",
"authenticated" or "disabled". Where either is public, its REST tag timeline is polled (only the
local posts where only those are open); otherwise its `/tags/NAME.rss` is read and each item
resolved through the home instance, and the log says why (a disabled feed must be reported, not
silently empty). A server that does not say (older Mastodon, other software, or the JSON could
not be read) is taken to be public.

This lives beside the sources it decides for: what a server offers is read from that server's
own JSON, and the next kinds of server (WebSocket only, REST only) will be decided here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Access:
    """How one tokenless source is read."""

    poll: bool  # True: poll its public REST tag timeline; False: read its RSS feed
    local_only: bool = False  # poll only its local posts (its remote ones are not public)
    disabled: bool = False  # it disabled its hashtag feeds altogether (RSS is all that is left)
    unknown: str | None = None  # why the instance did not say (then taken as public)


def access(instance: Any, *, error: str | None = None) -> Access:
    """The access policy from `/api/v2/instance` JSON (None: it could not be read, `error` says why)."""
    try:
        feeds = instance["configuration"]["timelines_access"]["hashtag_feeds"]
        local, remote = feeds.get("local"), feeds.get("remote")
    except (KeyError, TypeError, AttributeError) as exc:
        return Access(poll=True, unknown=error or type(exc).__name__)
    return feeds_access(local, remote)


def feeds_access(local: object, remote: object) -> Access:
    """The access policy from the `local` and `remote` settings of `hashtag_feeds` (as `access`
    reads them; `relay check` asks here too, so that it says what the relay will do)."""
    if "public" in (local, remote):
        return Access(poll=True, local_only=remote != "public")
    return Access(poll=False, disabled=local == "disabled" and remote == "disabled")
