"""Read Mastodon streaming (SSE) endpoints, and watch every stream reader for silence.

Mastodon.py's own stream reader is not used: it reads one byte at a time (~930 events/s), an
exception in a callback kills its thread, and with a revoked token it retries silently forever.
Here sseclient-py parses bytes read with `read1` from a `requests` streaming response, so an event
is handed on as soon as its bytes arrive, whether or not the server uses chunked encoding.

- `relay.sources.sse.parse_stream()` turns the bytes into `StreamEvent`s (or `MalformedEvent`s).
- `StreamReader` is the SSE `relay.sources.reader.Reader`: it connects, calls `on_connect` (for a
  REST catch-up), hands every event to `on_event`, and reconnects with capped jittered backoff
  until `stop` is set; a lasting failure (404, 400 on the channel, 401/403) goes to `on_lasting`.
- `Watchdog` closes readers that went silent (heartbeats count as life) and closes them all when
  `stop` is set, so that one stop signal ends every reader within a second.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

import requests
import structlog
import urllib3.exceptions

from relay.core.transport import failure_of
from relay.sources.reader import Outcome, Reader, StreamStatus, up_for
from relay.sources.sse import StreamEvent, parse_stream

log = structlog.get_logger("relay.sources.stream")

_READ_SIZE = 65536


def _describe(exc: BaseException) -> str:
    """A short, token-free reason for a failed read or connect."""
    if isinstance(exc, requests.Timeout | urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "read_timeout"
    if isinstance(exc, requests.ConnectionError) and isinstance(
        exc.args[0] if exc.args else None, urllib3.exceptions.ReadTimeoutError
    ):
        return "read_timeout"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


class StreamReader(Reader):
    """One SSE endpoint read in one thread (`relay.sources.reader.Reader`: reconnects, status).

    The token goes in the ``Authorization: Bearer`` header and is never logged.
    """

    def __init__(
        self,
        *,
        params: Mapping[str, str],
        session: requests.Session | None = None,
        **options: Any,
    ) -> None:
        if "access_token" in params:
            raise ValueError("pass the token as token=..., never in the URL where logs would show it")
        super().__init__(**options)
        self._params = dict(params)
        self._given_session = session
        self._session: requests.Session | None = None
        self._response: requests.Response | None = None
        # What the logs may show: the endpoint and its parameters, never the token.
        self._where = {"url": self._url, "params": self._params}

    def _cut(self) -> None:
        response = self._response
        if response is not None:
            # Shutting the socket down wakes the read blocked in the reader's thread; an error
            # means the response was already closed or released: nothing is left to abort.
            with contextlib.suppress(AttributeError, ValueError, RuntimeError, OSError):
                response.raw.shutdown()

    def _prepare(self) -> None:
        self._session = self._given_session if self._given_session is not None else requests.Session()

    def _finish(self) -> None:
        if self._given_session is None and self._session is not None:
            self._session.close()

    def _connect_once(self) -> Outcome:
        session = self._session
        assert session is not None
        self._begin_connection()
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        log.info("stream.connecting", stream=self.name, attempt=self._backoff.attempt + 1, **self._where)
        try:
            response = session.get(
                self._url,
                params=self._params,
                headers=headers,
                stream=True,
                timeout=(self._connect_timeout, self._read_timeout),
            )
        except requests.RequestException as exc:
            return self._disconnected(_describe(exc))
        with response:
            with self._lock:
                self._response = response
                aborted = self._abort
            try:
                if aborted:
                    return self._disconnected("closed")
                if response.status_code in (401, 403):
                    return self._auth_failed(response.status_code, _error_detail(response), self._where)
                if response.status_code != 200:
                    detail = _error_detail(response) if response.status_code == 400 else ""
                    return self._disconnected(
                        f"http_{response.status_code}" + (f": {detail}" if detail else ""),
                        retry_after=_retry_after(response),
                        failure=failure_of(response.status_code, websocket=False, error=detail),
                    )
                return self._read(response)
            finally:
                with self._lock:
                    self._response = None

    def _read(self, response: requests.Response) -> Outcome:
        chunks = self._chunks(response)
        connected_at: float | None = None
        events = 0
        try:
            first = next(chunks, None)  # the `:)` greeting, or whatever comes first
            if first is None:
                return self._disconnected("eof before any bytes")
            connected_at = self._clock()
            self._connected(connected_at)
            for item in parse_stream(chain((first,), chunks)):
                if isinstance(item, StreamEvent):
                    events += 1
                    self._handle(item)
                else:
                    self._skip(item)
                if self.stopping:
                    break
            aborted = self._aborted()
            reason = "stopped" if self.stopping else "closed" if aborted else "eof"
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            aborted = self._aborted()
            reason = "closed" if aborted or self.stopping else _describe(exc)
        up_s = up_for(connected_at, self._clock())
        return self._disconnected(reason, healthy=up_s >= self._healthy_after, up_s=up_s, events=events)

    def _chunks(self, response: requests.Response) -> Iterator[bytes]:
        """Bytes as they arrive (`read1` returns what one read got, chunked or not).

        The request asks for no content coding; urllib3's decoder (and its buffer) is only put in
        the way if the server used one all the same."""
        read1, clock = response.raw.read1, self._clock
        decode = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        while True:
            data = read1(_READ_SIZE, decode_content=decode)
            if not data:
                return
            self._activity_at = clock()
            yield data


def _error_detail(response: requests.Response) -> str:
    """The server's `error` message from a refusal, if it gave one."""
    try:
        body = response.raw.read(2048, decode_content=True)
        message = json.loads(body).get("error")
    except (ValueError, AttributeError, OSError, urllib3.exceptions.HTTPError):
        return "no detail"
    return str(message)[:200] if message else "no detail"


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0  # an HTTP date: the backoff delay is good enough


class Watchdog:
    """One thread watching many readers.

    A connected reader with no bytes at all (heartbeats count) for `stale_after` seconds is
    logged as ``stream.stale`` and closed, so that it reconnects. When `stop` is set, every
    reader is closed so that all `run()` calls return promptly.
    """

    def __init__(
        self,
        readers: Iterable[Reader] | Callable[[], Iterable[Reader]],
        *,
        stop: threading.Event,
        stale_after: float = 60.0,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # A callable is asked on every pass: the readers of a source that fell back to another
        # method come and go while the relay runs.
        self._source = readers if callable(readers) else None
        self._fixed: list[Reader] = [] if callable(readers) else list(readers)
        self._stop = stop
        self._stale_after = stale_after
        self._interval = interval if interval is not None else max(0.05, stale_after / 4)
        self._clock = clock
        self._closed_at_connect: dict[str, int] = {}

    def add(self, reader: Reader) -> None:
        """Watch one more reader (call before `run()` starts)."""
        self._fixed.append(reader)

    @property
    def _readers(self) -> list[Reader]:
        return self._fixed + (list(self._source()) if self._source is not None else [])

    def healthy(self) -> dict[str, bool]:
        """Stream name → connected and heard from within `stale_after`."""
        now = self._clock()
        return {r.name: self._is_fresh(r.status, now) for r in self._readers}

    def _is_fresh(self, status: StreamStatus, now: float) -> bool:
        return (
            status.connected
            and status.last_activity_at is not None
            and now - status.last_activity_at < self._stale_after
        )

    def check(self) -> list[str]:
        """One pass: close every stale reader (once per connection); return their names."""
        now = self._clock()
        closed = []
        for reader in self._readers:
            status = reader.status
            if not status.connected or status.last_activity_at is None:
                continue
            silent_s = now - status.last_activity_at
            if silent_s < self._stale_after:
                continue
            if self._closed_at_connect.get(reader.name) == status.connects:
                continue  # already closed this connection; the reader is busy or stuck
            self._closed_at_connect[reader.name] = status.connects
            log.warning(
                "stream.stale",
                stream=reader.name,
                silent_s=round(silent_s, 3),
                stale_after_s=self._stale_after,
            )
            reader.close()
            closed.append(reader.name)
        return closed

    def run(self) -> None:
        """Check every `interval` seconds until `stop` is set, then close every reader."""
        try:
            while not self._stop.wait(self._interval):
                self.check()
        finally:
            for reader in self._readers:
                reader.close()


def streaming_base(instance_v2: Mapping[str, Any], url: str) -> str:
    """The streaming server's http(s) base from `configuration.urls.streaming` (ws/wss).

    An instance served over plain http (loopback only, as relay.toml allows) is streamed over
    plain http too: GoToSocial announces `wss://` whatever it serves."""
    streaming = (instance_v2.get("configuration") or {}).get("urls", {}).get("streaming") or url
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if streaming.startswith(ws):
            streaming = http + streaming[len(ws) :]
    if url.startswith("http://") and streaming.startswith("https://"):
        streaming = "http://" + streaming[len("https://") :]
    return str(streaming).rstrip("/")


def websocket_base(http_base: str) -> str:
    """`ws://` for an `http://` base, `wss://` for an `https://` one."""
    return "ws" + http_base[len("http") :] if http_base.startswith("http") else http_base
