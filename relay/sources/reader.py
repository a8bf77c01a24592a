"""What every stream reader shares, SSE (`relay.sources.stream`) and WebSocket (`relay.sources.websocket`).

A reader reads one connection in one thread: it connects, calls `on_connect` (for a REST
catch-up), hands every event to `on_event`, and reconnects with capped jittered backoff until
`stop` is set or it is retired. Its health is a `StreamStatus` snapshot any thread may read; the
`relay.sources.stream.Watchdog` closes a connected reader that went silent.

A failure that retrying cannot mend (`relay.core.transport.failure_of`: the endpoint is not there,
an upgrade refused, the token refused for streaming; or no connection at all after `STUCK_AFTER`
attempts) goes to `on_lasting` when the wiring gave one, and the reader ends: the wiring falls
back to the next method. Without `on_lasting` a refused token raises `CredentialsError` (or, with
``fatal_auth=False``, is reported and retried after a long delay) and anything else is retried.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog

from relay.core.backoff import Backoff
from relay.core.transport import STUCK_AFTER, Failure
from relay.errors import CredentialsError
from relay.sources.sse import MalformedEvent, StreamEvent

log = structlog.get_logger("relay.sources.stream")

OnLasting = Callable[[Failure, str], None]


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A snapshot of one reader's health, safe to read from any thread.

    Times are from the reader's clock (monotonic). `last_activity_at` counts any bytes,
    heartbeats and pongs included; `last_event_at` only events.
    """

    name: str
    connected: bool = False
    connects: int = 0
    last_event_at: float | None = None
    last_activity_at: float | None = None
    last_error: str | None = None
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one connection ended."""

    reason: str
    healthy: bool = False
    auth_failed: bool = False
    retry_after: float = 0.0
    failure: Failure | None = None  # a lasting failure (`relay.core.transport.failure_of`)


class Reader(ABC):
    """One streaming connection read in one thread, reconnecting until `stop` is set.

    The token is never logged. `on_event` and `on_connect` run in the reader's thread; an
    exception they raise is logged as ``stream.handler_error`` and the reader goes on.
    """

    def __init__(
        self,
        *,
        name: str,
        url: str,
        token: str | None,
        on_event: Callable[[StreamEvent], None],
        on_connect: Callable[[], None] | None = None,
        stop: threading.Event,
        read_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        healthy_after: float = 30.0,
        fatal_auth: bool = True,
        auth_retry_delay: float = 300.0,
        on_lasting: OnLasting | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._url = url
        self._token = token
        self._on_event = on_event
        self._on_connect = on_connect
        self._stop = stop
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._backoff = backoff if backoff is not None else Backoff()
        self._healthy_after = healthy_after
        self._fatal_auth = fatal_auth
        self._auth_retry_delay = auth_retry_delay
        self._on_lasting = on_lasting
        self._clock = clock
        self._lock = threading.Lock()
        self._status = StreamStatus(name=name)
        # The two times that change with every read and every event are plain attributes, written
        # without the lock (a float store is atomic) and put into the snapshot when it is read:
        # a new frozen `StreamStatus` per event cost more than parsing the event's SSE framing.
        self._activity_at: float | None = None
        self._event_at: float | None = None
        self._abort = False
        self._retired = threading.Event()

    # -- what each kind of reader does -----------------------------------------------------------

    @abstractmethod
    def _connect_once(self) -> Outcome:
        """Connect, read until the connection ends, and say how it ended."""

    @abstractmethod
    def _cut(self) -> None:
        """Wake the read blocked in the reader's thread (called with the lock held)."""

    def _prepare(self) -> None:  # noqa: B027 - a hook: most readers need nothing here
        """Before the first connection (the SSE reader opens its HTTP session here)."""

    def _finish(self) -> None:  # noqa: B027 - a hook
        """After the last connection."""

    # -- shared ----------------------------------------------------------------------------------

    @property
    def status(self) -> StreamStatus:
        """The reader's health now (a frozen snapshot)."""
        with self._lock:
            status = self._status
        return _replace(status, {"last_activity_at": self._activity_at, "last_event_at": self._event_at})

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() or self._retired.is_set()

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._status = _replace(self._status, changes)

    def close(self) -> None:
        """Abort the current connection now (from any thread); `run()` then reconnects or, once
        `stop` is set, returns. Safe to call at any time, any number of times."""
        with self._lock:
            self._abort = True
            self._cut()

    def retire(self) -> None:
        """End this reader for good (its source moved to another method); `run()` returns soon."""
        self._retired.set()
        self.close()

    def run(self) -> None:
        """Read until `stop` is set or the reader is retired or fails for good.

        Raises `CredentialsError` on 401/403 if `fatal_auth` and no `on_lasting` was given."""
        self._prepare()
        attempts = 0  # connection attempts since the last connection that got through
        try:
            while not self.stopping:
                try:
                    outcome = self._connect_once()
                except CredentialsError:
                    raise
                except Exception as exc:  # a bug here must not silently end the stream
                    log.exception("stream.reader_error", stream=self.name)
                    outcome = Outcome(f"reader_error: {type(exc).__name__}")
                if self.stopping:
                    break
                attempts = 0 if self.status.connects else attempts + 1
                failure = outcome.failure
                if failure is None and attempts >= STUCK_AFTER and self._on_lasting is not None:
                    failure = "unreachable"
                if failure is not None and self._on_lasting is not None:
                    self._update(last_error=outcome.reason)
                    self._on_lasting(failure, outcome.reason)
                    return
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
                if self._pause(delay):
                    break
        finally:
            self._update(connected=False)
            self._finish()
            log.info("stream.stopped", stream=self.name)

    def _pause(self, delay: float) -> bool:
        """Wait `delay` seconds; True as soon as the reader is to stop."""
        deadline = time.monotonic() + delay
        while not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._stop.wait(min(left, 0.25))
        return True

    def _begin_connection(self) -> bool:
        """Before a connection attempt; False if it was aborted already."""
        with self._lock:
            self._abort = False
        return not self.stopping

    def _aborted(self) -> bool:
        with self._lock:
            return self._abort

    def _connected(self, at: float) -> None:
        """The connection is up: count it and run `on_connect` (the REST catch-up)."""
        self._activity_at = at  # before `connected`: never a connected, stale reader
        with self._lock:
            connects = self._status.connects + 1
            self._status = _replace(
                self._status, {"connected": True, "connects": connects, "last_error": None, "fatal": False}
            )
        log.info("stream.connected", stream=self.name, connects=connects)
        if self._on_connect is not None:
            try:
                self._on_connect()
            except Exception:
                log.exception("stream.handler_error", stream=self.name, handler="on_connect")

    def _handle(self, event: StreamEvent) -> None:
        self._event_at = self._clock()
        try:
            self._on_event(event)
        except Exception:
            log.exception("stream.handler_error", stream=self.name, handler="on_event", event_name=event.name)

    def _skip(self, item: MalformedEvent, **context: Any) -> None:
        """A malformed event: logged, and the stream goes on without it."""
        log.warning(
            "stream.malformed_event",
            stream=self.name,
            event_name=item.name,
            reason=item.reason,
            excerpt=item.excerpt,
            **context,
        )

    def _disconnected(
        self,
        reason: str,
        *,
        healthy: bool = False,
        retry_after: float = 0.0,
        failure: Failure | None = None,
        **context: Any,
    ) -> Outcome:
        self._update(connected=False, last_error=reason)
        log.info("stream.disconnected", stream=self.name, reason=reason, **context)
        return Outcome(reason, healthy=healthy, retry_after=retry_after, failure=failure)

    def _auth_failed(self, code: int, detail: str, where: Mapping[str, Any]) -> Outcome:
        """401/403: a lasting failure for the wiring, else fatal or retried after a long delay."""
        reason = f"http_{code}"
        if self._on_lasting is not None:
            # The wiring decides (and says at warning) what follows: REST, or the end for a revoked token.
            log.info("stream.auth_failed", stream=self.name, status=code, detail=detail, **where)
            return self._disconnected(f"{reason}: {detail}", failure="unauthorized")
        host = urlsplit(self._url).netloc
        self._update(connected=False, last_error=f"{reason}: {detail}", fatal=self._fatal_auth)
        log.error(
            "stream.auth_failed",
            stream=self.name,
            status=code,
            detail=detail,
            fatal=self._fatal_auth,
            retry_in_s=None if self._fatal_auth else self._auth_retry_delay,
            **where,
        )
        if self._fatal_auth:
            raise CredentialsError(
                f"stream {self.name!r} ({self._url}) refused the access token: HTTP {code} ({detail})",
                fix=f"the token was revoked or lacks the 'read' scope (every stream needs it since"
                f" Mastodon 4.2): run `relay login` for {host} again and restart",
            )
        return Outcome(reason, auth_failed=True)


def _replace(status: StreamStatus, changes: Mapping[str, Any]) -> StreamStatus:
    return dataclasses.replace(status, **changes)


def up_for(connected_at: float | None, now: float) -> float:
    """Seconds a connection was up (0 when it never was)."""
    return 0.0 if connected_at is None else now - connected_at
