"""Which server an instance plays: Mastodon, GoToSocial, Akkoma, or one that has only REST.

A ``Flavour`` is the list of ways a server differs from Mastodon where a reader meets them
(streaming, paging, scopes, headers, JSON keys). Each row was read from that server's code; see
``docs/servers.md`` and ``../shared/DESIGN.md`` ("Servers other than Mastodon").
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Flavour:
    name: str  # what ``--flavour`` and ``Fediverse(flavours=...)`` call it
    software: str  # nodeinfo ``software.name``
    version: str  # nodeinfo ``software.version`` and the instance API's ``version``
    sse: bool = True  # /api/v1/streaming/<channel> as server-sent events
    websocket: bool = True  # /api/v1/streaming upgrades to a WebSocket
    multiplex: bool = True  # ``subscribe`` messages add any stream, hashtags included
    hashtag_stream: bool = True  # a hashtag stream sends the tag's posts (GoToSocial: never)
    ws_bearer: bool = True  # a WebSocket takes its token from ``Authorization`` too
    ws_echo_protocol: bool = True  # the 101 names the Sec-WebSocket-Protocol (the token) offered
    ws_errors: bool = True  # a bad subscription is answered ``{"error": ..., "status": ...}``
    stream_needs_read: bool = False  # streaming needs the top-level ``read`` scope (else 403)
    rate_headers: bool = True  # X-RateLimit-* on API responses
    throttled: str = "Too many requests"  # the 429's error text
    account_uri: bool = True  # account JSON has ``uri``
    tag_timeline_token: bool = False  # the tag timeline over REST needs a token (401 without)
    top_level_public_only: bool = False  # unlisted posts and replies stay out of tag and public feeds
    rss: str = "feed"  # /tags/NAME.rss: "feed" (RSS), "html" (a 200 HTML page), "none" (404)
    streaming_scheme: str = "ws"  # the scheme the instance API advertises for streaming
    max_id_only: bool = False  # timelines page with max_id only (min_id and since_id ignored)
    follow_tags: bool = True  # POST /api/v1/tags/:name/follow, GET /api/v1/followed_tags
    ulid_ids: bool = False  # ids are 26-character ULIDs (GoToSocial), not numbers


MASTODON = Flavour("mastodon", "mastodon", "4.6.4")
GOTOSOCIAL = Flavour(
    "gotosocial",
    "gotosocial",
    "0.20.0-rc1+git-57cb4fe",
    sse=False,
    hashtag_stream=False,
    ws_echo_protocol=False,
    ws_errors=False,
    stream_needs_read=True,
    account_uri=False,
    tag_timeline_token=True,
    top_level_public_only=True,
    rss="html",
    streaming_scheme="wss",
    ulid_ids=True,
)
AKKOMA = Flavour(
    "akkoma",
    "akkoma",
    "3.15.2",
    sse=False,
    multiplex=False,
    ws_bearer=False,
    ws_errors=False,
    rate_headers=False,
    throttled="Throttled",
)
REST_ONLY = Flavour(
    "rest-only",
    "mitra",
    "4.4.0",
    sse=False,
    websocket=False,
    multiplex=False,
    max_id_only=True,
    follow_tags=False,
    rss="none",
)
FLAVOURS = {f.name: f for f in (MASTODON, GOTOSOCIAL, AKKOMA, REST_ONLY)}


def flavour_named(name: str, version: str | None = None) -> Flavour:
    """The flavour called ``name``, reporting ``version`` if given. Raises ValueError naming the choices."""
    try:
        found = FLAVOURS[name]
    except KeyError:
        raise ValueError(f"unknown flavour {name!r}; choose one of {', '.join(FLAVOURS)}") from None
    return found if version is None else replace(found, version=version)
