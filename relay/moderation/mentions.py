"""The catch-up of the bot's mentions: what its user stream missed, read over REST.

`MentionFetcher` runs in its own thread with its own client. After each (re)connect of the bot's
notification stream it is asked to read the mention notifications newer than the cursor (the
newest one `relay.moderation.channel.Moderation` has handled), and queues each as a `Mention` with
`via="catch-up"`, then a `MentionsSeen` to move the cursor. The very first start has no cursor:
it reads only the mentions of the last `FIRST_START_WINDOW`.

The cursor is handed over explicitly by the wiring (`relay.runtime.relay`): the stored one at
construction, then each move `Moderation.handle` returns, through `handled()` (thread-safe).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from mastodon import Mastodon, MastodonError, MastodonRatelimitError

from relay.core.ids import id_key, parse_time
from relay.core.items import Mention, MentionsSeen
from relay.sources import normalise
from relay.sources.rest import as_json

log = structlog.get_logger()

FIRST_START_WINDOW = timedelta(minutes=15)  # the very first start handles mentions this recent
PAGE = 40


class MentionFetcher:
    """Reads the bot's mention notifications over REST after each (re)connect of its user stream,
    so that DMs sent while the relay was down or the stream reconnecting are handled (once)."""

    def __init__(
        self,
        *,
        make_api: Callable[[], Mastodon],
        cursor: str | None,
        emit: Callable[[Mention | MentionsSeen], None],
        stop: threading.Event,
        home: str,
        anchors: normalise.OwnAnchors | None = None,
    ) -> None:
        self._make_api = make_api
        self._cursor = cursor  # the newest mention notification handled (see `handled`)
        self._cursor_lock = threading.Lock()
        self._emit = emit
        self._stop = stop
        self._home = home
        self._anchors = anchors  # the bot's own anchor posts: replies to them go to the pipeline too
        self._wake = threading.Event()

    def handled(self, notification_id: str) -> None:
        """The main thread handled mentions up to `notification_id`: read on from there (thread-safe)."""
        with self._cursor_lock:
            self._cursor = notification_id

    def request(self) -> None:
        """Fetch as soon as possible (thread-safe)."""
        self._wake.set()

    def run(self) -> None:
        api = self._make_api()
        while not self._stop.is_set():
            if not self._wake.wait(1.0):
                continue
            self._wake.clear()
            try:
                count = self._fetch(api)
            except MastodonRatelimitError:
                reset = api.ratelimit_reset or time.time() + 60
                log.warning("mentions.rate_limited", wait_s=round(reset - time.time(), 1))
                self._stop.wait(max(reset - time.time(), 1.0))
                self._wake.set()
                continue
            except MastodonError as exc:
                log.warning("mentions.fetch_failed", error=type(exc).__name__)
                continue
            log.info("mentions.fetched", mentions=count)

    def _fetch(self, api: Mastodon) -> int:
        with self._cursor_lock:
            cursor = self._cursor
        count = 0
        if cursor is None:  # the very first start: only what was sent just now
            page = [as_json(n) for n in api.notifications(types=["mention"], limit=PAGE)]
            recent = sent_since(page, datetime.now(UTC) - FIRST_START_WINDOW)
            count = self._emit_all(recent)
            newest = max((str(n["id"]) for n in page), key=id_key, default="0")
            self._emit(MentionsSeen(newest))
            return count
        while not self._stop.is_set():
            page = [as_json(n) for n in api.notifications(types=["mention"], min_id=cursor, limit=PAGE)]
            if not page:
                break
            count += self._emit_all(page)
            cursor = max((str(n["id"]) for n in page), key=id_key)
            self._emit(MentionsSeen(cursor))
            if len(page) < PAGE:
                break
        return count

    def _emit_all(self, notifications: list[dict[str, Any]]) -> int:
        count = 0
        for note in sorted(notifications, key=lambda n: id_key(str(n["id"]))):
            item = normalise.mention(note, home=self._home, via="catch-up", anchors=self._anchors)
            if item is not None:
                self._emit(item)
                count += 1
        return count


def sent_since(notifications: list[dict[str, Any]], since: datetime) -> list[dict[str, Any]]:
    """The notifications created at `since` or later, their `created_at` read by the one rule
    (`relay.core.ids.parse_time`: a time naming no zone is UTC). One whose time cannot be read is
    left out: the very first start cannot tell that it is recent."""
    return [n for n in notifications if (at := parse_time(n.get("created_at"))) is not None and at >= since]
