"""Replies to anchor posts, read where they are: the anchor's context on its own server.

A reply to a post reaches the post's own server (it mentions the post's author) whether or not it
carries the hashtag, so that is where an anchor's replies are read:

    GET /api/v1/statuses/:id          once: is the id from the anchor's URL really the anchor?
    GET /api/v1/statuses/:id/context  every `interval` s: its `descendants`

**Finding the anchor's id.** The last segment of the anchor's URL is its id on its own server for
every server kind the relay knows (`relay.core.anchors.status_id_candidate`); `GET
/api/v1/statuses/:id` there confirms it (a 200 for that id). Asking the home instance to resolve
the URL instead would give the home instance's id, whose context holds only the replies that
reached the home instance: not every reply does. Where the URL's segment is not an id (a
Pleroma `/objects/<uuid>` link) and the relay has a token for that server, its search (`resolve`)
is asked for the URL. A URL that names a copy (a remote post as another server shows it) is read
there, with a warning naming the original link: its replies are best read at the origin.

**Tokenless where allowed.** With a token for the anchor's server (it is the home instance, or a
`[[sources]]` entry with a token) the reads use it; otherwise they go without one. Mastodon gives a
reader without a token at most 60 descendants, 20 levels deep (`Api::V1::Statuses::
ContextsController::DESCENDANTS_LIMIT`; 4,096 with a token): a context that full is said once, at
warning, with the fix (a token for that server). A server that refuses tokenless reads (401, 403)
is said once too, with the same fix, and tried again every interval.

**Within the rate budget.** Each server has its own `ServerBudget` (the home instance's is the one
the booster spends, shared); every read waits for it and reports the answer's `X-RateLimit-*`
figures to it; a 429 waits for the reset. One read of each anchor per interval is one request.

**Replies, edits, deletes.** `direct` replies are the descendants that answer the anchor itself,
`thread` all of them (`select_replies`). Each new reply, and each reply whose `edited_at` changed,
becomes a `Delivered` (via "anchor", with its anchor) for the pipeline, which screens it as a
hashtag post without the hashtag requirement; the pipeline's dedupe makes a reply seen again (after
a restart) a duplicate. A reply read last time and missing now is asked for once (`GET
/api/v1/statuses/:id`): a 404 is a `Deleted` from the anchor's server, retracted by the pipeline
as any deleted post; a status is not a delete (a context cut at its limit, a parent deleted under
a `thread` reply) and the reply is followed no more (the recheck of recent boosts on the home
instance still sees its later delete or edit); an error is asked again at the next read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import structlog
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNotFoundError,
)

from relay.config.load import AnchorConfig
from relay.core.anchors import Descendant, gone, names_anchor, select_replies, status_id_candidate
from relay.core.budget import ServerBudget
from relay.core.items import Deleted, Item
from relay.sources import normalise
from relay.sources.rest import as_json, http_status, within_budget

log = structlog.get_logger()

TOKENLESS_DESCENDANTS = 60  # Mastodon's DESCENDANTS_LIMIT for a reader without a token
REFUSED = (401, 403)  # a server that does not let a reader without a token see statuses


class AnchorUnreadable(Exception):
    """The anchor could not be read; the message says why, `fix` what to do."""

    def __init__(self, message: str, fix: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.fix = fix
        self.gone = gone  # the anchor's id answered 404: resolve it again next time


@dataclass(frozen=True, slots=True)
class AnchorRead:
    """One read of an anchor's context."""

    status_id: str  # the anchor's id on its own server
    replies: list[dict[str, Any]]  # the selected descendants (Mastodon JSON), in context order
    descendants: int  # how many descendants the context held
    limited: bool  # a tokenless read that got Mastodon's whole tokenless allowance: there may be more


@dataclass(slots=True)
class _Anchor:
    """What the reader keeps of one anchor between reads."""

    config: AnchorConfig
    status_id: str | None = None
    replies: dict[str, str | None] = field(default_factory=dict)  # id → edited_at, as read last
    due: float = 0.0
    said: set[str] = field(default_factory=set)  # the warnings given once


def resolve_anchor(api: Mastodon, anchor: AnchorConfig, *, token: bool) -> tuple[str, str | None]:
    """The anchor's status id on its own server, and the original URL when the link names a copy.

    Raises `AnchorUnreadable` (with the fix) when it cannot be found there.
    """
    candidate = status_id_candidate(anchor.url)
    code: int | None = None
    if candidate is not None:
        try:
            status = as_json(api.status(candidate))
        except MastodonNotFoundError:
            code = 404
        except MastodonAPIError as exc:
            code = http_status(exc)
            if code not in REFUSED:
                raise
        else:
            if str(status.get("id")) == candidate:
                original = (
                    None if names_anchor(status, anchor.url) else status.get("url") or status.get("uri")
                )
                return candidate, original if isinstance(original, str) else None
    if token:
        found = api.search_v2(anchor.url, resolve=True, result_type="statuses")
        for status in found.get("statuses") or ():
            return str(status["id"]), None
    if code in REFUSED:
        raise AnchorUnreadable(
            f"{anchor.host} does not show statuses to a reader without a token (HTTP {code})",
            fix=f"add a [[sources]] entry for https://{anchor.host} with a token (relay login --instance)",
        )
    raise AnchorUnreadable(
        f"no post at {anchor.url} on {anchor.host}",
        fix='copy the post\'s own link (its date, or "Copy link to post") into [[anchors]] url',
    )


def read_context(api: Mastodon, anchor: AnchorConfig, status_id: str, *, token: bool) -> AnchorRead:
    """One read of the anchor's context: its replies as `anchor.replies` selects them."""
    try:
        context = as_json(api.status_context(status_id))
    except MastodonNotFoundError:
        raise AnchorUnreadable(
            f"the anchor {anchor.url} is gone from {anchor.host} (404)",
            fix="remove the [[anchors]] entry, or name a post that exists",
            gone=True,
        ) from None
    except MastodonAPIError as exc:
        code = http_status(exc)
        if code not in REFUSED:
            raise
        raise AnchorUnreadable(
            f"{anchor.host} does not show the anchor's replies to a reader without a token (HTTP {code})",
            fix=f"add a [[sources]] entry for https://{anchor.host} with a token (relay login --instance)",
        ) from None
    descendants = [d for d in context.get("descendants") or () if isinstance(d, Mapping) and "id" in d]
    chosen = {
        d.id
        for d in select_replies(
            status_id,
            [Descendant(str(d["id"]), _optional_id(d.get("in_reply_to_id"))) for d in descendants],
            anchor.replies,
        )
    }
    replies = [dict(d) for d in descendants if str(d["id"]) in chosen]
    limited = not token and len(descendants) >= TOKENLESS_DESCENDANTS
    return AnchorRead(status_id, replies, len(descendants), limited)


def _optional_id(value: object) -> str | None:
    return None if value is None else str(value)


class AnchorReader:
    """Reads every anchor's context in turn, each every its `interval`; one thread, one client per
    server. `run()` until `stop` is set."""

    def __init__(
        self,
        *,
        anchors: Sequence[AnchorConfig],
        make_api: Callable[[AnchorConfig], tuple[Mastodon, bool]],
        budgets: Callable[[str], ServerBudget],
        emit: Callable[[Item], None],
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._anchors = [_Anchor(a) for a in anchors]
        self._make_api = make_api  # (client, has a token) for the anchor's server
        self._budgets = budgets  # the rate budget of a host
        self._emit = emit
        self._stop = stop
        self._clock = clock
        self.reads = 0  # completed reads (for tests and status)

    def run(self) -> None:
        apis: dict[str, tuple[Mastodon, bool]] = {}
        while not self._stop.is_set():
            now = self._clock()
            for anchor in self._anchors:
                if anchor.due <= now and not self._stop.is_set():
                    host = anchor.config.host
                    if host not in apis:
                        apis[host] = self._make_api(anchor.config)
                    api, token = apis[host]
                    self._read(anchor, api, token)
                    anchor.due = self._clock() + anchor.config.interval
            wait = min(a.due for a in self._anchors) - self._clock()
            if wait > 0 and self._stop.wait(wait):
                return

    def _read(self, anchor: _Anchor, api: Mastodon, token: bool) -> None:
        cfg = anchor.config
        try:
            if anchor.status_id is None:
                found = self._call(api, cfg.host, lambda: resolve_anchor(api, cfg, token=token))
                if found is None:
                    return
                anchor.status_id, original = found
                log.info("anchor.resolved", anchor=cfg.url, status_id=anchor.status_id, token=token)
                if original is not None:
                    self._once(
                        anchor,
                        "anchor.not_origin",
                        original=original,
                        fix="use the post's original link as [[anchors]] url: replies reach its own server",
                    )
            status_id = anchor.status_id
            read = self._call(api, cfg.host, lambda: read_context(api, cfg, status_id, token=token))
            if read is None:
                return
        except AnchorUnreadable as exc:
            self._once(anchor, "anchor.unreadable", error=str(exc), fix=exc.fix)
            if exc.gone:
                anchor.status_id = None  # ask again next time: it may have been a wrong id
            return
        except (MastodonError, requests.RequestException) as exc:
            log.warning("anchor.read_failed", anchor=cfg.url, error=type(exc).__name__)
            return
        anchor.said.discard("anchor.unreadable")
        if read.limited:
            self._once(
                anchor,
                "anchor.context_limited",
                descendants=read.descendants,
                fix=f"add a [[sources]] entry for https://{cfg.host} with a token: without one, Mastodon"
                f" shows at most {TOKENLESS_DESCENDANTS} replies",
            )
        new = self._hand_on(anchor, read)
        deleted = self._deleted(anchor, api, read)
        self.reads += 1
        log.info(
            "anchor.read",
            anchor=cfg.url,
            replies=len(read.replies),
            new=new,
            deleted=deleted,
            mode=cfg.replies,
            token=token,
        )

    def _hand_on(self, anchor: _Anchor, read: AnchorRead) -> int:
        """Each new or edited reply to the pipeline; the replies kept for the next read."""
        new = 0
        for status in read.replies:
            reply_id, edited_at = str(status["id"]), status.get("edited_at")
            if reply_id in anchor.replies and anchor.replies[reply_id] == edited_at:
                continue
            item = normalise.status(
                status, source=anchor.config.host, via="anchor", anchor=anchor.config.url, anchor_id=reply_id
            )
            anchor.replies[reply_id] = edited_at
            if item is not None:
                self._emit(item)
                new += 1
        return new

    def _deleted(self, anchor: _Anchor, api: Mastodon, read: AnchorRead) -> int:
        """Replies read before and missing now: a 404 for one is its delete."""
        host = anchor.config.host
        count = 0
        for reply_id in gone(list(anchor.replies), (str(s["id"]) for s in read.replies)):
            try:
                found = self._call(api, host, lambda rid=reply_id: api.status(rid))  # type: ignore[misc]
            except MastodonNotFoundError:
                del anchor.replies[reply_id]
                self._emit(Deleted(host, reply_id))
                count += 1
                continue
            except (MastodonError, requests.RequestException):
                continue  # not a delete; asked again next read
            if found is None:
                return count  # stopping
            # Still there, out of the context (a parent deleted under a thread reply, a context cut
            # at its limit): no longer followed, so that it is not asked for at every read. Its
            # boost stays; the recheck of recent boosts still notices its delete or edit.
            del anchor.replies[reply_id]
        return count

    def _call(self, api: Mastodon, host: str, request: Callable[[], Any]) -> Any:
        """`request()` once `host`'s budget allows it; waits out a 429. None when stopping."""
        budget = self._budgets(host)
        return within_budget(
            api, budget, request, stop=self._stop, clock=self._clock, event="anchor.rate_limited", source=host
        )

    def _once(self, anchor: _Anchor, event: str, **fields: Any) -> None:
        """A warning said once per anchor until the anchor reads well again."""
        if event in anchor.said:
            return
        anchor.said.add(event)
        log.warning(event, anchor=anchor.config.url, source=anchor.config.host, **fields)
