"""REST fetchers: catch-up after each stream (re)connect, and polling where no stream is open.

A `TimelineFetcher` is one thread per instance with its own Mastodon.py client (Mastodon.py's
clients are not thread-safe). It fetches every watched hashtag's timeline from the stored cursor
whenever it is asked to (`request()`, called on each stream connect) and, for a source without a
token, every `interval` seconds. A 429 makes it wait until the reset, then go on: nothing posted
during an outage is missed. The home instance's fetcher then runs the recheck of recent boosts
(`after`, see `relay.runtime.recheck`): an edit made while no stream listened is not newer than the cursor.

A `FeedPoller` reads `/tags/NAME.rss` with feedparser where the instance keeps its tag timeline
closed to anonymous readers. An RSS item lacks most of what screening needs, so each new item is
resolved through the home instance (`search_v2(url, resolve=True)`) and screened as the home
instance sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import feedparser
import requests
import structlog
from mastodon import Mastodon, MastodonError, MastodonNetworkError

from relay import REQUEST_TIMEOUT
from relay.core.items import Item
from relay.core.seen import SeenCache
from relay.sources import normalise
from relay.sources.rest import FirstStart, RateLimited, as_json, catch_up

log = structlog.get_logger()

Emit = Callable[[Item], None]


class TimelineFetcher:
    """Fetches the hashtag timelines of one instance on request and, optionally, periodically."""

    def __init__(
        self,
        *,
        source: str,
        make_api: Callable[[], Mastodon],
        hashtags: Sequence[str],
        cursor: Callable[[str, str], str | None],
        emit: Emit,
        stop: threading.Event,
        interval: float | None = None,
        first_start: FirstStart = FirstStart(),
        via: str = "catch-up",
        local_only: bool = False,
        seen: SeenCache | None = None,
        after: Callable[[Mastodon], None] | None = None,
        paging: str = "min_id",
    ) -> None:
        self.source = source
        self._paging = paging  # "max_id": the server ignores min_id (Mitra), read backwards
        self._make_api = make_api
        self._hashtags = tuple(hashtags)
        self._cursor = cursor  # (source, hashtag) → the newest status id taken (thread-safe)
        self._emit = emit
        self._stop = stop
        self._interval = interval
        self._first_start = first_start
        self._via = via
        self._local_only = local_only
        self._seen = seen  # the pipeline's fast path for statuses it already has
        self._after = after  # run with this thread's client after each requested catch-up
        self._pace: Callable[[Mastodon], float] | None = None
        self._wake = threading.Event()
        self.last_run_at: float | None = None
        self.last_error: str | None = None

    @property
    def interval(self) -> float | None:
        """Seconds between polls; None while it only fetches on request (a stream is up)."""
        return self._interval

    def request(self) -> None:
        """Fetch as soon as possible (thread-safe; several requests collapse into one run)."""
        self._wake.set()

    def poll_every(self, interval: float, pace: Callable[[Mastodon], float] | None = None) -> None:
        """From now on poll every `interval` seconds, starting at once (thread-safe): the source's
        stream could not be had. `pace`, given the client after each poll, says the interval the
        server's rate budget allows from then on."""
        self._pace = pace
        self._interval = interval
        self._via = "poll"
        self._wake.set()

    def run(self) -> None:
        api = self._make_api()
        if self._interval is not None:
            self._wake.set()  # a poller starts with a fetch
        while not self._stop.is_set():
            woke = self._wake.wait(self._interval if self._interval is not None else 1.0)
            if self._stop.is_set():
                return
            if not woke and self._interval is None:
                continue
            self._wake.clear()
            self._fetch_all(api)
            if self._after is not None and not self._stop.is_set():
                self._after(api)
            if self._pace is not None and self._interval is not None:
                self._interval = self._pace(api)

    def _fetch_all(self, api: Mastodon) -> None:
        for hashtag in self._hashtags:
            while not self._stop.is_set():
                try:
                    count = self._fetch(api, hashtag)
                except RateLimited as limited:
                    wait = max((limited.reset_at or time.time() + 60) - time.time(), 1.0)
                    log.warning(
                        "fetch.rate_limited", source=self.source, hashtag=hashtag, wait_s=round(wait, 1)
                    )
                    if self._stop.wait(wait):
                        return
                    continue
                except (MastodonError, requests.RequestException) as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    level = "warning" if isinstance(exc, MastodonNetworkError) else "error"
                    getattr(log, level)(
                        "fetch.failed", source=self.source, hashtag=hashtag, error=self.last_error
                    )
                    break
                self.last_error = None
                self.last_run_at = time.time()
                log.info("fetch.done", source=self.source, hashtag=hashtag, via=self._via, statuses=count)
                break

    def _fetch(self, api: Mastodon, hashtag: str) -> int:
        cursor = self._cursor(self.source, hashtag)
        count = 0
        statuses = catch_up(
            api,
            hashtag,
            cursor,
            now=datetime.now(UTC),
            first_start=self._first_start,
            stop=self._stop,
            local=self._local_only,
            paging=self._paging,
        )
        for status in statuses:
            item = normalise.status(
                status, source=self.source, via=self._via, hashtag=hashtag, seen=self._seen
            )
            if item is not None:
                self._emit(item)
                count += 1
        return count


class FeedPoller:
    """Polls `/tags/NAME.rss` of an instance and resolves each new item through the home instance."""

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        hashtags: Sequence[str],
        make_home_api: Callable[[], Mastodon],
        home_host: str,
        emit: Emit,
        stop: threading.Event,
        interval: float,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.source = source
        self._base = base_url
        self._hashtags = tuple(hashtags)
        self._make_home_api = make_home_api
        self._home = home_host
        self._emit = emit
        self._stop = stop
        self._interval = interval
        self._timeout = timeout
        self._seen: set[str] = set()
        self.last_error: str | None = None
        self.last_run_at: float | None = None

    def run(self) -> None:
        home = self._make_home_api()
        session = requests.Session()
        try:
            while not self._stop.is_set():
                for hashtag in self._hashtags:
                    self._poll(session, home, hashtag)
                if self._stop.wait(self._interval):
                    return
        finally:
            session.close()

    def _poll(self, session: requests.Session, home: Mastodon, hashtag: str) -> None:
        url = f"{self._base}/tags/{hashtag}.rss"
        try:
            response = session.get(url, timeout=self._timeout)
        except requests.RequestException as exc:
            self.last_error = f"{type(exc).__name__}"
            log.warning("rss.failed", source=self.source, url=url, error=self.last_error)
            return
        if response.status_code != 200:
            self.last_error = f"HTTP {response.status_code}"
            log.error("rss.unavailable", source=self.source, url=url, status=response.status_code)
            return
        feed = feedparser.parse(response.content)
        new = 0
        for entry in reversed(feed.entries):  # the feed is newest first
            link = entry.get("link")
            if not link or link in self._seen:
                continue
            self._seen.add(link)
            if not normalise.rss_entry(entry, source=self.source, link=link):
                continue
            try:
                item = self._resolve(home, link, hashtag)
            except MastodonError as exc:
                log.warning("rss.item_skipped", source=self.source, link=link, error=str(exc))
                continue
            if item is not None:
                self._emit(item)
                new += 1
        self.last_error = None
        self.last_run_at = time.time()
        log.info("rss.done", source=self.source, hashtag=hashtag, new=new)

    def _resolve(self, home: Mastodon, link: str, hashtag: str) -> Item | None:
        """The item as the home instance knows it (None: not found there, or malformed: logged)."""
        result = home.search_v2(link, resolve=True, result_type="statuses")
        statuses = result.get("statuses") or []
        if not statuses:
            log.warning("rss.unresolved", source=self.source, link=link)
            return None
        return normalise.status(
            as_json(statuses[0]), source=self._home, via="rss", hashtag=hashtag, link=link
        )
