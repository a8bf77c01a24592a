"""The weekly digest in `relay run`: when its moment comes, sum up the period and post it, once.

`DigestPoster.tick()` runs on the main thread's loop. When `relay.core.digest.due_period` says a
period is due, the poster gathers its figures (`facts`), writes the texts as an intent in the
store (`relay.store.digests`) BEFORE the first post, posts each part (a thread when the digest
needs more than one status) and records each part's id AFTER its call. Exactly once per period:

- a crash after the intent and before or during a post leaves the intent open; the next start
  first reads the bot's own recent statuses and records every part it finds there (each part's
  first line, `relay.runtime.digest_text.marker`, names the period and the part), then posts only
  the parts still missing;
- every post carries an `Idempotency-Key` made of the period and the part, so a retry that
  reaches the server within the hour its key is kept (Mastodon: one hour, per account) gets the
  status already made instead of a second one;
- a post whose outcome is unknown (a network error, a 5xx, a 429) is not retried blind: the
  poster reconciles against the bot's statuses first, after a backoff.

A period with nothing to say is recorded as done without a post. A post the server refuses (422,
403, 404) is recorded as failed with the server's words and logged at error, once, with the fix.

The clock is UTC now; tests set `RELAY_DIGEST_CLOCK_FILE` to a file holding an ISO time, which
the poster reads instead (see `digest_clock`), so that a test can make the week pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from mastodon import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from relay.config.load import DigestConfig
from relay.core.backoff import Backoff
from relay.core.digest import GRACE, DigestFacts, Period, due_period
from relay.core.dm import dm_text
from relay.core.ids import parse_time
from relay.errors import ConfigError
from relay.moderation.notices import MASTODON_MAX_CHARS
from relay.runtime.digest_text import digest_parts, marker
from relay.store.records import DigestRecord, to_text
from relay.store.store import Store

log = structlog.get_logger()

CLOCK_ENV = "RELAY_DIGEST_CLOCK_FILE"
"""For tests only: a file holding an ISO-8601 time that the digest takes as now (replace it by a
rename, so that the relay never reads a half-written file: that is an error, exit 2)."""

RECONCILE_MARGIN = timedelta(hours=1)  # statuses this much older than the intent are not looked at
RECONCILE_PAGES = 10  # pages of 40 of the bot's own statuses (boosts left out) read at most


def facts(store: Store, period: Period) -> DigestFacts:
    """What the digest of `period` says, from the store: the posts boosted in it and still boosted,
    and the members of the directory who joined in it and are still listed."""
    boosted = store.digests.boosted_between(period.start, period.end)
    return DigestFacts(
        period,
        boosted_authors=tuple(post.acct for post in boosted),
        new_members=tuple(member.acct for member in store.members.joined_since(period.start, period.end)),
    )


def max_characters(instance: Mapping[str, Any] | None) -> int:
    """`configuration.statuses.max_characters` of an instance (v2 or v1 JSON), else Mastodon's 500."""
    configuration = (instance or {}).get("configuration") or {}
    value = (configuration.get("statuses") or {}).get("max_characters")
    return value if isinstance(value, int) and value >= 100 else MASTODON_MAX_CHARS


def digest_clock(environ: Mapping[str, str] | None = None) -> Callable[[], datetime]:
    """The digest's clock: UTC now, or the time in the file `RELAY_DIGEST_CLOCK_FILE` names (tests)."""
    env = os.environ if environ is None else environ
    name = env.get(CLOCK_ENV)
    if not name:
        return lambda: datetime.now(UTC)
    path = Path(name)
    log.warning("digest.test_clock", file=str(path), fix=f"unset {CLOCK_ENV}: it is for tests")

    def from_file() -> datetime:
        text = path.read_text(encoding="utf-8").strip()
        when = parse_time(text)
        if when is None:
            raise ConfigError(
                f"{CLOCK_ENV}: {path} holds {text[:40]!r}, not an ISO time", fix=f"unset {CLOCK_ENV}"
            )
        return when

    return from_file


@dataclass(frozen=True, slots=True)
class Own:
    """One of the bot's own statuses, as reconciling needs it."""

    id: str
    created_at: datetime
    first_line: str
    in_reply_to_id: str | None


class DigestPoster:
    """Posts the weekly digest from the home account (see the module docstring)."""

    def __init__(
        self,
        api: Any,
        store: Store,
        config: DigestConfig,
        *,
        hashtags: Sequence[str],
        me_id: str,
        max_chars: int = MASTODON_MAX_CHARS,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float],
    ) -> None:
        self._api = api
        self._store = store
        self._config = config
        self._hashtags = tuple(hashtags)
        self._me_id = me_id
        self._max_chars = max_chars
        self._clock = clock or digest_clock()
        self._monotonic = monotonic
        self._backoff = Backoff(initial=60.0, maximum=3600.0)
        self._retry_at = 0.0  # monotonic time before which nothing is tried again
        self._reconcile = True  # open intents are checked against the bot's statuses first
        self._next_due: datetime | None = None  # nothing to do before this digest-clock time
        # An unfinished intent may be in the store: one a crash left (so true at start) or one an
        # attempt left for later. Only then is the store asked, not at every turn of the main loop.
        self._open = True

    def tick(self) -> None:
        """Do what is due: finish an open digest, or write and post the one whose moment came."""
        if not self._config.enabled or self._monotonic() < self._retry_at:
            return
        now = self._clock()
        if self._open:
            for record in self._store.digests.unfinished():
                self._finish(record, now)
                if self._retry_at > self._monotonic():
                    return
            self._open = False  # each one posted, or failed for good
        if self._next_due is not None and now < self._next_due:
            return
        latest = self._store.digests.latest()
        period = due_period(self._config.schedule, now, latest.period_end if latest else None)
        self._next_due = self._config.schedule.next(now)
        if period is None:
            return
        parts = digest_parts(
            facts(self._store, period),
            self._hashtags,
            self._config.zone,
            max_chars=self._max_chars,
        )
        record = self._store.digests.intent(period, parts)
        if not parts:
            log.info("digest.nothing_to_say", period_end=to_text(period.end))
            return
        log.info("digest.intent", period_end=to_text(period.end), parts=len(parts))
        self._reconcile = False  # a fresh intent: nothing of it can be on the server yet
        self._finish(record, now)

    # -- posting ---------------------------------------------------------------------------------

    def _finish(self, record: DigestRecord, now: datetime) -> None:
        if self._reconcile:
            found = self._found_parts(record)
            if found is None:
                return
            record = found
        if record.next_part is not None and now - record.period_end > GRACE:
            error = f"not posted within {GRACE} of its time (the relay was down or failing)"
            self._store.digests.failed(record.period_end, error)
            log.warning(
                "digest.too_late", period_end=to_text(record.period_end), posted=len(record.status_ids)
            )
            return
        while (index := record.next_part) is not None:
            try:
                status = self._api.status_post(
                    record.parts[index],
                    visibility=self._config.visibility,
                    in_reply_to_id=record.status_ids[-1] if record.status_ids else None,
                    idempotency_key=_idempotency_key(record, index),
                )
            except (MastodonNetworkError, MastodonServerError, MastodonRatelimitError) as exc:
                self._unsure(record, index, exc)
                return
            except MastodonUnauthorizedError:
                self._later(record, "the home instance refused the token", "run `relay login` and restart")
                return
            except (MastodonAPIError, MastodonNotFoundError) as exc:
                self._refused(record, index, exc)
                return
            record = self._store.digests.part_posted(record.period_end, index, str(status["id"]))
            log.info(
                "digest.posted", period_end=to_text(record.period_end), part=index + 1, of=len(record.parts)
            )
        self._backoff.reset()

    def _found_parts(self, record: DigestRecord) -> DigestRecord | None:
        """Record the parts of `record` that the bot's own statuses show were posted; None when the
        statuses could not be read (tried again later)."""
        try:
            own = self._own_statuses(since=record.created_at - RECONCILE_MARGIN)
        except MastodonError as exc:
            self._later(record, f"cannot read the bot's statuses: {type(exc).__name__}", None)
            return None
        self._reconcile = False
        before = len(record.status_ids)
        while (index := record.next_part) is not None:
            wanted = marker(record.parts[index])
            previous = record.status_ids[-1] if record.status_ids else None
            match = next(
                (
                    s
                    for s in own
                    if s.first_line == wanted and (previous is None or s.in_reply_to_id == previous)
                ),
                None,
            )
            if match is None:
                break
            record = self._store.digests.part_posted(record.period_end, index, match.id)
        log.info(
            "digest.reconciled",
            period_end=to_text(record.period_end),
            found=len(record.status_ids) - before,
            missing=len(record.parts) - len(record.status_ids),
        )
        return record

    def _own_statuses(self, since: datetime) -> list[Own]:
        """The bot's statuses (boosts left out) created at or after `since`, newest first."""
        found: list[Own] = []
        max_id = None
        for _ in range(RECONCILE_PAGES):
            page = self._api.account_statuses(self._me_id, exclude_reblogs=True, limit=40, max_id=max_id)
            if not page:
                break
            for status in page:
                created = parse_time(status.get("created_at"))
                if created is not None and created < since:
                    return found
                lines = dm_text(str(status.get("content") or "")).split("\n")
                reply_to = status.get("in_reply_to_id")
                found.append(
                    Own(
                        str(status["id"]),
                        created or since,
                        lines[0],
                        None if reply_to is None else str(reply_to),
                    )
                )
            max_id = page[-1]["id"]
        return found

    def _unsure(self, record: DigestRecord, index: int, exc: MastodonError) -> None:
        """The post may or may not have been made: look at the bot's statuses before trying again."""
        self._reconcile = True
        self._later(record, f"posting part {index + 1} failed: {type(exc).__name__}", None)

    def _later(self, record: DigestRecord, error: str, fix: str | None) -> None:
        self._open = True  # `record` stays an intent: finished at the first tick after the delay
        delay = self._backoff.next_delay()
        self._retry_at = self._monotonic() + delay
        log.warning(
            "digest.retry_later", period_end=to_text(record.period_end), error=error, retry_in=delay, fix=fix
        )

    def _refused(self, record: DigestRecord, index: int, exc: MastodonError) -> None:
        error = _api_error(exc)
        self._store.digests.failed(record.period_end, error)
        log.error(
            "digest.refused",
            period_end=to_text(record.period_end),
            part=index + 1,
            error=error,
            fix="the home instance refused the digest; it is not tried again for this period"
            " (check the bot's write:statuses scope with `relay check`, and the text with"
            " `relay digest --preview`)",
        )


def _idempotency_key(record: DigestRecord, index: int) -> str:
    """The same key for the same part of the same period, whoever posts it and however often."""
    return f"relay-digest-{record.period_end.strftime('%Y%m%dT%H%MZ')}-{index + 1}of{len(record.parts)}"


def _api_error(exc: MastodonError) -> str:
    args = exc.args
    if len(args) >= 4:
        return f"HTTP {args[1]}: {args[3] or args[2]}"
    return type(exc).__name__
