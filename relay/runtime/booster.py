"""The booster: resolve a post on the home instance, reblog or unreblog it, crash-safely.

The journal in the store is the to-do list. Accepting a post writes a boost *intent* (durably,
before any call); the booster works through the open intents in order: find the post's local id
on the home instance (from the home stream, or `search_v2(uri, resolve=True)`, cached), reblog,
record the outcome.
A crash anywhere leaves the intent open, and the next start picks it up again. An intent left by
an earlier process is first *reconciled*: the status's `reblogged` field says whether the reblog
already happened, so nothing is boosted twice (the server's reblog is idempotent as well). A fresh
intent costs one request when the post's home id is known (the home instance's own stream gives it):
the reblog's answer tells whether the post is gone (404) or may not be reblogged (403, 422), and
carries the post, whose visibility is checked once more (a reblog that is not allowed is undone at
once); a post known only by its uri costs its resolve as well.

Calls stay within budgets: the server's announced rate limit with a reserve (never a 429 under
normal load; after one, wait until the reset), Mastodon's separate 30-per-30-minutes unreblog
limit, and optional spacing of boosts. All of it runs on the relay's one store thread.

What to call first, whether a post may be boosted, and what a failed call means are decided in
`relay.core.boosting` (pure); this is the shell that calls and records. A done boost and what it
means for the review queue (an approved item becomes boosted) are written in one transaction;
`work()` then reports each done boost as a `relay.runtime.events.Boosted` for the wiring to
route (moderation confirms it to the moderator who approved it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
)

from relay.core import boosting
from relay.core.backoff import Backoff
from relay.core.boosting import Failure, Step
from relay.core.budget import WindowBudget
from relay.core.lifecycle import Event, JournalKind, State
from relay.errors import CredentialsError
from relay.runtime.budget import SharedServerBudget
from relay.runtime.events import Boosted
from relay.runtime.metrics import Metrics
from relay.sources.rest import http_status
from relay.store.records import JournalEntry
from relay.store.store import Store

log = structlog.get_logger()

UNREBLOG_LIMIT = (30, 30 * 60.0)  # Mastodon: 30 unreblogs (and deletes) per 30 minutes
TURN = 100  # open intents of each kind looked at per turn: more than any budget lets go at once
RETRY_FIRST, RETRY_MAX = 2.0, 300.0  # seconds before retrying an intent after a network error or 5xx:
# doubling from RETRY_FIRST up to RETRY_MAX, with jitter (a restarting Mastodon answers 502/503 for
# seconds to minutes; a fixed long delay would hold every boost back that long after a blip)


@dataclass(frozen=True, slots=True)
class BoosterSettings:
    dry_run: bool = False
    max_boosts_per_hour: int = 0  # 0: no spacing
    allow_unlisted: bool = False  # the screen's visibility rule; private and direct never
    reserve: int = 10  # requests of the server's budget kept for moderation replies and checks


class PermanentFailure(Exception):
    """This post can never be boosted (gone, not public, refused by the server)."""


@dataclass(frozen=True, slots=True)
class Turn:
    """What one `Booster.work()` did: when the next intent may go, and the boosts it recorded."""

    wait: float | None  # seconds until the next open intent may go; None: none is open
    boosted: tuple[Boosted, ...] = ()


class Booster:
    """Works through the journal's open intents against the home instance."""

    def __init__(
        self,
        api: Mastodon,
        store: Store,
        *,
        home_host: str,
        settings: BoosterSettings = BoosterSettings(),
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
    ) -> None:
        self._api = api
        self._store = store
        self._home = home_host
        self._settings = settings
        self._clock = clock
        self._done: list[Boosted] = []  # this turn's done boosts, reported by `work()`
        self._metrics = metrics or Metrics()
        self.budget = SharedServerBudget(reserve=settings.reserve)
        self.unreblog_budget = WindowBudget(*UNREBLOG_LIMIT)
        spacing = 3600.0 / settings.max_boosts_per_hour if settings.max_boosts_per_hour else 0.0
        self.spacing = WindowBudget(1 if spacing else 0, spacing)
        self._local_ids: dict[str, str] = {}
        self._retry_at: dict[int, float] = {}
        self._retries: dict[int, Backoff] = {}
        # Intents open before this process started may have reached the server before a crash.
        self._earlier = {e.id for e in store.boosts.unfinished_intents()}
        self.paused = False

    def learn_home_id(self, uri: str, local_id: str) -> None:
        """The home instance's id for `uri`, learnt from its own stream (saves a search)."""
        self._local_ids[uri] = local_id

    # -- the work loop ---------------------------------------------------------------------------

    def work(self) -> Turn:
        """Do the open intents that may go now; return when the next one may, and what was boosted.

        Each kind's queue is read from its head, `TURN` intents at a time (a post has intents of
        one kind open at a time, so the kinds need no common order): a backlog of thousands (a
        paused relay, a long rate limit) costs a turn no more than a short one. Boosts wait while
        paused; unboosts (retractions) never do.
        """
        next_wait: float | None = None
        self._done = []
        for kind in JournalKind:
            if kind is JournalKind.BOOST and self.paused:
                continue
            head = self._store.boosts.unfinished_intents(kind=kind, limit=TURN)
            waits = []
            for entry in head:
                wait = self._wait_for(entry)
                if wait <= 0:
                    self._do(entry)
                    if entry.id not in self._retry_at and self.budget.wait(self._clock()) <= 0:
                        continue  # done, or closed for good
                    wait = self._wait_for(entry)  # a retry or the rate limit holds it back
                waits.append(wait)
            if len(head) == TURN and not waits:
                waits.append(0.0)  # the whole head went: more may be waiting behind it
            if waits:
                next_wait = min(waits) if next_wait is None else min(next_wait, *waits)
        return Turn(next_wait, tuple(self._done))

    def _wait_for(self, entry: JournalEntry) -> float:
        now = self._clock()
        waits = [self.budget.wait(now), self._retry_at.get(entry.id, now) - now]
        if entry.kind is JournalKind.BOOST:
            waits.append(self.spacing.wait(now))
        else:
            waits.append(self.unreblog_budget.wait(now))
        return max(waits)

    def _do(self, entry: JournalEntry) -> None:
        bound = log.bind(uri=entry.uri, kind=entry.kind)
        started = self._clock()
        try:
            done = (
                self._boost(entry, bound) if entry.kind is JournalKind.BOOST else self._unboost(entry, bound)
            )
        except PermanentFailure as exc:
            self._metrics.error(f"{entry.kind}_refused")
            bound.warning(f"{entry.kind}.refused", reason=str(exc))
            self._forget_retries(entry.id)
            if entry.kind is JournalKind.BOOST:
                self._store.boosts.boost_failed(entry.uri, str(exc))
            else:
                self._store.boosts.unboost_failed(entry.uri, str(exc))
        except MastodonError as exc:
            self._failed(entry, exc, bound)
        else:
            self._forget_retries(entry.id)
            if done:  # not after a dry run, which logged what it would have done
                bound.info(f"{entry.kind}.done", took_ms=round((self._clock() - started) * 1000, 1))
        finally:
            self._observe_headers()

    def _failed(self, entry: JournalEntry, exc: MastodonError, bound: Any) -> None:
        """A call for `entry` failed: wait for the rate limit, retry later, or end the relay."""
        failure = boosting.failure(_answer(exc))
        if failure is Failure.RATE_LIMITED:
            now = self._clock()
            self.budget.hit_limit(now, self._api.ratelimit_reset)
            self._metrics.error("rate_limited")
            bound.warning("boost.rate_limited", retry_in_s=round(self.budget.wait(now), 1))
        elif failure is Failure.CREDENTIALS:
            raise CredentialsError(
                f"the home instance refused the booster's token ({exc.args[-1] if exc.args else exc})",
                fix="the token was revoked or lacks write:statuses: run `relay login` again",
            ) from None
        elif failure is Failure.RETRY:
            retries = self._retries.setdefault(entry.id, Backoff(initial=RETRY_FIRST, maximum=RETRY_MAX))
            delay = retries.next_delay()
            self._retry_at[entry.id] = self._clock() + delay
            self._metrics.error(f"{entry.kind}_retry")
            bound.warning(
                f"{entry.kind}.retry",
                error=type(exc).__name__,
                attempt=retries.attempt,
                retry_in_s=round(delay, 1),
            )
        else:
            raise exc

    def _forget_retries(self, entry_id: int) -> None:
        """The intent is closed (done or failed for good): drop its retry time and backoff."""
        self._retry_at.pop(entry_id, None)
        self._retries.pop(entry_id, None)

    def _observe_headers(self) -> None:
        api = self._api
        remaining = getattr(api, "ratelimit_remaining", None)
        self.budget.observe(
            getattr(api, "ratelimit_limit", None),
            remaining,
            getattr(api, "ratelimit_reset", None),
            self._clock(),
        )
        if remaining is not None:
            self._metrics.rate_budget(remaining)

    # -- boost -----------------------------------------------------------------------------------

    def _boost(self, entry: JournalEntry, bound: Any) -> bool:
        """Reblog (or reconcile) the entry's post; False for a dry run, which calls nothing.

        A fresh intent whose home id is known (a post from the home instance's stream) costs the
        reblog alone: its answer says all a fetch would (404 gone, 403 or 422 refused, and the post
        with its visibility). Any other post is resolved by its uri first. An intent left open by an
        earlier run is fetched first, since its reblog may have gone out before the crash.
        """
        if self._settings.dry_run:
            status = self._resolve(entry)
            self._refuse_unless_allowed(status, bound, reblogged=False)
            bound.info("boost.dry_run", would_reblog=str(status["id"]))
            self._store.boosts.boost_failed(entry.uri, "dry run: not reblogged")
            return False
        earlier = self._left_by_earlier_run(entry)
        local_id = self._local_id(entry)
        if boosting.first_step(earlier=earlier, local_id=local_id) is Step.RESOLVE:
            status = self._resolve(entry)
            local_id = str(status["id"])
            reblogged = bool(status.get("reblogged"))
            self._refuse_unless_allowed(status, bound, reblogged=reblogged)
            if boosting.reconciled(earlier=earlier, reblogged=reblogged):
                bound.info("boost.reconciled", local_id=local_id)
                return self._boosted(entry, None, local_id)
        assert local_id is not None  # known, or learnt by the fetch
        reblog = self._reblog(local_id)
        # Screening let only allowed posts through and the server refuses private and direct ones;
        # should one get through all the same, its reblog is undone at once.
        original = reblog.get("reblog") or dict(self._api.status(local_id))  # a server without `reblog`
        self._refuse_unless_allowed(original, bound, reblogged=True)
        return self._boosted(entry, str(reblog["id"]), local_id)

    def _boosted(self, entry: JournalEntry, reblog_id: str | None, local_id: str) -> bool:
        """Record the done boost (with the post's home id, for `relay.runtime.recheck`) and what follows
        from it (an approved review item becomes boosted) in one transaction, so that a crash
        leaves both or neither; once committed, report it (`Boosted`)."""
        store = self._store
        with store.atomic():
            store.boosts.boost_done(entry.uri, reblog_id, local_id=local_id)
            item = store.queue.queue_by_uri(entry.uri)
            if item is not None and item.state is State.APPROVED:
                store.queue.move(item.short_id, Event.BOOST, "relay")
        self._done.append(Boosted(entry.uri))
        self._metrics.boosted()
        return True

    def _local_id(self, entry: JournalEntry) -> str | None:
        return entry.local_id or self._local_ids.get(entry.uri)

    def _reblog(self, local_id: str) -> dict[str, Any]:
        """Reblog the home instance's status `local_id`; its refusals are permanent failures."""
        self.spacing.spend(self._clock())
        try:
            return dict(self._api.status_reblog(local_id))
        except MastodonAPIError as exc:
            reason = boosting.reblog_refusal(http_status(exc), _message(exc))
            if reason is not None:
                raise PermanentFailure(reason) from None
            raise

    def _refuse_unless_allowed(self, status: dict[str, Any], bound: Any, *, reblogged: bool) -> None:
        """Raise `PermanentFailure` unless `status` may be boosted; if the bot has `reblogged` it,
        undo that first (the unreblog is spent from its budget but never waits for it)."""
        visibility = status.get("visibility")
        reason = boosting.refusal(visibility, allow_unlisted=self._settings.allow_unlisted)
        if reason is None:
            return
        if reblogged:
            self._unreblog(status["id"])
            bound.warning("boost.undone", visibility=visibility, local_id=str(status["id"]))
        raise PermanentFailure(reason)

    def _resolve(self, entry: JournalEntry) -> dict[str, Any]:
        """The post as the home instance knows it (with its local id, visibility, `reblogged`)."""
        local_id = self._local_id(entry)
        if local_id is not None:
            try:
                return dict(self._api.status(local_id))
            except MastodonNotFoundError:
                pass  # the cached id is stale: resolve by uri
        try:
            result = self._api.search_v2(entry.uri, resolve=True, result_type="statuses")
        except MastodonNotFoundError:
            result = {"statuses": []}
        statuses = [s for s in result.get("statuses", []) if s.get("uri") == entry.uri]
        if not statuses:
            raise PermanentFailure("the home instance cannot resolve the post (deleted or unreachable)")
        status = dict(statuses[0])
        self._local_ids[entry.uri] = str(status["id"])
        return status

    def _left_by_earlier_run(self, entry: JournalEntry) -> bool:
        return entry.id in self._earlier

    # -- unboost ---------------------------------------------------------------------------------

    def _unboost(self, entry: JournalEntry, bound: Any) -> bool:
        """Undo the reblog of the entry's post; False for a dry run, which calls nothing."""
        if self._settings.dry_run:
            bound.info("unboost.dry_run")
            self._store.boosts.unboost_failed(entry.uri, "dry run: not unreblogged")
            return False
        try:
            status = self._resolve(entry)
        except PermanentFailure:
            # Gone from the home instance: Mastodon removed the reblog with the post.
            self._store.boosts.unboost_done(entry.uri)
            return True
        if not status.get("reblogged"):
            self._store.boosts.unboost_done(entry.uri)
            return True
        self._unreblog(status["id"])
        self._store.boosts.unboost_done(entry.uri)
        self._metrics.unboosted()
        return True

    def _unreblog(self, local_id: str) -> None:
        """Undo the bot's reblog of the home instance's status `local_id`, spent from the unreblog
        budget (the caller has waited for it, or must not wait)."""
        self.unreblog_budget.spend(self._clock())
        with contextlib.suppress(MastodonNotFoundError):  # already gone is as good as undone
            self._api.status_unreblog(local_id)


def _message(exc: MastodonAPIError) -> str:
    return str(exc.args[-1]) if exc.args else str(exc)


def _answer(exc: MastodonError) -> int | None:
    """The HTTP status a failed call got (None: no answer). Mastodon.py raises its rate-limit
    error without one, on a 429 and when the announced budget is spent."""
    if isinstance(exc, MastodonRatelimitError):
        return 429
    if isinstance(exc, MastodonNetworkError):
        return None
    status = http_status(exc) if isinstance(exc, MastodonAPIError) else None
    return 0 if status is None else status  # 0: no status to go by (e.g. an unreadable answer)
