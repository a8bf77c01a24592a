"""Read Mastodon's WebSocket streaming (`/api/v1/streaming`): one socket, several streams.

The protocol, as Mastodon's streaming server speaks it (and GoToSocial, Pleroma, Akkoma and
Iceshrimp.NET after it): the socket opens with `?stream=NAME` (and `&tag=x` for a hashtag), each
further stream is asked for with a text message `{"type":"subscribe","stream":"hashtag","tag":"x"}`,
and every event comes as `{"stream":["hashtag","x"],"event":"update","payload":"<JSON as a string>"}`
(a `delete`'s payload is the bare status id). A refused subscription comes back as a message too:
`{"error":"Unknown channel requested","status":400}`. The server pings every 30 s.

The client is websockets' synchronous one (`websockets.sync.client`): a thread per socket, as the
SSE readers have, no asyncio. `WebSocketReader` is a `relay.sources.reader.Reader`: the same
status, reconnect with capped jittered backoff, `on_connect` catch-up, watchdog and lasting-failure
report as the SSE reader. It pings the server itself every third of `read_timeout`; a pong, like
any message, counts as life, and a socket with neither for `read_timeout` is closed and reopened.
`decode_message` is the whole parse path (no network), shared with the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
import structlog
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from relay import USER_AGENT
from relay.core.transport import Failure, failure_of
from relay.sources.reader import Outcome, Reader, up_for
from relay.sources.sse import MalformedEvent, StreamEvent, decode_event

log = structlog.get_logger("relay.sources.websocket")

Stream = tuple[str, str | None]  # ("hashtag", "x"), ("user:notification", None), ("user", None)
MAX_MESSAGE = 4 * 1024 * 1024  # a status with a long text and many attachments stays far below
_EXCERPT = 80


@dataclass(frozen=True, slots=True)
class StreamError:
    """An error the server sent as a message (a subscription it refused, say)."""

    status: int | None
    error: str


Decoded = tuple[tuple[str, ...], StreamEvent | MalformedEvent]


def decode_message(message: str | bytes) -> Decoded | StreamError:
    """One WebSocket message → (the stream it came on, its event), or the server's error."""
    try:
        frame = orjson.loads(message)
    except orjson.JSONDecodeError:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        return (), MalformedEvent("", "message is not JSON", text[:_EXCERPT])
    if not isinstance(frame, dict):
        return (), MalformedEvent("", "message is not a JSON object", str(frame)[:_EXCERPT])
    if "error" in frame and "event" not in frame:
        status = frame.get("status")
        return StreamError(status if isinstance(status, int) else None, str(frame["error"])[:200])
    stream = frame.get("stream")
    streams = tuple(str(s) for s in stream) if isinstance(stream, list) else ()
    name = frame.get("event")
    if not isinstance(name, str) or not name:
        return streams, MalformedEvent("", "message without an event name", str(frame)[:_EXCERPT])
    payload = frame.get("payload")
    if payload is None:
        payload = ""
    elif not isinstance(payload, str):  # some servers send the object itself, not its JSON text
        payload = orjson.dumps(payload).decode("utf-8")
    return streams, decode_event(name, payload)


def subscribe_message(stream: Stream) -> str:
    """The message asking for one more stream on an open socket."""
    name, tag = stream
    body: dict[str, str] = {"type": "subscribe", "stream": name}
    if tag is not None:
        body["tag"] = tag
    return json.dumps(body)


def stream_query(stream: Stream) -> dict[str, str]:
    """The query that opens a socket on `stream`."""
    name, tag = stream
    return {"stream": name} if tag is None else {"stream": name, "tag": tag}


class WebSocketReader(Reader):
    """One WebSocket carrying `streams`, read in one thread, reopened until `stop` is set.

    The first stream is asked for in the URL, the others by subscribe messages once the socket is
    open (Akkoma takes one per socket: give it one). `ws_auth="header"` sends the token as
    ``Authorization: Bearer``; ``"query"`` as `access_token` in the URL (Iceshrimp.NET takes no
    header), which is never logged either.
    """

    def __init__(
        self,
        *,
        streams: Sequence[Stream],
        ws_auth: str = "header",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not streams:
            raise ValueError("a WebSocket reader needs at least one stream")
        self._streams = tuple(streams)
        self._ws_auth = ws_auth
        self._ws: ClientConnection | None = None
        # What the logs may show: the endpoint and the streams, never the token.
        self._where = {"url": self._url, "streams": [":".join(filter(None, s)) for s in self._streams]}

    def _cut(self) -> None:
        ws = self._ws
        if ws is not None:
            # Shutting the socket down wakes the recv() blocked in the reader's thread at once.
            with contextlib.suppress(OSError):
                ws.socket.shutdown(socket.SHUT_RDWR)

    def _address(self) -> tuple[str, dict[str, str]]:
        query = stream_query(self._streams[0])
        headers = {}
        if self._token and self._ws_auth == "query":
            query["access_token"] = self._token
        elif self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return f"{self._url}?{urlencode(query)}", headers

    def _connect_once(self) -> Outcome:
        if not self._begin_connection():
            return self._disconnected("closed")
        url, headers = self._address()
        log.info("stream.connecting", stream=self.name, attempt=self._backoff.attempt + 1, **self._where)
        try:
            with connect(
                url,
                additional_headers=headers,
                user_agent_header=USER_AGENT,
                open_timeout=self._connect_timeout,
                ping_interval=None,  # the reader pings itself, and counts the pongs as life
                close_timeout=1.0,
                max_size=MAX_MESSAGE,
                compression=None,
            ) as ws:
                return self._use(ws)
        except InvalidStatus as exc:
            body = exc.response.body
            return self._refused(exc.response.status_code, _body_error(bytes(body) if body else b""))
        except InvalidURI as exc:
            return self._disconnected(f"bad URL: {exc.uri.split('?')[0]}", failure="not_found")
        except InvalidHandshake as exc:
            return self._disconnected(f"upgrade refused: {type(exc).__name__}", failure="upgrade_refused")
        except (OSError, TimeoutError) as exc:
            return self._disconnected(f"{type(exc).__name__}: {str(exc)[:200]}")

    def _use(self, ws: ClientConnection) -> Outcome:
        with self._lock:
            self._ws = ws
            aborted = self._abort
        try:
            if aborted:
                return self._disconnected("closed")
            return self._read(ws)
        finally:
            with self._lock:
                self._ws = None

    def _refused(self, status: int, detail: str) -> Outcome:
        if status in (401, 403):
            return self._auth_failed(status, detail or "no detail", self._where)
        failure = failure_of(status, websocket=True, error=detail)
        reason = f"http_{status}" + (f": {detail}" if detail else "")
        return self._disconnected(reason, failure=failure)

    def _read(self, ws: ClientConnection) -> Outcome:
        try:
            for stream in self._streams[1:]:
                ws.send(subscribe_message(stream))
        except (ConnectionClosed, OSError) as exc:
            return self._disconnected(f"closed while subscribing: {type(exc).__name__}")
        connected_at = self._clock()
        self._connected(connected_at)
        events = 0
        failure: Failure | None = None
        ping_every = max(self._read_timeout / 3, 0.05)
        pong: threading.Event | None = None
        reason = "eof"
        try:
            while not self.stopping:
                try:
                    message = ws.recv(timeout=ping_every)
                except TimeoutError:
                    if pong is not None and pong.is_set():
                        self._activity_at = self._clock()
                    if self._clock() - (self._activity_at or connected_at) >= self._read_timeout:
                        reason = "read_timeout"
                        break
                    if pong is None or pong.is_set():
                        pong = ws.ping()
                    continue
                self._activity_at = self._clock()
                decoded = decode_message(message)
                if isinstance(decoded, StreamError):
                    failure = self._server_error(decoded)
                    if failure is not None:
                        reason = f"error {decoded.status}: {decoded.error}"
                        break
                    continue
                streams, event = decoded
                if isinstance(event, StreamEvent):
                    events += 1
                    self._handle(event)
                else:
                    self._skip(event, on=list(streams))
            else:
                reason = "stopped"
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else "no close frame"
            reason = "closed" if self._aborted() or self.stopping else f"closed by the server ({code})"
        except OSError as exc:
            reason = "closed" if self._aborted() or self.stopping else f"{type(exc).__name__}: {exc}"
        up_s = up_for(connected_at, self._clock())
        return self._disconnected(
            reason, healthy=up_s >= self._healthy_after, failure=failure, up_s=up_s, events=events
        )

    def _server_error(self, error: StreamError) -> Failure | None:
        """An error message: a refused subscription is lasting; anything else is logged."""
        log.warning("stream.server_error", stream=self.name, status=error.status, error=error.error)
        if error.status in (401, 403):
            return "unauthorized" if self._on_lasting is not None else None
        return failure_of(error.status, websocket=False, error=error.error) if error.status == 400 else None


def _body_error(body: bytes) -> str:
    """The `error` of a refusal's JSON body, if it has one."""
    if not body:
        return ""
    try:
        message = json.loads(body[:2048]).get("error")
    except (ValueError, AttributeError):
        return ""
    return str(message)[:200] if message else ""
