"""How `relay run` behaves as a service: systemd readiness and watchdog, health, stop signals.

`Health.tick()` runs on every turn of the main loop: it tells systemd READY once posts can flow
(each instance's streams connected, or a REST poller running), feeds the watchdog only while the
relay is healthy, and every few seconds writes the streams' state and how each source is read
into the database, where `relay status` (another process) reads it.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

from relay.runtime import notify
from relay.runtime.metrics import Metrics, StreamSample
from relay.sources.reader import Reader
from relay.store.store import Store

log = structlog.get_logger()

STREAMS_SETTING = "relay.streams"  # JSON: the running relay's streams, for `relay status`
REPORT_EVERY = 5.0  # seconds


def stream_samples(readers: list[Reader], now: float) -> list[StreamSample]:
    """Each stream's name, connection and seconds since its last event (None: no event yet)."""
    samples = []
    for reader in readers:
        status = reader.status
        age = None if status.last_event_at is None else now - status.last_event_at
        samples.append(StreamSample(reader.name, status.connected, age))
    return samples


def stream_report(
    readers: list[Reader], now: float, sources: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The streams' state and how each source is read, as plain data, with the wall-clock time."""
    streams = [
        {
            "name": sample.name,
            "connected": sample.connected,
            "last_event_age": None if sample.last_event_age is None else round(sample.last_event_age, 1),
            "error": reader.status.last_error,
        }
        for reader, sample in zip(readers, stream_samples(readers, now), strict=True)
    ]
    return {"at": time.time(), "streams": streams, "sources": sources or []}


class Health:
    """What the main loop reports to systemd: READY once posts can flow, then WATCHDOG.

    `readers` and `sources` are asked on every tick (a source that falls back changes its readers).
    Without `ready`, READY waits for every stream, or 30 s. The watchdog is fed only while the
    relay is healthy: its loop turns (this runs in it) and some stream is connected, or none has
    been down for longer than `grace` seconds (a relay that only polls has no stream to lose). A
    relay that cannot reach anything for that long is restarted by systemd (Restart=on-failure).
    """

    def __init__(
        self,
        readers: list[Reader] | Callable[[], list[Reader]],
        *,
        watchdog_every: float | None,
        grace: float = 300.0,
        ready: Callable[[], bool] | None = None,
        sources: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._readers_of = readers if callable(readers) else lambda: readers
        self._ready_check = ready
        self._sources = sources
        # Seconds between watchdog pings (infinite without a watchdog): the main loop turns at
        # least this often.
        self.every = watchdog_every if watchdog_every is not None else float("inf")
        self._grace = grace
        self._ready = False
        self._last_beat = 0.0
        self._last_connected = time.monotonic()
        self._next_gauge = 0.0

    def tick(self, now: float, store: Store, metrics: Metrics) -> None:
        readers = self._readers_of()
        connected = [r for r in readers if r.status.connected]
        if connected or not readers:
            self._last_connected = now
        if not self._ready and self._can_flow(readers, connected, now):
            self._ready = True
            sources = self._sources() if self._sources is not None else []
            methods = {s["source"]: s["method"] for s in sources}
            notify.ready(f"{len(connected)} of {len(readers)} streams connected")
            log.info("relay.ready", streams=len(connected), methods=methods)
        healthy = now - self._last_connected < self._grace
        if healthy and now - self._last_beat >= self.every:
            self._last_beat = now
            notify.watchdog()
        if now >= self._next_gauge:
            self._next_gauge = now + REPORT_EVERY
            metrics.queue_depth(store.queue.queue_length())
            sources = self._sources() if self._sources is not None else []
            store.settings.set_setting(STREAMS_SETTING, json.dumps(stream_report(readers, now, sources)))

    def _can_flow(self, readers: list[Reader], connected: list[Reader], now: float) -> bool:
        if self._ready_check is not None:
            return self._ready_check()
        return len(connected) == len(readers) or now - self._last_connected > 30


def install_signal_handlers(stop: threading.Event) -> list[str]:
    """SIGTERM and SIGINT set the one stop event (the main loop notices within half a second);
    return the list that the names of the signals received are appended to.

    The handler only records the signal and sets the event. It runs on the main thread between two
    bytecodes, maybe while that thread is inside a log write holding the log's lock: a log line
    written from the handler would wait for that lock forever (the relay then ignored SIGTERM until
    systemd killed it). `Relay.run` logs `relay.stopping` once its loop has seen the event."""
    received: list[str] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return received
