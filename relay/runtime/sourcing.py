"""How `relay run` reads each watched instance: the method, its readers or poller, and the fallback.

One `SourceRunner` per instance (the home instance and each `[[sources]]` entry). It asks
`relay.core.transport.choose` what to use from the server's kind (its NodeInfo), relay.toml's
`transport` and whether there is a token, then starts it:

- a stream (SSE or WebSocket): its readers (`relay.core.transport.subscriptions`: one SSE
  connection per hashtag, one multiplexed WebSocket, one per hashtag, or GoToSocial's `user`
  stream after following the tags), each (re)connect waking the instance's REST catch-up (and,
  on the home instance, the mentions' catch-up);
- REST: the same catch-up thread polls every `rest_interval` (within the rate budget); on the
  home instance each poll also reads the bot's mentions and rechecks recent boosts (edits and
  deletions that no stream told of);
- no token: the public tag timeline, or the RSS feed (as before).

A reader whose method fails for good reports it (`on_lasting`); the runner retires that plan's
readers and starts the next plan of its `Choice`, ending at REST: posts keep flowing, and the log
says so once at `warning` with the reason and the fix. `ready` is true once posts can flow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog
from mastodon import Mastodon, MastodonError, MastodonUnauthorizedError

from relay.config.credentials import read_token
from relay.config.load import Config, InstanceConfig
from relay.core.items import Fatal
from relay.core.seen import SeenCache
from relay.core.servers import ServerKind
from relay.core.tags import normalize_tag
from relay.core.transport import (
    SSE_PATHS,
    Failure,
    Plan,
    Subscription,
    choose,
    rest_interval,
    subscriptions,
)
from relay.errors import CredentialsError
from relay.moderation.mentions import MentionFetcher
from relay.runtime.handoff import Cursors
from relay.sources import normalise
from relay.sources.access import access
from relay.sources.poll import FeedPoller, TimelineFetcher
from relay.sources.reader import Reader
from relay.sources.rest import FirstStart
from relay.sources.sse import StreamEvent
from relay.sources.stream import StreamReader, streaming_base, websocket_base
from relay.sources.websocket import WebSocketReader

log = structlog.get_logger()

MakeApi = Callable[[str, str | None], Mastodon]


@dataclass(frozen=True, slots=True)
class Wiring:
    """What every runner takes from the relay."""

    config: Config
    stop: threading.Event
    emit: Callable[[Any], None]
    seen: SeenCache  # the pipeline's: a duplicate costs a lookup, not a parse
    cursors: Cursors
    first: FirstStart
    spawn: Callable[[str, Callable[[], None]], None]
    make_api: MakeApi


class SourceRunner:
    """One watched instance: how it is read now, and what comes next when that fails."""

    def __init__(
        self,
        wiring: Wiring,
        config: InstanceConfig,
        *,
        kind: ServerKind,
        is_home: bool,
        instance: Mapping[str, Any] | None = None,
        recheck: Callable[[Mastodon], None] | None = None,
        mentions: MentionFetcher | None = None,
        home_domain: str = "",
        own_anchors: normalise.OwnAnchors | None = None,
    ) -> None:
        self._w = wiring
        self.config = config
        self.host = config.host
        self.kind = kind
        self.is_home = is_home
        self.token = read_token(config)
        self._instance = instance
        self._recheck = recheck
        self._mentions = mentions
        self._home_domain = home_domain
        self._own_anchors = own_anchors  # the bot's own anchor posts: replies come as mentions
        self.choice = choose(kind, override=config.transport, token=self.token is not None)
        self.plan: Plan = self.choice.first
        self.readers: list[Reader] = []
        self.fetcher: TimelineFetcher | None = None
        self.poller: FeedPoller | None = None
        self._lock = threading.Lock()
        self._given_up = False  # a source whose token was refused: nothing can flow; said at error
        tags = wiring.config.hashtags
        self._watched = frozenset(normalize_tag(t) for t in tags)

    # -- what the relay reads --------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Posts can flow: every reader of the plan connected, or a poller running."""
        with self._lock:
            readers, plan = list(self.readers), self.plan
        if self._given_up:
            return True  # READY must not wait for what cannot come (said at error)
        if plan.method != "rest":
            return bool(readers) and all(r.status.connected for r in readers)
        return self.fetcher is not None or self.poller is not None or self.token is None

    def describe(self) -> dict[str, Any]:
        """How this instance is read, for `relay status` and the log."""
        with self._lock:
            plan = self.plan
        interval = self.fetcher.interval if self.fetcher is not None and plan.method == "rest" else None
        return {
            "source": self.host,
            "server": self.kind.label,
            "method": plan.method,
            "shape": plan.shape,
            "reason": plan.reason,
            "interval": None if interval is None else round(interval, 1),
        }

    # -- start -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self.token is None:
            self._start_tokenless()
            return
        self.fetcher = self._fetcher(after=self._after if self.is_home else None)
        self._w.spawn(f"fetch {self.host}", self.fetcher.run)
        self._use(self.plan)

    def _fetcher(self, **options: Any) -> TimelineFetcher:
        """The catch-up (on each stream connect) or polling thread of this instance's hashtags."""
        url, token = self.config.url, self.token
        return TimelineFetcher(
            source=self.host,
            make_api=lambda: self._w.make_api(url, token),
            hashtags=self._w.config.hashtags,
            cursor=self._w.cursors.get,
            emit=self._w.emit,
            stop=self._w.stop,
            first_start=self._w.first,
            seen=self._w.seen,
            paging=self.kind.paging,
            **options,
        )

    def _use(self, plan: Plan) -> None:
        log.info("source.method", source=self.host, method=plan.method, shape=plan.shape, reason=plan.reason)
        if plan.method == "rest":
            self._poll(plan)
            return
        if plan.shape == "follow" and not self._follow_tags():
            self._failed(plan, "not_found", "following the hashtags failed")
            return
        base = streaming_base(self._instance_json(), self.config.url)
        hashtags = self._w.config.hashtags
        readers = [
            self._reader(plan, sub, base)
            for sub in subscriptions(plan, hashtags, notifications=self._mentions is not None)
        ]
        with self._lock:
            if self.plan is not plan:
                return
            self.readers = readers
        for reader in readers:
            self._w.spawn(reader.name, reader.run)

    def _poll(self, plan: Plan) -> None:
        if plan.degraded:
            log.warning("source.rest_polling", source=self.host, reason=plan.reason, fix=plan.fix)
        assert self.fetcher is not None
        cfg = self._w.config
        requests_per_poll = len(cfg.hashtags) + (2 if self.is_home else 0)  # + mentions + recheck
        kind = self.kind

        def pace(api: Mastodon) -> float:
            announced = getattr(api, "ratelimit_limit", None) if kind.rate_headers else None
            return rest_interval(
                kind,
                configured=cfg.streams.poll_interval,
                requests_per_poll=requests_per_poll,
                announced_limit=announced if isinstance(announced, int) else None,
            )

        self.fetcher.poll_every(cfg.streams.poll_interval, pace)

    def _reader(self, plan: Plan, sub: Subscription, base: str) -> Reader:
        cfg = self._w.config
        options: dict[str, Any] = {
            "token": self.token,
            "on_event": self._on_event,
            "on_connect": self._on_connect(sub),
            "stop": self._w.stop,
            "read_timeout": cfg.streams.read_timeout,
            "on_lasting": lambda failure, reason: self._failed(plan, failure, reason),
        }
        if plan.method == "sse":
            ((stream, tag),) = sub.streams
            name = f"{self.host}#{tag}" if stream == "hashtag" else f"{self.host} notifications"
            params = {"tag": tag} if tag is not None else {}
            return StreamReader(name=name, url=base + SSE_PATHS[stream], params=params, **options)
        return WebSocketReader(
            name=f"{self.host} ws {sub.name}",
            url=websocket_base(base) + "/api/v1/streaming",
            streams=sub.streams,
            ws_auth=plan.ws_auth,
            **options,
        )

    def _instance_json(self) -> Mapping[str, Any]:
        if self._instance is None:
            try:
                self._instance = self._w.make_api(self.config.url, self.token).instance_v2()
            except MastodonError as exc:
                log.error("source.unreachable", source=self.host, error=type(exc).__name__)
                return {}
        return self._instance

    def _follow_tags(self) -> bool:
        """GoToSocial: follow each hashtag, so that its public posts come on the `user` stream."""
        api = self._w.make_api(self.config.url, self.token)
        for tag in self._w.config.hashtags:
            try:
                api.tag_follow(tag)
            except MastodonError as exc:
                log.warning("source.follow_failed", source=self.host, hashtag=tag, error=type(exc).__name__)
                return False
        log.info("source.following", source=self.host, hashtags=list(self._w.config.hashtags))
        return True

    # -- while it runs ---------------------------------------------------------------------------

    def _on_connect(self, sub: Subscription) -> Callable[[], None]:
        names = {stream for stream, _ in sub.streams}
        fetcher, mentions = self.fetcher, self._mentions

        def on_connect() -> None:
            if fetcher is not None and names & {"hashtag", "user"}:
                fetcher.request()
            if mentions is not None and names & {"user:notification", "user"}:
                mentions.request()

        return on_connect

    def _on_event(self, event: StreamEvent) -> None:
        if event.name == "notification":
            mention = normalise.notification_event(
                event.name, event.data, home=self._home_domain, anchors=self._own_anchors
            )
            if mention is not None and self._mentions is not None:
                self._w.emit(mention)
            return
        if event.name == "update" and self.plan.shape == "follow" and not self._tagged(event.data):
            return  # the home timeline's other posts (the moderators', the bot's own boosts)
        item = normalise.stream_event(event.name, event.data, source=self.host, seen=self._w.seen)
        if item is not None:
            self._w.emit(item)

    def _tagged(self, data: Any) -> bool:
        """A status carrying a watched hashtag (or one too odd to tell: normalise says why)."""
        try:
            return any(normalize_tag(str(t["name"])) in self._watched for t in data["tags"])
        except (KeyError, TypeError):
            return True

    def _after(self, api: Mastodon) -> None:
        """After each catch-up or poll of the home instance: recheck recent boosts and, where no
        stream carries the notifications, read the mentions."""
        if self._recheck is not None:
            self._recheck(api)
        if self.plan.method == "rest" and self._mentions is not None:
            self._mentions.request()

    def _failed(self, plan: Plan, failure: Failure, reason: str) -> None:
        """A reader of `plan` failed for good (from its thread): move to the next plan, once."""
        if failure == "unauthorized" and not self._rest_takes_token():
            return
        # Its warning is the fallback's own (below), not said again by `_poll`.
        following = replace(self.choice.after(plan, failure), degraded=False)
        with self._lock:
            if self.plan is not plan:
                return  # another reader of the same plan reported first
            self.plan = following
            old, self.readers = self.readers, []
        for reader in old:
            reader.retire()
        # Said once at warning where the source ends on REST (with the fix); a step from one
        # stream to another is said at info: posts still stream.
        level = log.warning if following.method == "rest" else log.info
        level(
            "source.fallback",
            source=self.host,
            failed=plan.method,
            failure=failure,
            detail=reason,
            method=following.method,
            reason=following.reason,
            fix=self.choice.after(plan, failure).fix or "see docs/servers.md",
        )
        self._use(following)

    def _rest_takes_token(self) -> bool:
        """Streaming refused the token: if REST refuses it too, it was revoked (the home instance's
        ends the relay, exit 2); if REST takes it, streaming lacks a scope and REST goes on."""
        try:
            self._w.make_api(self.config.url, self.token).account_verify_credentials()
        except MastodonUnauthorizedError:
            error = CredentialsError(
                f"{self.host} refused the token (revoked, or for another instance)",
                fix=f"run `relay login --instance {self.config.url}` and restart",
            )
            if self.is_home:
                self._w.emit(Fatal(error))
            else:
                log.error("source.token_refused", source=self.host, fix=error.fix)
                self._given_up = True
            return False
        except MastodonError:
            return True  # unreachable for now: REST polling retries it
        return True

    # -- without a token -------------------------------------------------------------------------

    def _start_tokenless(self) -> None:
        cfg = self._w.config
        url = self.config.url
        if self.kind.family == "gotosocial":
            log.error(
                "source.needs_token",
                source=self.host,
                server=self.kind.label,
                reason="GoToSocial serves its tag timeline to logged-in readers only, and no RSS",
                fix=f"add a token for {self.host} (token_file or token_env), or remove the source",
            )
            return
        try:
            policy = access(self._w.make_api(url, None).instance_v2())
        except MastodonError as exc:
            policy = access(None, error=type(exc).__name__)
        if policy.unknown is not None:
            log.warning("source.no_timelines_access", source=self.host, error=policy.unknown)
        if policy.poll:
            self.fetcher = self._fetcher(
                interval=cfg.streams.poll_interval, via="poll", local_only=policy.local_only
            )
            log.info(
                "source.polling", source=self.host, local_only=policy.local_only, reason=self.plan.reason
            )
            self._w.spawn(f"poll {self.host}", self.fetcher.run)
            return
        if policy.disabled:
            log.error(
                "source.feed_disabled",
                source=self.host,
                fix="this instance disabled its hashtag feeds: ask its admins, or remove the source",
            )
        else:
            log.warning("source.feed_authenticated", source=self.host, fix="add a token to stream it")
        home = cfg.home
        home_token = read_token(home)
        self.poller = FeedPoller(
            source=self.host,
            base_url=url,
            hashtags=cfg.hashtags,
            make_home_api=lambda: self._w.make_api(home.url, home_token),
            home_host=home.host,
            emit=self._w.emit,
            stop=self._w.stop,
            interval=cfg.streams.poll_interval,
        )
        self._w.spawn(f"rss {self.host}", self.poller.run)
