"""Read Mastodon streaming (SSE) endpoints: parse, reconnect with backoff, and watch for silence.

Mastodon.py's own stream reader is not used: it reads one byte at a time (~930 events/s), an
exception in a callback kills its thread, and with a revoked token it retries silently forever.
Here sseclient-py parses bytes read with `read1` from a `requests` streaming response, so an event
is handed on as soon as its bytes arrive, whether or not the server uses chunked encoding.

- `relay.sources.sse.parse_stream()` turns the bytes into `StreamEvent`s (or `MalformedEvent`s).
- `StreamReader.run()` connects, calls `on_connect` (for a REST catch-up), hands every event to
  `on_event`, and reconnects with capped jittered backoff until `stop` is set. 401/403 raise
  `CredentialsError` (or, with ``fatal_auth=False``, are reported and retried after a long delay).
- `Watchdog` closes readers that went silent (heartbeats count as life) and closes them all when
  `stop` is set, so that one stop signal ends every reader within a second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog
import urllib3.exceptions

from relay.core.backoff import Backoff
from relay.errors import CredentialsError
from relay.sources.sse import StreamEvent, parse_stream

log = structlog.get_logger("relay.sources.stream")

_READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A snapshot of one reader's health, safe to read from any thread.

    Times are from the reader's clock (monotonic). `last_activity_at` counts any bytes,
    heartbeats included; `last_event_at` only events.
    """

    name: str
    connected: bool = False
    connects: int = 0
    last_event_at: float | None = None
    last_activity_at: float | None = None
    last_error: str | None = None
    fatal: bool = False


def _describe(exc: BaseException) -> str:
    """A short, token-free reason for a failed read or connect."""
    if isinstance(exc, requests.Timeout | urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "read_timeout"
    if isinstance(exc, requests.ConnectionError) and isinstance(
        exc.args[0] if exc.args else None, urllib3.exceptions.ReadTimeoutError
    ):
        return "read_timeout"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    reason: str
    healthy: bool = False
    auth_failed: bool = False
    retry_after: float = 0.0


class StreamReader:
    """One streaming endpoint read in one thread, reconnecting until `stop` is set.

    The token goes in the ``Authorization: Bearer`` header and is never logged. `on_event`
    and `on_connect` run in the reader's thread; an exception they raise is logged as
    ``stream.handler_error`` and the reader goes on.
    """

    def __init__(
        self,
        *,
        name: str,
        url: str,
        params: Mapping[str, str],
        token: str | None,
        on_event: Callable[[StreamEvent], None],
        on_connect: Callable[[], None] | None = None,
        stop: threading.Event,
        read_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        healthy_after: float = 30.0,
        session: requests.Session | None = None,
        fatal_auth: bool = True,
        auth_retry_delay: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if "access_token" in params:
            raise ValueError("pass the token as token=..., never in the URL where logs would show it")
        self.name = name
        self._url = url
        self._params = dict(params)
        self._token = token
        self._on_event = on_event
        self._on_connect = on_connect
        self._stop = stop
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._backoff = backoff if backoff is not None else Backoff()
        self._healthy_after = healthy_after
        self._session = session
        self._fatal_auth = fatal_auth
        self._auth_retry_delay = auth_retry_delay
        self._clock = clock
        self._lock = threading.Lock()
        self._status = StreamStatus(name=name)
        # The two times that change with every read and every event are plain attributes, written
        # without the lock (a float store is atomic) and put into the snapshot when it is read:
        # a new frozen `StreamStatus` per event cost more than parsing the event's SSE framing.
        self._activity_at: float | None = None
        self._event_at: float | None = None
        self._response: requests.Response | None = None
        self._abort = False
        # What the logs may show: the endpoint and its parameters, never the token.
        self._where = {"url": url, "params": self._params}

    @property
    def status(self) -> StreamStatus:
        """The reader's health now (a frozen snapshot)."""
        with self._lock:
            status = self._status
        return _replace(status, {"last_activity_at": self._activity_at, "last_event_at": self._event_at})

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._status = _replace(self._status, changes)

    def close(self) -> None:
        """Abort the current connection now (from any thread); `run()` then reconnects or, once
        `stop` is set, returns. Safe to call at any time, any number of times."""
        with self._lock:
            self._abort = True
            response = self._response
        if response is not None:
            # Shutting the socket down wakes the read blocked in the reader's thread; an error
            # means the response was already closed or released: nothing is left to abort.
            with contextlib.suppress(AttributeError, ValueError, RuntimeError, OSError):
                response.raw.shutdown()

    def run(self) -> None:
        """Read until `stop` is set. Raises `CredentialsError` on 401/403 if `fatal_auth`."""
        session = self._session if self._session is not None else requests.Session()
        try:
            while not self._stop.is_set():
                try:
                    outcome = self._connect_once(session)
                except CredentialsError:
                    raise
                except Exception as exc:  # a bug here must not silently end the stream
                    log.exception("stream.reader_error", stream=self.name)
                    outcome = _Outcome(f"reader_error: {type(exc).__name__}")
                if self._stop.is_set():
                    break
                if outcome.auth_failed:
                    delay = self._auth_retry_delay
                else:
                    if outcome.healthy:
                        self._backoff.reset()
                    delay = max(self._backoff.next_delay(), outcome.retry_after)
                    log.info(
                        "stream.backoff",
                        stream=self.name,
                        delay_s=round(delay, 3),
                        attempt=self._backoff.attempt,
                        reason=outcome.reason,
                    )
                if self._stop.wait(delay):
                    break
        finally:
            self._update(connected=False)
            if self._session is None:
                session.close()
            log.info("stream.stopped", stream=self.name)

    def _connect_once(self, session: requests.Session) -> _Outcome:
        with self._lock:
            self._abort = False
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
                    return self._auth_failed(response)
                if response.status_code != 200:
                    return self._disconnected(
                        f"http_{response.status_code}", retry_after=_retry_after(response)
                    )
                return self._read(response)
            finally:
                with self._lock:
                    self._response = None

    def _read(self, response: requests.Response) -> _Outcome:
        chunks = self._chunks(response)
        connected_at: float | None = None
        events = 0
        try:
            first = next(chunks, None)  # the `:)` greeting, or whatever comes first
            if first is None:
                return self._disconnected("eof before any bytes")
            connected_at = self._clock()
            self._activity_at = connected_at  # before `connected`: never a connected, stale reader
            with self._lock:
                connects = self._status.connects + 1
                self._status = _replace(
                    self._status,
                    {"connected": True, "connects": connects, "last_error": None, "fatal": False},
                )
            log.info("stream.connected", stream=self.name, connects=connects)
            if self._on_connect is not None:
                try:
                    self._on_connect()
                except Exception:
                    log.exception("stream.handler_error", stream=self.name, handler="on_connect")
            for item in parse_stream(chain((first,), chunks)):
                if isinstance(item, StreamEvent):
                    events += 1
                    self._handle(item)
                else:
                    log.warning(
                        "stream.malformed_event",
                        stream=self.name,
                        event_name=item.name,
                        reason=item.reason,
                        excerpt=item.excerpt,
                    )
                if self._stop.is_set():
                    break
            with self._lock:
                aborted = self._abort
            reason = "stopped" if self._stop.is_set() else "closed" if aborted else "eof"
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            with self._lock:
                aborted = self._abort
            reason = "closed" if aborted or self._stop.is_set() else _describe(exc)
        up_s = 0.0 if connected_at is None else self._clock() - connected_at
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

    def _handle(self, event: StreamEvent) -> None:
        self._event_at = self._clock()
        try:
            self._on_event(event)
        except Exception:
            log.exception("stream.handler_error", stream=self.name, handler="on_event", event_name=event.name)

    def _disconnected(
        self, reason: str, *, healthy: bool = False, retry_after: float = 0.0, **context: Any
    ) -> _Outcome:
        self._update(connected=False, last_error=reason)
        log.info("stream.disconnected", stream=self.name, reason=reason, **context)
        return _Outcome(reason, healthy=healthy, retry_after=retry_after)

    def _auth_failed(self, response: requests.Response) -> _Outcome:
        code = response.status_code
        reason = f"http_{code}"
        detail = _error_detail(response)
        host = urlsplit(self._url).netloc
        self._update(connected=False, last_error=f"{reason}: {detail}", fatal=self._fatal_auth)
        log.error(
            "stream.auth_failed",
            stream=self.name,
            status=code,
            detail=detail,
            fatal=self._fatal_auth,
            retry_in_s=None if self._fatal_auth else self._auth_retry_delay,
            **self._where,
        )
        if self._fatal_auth:
            raise CredentialsError(
                f"stream {self.name!r} ({self._url}) refused the access token: HTTP {code} ({detail})",
                fix=f"the token was revoked or lacks the 'read' scope (every stream needs it since"
                f" Mastodon 4.2): run `relay login` for {host} again and restart",
            )
        return _Outcome(reason, auth_failed=True)


def _replace(status: StreamStatus, changes: Mapping[str, Any]) -> StreamStatus:
    return dataclasses.replace(status, **changes)


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
        readers: Iterable[StreamReader],
        *,
        stop: threading.Event,
        stale_after: float = 60.0,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._readers = list(readers)
        self._stop = stop
        self._stale_after = stale_after
        self._interval = interval if interval is not None else max(0.05, stale_after / 4)
        self._clock = clock
        self._closed_at_connect: dict[str, int] = {}

    def add(self, reader: StreamReader) -> None:
        """Watch one more reader (call before `run()` starts)."""
        self._readers.append(reader)

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
    """The streaming server's http(s) base from `configuration.urls.streaming` (ws/wss)."""
    streaming = (instance_v2.get("configuration") or {}).get("urls", {}).get("streaming") or url
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if streaming.startswith(ws):
            streaming = http + streaming[len(ws) :]
    return str(streaming).rstrip("/")
