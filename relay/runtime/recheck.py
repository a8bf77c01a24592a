"""Recheck of recent boosts: edits the relay did not hear live are read back from the home instance.

An edit reaches the relay as a stream's `status.update`, and catch-up asks a tag timeline only for
posts newer than its cursor: an edit made while the relay was down or a stream was reconnecting
was never seen. So after the home instance's hashtag stream connects (at start and after each
reconnect), once its catch-up is done, the home catch-up thread re-reads the posts that the relay
boosted or still means to boost, whose boost intent was written in the last `WINDOW` (the per-author
cap's 24 hours; at most `MAX_POSTS`, the newest first), and hands each one whose `edited_at` is
newer than the version the store has to the pipeline as an ordinary `Delivered` (via "recheck"): the
usual edit path re-screens it, unboosts or holds a boosted post that no longer passes, and cancels
an open intent.

The posts are read `BATCH` at a time with `GET /api/v1/statuses?id[]=...` (Mastodon 4.3+; Mastodon
answers 422 to more than 20 ids and leaves out each status it does not have or the bot may not see).
A server without it (404, 405 or 422) is asked `GET /api/v1/statuses/:id` per post from then on
(logged once, at info: an older server is normal), for the newest `MAX_ONE_BY_ONE` posts only. A
post missing from a batch's answer is asked for on its own; a 404 there means the home instance no
longer has it: it is handed on as `Deleted` (Mastodon removed the bot's reblog with the post; the
pipeline records the retraction and closes an open intent).

Each request waits for the home token's `ServerBudget`, shared with the booster, and reports the
answer's rate-limit figures to it. Deciding what to read and what changed is pure (`edited`,
`batches`); `Rechecker` is the thin shell that reads the store (its own read-only connection: the
store thread is not this one) and calls the server with the catch-up thread's own client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import structlog
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNotFoundError,
    MastodonRatelimitError,
)

from relay.core.ids import parse_time, version_key
from relay.core.items import Deleted, Item
from relay.runtime.budget import SharedServerBudget
from relay.sources import normalise
from relay.sources.rest import as_json, http_status
from relay.store.records import Recheck
from relay.store.store import Store

log = structlog.get_logger()

WINDOW = timedelta(hours=24)  # boosts whose intent was written this recently are read back
MAX_POSTS = 500  # at most this many posts a recheck (the newest): 25 requests of `BATCH`
MAX_ONE_BY_ONE = 60  # on a server without the multi-id read, only the newest this many (a fifth of
# Mastodon's 300 requests in 5 minutes, shared with the boosts: a reconnect must not starve them)
BATCH = 20  # Mastodon's DEFAULT_STATUSES_LIMIT: more ids in one request is a 422
NO_MULTI_GET = (404, 405, 422)  # the answers of a server without `GET /api/v1/statuses?id[]=`


def batches(items: Sequence[Recheck], size: int = BATCH) -> Iterator[list[Recheck]]:
    """`items` in runs of at most `size`, in order."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def edited(
    posts: Sequence[Recheck], statuses: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[Recheck]]:
    """Which of `statuses` (the home instance's answer for `posts`) are newer than the store's
    version, and which of `posts` the answer lacks. A status is matched to its post by id."""
    by_id = {str(s.get("id")): s for s in statuses}
    newer: list[Mapping[str, Any]] = []
    missing: list[Recheck] = []
    for post in posts:
        status = by_id.get(post.local_id)
        if status is None:
            missing.append(post)
        elif _is_newer(status.get("edited_at"), post.edited_at):
            newer.append(status)
    return newer, missing


def _is_newer(answer: object, stored: str | None) -> bool:
    """Only a real edit time in the answer counts (never edited, or not a time: not newer)."""
    return parse_time(answer) is not None and version_key(answer) > version_key(stored)


class Rechecker:
    """Reads back the recent boosts on the home instance; `run(api)` on the home catch-up thread."""

    def __init__(
        self,
        *,
        state: Path,
        home: str,
        budget: SharedServerBudget,
        emit: Callable[[Item], None],
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._home = home
        self._budget = budget
        self._emit = emit
        self._stop = stop
        self._clock = clock
        self._multi = True  # until the server shows it lacks `GET /api/v1/statuses?id[]=`

    def run(self, api: Mastodon) -> None:
        """One recheck: read the window's posts back and hand on the edited and the deleted ones."""
        started = self._clock()
        since = datetime.fromtimestamp(started, UTC) - WINDOW
        with Store.open(self._state, readonly=True) as store:
            posts = store.boosts.boosts_to_recheck(self._home, since, MAX_POSTS)
        counts = {"posts": len(posts), "edited": 0, "deleted": 0}
        try:
            for done, batch in enumerate(batches(posts)):
                if not self._multi and done * BATCH >= MAX_ONE_BY_ONE:
                    counts["posts"] = done * BATCH  # the newest: the rest wait for a newer server
                    break
                answer = self._read(api, batch)
                if answer is None:
                    return  # stopping
                statuses, gone = answer
                newer, missing = edited(batch, statuses)
                for status in newer:
                    counts["edited"] += self._hand_on(status)
                for post in missing:  # left out of a batch's answer: asked on its own
                    one = True if post.local_id in gone else self._one(api, post)
                    if one is None:
                        return
                    if one is True:
                        self._emit(Deleted(self._home, post.local_id))
                        counts["deleted"] += 1
                    elif one is not False and edited([post], [one])[0]:
                        counts["edited"] += self._hand_on(one)
        except (MastodonError, requests.RequestException) as exc:
            # Not fatal: the next reconnect rechecks again (a revoked token ends the relay elsewhere).
            log.warning("recheck.failed", error=type(exc).__name__, **counts)
            return
        log.info("recheck.done", took_ms=round((self._clock() - started) * 1000, 1), **counts)

    def _hand_on(self, status: Mapping[str, Any]) -> int:
        item = normalise.status(as_json(status), source=self._home, via="recheck")
        if item is None:
            return 0
        self._emit(item)
        return 1

    def _read(self, api: Mastodon, batch: list[Recheck]) -> tuple[list[Mapping[str, Any]], set[str]] | None:
        """The home instance's statuses for `batch`, and the ids it answered 404 for on their own
        (None when the relay is stopping)."""
        if self._multi:
            try:
                statuses = self._call(api, lambda: api.statuses([p.local_id for p in batch]))
                return None if statuses is None else (list(statuses), set())
            except MastodonAPIError as exc:
                code = http_status(exc)
                if code not in NO_MULTI_GET:
                    raise
                self._multi = False
                log.info("recheck.one_by_one", status=code, reason="no GET /api/v1/statuses?id[]=")
        found: list[Mapping[str, Any]] = []
        gone: set[str] = set()
        for post in batch:
            one = self._one(api, post)
            if one is None:
                return None
            if one is True:
                gone.add(post.local_id)
            elif one is not False:
                found.append(one)
        return found, gone

    def _one(self, api: Mastodon, post: Recheck) -> Mapping[str, Any] | bool | None:
        """`GET /api/v1/statuses/:id`: True for a 404, else the status (None when stopping)."""
        try:
            status = self._call(api, lambda: api.status(post.local_id))
        except MastodonNotFoundError:
            return True
        return None if status is None else dict(status)

    def _call(self, api: Mastodon, request: Callable[[], Any]) -> Any:
        """`request()` once the shared budget allows it; waits out a 429. None when stopping."""
        while True:
            wait = self._budget.wait(self._clock())
            if wait > 0 and self._stop.wait(wait):
                return None
            if self._stop.is_set():
                return None
            try:
                return request()
            except MastodonRatelimitError:
                self._budget.hit_limit(self._clock(), getattr(api, "ratelimit_reset", None))
                log.warning("recheck.rate_limited", retry_in_s=round(self._budget.wait(self._clock()), 1))
            finally:
                self._budget.observe(
                    getattr(api, "ratelimit_limit", None),
                    getattr(api, "ratelimit_remaining", None),
                    getattr(api, "ratelimit_reset", None),
                    self._clock(),
                )
