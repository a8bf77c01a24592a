"""PURE: how the relay reads one instance's posts: SSE, WebSocket or REST, in which shape, and why.

`choose` decides from what the server is (`relay.core.servers.ServerKind`, from its nodeinfo),
what relay.toml says (`transport = "auto" | "sse" | "websocket" | "rest"`) and whether there is a
token. The answer is a `Choice`: the method tried first and, in order, what comes after it when it
fails, ending at REST polling, which needs nothing the server may refuse. Each `Plan` carries its
reason in words, for the log, `relay check` and `relay status`.

- SSE (Mastodon): one connection per hashtag, one for the bot's notifications.
- WebSocket: one socket carrying every hashtag and `user:notification` where the server
  multiplexes (Mastodon, Pleroma, Iceshrimp.NET); one socket per hashtag where it takes one tag
  per connection (Akkoma); on GoToSocial, which never sends on a hashtag stream, the relay follows
  the tags and reads the `user` stream (the followed tags' public posts and the notifications).
- REST: the tag timelines polled every `interval` seconds, an interval kept within the server's
  rate budget (`rest_interval`), and the bot's mentions polled with them on the home instance.

Every stream is a user stream since Mastodon 4.2: without a token an instance is read over REST.
`after` says what comes next when the method in use fails for good (404 or 400 on the endpoint,
an upgrade refused, 401/403 on a stream whose token REST accepts, or no connection at all after
`STUCK_AFTER` attempts); a passing failure (a timeout, a 5xx, a closed socket) is retried with
backoff and is no reason to change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from relay.core.servers import ServerKind

Method = Literal["sse", "websocket", "rest"]
Shape = Literal["per-tag", "multiplexed", "follow", "poll"]
Failure = Literal["not_found", "upgrade_refused", "unauthorized", "unreachable"]

TRANSPORTS = ("auto", "sse", "websocket", "rest")  # relay.toml's `transport`, per instance
METHODS: tuple[Method, ...] = ("sse", "websocket", "rest")

STUCK_AFTER = 5  # connection attempts that never connected before a stream is given up for REST

# REST budget. Mastodon counts tag-timeline reads with `min_id` as paging requests: 300 per
# 15 minutes per token (per IP without one). A poller spends at most `REST_SHARE` of that, so that
# catch-up, the booster's searches and `relay check` keep room. A server that sends no rate
# headers (Pleroma, Akkoma) is assumed to allow half as much.
PAGING_WINDOW = 900.0
PAGING_LIMIT = 300
UNANNOUNCED_LIMIT = 150
REST_SHARE = 0.25

_FAILURE_WORDS: dict[Failure, str] = {
    "not_found": "the streaming endpoint is not there (HTTP 404 or an unknown channel)",
    "upgrade_refused": "the server refused the WebSocket upgrade",
    "unauthorized": "the server refused the token for streaming (HTTP 401/403) though REST takes it",
    "unreachable": f"no connection after {STUCK_AFTER} attempts",
}
_FAILURE_FIX: dict[Failure, str] = {
    "not_found": 'set transport = "rest" for this instance to skip the attempt',
    "upgrade_refused": "check the reverse proxy forwards WebSocket upgrades (Upgrade/Connection headers)",
    "unauthorized": "log in again with the top-level `read` scope (`relay login`): streaming needs it",
    "unreachable": "check the streaming URL the instance announces and the reverse proxy",
}


@dataclass(frozen=True, slots=True)
class Plan:
    """One way to read an instance: the method, its shape, and why."""

    method: Method
    shape: Shape
    reason: str  # in words, for logs, `relay check` and `relay status`
    ws_auth: Literal["header", "query"] = "header"  # how a WebSocket passes the token
    degraded: bool = False  # REST where a stream was wanted: said once at `warning`
    fix: str = ""  # what an admin can do about a degraded plan

    @property
    def label(self) -> str:
        """`websocket (multiplexed)`, `rest (poll)`: the short form for status and metrics."""
        return f"{self.method} ({self.shape})"


@dataclass(frozen=True, slots=True)
class Choice:
    """The plans for one instance in the order they are tried; the last is always REST."""

    plans: tuple[Plan, ...]

    @property
    def first(self) -> Plan:
        return self.plans[0]

    def after(self, plan: Plan, failure: Failure) -> Plan:
        """What to use once `plan` failed for good with `failure`: the next plan, its reason
        saying what failed. REST is the end: it is returned as it is (it is never given up)."""
        if plan.method == "rest":
            return plan
        index = next((i for i, p in enumerate(self.plans) if p.method == plan.method), len(self.plans) - 2)
        following = self.plans[index + 1]
        reason = f"{plan.method} failed: {_FAILURE_WORDS[failure]}; {following.reason}"
        degraded = following.method == "rest"
        fix = _FAILURE_FIX[failure] if degraded else following.fix
        return replace(following, reason=reason, degraded=degraded or following.degraded, fix=fix)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One connection a stream reader opens and what it asks for on it.

    `streams` are Mastodon's stream names with their tag: ("hashtag", "x"), ("user:notification",
    None), ("user", None). Over SSE each connection carries exactly one of them.
    """

    streams: tuple[tuple[str, str | None], ...]

    @property
    def name(self) -> str:
        return ",".join(f"#{tag}" if stream == "hashtag" else stream for stream, tag in self.streams)


SSE_PATHS = {
    "hashtag": "/api/v1/streaming/hashtag",
    "user:notification": "/api/v1/streaming/user/notification",
}


def choose(kind: ServerKind, *, override: str = "auto", token: bool) -> Choice:
    """The plans for one instance, first the one to use now, last REST."""
    if override not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {override!r}")
    server = _server(kind)
    rest = _rest(kind, override, token)
    if override == "rest" or not token:
        return Choice((rest,))
    streams: list[Plan] = []
    auto = override == "auto" and kind.streams
    if override == "sse" or (auto and kind.sse):
        why = "set in relay.toml" if override == "sse" else f"{server} serves Mastodon's SSE streams"
        streams.append(Plan("sse", "per-tag", f"SSE, one connection per hashtag: {why}"))
    if override == "websocket" or (auto and kind.websocket):
        streams.append(_websocket(kind, override))
    return Choice((*streams, rest))


def _server(kind: ServerKind) -> str:
    """The server as a reason names it."""
    return kind.label if kind.software else "the server (unknown kind, taken as Mastodon)"


def _websocket(kind: ServerKind, override: str) -> Plan:
    server = _server(kind)
    why = "set in relay.toml; " if override == "websocket" else ""
    if kind.hashtag_stream == "follow":
        shape: Shape = "follow"
        words = (
            "WebSocket, the tags followed and read on the user stream: "
            f"{why}{server} never sends on a hashtag stream"
        )
    elif kind.hashtag_stream == "per-connection":
        shape = "per-tag"
        words = f"WebSocket, one socket per hashtag: {why}{server} takes one tag per connection"
    else:
        shape = "multiplexed"
        only = "" if kind.sse else ", its only streaming"
        words = (
            f"WebSocket, one socket for every hashtag and the notifications: {why}{server} multiplexes{only}"
        )
    return Plan("websocket", shape, words, ws_auth=kind.ws_auth)


def _rest(kind: ServerKind, override: str, token: bool) -> Plan:
    server = _server(kind)
    if override == "rest":
        return Plan("rest", "poll", "REST polling: set in relay.toml")
    if not token:
        return Plan(
            "rest",
            "poll",
            "REST polling: no token for this instance (every stream needs one)",
            degraded=kind.streams,
            fix="add a token (token_file or token_env) to stream it" if kind.streams else "",
        )
    if not kind.streams:
        return Plan(
            "rest",
            "poll",
            f"REST polling: {server} has no Mastodon streaming",
            degraded=True,
            fix="nothing to do: posts come at the poll interval",
        )
    if (override == "sse" and not kind.sse) or (override == "websocket" and not kind.websocket):
        return Plan("rest", "poll", f"REST polling: {server} does not offer {override}")
    return Plan("rest", "poll", "REST polling: every stream failed")


def subscriptions(plan: Plan, hashtags: tuple[str, ...], *, notifications: bool) -> tuple[Subscription, ...]:
    """The connections `plan` opens for `hashtags` (and the bot's notifications on the home instance)."""
    tags = tuple(("hashtag", tag) for tag in hashtags)
    note = (("user:notification", None),) if notifications else ()
    if plan.method == "rest":
        return ()
    if plan.method == "sse" or plan.shape == "per-tag":
        return tuple(Subscription((stream,)) for stream in (*tags, *note))
    if plan.shape == "follow":
        # GoToSocial: the followed tags' posts and the notifications come on the `user` stream,
        # which carries the home timeline (the tags' posts) and the notifications both.
        return (Subscription((("user", None),)),)
    return (Subscription((*tags, *note)),)


def rest_interval(
    kind: ServerKind, *, configured: float, requests_per_poll: int, announced_limit: int | None = None
) -> float:
    """Seconds between two polls: `configured`, or longer where the rate budget needs it.

    `announced_limit` is the `X-RateLimit-Limit` of the server's last answer to a tag timeline
    read (its paging budget); without one, Mastodon's 300 per 15 minutes, or `UNANNOUNCED_LIMIT`
    for a server that sends no rate headers at all.
    """
    limit = announced_limit or (PAGING_LIMIT if kind.rate_headers else UNANNOUNCED_LIMIT)
    per_request = PAGING_WINDOW / (max(limit, 1) * REST_SHARE)
    return max(configured, per_request * max(requests_per_poll, 1))


def failure_of(status: int | None, *, websocket: bool, error: str = "") -> Failure | None:
    """The lasting failure an answer to a stream request means, or None for a passing one.

    `status` is the HTTP status of the answer (None: no answer); `error` the server's message.
    A 400 with "Unknown channel" or "Missing tag" is an endpoint that does not do what was asked.
    """
    if status in (401, 403):
        return "unauthorized"
    if status in (404, 405, 410, 501) or (
        status == 400 and ("channel" in error.lower() or "tag" in error.lower())
    ):
        return "not_found"
    if websocket and status is not None and status < 500 and status not in (101, 429):
        return "upgrade_refused"
    return None
