"""`relay run`: the wiring. Threads, one event queue, one store thread, one stop signal.

    stream readers (SSE or WebSocket, as each      ─┐
      instance allows: `runtime.sourcing`)          │
    fetchers (catch-up on connect, or polls; on    │
      the home instance the recheck of boosts)     │
    RSS pollers                                    ├─► queue ─► pipeline + booster (this thread)
    the bot's notifications (on a stream, or       │           + moderation (DMs, holds, expiry)
      polled) + mention catch-up                   ┘

Each watched instance has a `relay.runtime.sourcing.SourceRunner`: it reads the instance the way
its server allows (`relay.core.transport`) and falls back to the next method, at last REST, when
that fails for good. Every source's data becomes queue items in `relay.sources.normalise`. The
pipeline and the booster call nobody sideways: they return what happened (`relay.runtime.events`) and `_route`
hands it on: a held post and a done boost to moderation, a home id to the booster, a moved
cursor to the fetchers (through `relay.runtime.handoff.Cursors`; moderation's mentions cursor
goes to `MentionFetcher.handled`): besides the queue and the pipeline's seen-cache, the only
state the main thread shares with the source threads.

Only the main thread writes to the database (the recheck reads through its own read-only
connection). SIGTERM or Ctrl-C sets the one stop event that every
loop watches; the watchdog then closes every stream, threads end, and the store is closed with
the journal consistent. A revoked home token ends the relay with exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from mastodon import Mastodon, MastodonError, MastodonUnauthorizedError

from relay.config.credentials import read_token
from relay.config.load import Config, add_config_option, load_config
from relay.core.items import Fatal, Item, Mention, MentionsSeen
from relay.errors import CredentialsError, RelayError
from relay.log import configure_logging
from relay.moderation.channel import Moderation
from relay.moderation.mentions import MentionFetcher
from relay.runtime import notify
from relay.runtime.booster import Booster, BoosterSettings
from relay.runtime.budget import SharedServerBudget
from relay.runtime.events import Boosted, CursorMoved, Event, Held, HomeId
from relay.runtime.handoff import Cursors
from relay.runtime.metrics import Metrics, MetricsServer, SourceSample, StreamSample
from relay.runtime.pipeline import Pipeline
from relay.runtime.recheck import Rechecker
from relay.runtime.service import Health, install_signal_handlers, stream_samples
from relay.runtime.sourcing import SourceRunner, Wiring
from relay.sources.client import mastodon_client
from relay.sources.nodeinfo import detect_and_log
from relay.sources.reader import Reader
from relay.sources.rest import FirstStart
from relay.sources.stream import Watchdog
from relay.store.store import Store

log = structlog.get_logger()

# Queue items taken in one transaction (one commit, one fsync) before the booster gets a turn: a
# burst of 500 new posts takes well under 0.2 s, and each commit's cost is shared by more posts.
BATCH = 500

Work = Item | Mention | MentionsSeen  # what the threads put on the one queue
T = TypeVar("T")


def make_api(url: str, token: str | None) -> Mastodon:
    """A Mastodon.py client that raises on 429 (the relay keeps its own budgets) and never parses
    the server's version (`relay.sources.client`)."""
    return mastodon_client(url, token)


class Relay:
    """The running relay. `run()` returns the exit code."""

    def __init__(
        self, config: Config, *, stop: threading.Event | None = None, signals: Sequence[str] = ()
    ) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self._signals = signals  # the stop signals received (see `install_signal_handlers`)
        self.queue: queue.Queue[Work] = queue.Queue(maxsize=10_000)
        self.threads: list[threading.Thread] = []
        self.sources: list[SourceRunner] = []  # one per watched instance, the home instance first
        self.mention_fetcher: MentionFetcher | None = None  # its catch-up; takes the cursor's moves
        self._me: dict[str, Any] = {}
        self.ready = threading.Event()
        self.metrics = Metrics(streams=self._stream_samples, sources=self._source_samples)
        self._metrics_server: MetricsServer | None = None
        self._home_budget: SharedServerBudget | None = None  # the booster's, shared with the recheck
        self.cursors = Cursors()  # (source, hashtag) → newest status id taken; read by the fetchers

    def readers(self) -> list[Reader]:
        """Every stream reader of every source now (they change when a source falls back)."""
        return [r for s in list(self.sources) for r in list(s.readers)]

    def _source_samples(self) -> list[SourceSample]:
        return [SourceSample(s.host, s.plan.method) for s in list(self.sources)]

    def _posts_can_flow(self) -> bool:
        """READY: each instance has its streams connected or a poller running."""
        return all(s.ready for s in list(self.sources))

    def _stream_counts(self) -> tuple[int, int]:
        readers = self.readers()
        return sum(1 for r in readers if r.status.connected), len(readers)

    def _stream_samples(self) -> list[StreamSample]:
        return stream_samples(self.readers(), time.monotonic())

    # -- start-up --------------------------------------------------------------------------------

    def _connect_home(self) -> tuple[Mastodon, str, Any]:
        home = self.config.home
        token = read_token(home)
        if token is None:
            raise CredentialsError(
                f"no token for the home instance {home.url}",
                fix=f"set token_file in [home] (run `relay login --instance {home.url}`) or {home.token_env}",
            )
        api = make_api(home.url, token)
        try:
            me = api.account_verify_credentials()
            instance = api.instance_v2()
        except MastodonUnauthorizedError:
            raise CredentialsError(
                f"{home.host} refused the home token (revoked, or for another instance)",
                fix=f"run `relay login --instance {home.url}` and restart",
            ) from None
        except MastodonError as exc:
            raise RelayError(
                f"cannot reach the home instance {home.url}: {type(exc).__name__}",
                fix="check the URL and the network; systemd restarts the relay",
            ) from None
        self_acct = f"{me['username']}@{instance['domain']}".lower()
        self._me = dict(me)
        log.info("relay.home", acct=self_acct, instance=home.host, version=instance.get("version"))
        return api, self_acct, instance

    def _start_sources(self, home_instance: Any, pipeline: Pipeline, moderation: Moderation) -> None:
        """A `SourceRunner` per instance, each reading it the way its server allows."""
        cfg = self.config
        streams = cfg.streams
        wiring = Wiring(
            config=cfg,
            stop=self.stop,
            emit=self._emit,
            seen=pipeline.seen,
            cursors=self.cursors,
            first=FirstStart(
                max_posts=streams.first_start_max_posts,
                max_age=timedelta(hours=streams.first_start_max_age_hours),
            ),
            spawn=self._spawn,
            make_api=make_api,
        )
        home = cfg.home
        self.mention_fetcher = MentionFetcher(
            make_api=lambda: make_api(home.url, read_token(home)),
            cursor=moderation.mentions_cursor,  # the stored one (moderation.start() read it)
            emit=self._emit,
            stop=self.stop,
            home=moderation.home_domain,  # local accounts' domain: instance.domain, maybe not the host
        )
        self._spawn("mentions", self.mention_fetcher.run)
        recheck = None
        if self._home_budget is not None:  # edits missed while no stream listened
            recheck = Rechecker(
                state=cfg.state, home=home.host, budget=self._home_budget, emit=self._emit, stop=self.stop
            ).run
        for instance_cfg in (home, *cfg.sources):
            is_home = instance_cfg is home
            runner = SourceRunner(
                wiring,
                instance_cfg,
                kind=detect_and_log(instance_cfg.url, instance_cfg.host),
                is_home=is_home,
                instance=home_instance if is_home else None,
                recheck=recheck if is_home else None,
                mentions=self.mention_fetcher if is_home else None,
                home_domain=moderation.home_domain,
            )
            self.sources.append(runner)
            runner.start()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except RelayError as exc:
                self._emit(Fatal(exc))
            except Exception:
                log.exception("relay.thread_crashed", thread=name)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _emit(self, item: Work) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                log.warning("relay.queue_full", size=self.queue.qsize())

    # -- the main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        cfg = self.config
        home_api, self_acct, home_instance = self._connect_home()
        rules = dataclasses.replace(cfg.rules, self_acct=self_acct)
        with Store.open(cfg.state) as store:
            booster = Booster(
                home_api,
                store,
                home_host=cfg.home.host,
                settings=BoosterSettings(
                    dry_run=cfg.booster.dry_run,
                    max_boosts_per_hour=cfg.booster.max_boosts_per_hour,
                    allow_unlisted="unlisted" in rules.visibility,
                ),
                metrics=self.metrics,
            )
            moderation = Moderation(
                home_api, store, cfg, me=self._me, self_acct=self_acct, streams=self._stream_counts
            )
            pipeline = Pipeline(
                store,
                rules,
                home_host=cfg.home.host,
                on_edit=cfg.booster.on_edit,
                metrics=self.metrics,
            )
            moderation.start()
            for source_cfg in (cfg.home, *cfg.sources):
                for hashtag in cfg.hashtags:
                    cursor = store.posts.get_cursor(source_cfg.host, hashtag)
                    if cursor is not None:
                        self.cursors.move(source_cfg.host, hashtag, to=cursor)
            self._home_budget = booster.budget
            self._start_sources(home_instance, pipeline, moderation)
            watchdog = Watchdog(self.readers, stop=self.stop, stale_after=cfg.streams.read_timeout)
            self._spawn("watchdog", watchdog.run)
            if cfg.metrics.address:
                self._metrics_server = self.metrics.serve(
                    cfg.metrics.address, allow_public=cfg.metrics.allow_public
                )
                log.info(
                    "metrics.serving", address=f"{self._metrics_server.host}:{self._metrics_server.port}"
                )
            self.ready.set()
            log.info(
                "relay.started",
                hashtags=list(cfg.hashtags),
                sources={s.host: s.plan.label for s in self.sources},
                mode=rules.mode,
                dry_run=cfg.booster.dry_run,
            )
            try:
                self._loop(pipeline, booster, store, moderation)
            finally:
                if self._signals:
                    log.info("relay.stopping", signal=self._signals[0])
                notify.stopping()
                self.stop.set()
                if self._metrics_server is not None:
                    self._metrics_server.close()
                deadline = time.monotonic() + 3.0
                for thread in list(self.threads):
                    thread.join(max(deadline - time.monotonic(), 0.0))
                log.info("relay.stopped", pending=self.queue.qsize())
        return 0

    def _loop(self, pipeline: Pipeline, booster: Booster, store: Store, moderation: Moderation) -> None:
        wait: float | None = 0.0
        health = Health(
            self.readers,
            watchdog_every=notify.watchdog_interval(),
            ready=self._posts_can_flow,
            sources=lambda: [s.describe() for s in list(self.sources)],
        )
        while not self.stop.is_set():
            health.tick(time.monotonic(), store, self.metrics)
            timeout = min(0.5 if wait is None else max(wait, 0.01), 0.5, health.every)
            try:
                item = self.queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            items: list[Work] = []
            while item is not None:
                items.append(item)
                if len(items) >= BATCH:
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    item = None
            self._handle(pipeline, booster, moderation, items)
            booster.paused = store.settings.paused()
            turn = booster.work()
            self._route(turn.boosted, booster, moderation)
            wait = turn.wait
            self._guarded("moderation", moderation.tick)

    def _handle(
        self, pipeline: Pipeline, booster: Booster, moderation: Moderation, items: list[Work]
    ) -> None:
        """Hand the drained items on in order: runs of posts as one batch, mentions one by one."""
        run: list[Item] = []
        for item in items:
            if isinstance(item, Mention | MentionsSeen):
                if run:
                    self._take_posts(pipeline, booster, moderation, run)
                    run = []
                self._guarded("moderation", functools.partial(self._mention, moderation, item))
            else:
                run.append(item)
        if run:
            self._take_posts(pipeline, booster, moderation, run)

    def _take_posts(
        self, pipeline: Pipeline, booster: Booster, moderation: Moderation, run: list[Item]
    ) -> None:
        events = self._guarded("pipeline", functools.partial(pipeline.handle_batch, run))
        if events:
            self._route(events, booster, moderation)

    def _route(self, events: Sequence[Event], booster: Booster, moderation: Moderation) -> None:
        """Hand on what the pipeline or the booster reported (all of it already committed)."""
        for event in events:
            if isinstance(event, HomeId):
                booster.learn_home_id(event.uri, event.local_id)
            elif isinstance(event, CursorMoved):
                self.cursors.move(event.source, event.hashtag, to=event.status_id)
            elif isinstance(event, Held):
                moderation.on_hold(event.short_id, event.post, event.verdict)
            elif isinstance(event, Boosted):
                moderation.on_boosted(event.uri)

    def _mention(self, moderation: Moderation, item: Mention | MentionsSeen) -> None:
        """Handle one mention; a move of the catch-up cursor goes to the fetcher, its reader."""
        moved = moderation.handle(item)
        if moved is not None and self.mention_fetcher is not None:
            self.mention_fetcher.handled(moved)

    def _guarded(self, kind: str, work: Callable[[], T]) -> T | None:
        """Do one piece of work; anything but a RelayError is logged and the relay goes on.

        The pipeline already isolates a post that fails (it takes the batch again, each post in a
        savepoint); what reaches here failed a whole batch, which is rolled back and comes again
        through catch-up.
        """
        try:
            return work()
        except RelayError:
            raise
        except Exception:
            self.metrics.error(kind)
            log.exception(f"{kind}.error")
            return None


# -- the `relay run` subcommand -----------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, help="relay.toml to run")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.log_level is None:
        configure_logging(
            config.log_level, json={"auto": None, "json": True, "console": False}[args.log_format]
        )
    stop = threading.Event()
    signals = install_signal_handlers(stop)
    return Relay(config, stop=stop, signals=signals).run()
