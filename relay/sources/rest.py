"""REST reads of a hashtag timeline: catch-up from a cursor, and the first look back at start.

Mastodon.py does the HTTP. Its results are typed entities (datetimes instead of strings); `as_json`
turns one back into the wire JSON that `relay.core.post.Post.from_status` reads, so that statuses from
streams, catch-up and polls cross the same edge.

Paging follows Mastodon's `min_id` semantics: the page just after `min_id`, newest first, so the
next page starts at the newest id of this one. Pages are yielded oldest first, so a caller that
advances its cursor after each status never skips one after a crash. A server that pages with
`max_id` only (Mitra: it ignores `min_id`) is read backwards from its newest page down to the
cursor instead (`paging="max_id"`), and what was newer than the cursor is yielded oldest first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from mastodon import Mastodon, MastodonAPIError, MastodonRatelimitError

from relay.core.budget import ServerBudget
from relay.core.ids import id_key, parse_time

log = structlog.get_logger()

PAGE_LIMIT = 40  # Mastodon's maximum for timelines


def as_json(entity: Any) -> dict[str, Any]:
    """A Mastodon.py entity as the plain JSON dict the server sent (datetimes back to ISO text)."""

    def default(value: object) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    result: dict[str, Any] = json.loads(json.dumps(entity, default=default))
    return result


def within_budget(
    api: Mastodon,
    budget: ServerBudget,
    request: Callable[[], Any],
    *,
    stop: threading.Event,
    clock: Callable[[], float],
    event: str,
    **context: Any,
) -> Any:
    """`request()` once `budget` allows it, its answer's `X-RateLimit-*` figures reported to it; a
    429 waits for the reset (logged as `event`, with `context`) and asks again. None when stopping."""
    while True:
        wait = budget.wait(clock())
        if wait > 0 and stop.wait(wait):
            return None
        if stop.is_set():
            return None
        try:
            return request()
        except MastodonRatelimitError:
            budget.hit_limit(clock(), getattr(api, "ratelimit_reset", None))
            log.warning(event, retry_in_s=round(budget.wait(clock()), 1), **context)
        finally:
            budget.observe(
                getattr(api, "ratelimit_limit", None),
                getattr(api, "ratelimit_remaining", None),
                getattr(api, "ratelimit_reset", None),
                clock(),
            )


def http_status(exc: MastodonAPIError) -> int | None:
    """The HTTP status of a Mastodon.py API error (it is one of the error's arguments)."""
    return next((arg for arg in exc.args if isinstance(arg, int)), None)


@dataclass(frozen=True, slots=True)
class FirstStart:
    """How far back the very first start (no stored cursor) looks."""

    max_posts: int = 40
    max_age: timedelta = timedelta(hours=24)


class RateLimited(Exception):
    """The instance said 429; `reset_at` (epoch seconds) is when the budget comes back."""

    def __init__(self, reset_at: float | None) -> None:
        super().__init__("rate limited")
        self.reset_at = reset_at


def _page(api: Mastodon, hashtag: str, **params: Any) -> list[dict[str, Any]]:
    try:
        page = api.timeline_hashtag(hashtag, limit=PAGE_LIMIT, **params)
    except MastodonRatelimitError:
        raise RateLimited(api.ratelimit_reset) from None
    return [as_json(s) for s in page]


def catch_up(
    api: Mastodon,
    hashtag: str,
    cursor: str | None,
    *,
    now: datetime,
    first_start: FirstStart = FirstStart(),
    stop: threading.Event | None = None,
    max_pages: int = 50,
    local: bool = False,
    paging: str = "min_id",
) -> Iterator[dict[str, Any]]:
    """Every status on `hashtag` newer than `cursor`, oldest first, as wire JSON dicts.

    Without a cursor (the very first start) it yields at most `first_start.max_posts` statuses no
    older than `first_start.max_age`. `max_pages` bounds one catch-up so that a huge backlog is
    taken in slices within the paging rate limit; the caller's cursor resumes it next time.
    Raises `RateLimited` when the instance answers 429.
    """
    if cursor is None:
        yield from _first_look(api, hashtag, now=now, first_start=first_start, local=local)
        return
    if paging == "max_id":
        yield from _back_to(api, hashtag, cursor, stop=stop, max_pages=max_pages, local=local)
        return
    min_id = cursor
    for _ in range(max_pages):
        if stop is not None and stop.is_set():
            return
        page = _page(api, hashtag, min_id=min_id, local=local)
        if not page:
            return
        page.sort(key=lambda s: id_key(str(s["id"])))
        yield from page
        min_id = str(page[-1]["id"])
        if len(page) < PAGE_LIMIT:
            return


def _back_to(
    api: Mastodon, hashtag: str, cursor: str, *, stop: threading.Event | None, max_pages: int, local: bool
) -> Iterator[dict[str, Any]]:
    """The statuses newer than `cursor`, read from the newest page backwards with `max_id`."""
    floor = id_key(cursor)
    collected: list[dict[str, Any]] = []
    max_id: str | None = None
    for _ in range(max_pages):
        if stop is not None and stop.is_set():
            break
        page = _page(api, hashtag, local=local, **({"max_id": max_id} if max_id else {}))
        newer = [s for s in page if id_key(str(s["id"])) > floor]
        collected.extend(newer)
        if not page or len(newer) < len(page) or len(page) < PAGE_LIMIT:
            break
        max_id = min((str(s["id"]) for s in page), key=id_key)
    else:
        log.warning("fetch.backlog_cut", hashtag=hashtag, pages=max_pages, oldest_missed_after=cursor)
    collected.sort(key=lambda s: id_key(str(s["id"])))
    yield from collected


def _first_look(
    api: Mastodon, hashtag: str, *, now: datetime, first_start: FirstStart, local: bool
) -> Iterator[dict[str, Any]]:
    oldest_allowed = now - first_start.max_age
    collected: list[dict[str, Any]] = []
    max_id: str | None = None
    while len(collected) < first_start.max_posts:
        page = _page(api, hashtag, local=local, **({"max_id": max_id} if max_id else {}))
        if not page:
            break
        fresh = [s for s in page if _created(s) >= oldest_allowed]
        collected.extend(fresh)
        if len(fresh) < len(page) or len(page) < PAGE_LIMIT:
            break
        max_id = min((str(s["id"]) for s in page), key=id_key)
    collected.sort(key=lambda s: id_key(str(s["id"])))
    yield from collected[-first_start.max_posts :]


def _created(status: dict[str, Any]) -> datetime:
    created = parse_time(str(status["created_at"]))
    if created is None:
        raise ValueError(f"created_at {status['created_at']!r} is not an ISO 8601 time")
    return created
