"""Optional Prometheus metrics: what the relay saw, decided and did, scraped over HTTP.

`Metrics` owns its own `CollectorRegistry` (never the process-global one, so two relays in one
test process, or a library user's own metrics, do not collide). The app calls one method per
thing that happens, from any thread (prometheus-client's metrics are thread-safe):

    metrics = Metrics(streams=lambda: [StreamSample(name, connected, age_s), ...])
    metrics.seen(source="mastodon.social", via="stream")     # every post delivered, duplicates too
    metrics.verdict("hold", ["new_account", "link_count"])   # once per screening
    metrics.boosted(); metrics.unboosted(); metrics.retracted()
    metrics.queue_depth(store.queue.queue_length())                 # posts held for review
    metrics.rate_budget(remaining)                           # from X-RateLimit-Remaining
    metrics.error("stream")                                   # one per error, by kind
    server = metrics.serve("127.0.0.1:9464")                 # ... server.close() at shutdown

Stream gauges (`relay_stream_connected`, `relay_stream_last_event_age_seconds`) are read at scrape
time from the `streams` callable, so an age is never stale: the app maps its readers' status to
`StreamSample`s there. `relay_source_method{source,method}` (1 for the method each source is read
by now) is read the same way from the `sources` callable.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from relay.config.load import is_loopback
from relay.errors import ConfigError

NO_RULE = "none"  # the `rule` label of a verdict that gave no reason (a plain accept)


@dataclass(frozen=True, slots=True)
class StreamSample:
    """One stream's health at scrape time: connected, and seconds since its last event (None: never)."""

    name: str
    connected: bool
    last_event_age: float | None


class _StreamCollector(Collector):
    """Reads the app's streams when Prometheus scrapes."""

    def __init__(self, streams: Callable[[], Iterable[StreamSample]]) -> None:
        self._streams = streams

    def collect(self) -> Iterator[Metric]:
        connected = GaugeMetricFamily(
            "relay_stream_connected", "1 while the stream is connected, else 0", labels=["stream"]
        )
        age = GaugeMetricFamily(
            "relay_stream_last_event_age_seconds",
            "Seconds since the stream delivered its last event (absent before the first one)",
            labels=["stream"],
        )
        for sample in self._streams():
            connected.add_metric([sample.name], 1.0 if sample.connected else 0.0)
            if sample.last_event_age is not None:
                age.add_metric([sample.name], max(sample.last_event_age, 0.0))
        yield connected
        yield age


@dataclass(frozen=True, slots=True)
class SourceSample:
    """How one watched instance is read now: `sse`, `websocket` or `rest` (`relay.core.transport`)."""

    source: str
    method: str


class _SourceCollector(Collector):
    """Reads how each source is read when Prometheus scrapes."""

    def __init__(self, sources: Callable[[], Iterable[SourceSample]]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        method = GaugeMetricFamily(
            "relay_source_method",
            "1 for the method each source is read by now (sse, websocket or rest), else 0",
            labels=["source", "method"],
        )
        for sample in self._sources():
            for name in ("sse", "websocket", "rest"):
                method.add_metric([sample.source, name], 1.0 if sample.method == name else 0.0)
        yield method


class MetricsServer:
    """The HTTP endpoint serving `/metrics`; `close()` stops it and waits for its thread."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving, close the socket, join the thread (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)


class Metrics:
    """The relay's metrics in a registry of their own; see the module docstring for the calls."""

    def __init__(
        self,
        *,
        streams: Callable[[], Iterable[StreamSample]] | None = None,
        sources: Callable[[], Iterable[SourceSample]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}
        self._verdict_children: dict[tuple[str, tuple[str, ...]], list[Counter]] = {}
        r = self.registry
        self._seen = Counter(
            "relay_posts_seen",
            "Posts delivered by a source, duplicates included",
            ["source", "via"],
            registry=r,
        )
        self._screened = Counter(
            "relay_screened", "Posts screened, by decision (one per screening)", ["decision"], registry=r
        )
        self._verdicts = Counter(
            "relay_verdicts",
            f"Screening decisions by each rule that gave a reason ({NO_RULE!r}: no reason)",
            ["decision", "rule"],
            registry=r,
        )
        self._boosts = Counter("relay_boosts", "Reblogs made by the booster account", registry=r)
        self._unboosts = Counter("relay_unboosts", "Reblogs undone", registry=r)
        self._retractions = Counter(
            "relay_retractions", "Posts retracted (deleted, opted out, blocked, edited)", registry=r
        )
        self._queue = Gauge("relay_queue_depth", "Posts held for a moderator's review", registry=r)
        self._budget = Gauge(
            "relay_rate_budget_remaining", "Home-instance API calls left in the current window", registry=r
        )
        self._errors = Counter("relay_errors", "Errors by kind", ["kind"], registry=r)
        if streams is not None:
            r.register(_StreamCollector(streams))
        if sources is not None:
            r.register(_SourceCollector(sources))

    # -- what the app calls ----------------------------------------------------------------------

    def seen(self, source: str, via: str, count: int = 1) -> None:
        """A source (`host`) delivered a post (`count` posts) `via` stream, poll or rss."""
        self._child(self._seen, source, via).inc(count)

    def verdict(self, decision: str, rules: Iterable[str] = (), count: int = 1) -> None:
        """A post (`count` posts) was screened to `decision`, for the reasons of `rules` (each
        counted once a post)."""
        names = tuple(rules)
        key = (decision, names)
        children = self._verdict_children.get(key)
        if children is None:  # the counters this decision and these reasons move, found once
            children = [self._child(self._screened, decision)]
            for rule in sorted(set(names)) or [NO_RULE]:
                children.append(self._child(self._verdicts, decision, rule))
            if len(self._verdict_children) < 4096:
                self._verdict_children[key] = children
        for child in children:
            child.inc(count)

    def _child(self, metric: Counter, *labels: str) -> Counter:
        """`metric.labels(*labels)`, remembered: these are counted for every post, and the label
        sets are few (sources × vias, decisions × rules)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children.setdefault(key, metric.labels(*labels))
        return child

    def boosted(self) -> None:
        """One reblog succeeded."""
        self._boosts.inc()

    def unboosted(self) -> None:
        """One reblog was undone."""
        self._unboosts.inc()

    def retracted(self) -> None:
        """One post was retracted."""
        self._retractions.inc()

    def queue_depth(self, held: int) -> None:
        """How many posts wait for review now."""
        self._queue.set(held)

    def rate_budget(self, remaining: int | float) -> None:
        """The home instance's X-RateLimit-Remaining from the latest response."""
        self._budget.set(remaining)

    def error(self, kind: str) -> None:
        """One error of `kind` (e.g. stream, api, store, pipeline)."""
        self._errors.labels(kind=kind).inc()

    # -- serving ---------------------------------------------------------------------------------

    def serve(self, address: str, *, allow_public: bool = False) -> MetricsServer:
        """Serve `/metrics` on `host:port` (`[::1]:port` for IPv6; port 0 picks a free one).

        Refuses a non-loopback host with a ConfigError unless `allow_public` is True: metrics
        name the instances the relay watches and stay on loopback unless an admin says otherwise.
        """
        host, port = parse_address(address)
        if not allow_public and not is_loopback(host):
            raise ConfigError(
                f"metrics address {address!r} is not a loopback address",
                fix="bind to 127.0.0.1:PORT (scrape through a proxy or an SSH tunnel),"
                " or allow a public address explicitly",
            )
        try:
            server, thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen for metrics on {address}: {exc.strerror}",
                fix="choose a free port, or stop what listens there",
            ) from None
        return MetricsServer(server, thread)


def parse_address(address: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port); ConfigError with an example otherwise."""
    host, sep, port_text = address.strip().rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    valid_host = bool(host) and (_is_ip(host) if bracketed else ":" not in host)
    if not sep or not valid_host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(
            f"metrics address {address!r} is not host:port", fix='write e.g. "127.0.0.1:9464" or "[::1]:9464"'
        )
    return host, int(port_text)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
