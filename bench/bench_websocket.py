"""WebSocket against SSE, event by event. Run: python bench/bench_websocket.py

Starts one sandbox instance (relay/sandbox, loopback, in this process) and, in this process too,
the relay's two stream readers on its #hashtag: `relay.sources.stream.StreamReader` (SSE, the
baseline) and `relay.sources.websocket.WebSocketReader` (one socket). Then:

  paced   N posts, one every `--pace` ms: each reader's delay from the post (taken just before the
          sandbox stores it) to its `on_event` with that status, p50, p90 and p99, in ms;
  burst   N posts as fast as the sandbox takes them: the time from the first post until each
          reader has had every event, as events/s.

Both readers hear the same posts at the same time, so the ratio WebSocket ÷ SSE is measured in one
run on the same machine load. Nothing is asserted: the figures are printed with that ratio. The
whole `relay run` process over WebSocket is measured by `bench_process.py --transport websocket`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))

from relayproc import HASHTAG, wait_for

from relay.log import configure_logging
from relay.sandbox import Fediverse
from relay.sources.reader import Reader
from relay.sources.sse import StreamEvent
from relay.sources.stream import StreamReader
from relay.sources.websocket import WebSocketReader


@dataclass
class Arrivals:
    """When each status id reached one reader (perf_counter seconds)."""

    at: dict[str, float] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def on_event(self, event: StreamEvent) -> None:
        if event.name == "update":
            now = time.perf_counter()
            with self.cond:
                self.at.setdefault(str(event.data["id"]), now)
                self.cond.notify_all()

    def count(self) -> int:
        with self.cond:
            return len(self.at)


def readers(url: str, token: str, stop: threading.Event) -> dict[str, tuple[Reader, Arrivals]]:
    sse, ws = Arrivals(), Arrivals()
    common: dict[str, object] = {"token": token, "stop": stop, "read_timeout": 60.0}
    return {
        "SSE (StreamReader)": (
            StreamReader(
                name="sse",
                url=f"{url}/api/v1/streaming/hashtag",
                params={"tag": HASHTAG},
                on_event=sse.on_event,
                **common,  # type: ignore[arg-type]
            ),
            sse,
        ),
        "WebSocket (WebSocketReader)": (
            WebSocketReader(
                name="ws",
                url=url.replace("http://", "ws://") + "/api/v1/streaming",
                streams=[("hashtag", HASHTAG)],
                on_event=ws.on_event,
                **common,  # type: ignore[arg-type]
            ),
            ws,
        ),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> None:
    stop = threading.Event()
    with Fediverse(["home"], heartbeat=15.0) as fed:
        home = fed["home"]
        watcher = home.create_account("watcher")
        author = home.create_account("author")
        pair = readers(home.url, watcher.token, stop)
        threads = [threading.Thread(target=r.run, daemon=True) for r, _ in pair.values()]
        for thread in threads:
            thread.start()
        wait_for(lambda: all(r.status.connected for r, _ in pair.values()), timeout=10, what="both readers")
        wait_for(lambda: len(home.hub.subscriptions()) >= 2, timeout=10, what="both subscriptions")

        def post(n: int) -> tuple[str, float]:
            began = time.perf_counter()
            return home.post(author, f"Post {n} #{HASHTAG}"), began

        # paced
        sent: list[tuple[str, float]] = []
        for n in range(args.events):
            sent.append(post(n))
            time.sleep(args.pace / 1000)  # the pace of the workload, not a synchronisation
        for _, arrivals in pair.values():
            wait_for(lambda a=arrivals: all(i in a.at for i, _ in sent), timeout=30, what="paced events")
        paced = {name: [1000 * (arrivals.at[i] - t) for i, t in sent] for name, (_, arrivals) in pair.items()}
        # burst
        before = {name: arrivals.count() for name, (_, arrivals) in pair.items()}
        began = time.perf_counter()
        ids = [post(args.events + n)[0] for n in range(args.burst)]
        rates = {}
        for name, (_, arrivals) in pair.items():
            wait_for(lambda a=arrivals: all(i in a.at for i in ids), timeout=60, what="burst events")
            rates[name] = args.burst / (max(arrivals.at[i] for i in ids) - began)
            assert arrivals.count() - before[name] == args.burst
        stop.set()
        for reader, _ in pair.values():
            reader.close()
    report(args, paced, rates)


def report(args: argparse.Namespace, paced: dict[str, list[float]], rates: dict[str, float]) -> None:
    print(
        f"stream readers on one sandbox instance: {args.events} posts one every {args.pace:g} ms, then a"
        f" burst of {args.burst}; Python {sys.version.split()[0]}"
    )
    print(f"  {'reader':<30} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'burst ev/s':>11} {'÷ SSE':>7}")
    base = percentile(paced["SSE (StreamReader)"], 0.5)
    for name, delays in paced.items():
        p50 = percentile(delays, 0.5)
        print(
            f"  {name:<30} {p50:>8.2f} {percentile(delays, 0.9):>8.2f} {percentile(delays, 0.99):>8.2f}"
            f" {rates[name]:>11,.0f} {p50 / base:>6.2f}×"
        )
    sse, ws = paced["SSE (StreamReader)"], paced["WebSocket (WebSocketReader)"]
    print(
        f"  WebSocket ÷ SSE: p50 {percentile(ws, 0.5) / percentile(sse, 0.5):.2f}×,"
        f" mean {statistics.fmean(ws) / statistics.fmean(sse):.2f}×, burst rate"
        f" {rates['WebSocket (WebSocketReader)'] / rates['SSE (StreamReader)']:.2f}×"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--events", type=int, default=500, help="paced posts (500)")
    parser.add_argument("--pace", type=float, default=5.0, help="ms between paced posts (5)")
    parser.add_argument("--burst", type=int, default=2000, help="posts in the burst (2000)")
    args = parser.parse_args(argv)
    configure_logging("warning")
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
