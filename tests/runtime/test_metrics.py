"""relay.runtime.metrics: counters and gauges as Prometheus scrapes them over HTTP from loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from relay.errors import ConfigError
from relay.runtime.metrics import Metrics, MetricsServer, StreamSample, parse_address


def scrape(server: MetricsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and parse it: (sample name, sorted labels) → value."""
    response = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    assert response.status_code == 200
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


@pytest.fixture
def streams() -> list[StreamSample]:
    """The stream health the app would report; tests change it between scrapes."""
    return [StreamSample("home#TherapistsConnect", connected=True, last_event_age=12.5)]


@pytest.fixture
def metrics(streams: list[StreamSample]) -> Metrics:
    return Metrics(streams=lambda: list(streams))


@pytest.fixture
def server(metrics: Metrics) -> Iterator[MetricsServer]:
    """The endpoint on 127.0.0.1, a free port."""
    served = metrics.serve("127.0.0.1:0")
    yield served
    served.close()


class TestScrape:
    def test_counters_by_label(self, metrics: Metrics, server: MetricsServer) -> None:
        """seen, verdict, boosted, unboosted, retracted and error show up with their labels."""
        metrics.seen("home", "stream")
        metrics.seen("home", "stream")
        metrics.seen("remote", "poll")
        metrics.verdict("hold", ["new_account", "links"])
        metrics.verdict("accept")
        for _ in range(3):
            metrics.boosted()
        metrics.unboosted()
        metrics.retracted()
        metrics.error("stream")
        values = scrape(server)
        assert values[("relay_posts_seen_total", (("source", "home"), ("via", "stream")))] == 2
        assert values[("relay_posts_seen_total", (("source", "remote"), ("via", "poll")))] == 1
        assert values[("relay_verdicts_total", (("decision", "hold"), ("rule", "links")))] == 1
        assert values[("relay_verdicts_total", (("decision", "hold"), ("rule", "new_account")))] == 1
        assert values[("relay_verdicts_total", (("decision", "accept"), ("rule", "none")))] == 1
        assert values[("relay_screened_total", (("decision", "hold"),))] == 1
        assert values[("relay_boosts_total", ())] == 3
        assert values[("relay_unboosts_total", ())] == 1
        assert values[("relay_retractions_total", ())] == 1
        assert values[("relay_errors_total", (("kind", "stream"),))] == 1

    def test_the_same_verdict_again_counts_again(self, metrics: Metrics, server: MetricsServer) -> None:
        """Repeated verdicts (the counters are looked up once) keep counting; a rule named twice
        counts once per post; the reasons may come as any iterable."""
        for _ in range(3):
            metrics.verdict("reject", (r for r in ["visibility", "hashtags", "visibility"]))
        metrics.verdict("reject", ["hashtags"])
        values = scrape(server)
        assert values[("relay_screened_total", (("decision", "reject"),))] == 4
        assert values[("relay_verdicts_total", (("decision", "reject"), ("rule", "visibility")))] == 3
        assert values[("relay_verdicts_total", (("decision", "reject"), ("rule", "hashtags")))] == 4

    def test_counts_of_several_posts_at_once(self, metrics: Metrics, server: MetricsServer) -> None:
        """The pipeline counts a batch's posts by label set and adds each count once."""
        metrics.seen("home", "stream", 5)
        metrics.seen("home", "stream")
        metrics.verdict("reject", ["visibility", "hashtags", "visibility"], 4)
        metrics.verdict("accept", (), 2)
        values = scrape(server)
        assert values[("relay_posts_seen_total", (("source", "home"), ("via", "stream")))] == 6
        assert values[("relay_screened_total", (("decision", "reject"),))] == 4
        assert values[("relay_verdicts_total", (("decision", "reject"), ("rule", "visibility")))] == 4
        assert values[("relay_verdicts_total", (("decision", "reject"), ("rule", "hashtags")))] == 4
        assert values[("relay_verdicts_total", (("decision", "accept"), ("rule", "none")))] == 2

    def test_gauges_follow_the_latest_value(self, metrics: Metrics, server: MetricsServer) -> None:
        """queue_depth and rate_budget report what was set last."""
        metrics.queue_depth(5)
        metrics.rate_budget(290)
        metrics.queue_depth(2)
        values = scrape(server)
        assert values[("relay_queue_depth", ())] == 2
        assert values[("relay_rate_budget_remaining", ())] == 290

    def test_stream_gauges_are_read_at_scrape_time(
        self, streams: list[StreamSample], server: MetricsServer
    ) -> None:
        """Connected and last-event age come from the app at each scrape; no age before any event."""
        label = (("stream", "home#TherapistsConnect"),)
        first = scrape(server)
        assert first[("relay_stream_connected", label)] == 1
        assert first[("relay_stream_last_event_age_seconds", label)] == 12.5
        streams[0] = StreamSample("home#TherapistsConnect", connected=False, last_event_age=75.0)
        streams.append(StreamSample("remote#TherapistsConnect", connected=True, last_event_age=None))
        second = scrape(server)
        assert second[("relay_stream_connected", label)] == 0
        assert second[("relay_stream_last_event_age_seconds", label)] == 75.0
        other = (("stream", "remote#TherapistsConnect"),)
        assert second[("relay_stream_connected", other)] == 1
        assert ("relay_stream_last_event_age_seconds", other) not in second

    def test_own_registry_not_the_global_one(self) -> None:
        """Two Metrics objects coexist, and nothing lands in prometheus_client's global registry."""
        first, second = Metrics(), Metrics()
        first.boosted()
        assert second.registry.get_sample_value("relay_boosts_total") == 0
        assert first.registry.get_sample_value("relay_boosts_total") == 1
        assert REGISTRY.get_sample_value("relay_boosts_total") is None


class TestServing:
    def test_close_frees_the_port(self, metrics: Metrics) -> None:
        """After close() the endpoint no longer answers."""
        served = metrics.serve("127.0.0.1:0")
        port = served.port
        served.close()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)

    def test_public_address_is_refused_by_default(self, metrics: Metrics) -> None:
        """A non-loopback host needs allow_public=True; the error says how to stay on loopback."""
        with pytest.raises(ConfigError) as caught:
            metrics.serve("0.0.0.0:0")
        assert caught.value.fix is not None
        assert "127.0.0.1" in caught.value.fix

    def test_a_busy_port_is_a_config_error(self, metrics: Metrics, server: MetricsServer) -> None:
        """Binding a port already in use raises ConfigError naming the address."""
        with pytest.raises(ConfigError, match=f"127.0.0.1:{server.port}"):
            metrics.serve(f"127.0.0.1:{server.port}")

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("127.0.0.1:9464", ("127.0.0.1", 9464)),
            ("[::1]:80", ("::1", 80)),
            ("localhost:0", ("localhost", 0)),
        ],
    )
    def test_addresses(self, text: str, expected: tuple[str, int]) -> None:
        """host:port and [v6]:port are understood."""
        assert parse_address(text) == expected

    @pytest.mark.parametrize("text", ["9464", "127.0.0.1", ":9464", "::1:9464", "host:99999", "host:http"])
    def test_bad_addresses(self, text: str) -> None:
        """Anything but host:port is a ConfigError with an example."""
        with pytest.raises(ConfigError, match="host:port"):
            parse_address(text)
