"""Server-sent events as Mastodon's Node streaming server sends them.

Each open stream is a ``Subscription`` with a queue of ready-made frames; ``StreamHub`` decides
which subscriptions an event is for and renders it for that subscriber (``reblogged`` is per
viewer). The HTTP handler drains the queue with ``pump``: ``:)`` greeting, ``event:``/``data:``
frames, ``:thump`` heartbeats every ``heartbeat`` seconds. Fault switches live here too: drop,
stall and malformed frames.
"""

from __future__ import annotations

import enum
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from relay.sandbox import render
from relay.sandbox.model import Account, Conversation, Notification, Status
from relay.sandbox.text import normalize_tag

if TYPE_CHECKING:
    from relay.sandbox.state import InstanceState

log = structlog.get_logger()

GREETING = b":)\n"
HEARTBEAT = b":thump\n"
DEFAULT_MALFORMED = b'event: update\ndata: {"id": "1", "content": <broken\n\n'
CHANNELS = {
    "hashtag": ("read", "read:statuses"),
    "hashtag/local": ("read", "read:statuses"),
    "public": ("read", "read:statuses"),
    "public/local": ("read", "read:statuses"),
    "user": ("read", "read:statuses"),
    "user/notification": ("read", "read:notifications"),
    "direct": ("read", "read:statuses"),
}


class Control(enum.Enum):
    CLOSE = "close"  # end the stream cleanly (server stop, token revoked)
    DROP = "drop"  # cut the connection without ending the chunked body


Item = bytes | Control


def frame(event: str, payload: Any) -> bytes:
    data = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    )
    return f"event: {event}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class Subscription:
    channel: str
    account: Account
    token: str
    tag: str | None = None
    queue: queue.Queue[Item] = field(default_factory=queue.Queue)


class StreamHub:
    def __init__(self, state: InstanceState, heartbeat: float) -> None:
        self.state = state
        self.heartbeat = heartbeat
        self._subs: list[Subscription] = []
        self._subs_lock = threading.Lock()
        self.stalled = threading.Event()

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

    def _send(self, predicate: Callable[[Subscription], bool], make: Callable[[Subscription], Item]) -> None:
        for sub in self.subscriptions():
            if predicate(sub):
                sub.queue.put(make(sub))

    # ---- fault switches and shutdown ------------------------------------------------------

    def close_all(self) -> None:
        self._send(lambda s: True, lambda s: Control.CLOSE)

    def drop_all(self) -> None:
        self._send(lambda s: True, lambda s: Control.DROP)

    def close_token(self, token: str) -> None:
        self._send(lambda s: s.token == token, lambda s: Control.CLOSE)

    def inject(self, raw: bytes = DEFAULT_MALFORMED) -> None:
        self._send(lambda s: True, lambda s: raw)

    # ---- which stream sees what -----------------------------------------------------------

    def _on_hashtag(self, sub: Subscription, st: Status) -> bool:
        if st.reblog is not None or st.visibility != "public":
            return False
        if sub.channel == "hashtag/local" and not st.local:
            return False
        if self.state.hashtag_feeds["local" if st.local else "remote"] == "disabled":
            return False
        langs = sub.account.chosen_languages
        if langs and st.language and st.language not in langs:
            return False
        return sub.tag in {normalize_tag(t) for t in st.tags}

    def _on_public(self, sub: Subscription, st: Status) -> bool:
        return st.reblog is None and st.visibility == "public" and (sub.channel == "public" or st.local)

    def _on_home(self, sub: Subscription, st: Status) -> bool:
        viewer, author = sub.account, st.account
        own = author is viewer
        if not own and not self.state.follows_account(viewer, author):
            return False
        if st.visibility == "direct":
            return own or viewer in st.mentions
        return True

    def matches(self, sub: Subscription, st: Status) -> bool:
        if sub.channel.startswith("hashtag"):
            return self._on_hashtag(sub, st)
        if sub.channel.startswith("public"):
            return self._on_public(sub, st)
        if sub.channel == "user":
            return self._on_home(sub, st)
        return False

    def status_created(self, st: Status) -> None:
        self._send(
            lambda s: self.matches(s, st), lambda s: frame("update", render.status(self.state, st, s.account))
        )

    def status_updated(self, st: Status) -> None:
        self._send(
            lambda s: self.matches(s, st),
            lambda s: frame("status.update", render.status(self.state, st, s.account)),
        )

    def status_deleted(self, st: Status) -> None:
        self._send(lambda s: self.matches(s, st), lambda s: frame("delete", st.id))

    def notification(self, note: Notification) -> None:
        self._send(
            lambda s: s.channel in ("user", "user/notification") and s.account is note.recipient,
            lambda s: frame("notification", render.notification(self.state, note)),
        )

    def conversation(self, conv: Conversation) -> None:
        self._send(
            lambda s: s.channel == "direct" and s.account is conv.owner,
            lambda s: frame("conversation", render.conversation(self.state, conv)),
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
                write(item)
