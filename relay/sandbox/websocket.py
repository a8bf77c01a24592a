"""Mastodon's WebSocket streaming at ``/api/v1/streaming``, on the REST port.

The HTTP handler has read the upgrade request; ``WebSocketSession`` answers it (wsproto, sans-IO:
the handler's own socket is upgraded in place) and then runs two loops: this thread writes what
the ``StreamHub`` queues for the socket's channels and pings; a reader thread takes the client's
frames (``subscribe``/``unsubscribe`` messages, pongs, close). As Mastodon's streaming server does:

- ``?stream=hashtag&tag=x`` on the URL subscribes one channel at connect; ``{"type":"subscribe",
  "stream":"hashtag","tag":"x"}`` adds more on the same socket, ``unsubscribe`` removes one; no
  reply to either, an error comes back as ``{"error": ..., "status": 400}``;
- messages are ``{"stream": ["hashtag", "x"], "event": "update", "payload": "<JSON string>"}``;
- a ping every ``ping_interval`` seconds; a client that did not answer the last one by the next
  tick (and within ``PONG_GRACE``) is dropped;
- revoking the token closes the socket.

The flavour changes what a server other than Mastodon does (one tag per socket on Akkoma, a
hashtag stream that never sends on GoToSocial, no error messages there, ...).
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from relay.sandbox.flavours import Flavour
from relay.sandbox.model import Token, scope_allows
from relay.sandbox.streaming import CHANNELS, SYSTEM, Control, StreamHub, Subscription
from relay.sandbox.text import normalize_tag

log = structlog.get_logger()

READ_SIZE = 65536
PONG_GRACE = 1.0  # seconds a ping may stay unanswered at least, whatever the ping interval


class _Ended:
    """Queued by the reader when the client closed or went away: the writer stops."""


ENDED = _Ended()


def handshake(
    requestline: str, headers: Iterable[tuple[str, str]], subprotocol: str | None
) -> tuple[WSConnection, bytes]:
    """The server side of an upgrade already parsed by http.server: the wsproto connection and
    the ``101 Switching Protocols`` bytes to send. Raises RemoteProtocolError on a bad request."""
    conn = WSConnection(ConnectionType.SERVER)
    raw = requestline + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    conn.receive_data(raw.encode("latin-1"))
    request = next((e for e in conn.events() if isinstance(e, Request)), None)
    if request is None:
        raise RemoteProtocolError("not a WebSocket upgrade", event_hint=None)
    chosen = subprotocol if subprotocol in request.subprotocols else None
    return conn, conn.send(AcceptConnection(subprotocol=chosen))


class WebSocketSession:
    """One upgraded connection: its channels, its writer (the caller's thread) and its reader."""

    def __init__(
        self,
        sock: socket.socket,
        rfile: io.BufferedIOBase,
        conn: WSConnection,
        hub: StreamHub,
        flavour: Flavour,
        token: Token,
    ) -> None:
        assert token.account is not None
        self.sock, self.rfile, self.conn = sock, rfile, conn
        self.hub, self.flavour, self.token = hub, flavour, token
        self.queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()  # wsproto is not thread-safe; one writer on the socket
        self._channels: dict[tuple[str, str | None], Subscription] = {}
        self._pong_due = False
        # Registered at once, before any channel: drop, stop and a revoked token reach the socket.
        self._system = Subscription(SYSTEM, token.account, token.value, queue=self.queue, stream=[])
        hub.subscribe(self._system)

    # ---- channels -------------------------------------------------------------------------

    def _error(self, message: str, status: int) -> None:
        if self.flavour.ws_errors:
            self.queue.put(json.dumps({"error": message, "status": status}, separators=(",", ":")))
        else:
            log.debug("sandbox.ws_refused", stream=message)

    def subscribe(self, stream: Any, params: Mapping[str, Any], *, at_connect: bool = False) -> None:
        """Add one channel, as Mastodon's ``subscribeWebsocketToChannel``: errors as messages."""
        if isinstance(stream, list):
            stream = stream[0] if stream else None
        if not isinstance(stream, str) or stream.replace(":", "/") not in CHANNELS:
            self._error("Unknown stream type", 400)
            return
        channel = stream.replace(":", "/")
        assert self.token.account is not None
        if CHANNELS[channel] and not scope_allows(self.token.scopes, *CHANNELS[channel]):
            self._error("Access token does not have the required scopes", 401)
            return
        tag = params.get("tag")
        tag = tag if isinstance(tag, str) and tag else None
        if channel.startswith("hashtag"):
            if tag is None:
                self._error("Missing tag name parameter", 400)
                return
            if not at_connect and not self.flavour.multiplex:
                self._error("One hashtag per connection", 400)  # Akkoma: logged and ignored
                return
        key = (channel, normalize_tag(tag) if tag else None)
        if key in self._channels:
            return
        sub = Subscription(
            channel,
            self.token.account,
            self.token.value,
            key[1],
            queue=self.queue,
            stream=[stream, tag] if tag is not None and channel.startswith("hashtag") else [stream],
            silent=channel.startswith("hashtag") and not self.flavour.hashtag_stream,
        )
        self._channels[key] = sub
        self.hub.subscribe(sub)
        log.info("sandbox.ws_subscribed", instance=self.hub.state.name, channel=channel, tag=tag)

    def unsubscribe(self, stream: Any, params: Mapping[str, Any]) -> None:
        if isinstance(stream, list):
            stream = stream[0] if stream else None
        if not isinstance(stream, str) or stream.replace(":", "/") not in CHANNELS:
            self._error("Unknown stream type", 400)
            return
        tag = params.get("tag")
        key = (stream.replace(":", "/"), normalize_tag(tag) if isinstance(tag, str) and tag else None)
        sub = self._channels.pop(key, None)
        if sub is not None:
            self.hub.unsubscribe(sub)

    def _on_text(self, text: str) -> None:
        if text == "ping" and not self.flavour.ws_errors:  # Akkoma answers a text "ping"
            self.queue.put("pong")
            return
        try:
            message = json.loads(text)
        except ValueError:
            return  # Mastodon logs and ignores a message that is not JSON
        if not isinstance(message, dict):
            return
        kind, stream = message.get("type"), message.get("stream")
        params = {k: v for k, v in message.items() if k not in ("type", "stream")}
        if kind == "subscribe":
            self.subscribe(stream, params)
        elif kind == "unsubscribe" and self.flavour.multiplex:
            self.unsubscribe(stream, params)

    # ---- the wire -------------------------------------------------------------------------

    def _send(self, event: Event) -> None:
        with self._lock:
            data = self.conn.send(event)
            self.sock.sendall(data)

    def _read(self) -> None:
        """The reader thread: the client's frames, until it closes or goes away."""
        text: list[str] = []
        try:
            while True:
                data = self.rfile.read1(READ_SIZE)
                with self._lock:
                    self.conn.receive_data(data or None)
                    events = list(self.conn.events())
                for event in events:
                    if isinstance(event, TextMessage):
                        text.append(event.data)
                        if event.message_finished:
                            self._on_text("".join(text))
                            text.clear()
                    elif isinstance(event, Ping):
                        self._send(event.response())
                    elif isinstance(event, Pong):
                        self._pong_due = False
                    elif isinstance(event, CloseConnection):
                        with contextlib.suppress(LocalProtocolError):
                            self._send(event.response())
                        self.queue.put(ENDED)
                        return
                    elif isinstance(event, BytesMessage):
                        pass  # Mastodon ignores what it cannot parse
                if not data:
                    self.queue.put(ENDED)
                    return
        except (OSError, LocalProtocolError, RemoteProtocolError, ValueError):
            self.queue.put(ENDED)

    def run(self, ping_interval: float) -> None:
        """Write queued messages and pings until the socket closes, is dropped or the client leaves."""
        threading.Thread(target=self._read, name="sandbox-ws-reader", daemon=True).start()
        hub = self.hub
        next_ping = time.monotonic() + ping_interval
        pinged_at = 0.0
        try:
            while True:
                try:
                    item = self.queue.get(timeout=max(0.0, next_ping - time.monotonic()))
                except queue.Empty:
                    next_ping += ping_interval
                    if hub.stalled.is_set():
                        continue
                    if self._pong_due:
                        # No answer to the last ping by the next tick: terminate, as Mastodon
                        # does; with the short intervals of tests, not before PONG_GRACE seconds.
                        if time.monotonic() - pinged_at < PONG_GRACE:
                            continue
                        log.info("sandbox.ws_no_pong", instance=hub.state.name)
                        self._cut()
                        return
                    self._pong_due = True
                    pinged_at = time.monotonic()
                    self._send(Ping())
                    continue
                if item is ENDED:
                    return
                if item is Control.DROP:
                    self._cut()
                    return
                if item is Control.CLOSE:
                    with contextlib.suppress(LocalProtocolError):
                        self._send(CloseConnection(code=1000))
                    return
                if not hub.stalled.is_set():
                    self._send(TextMessage(data=item if isinstance(item, str) else item.decode()))
        except (OSError, LocalProtocolError):
            pass
        finally:
            for sub in [self._system, *self._channels.values()]:
                hub.unsubscribe(sub)

    def _cut(self) -> None:
        """End the TCP connection without a close frame (a dropped connection)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
