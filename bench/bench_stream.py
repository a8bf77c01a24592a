"""How fast can relay take statuses off a Mastodon stream? Run: python bench/bench_stream.py

Builds an SSE byte stream of N `update` events carrying a real ~2 KB status recorded from
Mastodon 4.6.4 (with a `:thump` heartbeat every 20 events), then measures on one core:

  json.loads           the JSON decoding alone (a floor for any parser)
  relay parse_stream   the reader's real parse path (sseclient-py + json.loads + shape checks),
                       fed from memory as the server writes (one chunk per event) and in 64 KiB
                       reads (what `read1` returns when events queue up)
  Mastodon.py          2.3's StreamListener.handle_stream over the same bytes, with and without
                       its typed casting (try_cast_recurse replaced by the identity)

To measure more of the pipeline later, add a `Stage` to `stages()`: each one gets the same
`Workload` and returns how many events it handled (e.g. parse → Post → dedupe → screen → store).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from sseclient import SSEClient

from relay.sources.stream import StreamEvent, parse_stream

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "mastodon-4.6"
CASSETTE = "stream_user_direct.yaml"
HEARTBEAT_EVERY = 20
READ_SIZE = 65536


@dataclass(frozen=True)
class Workload:
    """The same N events in every shape a stage may want."""

    status_json: str  # one status as Mastodon sent it
    payloads: list[str]  # N copies, as json.loads would see them
    writes: list[bytes]  # the stream as the server writes it: greeting, events, heartbeats
    stream: bytes  # the whole stream in one piece

    @property
    def events(self) -> int:
        return len(self.payloads)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Workload], int]  # returns how many events it handled
    events: int | None = None  # run on fewer events than the workload (for slow stages)


def recorded_status(target: int = 2048) -> str:
    """The recorded `update` JSON (exactly as Mastodon sent it) whose size is closest to `target`."""
    cassette = yaml.safe_load((FIXTURES / CASSETTE).read_text(encoding="utf-8"))
    updates = [
        sse.data
        for i in cassette["interactions"]
        if urlsplit(i["request"]["uri"]).path.startswith("/api/v1/streaming/")
        for sse in SSEClient(iter([str(i["response"]["body"]["string"]).encode()])).events()
        if sse.event == "update"
    ]
    return min(updates, key=lambda data: abs(len(data.encode()) - target))


def build(status_json: str, n: int) -> Workload:
    event = f"event: update\ndata: {status_json}\n\n".encode()
    writes = [b":)\n"]
    for i in range(n):
        writes.append(event)
        if i % HEARTBEAT_EVERY == HEARTBEAT_EVERY - 1:
            writes.append(b":thump\n")
    return Workload(status_json, [status_json] * n, writes, b"".join(writes))


def reads_of(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# --- stages --------------------------------------------------------------------------------------


def json_only(w: Workload) -> int:
    count = 0
    for payload in w.payloads:
        json.loads(payload)
        count += 1
    return count


def relay_parse(chunks: Callable[[Workload], Iterator[bytes] | list[bytes]]) -> Callable[[Workload], int]:
    def run(w: Workload) -> int:
        return sum(1 for e in parse_stream(chunks(w)) if isinstance(e, StreamEvent))

    return run


class _FakeResponse:
    """What StreamListener.handle_stream reads: `iter_content(chunk_size)` over the bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def iter_content(self, chunk_size: int = 1) -> Iterator[bytes]:
        return reads_of(self._data, chunk_size)


def mastodon_py(*, cast: bool) -> Callable[[Workload], int]:
    from mastodon import streaming

    class Counter(streaming.StreamListener):
        def __init__(self) -> None:
            self.count = 0

        def on_update(self, status: Any) -> None:
            self.count += 1

    def run(w: Workload) -> int:
        listener = Counter()
        with _casting(streaming, cast):
            listener.handle_stream(_FakeResponse(w.stream))
        return int(listener.count)

    return run


@contextlib.contextmanager
def _casting(module: Any, on: bool) -> Iterator[None]:
    if on:
        yield
        return
    original = module.try_cast_recurse
    module.try_cast_recurse = lambda cast_type, value: value
    try:
        yield
    finally:
        module.try_cast_recurse = original


def stages(n: int) -> list[Stage]:
    slow = max(200, n // 20)
    return [
        Stage("json.loads alone", json_only),
        Stage("relay parse_stream, one chunk per event", relay_parse(lambda w: w.writes)),
        Stage("relay parse_stream, 64 KiB reads", relay_parse(lambda w: reads_of(w.stream, READ_SIZE))),
        Stage("Mastodon.py 2.3 handle_stream, no casting", mastodon_py(cast=False), slow),
        Stage("Mastodon.py 2.3 handle_stream, typed", mastodon_py(cast=True), slow // 4),
    ]


# --- measuring ---------------------------------------------------------------------------------


def measure(stage: Stage, status_json: str, n: int, repeat: int) -> float:
    """Best events/s over `repeat` runs (the least disturbed one)."""
    workload = build(status_json, stage.events or n)
    best = 0.0
    for _ in range(repeat):
        began = time.perf_counter()
        handled = stage.run(workload)
        took = time.perf_counter() - began
        if handled != workload.events:
            raise SystemExit(f"{stage.name}: handled {handled} of {workload.events} events")
        best = max(best, handled / took)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--events", type=int, default=20000)
    parser.add_argument("-r", "--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    status_json = recorded_status()
    print(
        f"status: {len(status_json.encode())} bytes of JSON (from {CASSETTE}); "
        f"{args.events} events, a heartbeat every {HEARTBEAT_EVERY}; best of {args.repeat}; "
        f"Python {sys.version.split()[0]}"
    )
    rates: dict[str, float] = {}
    for stage in stages(args.events):
        rate = measure(stage, status_json, args.events, args.repeat)
        rates[stage.name] = rate
        print(
            f"  {stage.name:<44} {rate:>10,.0f} events/s  {1e6 / rate:>8.1f} us/event"
            f"  (n={stage.events or args.events})"
        )
    ours = rates["relay parse_stream, one chunk per event"]
    for name in ("Mastodon.py 2.3 handle_stream, no casting", "Mastodon.py 2.3 handle_stream, typed"):
        print(f"  relay / {name}: {ours / rates[name]:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
