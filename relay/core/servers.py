"""PURE: which server an instance runs, from its nodeinfo, and what a reader can get from it.

The fediverse is not one server. What each kind offers a Mastodon-API client was read from the
servers' own code and docs (DESIGN.md, "Servers other than Mastodon"; docs/servers.md):

- Mastodon and its forks stream over SSE and WebSocket, several hashtags and the bot's
  notifications multiplexed on one socket;
- GoToSocial streams over WebSocket only and never sends on a hashtag stream: a followed tag's
  public posts come on the `user` stream instead; its accounts have no `uri`;
- Pleroma streams over WebSocket, multiplexed; Akkoma and its forks take one tag per connection;
  neither sends rate-limit headers, and both take the WebSocket's token in the query only;
- Iceshrimp.NET streams over WebSocket and takes the token only in the query or subprotocol;
- Misskey-family servers, Friendica, Pixelfed, Snac, takahē and Mitra have no Mastodon streaming
  at all: they are read over REST.

`server_kind` maps `/.well-known/nodeinfo`'s `software` to one of these. An unknown server is taken
to be Mastodon-compatible, and the relay finds out from what answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

HashtagStream = Literal["multiplexed", "per-connection", "follow", "none"]


@dataclass(frozen=True, slots=True)
class ServerKind:
    """What one kind of server offers a Mastodon-API reader."""

    family: str  # mastodon | gotosocial | pleroma | akkoma | iceshrimp | rest-only | unknown
    sse: bool  # serves Mastodon's SSE streams (/api/v1/streaming/hashtag ...)
    websocket: bool  # serves /api/v1/streaming over WebSocket
    hashtag_stream: HashtagStream  # how a hashtag's posts reach a stream reader
    rate_headers: bool = True  # sends X-RateLimit-Limit/Remaining/Reset
    account_uri: bool = True  # account JSON carries the ActivityPub `uri`
    ws_auth: Literal["header", "query"] = "header"  # how a WebSocket takes the token
    paging: Literal["min_id", "max_id"] = "min_id"  # how its timelines page forwards
    software: str = ""  # nodeinfo `software.name`, as the server says it
    version: str = ""  # nodeinfo `software.version`, as the server says it

    @property
    def streams(self) -> bool:
        """True when a stream can carry a hashtag's posts at all (else: REST only)."""
        return (self.sse or self.websocket) and self.hashtag_stream != "none"

    @property
    def label(self) -> str:
        """The server's name and version as it says them (its family when nodeinfo did not say)."""
        name = self.software or self.family
        return f"{name} {self.version}".strip()


MASTODON = ServerKind("mastodon", sse=True, websocket=True, hashtag_stream="multiplexed")
GOTOSOCIAL = ServerKind("gotosocial", sse=False, websocket=True, hashtag_stream="follow", account_uri=False)
# Pleroma's and Akkoma's WebsocketHandler takes the token as `access_token` or Sec-WebSocket-Protocol
# only (authenticate_request/2), never from an Authorization header.
# Their account JSON has no `uri` either (the actor id is `pleroma.ap_id`: AccountView).
PLEROMA = ServerKind(
    "pleroma",
    sse=False,
    websocket=True,
    hashtag_stream="multiplexed",
    rate_headers=False,
    ws_auth="query",
    account_uri=False,
)
AKKOMA = replace(PLEROMA, family="akkoma", hashtag_stream="per-connection")
ICESHRIMP = ServerKind("iceshrimp", sse=False, websocket=True, hashtag_stream="multiplexed", ws_auth="query")
REST_ONLY = ServerKind("rest-only", sse=False, websocket=False, hashtag_stream="none")
MITRA = replace(REST_ONLY, paging="max_id")
UNKNOWN = replace(MASTODON, family="unknown")

# nodeinfo software.name (lower case) -> kind
_BY_SOFTWARE: dict[str, ServerKind] = {
    **dict.fromkeys(("mastodon", "hometown", "glitch", "glitch-soc", "glitchsoc"), MASTODON),
    "gotosocial": GOTOSOCIAL,
    "pleroma": PLEROMA,
    **dict.fromkeys(("akkoma", "incestoid", "pleroma-akkoma"), AKKOMA),
    **dict.fromkeys(("iceshrimp.net", "iceshrimp-net"), ICESHRIMP),
    **dict.fromkeys(
        (
            "misskey",
            "sharkey",
            "firefish",
            "iceshrimp",
            "catodon",
            "cherrypick",
            "friendica",
            "pixelfed",
            "snac",
            "takahe",
            "bookwyrm",
            "lemmy",
            "peertube",
            "writefreely",
        ),
        REST_ONLY,
    ),
    "mitra": MITRA,
}

FAMILIES = ("mastodon", "gotosocial", "pleroma", "akkoma", "iceshrimp", "rest-only")


def server_kind(nodeinfo: Mapping[str, Any] | None) -> ServerKind:
    """The kind of server a nodeinfo document describes (None or a malformed one: unknown)."""
    software = nodeinfo.get("software") if isinstance(nodeinfo, Mapping) else None
    if not isinstance(software, Mapping):
        return UNKNOWN
    name = software.get("name")
    version = software.get("version")
    name = name.strip() if isinstance(name, str) else ""
    version = version.strip() if isinstance(version, str) else ""
    kind = _BY_SOFTWARE.get(name.lower(), UNKNOWN)
    return replace(kind, software=name, version=version)


def kind_of_family(family: str) -> ServerKind:
    """The kind named in relay.toml (`server = "gotosocial"`), for a server that hides its nodeinfo."""
    for kind in (MASTODON, GOTOSOCIAL, PLEROMA, AKKOMA, ICESHRIMP, REST_ONLY):
        if kind.family == family:
            return kind
    raise ValueError(f"unknown server family {family!r}: one of {', '.join(FAMILIES)}")
