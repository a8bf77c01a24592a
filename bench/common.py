"""What the benchmarks share: the recorded status, the SSE workload, the baseline stages, the timer.

`bench_stream.py` (the stream parser) and `bench_ingest.py` (the whole ingest path) measure their
stages on the same `Workload`, built here from a real status recorded from Mastodon 4.6.4, next to
the same baselines (`json.loads` alone and Mastodon.py 2.3's stream reader), in the same run.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from sseclient import SSEClient

from relay.sources.sse import StreamEvent, parse_stream

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "mastodon-4.6"
CASSETTE = "stream_user_direct.yaml"
HEARTBEAT_EVERY = 20
READ_SIZE = 65536


@dataclass(frozen=True)
class Workload:
    """The same N events in every shape a stage may want."""

    status_json: str  # one status as Mastodon sent it
    payloads: list[str]  # the N event payloads, as json.loads would see them
    writes: list[bytes]  # the stream as the server writes it: greeting, events, heartbeats
    stream: bytes  # the whole stream in one piece

    @property
    def events(self) -> int:
        return len(self.payloads)


Runner = Callable[[], int]  # one timed pass; returns how many events it handled


@dataclass(frozen=True)
class Stage:
    """One measured stage. `run(workload)` is timed whole and returns how many events it handled.

    A stage that needs untimed set-up on every repeat (a fresh database, posts stored beforehand)
    gives `prepare` instead: a context manager around each repeat that yields the timed `Runner`.
    """

    name: str
    run: Callable[[Workload], int] | None = None
    events: int | None = None  # run on fewer events than the workload (for slow stages)
    prepare: Callable[[Workload], AbstractContextManager[Runner]] | None = None
    copies: int = 1  # the stage handles each event this many times (delivered by that many sources)

    def runner(self, workload: Workload) -> AbstractContextManager[Runner]:
        if self.prepare is not None:
            return self.prepare(workload)
        run = self.run
        if run is None:
            raise TypeError(f"stage {self.name!r} has neither run nor prepare")
        return contextlib.nullcontext(lambda: run(workload))


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


PUBLIC_CASSETTE = "hashtag_tl.yaml"


def public_status() -> str:
    """The recorded public `#hoot` status (Mastodon 4.6.4's tag timeline), as compact JSON: what a
    hashtag stream sends for it."""
    cassette = yaml.safe_load((FIXTURES / PUBLIC_CASSETTE).read_text(encoding="utf-8"))
    for i in cassette["interactions"]:
        if urlsplit(i["request"]["uri"]).path.startswith("/api/v1/timelines/tag/"):
            status = json.loads(str(i["response"]["body"]["string"]))[0]
            return json.dumps(status, separators=(",", ":"), ensure_ascii=False)
    raise LookupError(f"no tag timeline in {PUBLIC_CASSETTE}")


def public_posts(n: int, *, authors: int = 1) -> Workload:
    """`n` different public `#hoot` posts by `authors` accounts, each with its own text (numbered),
    so that none is held as the same text again: posts that the rules accept."""
    status_json = public_status()
    text = "(hashtag toot)"
    if text not in status_json:
        raise ValueError(f"the recorded #hoot status no longer says {text!r}")
    payloads = [
        payload.replace(text, f"(hashtag toot number {i})", 1)
        for i, payload in enumerate(numbered(status_json, n, authors=authors))
    ]
    return workload_of(status_json, payloads)


def numbered(status_json: str, n: int, *, authors: int = 1) -> list[str]:
    """`n` copies of the status, each a distinct post: the status id (and with it the `uri` and
    `url` that contain it) counts up from the recorded one. With `authors` > 1 the author's `acct`
    cycles through that many accounts (`name`, `name1`, `name2`, ...). Every other byte is as
    recorded."""
    status = json.loads(status_json)
    status_id, acct = str(status["id"]), json.dumps(status["account"]["acct"])
    if authors > 1 and f'"acct":{acct}' not in status_json:
        raise ValueError('the status\'s account has no compact `"acct":` field to number')
    first = int(status_id)
    copies = []
    for i in range(n):
        copy = status_json.replace(status_id, str(first + i))
        if i % authors:
            copy = copy.replace(f'"acct":{acct}', f'"acct":{acct[:-1]}{i % authors}"', 1)
        copies.append(copy)
    return copies


def build(status_json: str, n: int, *, distinct: bool = False, authors: int = 1) -> Workload:
    """`n` `update` events: the same status `n` times, or with `distinct=True`, `n` different
    posts by `authors` accounts (see `numbered`)."""
    payloads = numbered(status_json, n, authors=authors) if distinct else [status_json] * n
    return workload_of(status_json, payloads)


def workload_of(status_json: str, payloads: list[str]) -> Workload:
    """The SSE stream of one `update` event per payload, as Mastodon writes it: a greeting, then
    the events, with a `:thump` heartbeat every HEARTBEAT_EVERY events."""
    writes = [b":)\n"]
    for i, payload in enumerate(payloads):
        writes.append(f"event: update\ndata: {payload}\n\n".encode())
        if i % HEARTBEAT_EVERY == HEARTBEAT_EVERY - 1:
            writes.append(b":thump\n")
    return Workload(status_json, payloads, writes, b"".join(writes))


def reads_of(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# --- the stages both benchmarks measure ------------------------------------------------------------


def json_only(w: Workload) -> int:
    count = 0
    for payload in w.payloads:
        json.loads(payload)
        count += 1
    return count


def relay_events(chunks: Iterator[bytes] | list[bytes]) -> Iterator[StreamEvent]:
    """The reader's real parse path (`relay.sources.sse.parse_stream`), its events only."""
    for event in parse_stream(chunks):
        if isinstance(event, StreamEvent):
            yield event


def relay_parse(chunks: Callable[[Workload], Iterator[bytes] | list[bytes]]) -> Callable[[Workload], int]:
    def run(w: Workload) -> int:
        return sum(1 for _ in relay_events(chunks(w)))

    return run


class _FakeResponse:
    """What StreamListener.handle_stream reads: `iter_content(chunk_size)` over the bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def iter_content(self, chunk_size: int = 1) -> Iterator[bytes]:
        return reads_of(self._data, chunk_size)


def mastodon_py(*, cast: bool) -> Callable[[Workload], int]:
    """Mastodon.py 2.3's StreamListener.handle_stream over the same bytes, typed or not."""
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


# --- measuring ---------------------------------------------------------------------------------


def measure(stage: Stage, workload: Workload, repeat: int) -> float:
    """Best events/s over `repeat` runs (the least disturbed one) on `workload`.

    A stage with `events` set runs on that many events from the front of `workload` (rebuilt
    with the same bytes), so that every stage sees the same events."""
    if stage.events is not None and stage.events < workload.events:
        workload = _first(workload, stage.events)
    best = 0.0
    for _ in range(repeat):
        with stage.runner(workload) as run:
            began = time.perf_counter()
            handled = run()
            took = time.perf_counter() - began
        if handled != workload.events * stage.copies:
            raise SystemExit(f"{stage.name}: handled {handled} of {workload.events * stage.copies} events")
        best = max(best, handled / took)
    return best


def _first(w: Workload, n: int) -> Workload:
    return workload_of(w.status_json, w.payloads[:n])
