"""Server-sent events as Mastodon's Node streaming server sends them.

Each open stream is a ``Subscription`` with a queue of ready-made frames; ``StreamHub`` decides
which subscriptions an event is for and renders it for that subscriber (``reblogged`` is per
viewer). The HTTP handler drains the queue with ``pump``: ``:)`` greeting, ``event:``/``data:``
frames, ``:thump`` heartbeats every ``heartbeat`` seconds. Fault switches live here too: drop,
stall and malformed frames, and ``hold``: the reordering of Mastodon's real streaming server, which
sends a ``delete`` at once but holds each ``update`` and ``status.update`` for per-viewer checks in
its database, so that a delete overtakes its own post and posts overtake each other.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import json
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from relay.sandbox import feeds, render
from relay.sandbox.model import Account, Conversation, Notification, Status

if TYPE_CHECKING:
    from relay.sandbox.state import InstanceState

log = structlog.get_logger()

GREETING = b":)\n"
HEARTBEAT = b":thump\n\n"  # as streaming/index.js writes it now (older: ":thump\n")
DEFAULT_MALFORMED = b'event: update\ndata: {"id": "1", "content": <broken\n\n'
SYSTEM = "system"  # a WebSocket's own subscription: no events, only drop/close/revoke reach it
# The scopes a channel needs (any one of them). Public and hashtag channels need none, as in
# Mastodon's streaming server (PUBLIC_CHANNELS): any valid user token may read them.
CHANNELS: dict[str, tuple[str, ...]] = {
    "hashtag": (),
    "hashtag/local": (),
    "public": (),
    "public/local": (),
    "user": ("read", "read:statuses"),
    "user/notification": ("read", "read:notifications"),
    "direct": ("read", "read:statuses"),
}


class Control(enum.Enum):
    CLOSE = "close"  # end the stream cleanly (server stop, token revoked)
    DROP = "drop"  # cut the connection without ending the chunked body


Item = bytes | str | Control  # bytes: SSE; str: a WebSocket text message


def payload_text(payload: Any) -> str:
    """An event's payload as the streaming server sends it: JSON, or a bare string (a delete's id)."""
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def frame(event: str, payload: Any) -> bytes:
    return f"event: {event}\ndata: {payload_text(payload)}\n\n".encode()


@dataclass(eq=False)
class Subscription:
    """One stream a reader listens to: an SSE response, or one channel of a WebSocket.

    ``stream`` is the WebSocket stream name (``["hashtag", "x"]``) its messages carry; None for
    SSE. The channels of one WebSocket share its ``queue``, so their messages keep one order.
    """

    channel: str
    account: Account
    token: str
    tag: str | None = None
    queue: queue.Queue[Item] = field(default_factory=queue.Queue)
    stream: list[str] | None = None
    silent: bool = False  # accepted but never sent on (GoToSocial's hashtag stream)

    def encode(self, event: str, payload: Any) -> Item:
        """The frame for one event: SSE ``event:``/``data:`` bytes, or a WebSocket text message."""
        if self.stream is None:
            return frame(event, payload)
        return json.dumps(
            {"stream": self.stream, "event": event, "payload": payload_text(payload)},
            separators=(",", ":"),
            ensure_ascii=False,
        )


class _Later:
    """Frames due later: one thread puts each on its subscription's queue when its time comes."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._due: list[tuple[float, int, Subscription, Item]] = []
        self._order = itertools.count()  # ties keep the order they were put in
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def put(self, delay: float, sub: Subscription, item: Item) -> None:
        with self._changed:
            if self._stopped:
                return
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), sub, item))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"sandbox-hold-{self._name}", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def stop(self) -> None:
        """Drop what is still held and end the thread."""
        with self._changed:
            self._stopped = True
            self._due.clear()
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while not self._stopped:
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                _, _, sub, item = heapq.heappop(self._due)
                sub.queue.put(item)


class StreamHub:
    def __init__(self, state: InstanceState, heartbeat: float, ping_interval: float | None = None) -> None:
        self.state = state
        self.heartbeat = heartbeat  # seconds between SSE ``:thump`` comments
        self.ping_interval = heartbeat if ping_interval is None else ping_interval  # WebSocket pings
        self._subs: list[Subscription] = []
        self._subs_lock = threading.Lock()
        self.stalled = threading.Event()
        self.hold: float | None = None  # see `held_for`
        self._later = _Later(state.name)
        self._random = random.Random()

    # ---- subscriptions --------------------------------------------------------------------

    def subscribe(self, sub: Subscription) -> None:
        with self._subs_lock:
            self._subs.append(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def subscriptions(self) -> list[Subscription]:
        with self._subs_lock:
            return list(self._subs)

    def channels(self) -> list[Subscription]:
        """The open streams: each SSE response and each channel of a WebSocket."""
        return [s for s in self.subscriptions() if s.channel != SYSTEM]

    def _send(
        self,
        predicate: Callable[[Subscription], bool],
        make: Callable[[Subscription], Item],
        *,
        held: bool = False,
    ) -> None:
        """Queue `make(sub)` for each subscription that `predicate` picks; with `held`, each one
        after its own `held_for()` delay while the reordering is on (rendered now, sent later)."""
        for sub in self.subscriptions():
            if predicate(sub):
                item = make(sub)
                if self.stalled.is_set() and not isinstance(item, Control):
                    # A stalled stream sends nothing, and what is published meanwhile is lost (as
                    # from a stuck server), decided here, not when a busy writer thread gets to it.
                    continue
                delay = self.held_for() if held else None
                if delay is None:
                    sub.queue.put(item)
                else:
                    self._later.put(delay, sub, item)

    def held_for(self) -> float | None:
        """How long one subscriber's `update` or `status.update` is held (None: not at all).

        With `hold` set, between `hold` and twice `hold` seconds, drawn for each event and each
        subscriber: a `delete` sent within `hold` seconds of its post overtakes it on every stream,
        and posts published close together reach each subscriber in an order of their own.
        """
        hold = self.hold
        return None if hold is None else hold * (1.0 + self._random.random())

    # ---- fault switches and shutdown ------------------------------------------------------

    def _to_connections(self, predicate: Callable[[Subscription], bool], item: Item) -> None:
        """Put ``item`` once on each connection (an SSE response, a WebSocket) ``predicate`` picks."""
        seen: set[int] = set()
        for sub in self.subscriptions():
            if predicate(sub) and id(sub.queue) not in seen:
                seen.add(id(sub.queue))
                sub.queue.put(item)

    def close_all(self) -> None:
        self._to_connections(lambda s: True, Control.CLOSE)

    def stop(self) -> None:
        """The server stops: end every stream and drop the frames still held back."""
        self._later.stop()
        self.close_all()

    def drop_all(self) -> None:
        self._to_connections(lambda s: True, Control.DROP)

    def close_token(self, token: str) -> None:
        self._to_connections(lambda s: s.token == token, Control.CLOSE)

    def inject(self, raw: bytes = DEFAULT_MALFORMED) -> None:
        """Write ``raw`` on every connection: as SSE bytes, or as one WebSocket text message."""
        for sub in self.subscriptions():
            if sub.stream is None:
                sub.queue.put(raw)
        self._to_connections(lambda s: s.stream is not None, raw.decode(errors="replace"))

    # ---- which stream sees what -----------------------------------------------------------

    def _on_hashtag(self, sub: Subscription, st: Status) -> bool:
        if not feeds.in_public_feeds(self.state, st):
            return False
        if sub.channel == "hashtag/local" and not st.local:
            return False
        if self.state.hashtag_feeds["local" if st.local else "remote"] == "disabled":
            return False
        langs = sub.account.chosen_languages
        if langs and st.language and st.language not in langs:
            return False
        return sub.tag is not None and feeds.has_tag(st, sub.tag)

    def _on_public(self, sub: Subscription, st: Status) -> bool:
        return feeds.in_public_feeds(self.state, st) and (sub.channel == "public" or st.local)

    def matches(self, sub: Subscription, st: Status) -> bool:
        if sub.silent:
            return False
        if sub.channel.startswith("hashtag"):
            return self._on_hashtag(sub, st)
        if sub.channel.startswith("public"):
            return self._on_public(sub, st)
        if sub.channel == "user":
            return feeds.in_home(self.state, sub.account, st)
        return False

    def _status(self, sub: Subscription, st: Status) -> Any:
        """The user stream's statuses are rendered for their reader; public and hashtag streams'
        for nobody (no ``favourited``, ``reblogged``, ``muted``, ``bookmarked``, ``pinned``)."""
        if sub.channel == "user":
            return render.status(self.state, st, sub.account)
        return render.stream_status(self.state, st)

    def status_created(self, st: Status) -> None:
        self._send(
            lambda s: self.matches(s, st),
            lambda s: s.encode("update", self._status(s, st)),
            held=True,
        )

    def status_updated(self, st: Status) -> None:
        self._send(
            lambda s: self.matches(s, st),
            lambda s: s.encode("status.update", self._status(s, st)),
            held=True,
        )

    def status_deleted(self, st: Status) -> None:
        self._send(lambda s: self.matches(s, st), lambda s: s.encode("delete", st.id))

    def notification(self, note: Notification) -> None:
        self._send(
            lambda s: s.channel in ("user", "user/notification") and s.account is note.recipient,
            lambda s: s.encode("notification", render.notification(self.state, note)),
        )

    def conversation(self, conv: Conversation) -> None:
        self._send(
            lambda s: s.channel == "direct" and s.account is conv.owner,
            lambda s: s.encode("conversation", render.conversation(self.state, conv)),
        )

    # ---- the writer loop ------------------------------------------------------------------

    def pump(self, sub: Subscription, write: Callable[[bytes], None]) -> Control:
        """Write the stream until it is closed or dropped; returns which. Raises OSError on EOF."""
        write(GREETING)
        next_beat = time.monotonic() + self.heartbeat
        while True:
            try:
                item = sub.queue.get(timeout=max(0.0, next_beat - time.monotonic()))
            except queue.Empty:
                next_beat += self.heartbeat
                if not self.stalled.is_set():
                    write(HEARTBEAT)
                continue
            if isinstance(item, Control):
                log.debug("sandbox.stream_end", channel=sub.channel, how=item.value)
                return item
            if not self.stalled.is_set():
                write(item if isinstance(item, bytes) else item.encode())
