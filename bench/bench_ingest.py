"""How fast does relay ingest statuses, end to end? Run: python bench/bench_ingest.py

Feeds one SSE byte stream of N `update` events through the relay's ingest path, on one core, and
measures each step next to two baselines on the same bytes, in the same run:

  (a) json.loads alone          the JSON decoding alone: the floor for any reader
  (b) Mastodon.py 2.3           StreamListener.handle_stream, typed (as shipped) and without its
                                casting: the baseline
  (c) parse                     relay's parse path, `relay.sources.sse.parse_stream`
  (d) parse → Post              plus `Post.from_status`, as `relay.sources.normalise` does for a new post
  (e) full path, new posts      plus what `relay run` does: the queue, then `Pipeline.handle_batch`
                                on up to 500 items (one SQLite transaction): dedupe, screen, store,
                                in a real WAL file in a temporary directory; "rejected" for the
                                direct message below, "accepted" for public #hoot posts in open
                                mode (each also gets its boost intent)
  (f) full path, already seen   the same posts again from a second instance: dedupe says duplicate
                                (what twenty instances delivering one post cost 19 times)
  (g) from k instances         the stream a relay watching the hashtag on k instances gets:
                                the accepted posts from the home instance, and each again from
                                k - 1 other instances' streams, a batch later (k = 2 and 3;
                                with -n below a batch, 500, the copies share the posts' batch)

Every event is a recorded ~2 KB status (Mastodon 4.6.4) with its id, uri and url counted up, so
that each is a distinct post, by one of `--authors` accounts (default 100; screening reads the
author's history from the store, and one author with thousands of posts, `--authors 1`, is a
different benchmark). The pipeline runs with `default_rules` and the relay's own logging at level
info (rendered as JSON to /dev/null), so log calls cost what they cost in production. `--dir` puts
the state file on another disk (the one the relay's will live on: the fsync of every commit is part
of the cost). `--blocks N` gives every state file N domain blocks made by moderators, as an
imported block list would (screening looks up the blocks covering each author's domain).

`--what-if` adds rows for the proposals in bench/README.md, measured without changing the relay;
`--profile` then profiles (e) rejected and (f): time per SQL statement, and cProfile of (f).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import queue
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    CASSETTE,
    HEARTBEAT_EVERY,
    PUBLIC_CASSETTE,
    Stage,
    Workload,
    build,
    json_only,
    mastodon_py,
    measure,
    public_posts,
    recorded_status,
    relay_events,
    relay_parse,
)

from relay.config.rules import default_rules
from relay.core.items import Item
from relay.core.post import Post
from relay.log import configure_logging
from relay.runtime.pipeline import Pipeline
from relay.runtime.relay import BATCH as RELAY_BATCH
from relay.sources import normalise
from relay.sources.sse import StreamEvent
from relay.store.store import Store

HOME = "home.example"  # the relay's home instance: it delivers every post first
OTHER = "other.example"  # a second instance delivering the same posts again
HASHTAGS = ("therapistsconnect", "hoot")  # the accepted posts are #hoot posts
AIM = 10_000  # events/s on one core, from the issue
BATCH = RELAY_BATCH  # items per transaction: what the main loop drains from its queue at once
LAG = BATCH  # how many posts later a post's copy arrives from the next instance (see `deliveries`)
INSTANCES = (2, 3)  # (g): each post from that many instances, measured
BLOCKS = 0  # moderators' domain blocks in every state file (--blocks): none of them covers an author

JSON, PARSE = "(a) json.loads alone", "(c) parse"
MASTODON, MASTODON_UNTYPED = "(b) Mastodon.py 2.3, typed", "(b) Mastodon.py 2.3, no casting"
POST, SEEN = "(d) parse → Post", "(f) full path, already seen"
NEW, ACCEPTED = "(e) full path, new posts, rejected", "(e) full path, new posts, accepted"


def federated_name(k: int) -> str:
    return f"(g) full path, each post from {k} instances"


def to_posts(w: Workload, source: str) -> Iterator[Post]:
    """What the stream handler in `relay.runtime.relay` makes of each `update` event from `source`."""
    for event in relay_events(w.writes):
        yield Post.from_status(event.data, source=source)


def parse_to_post(w: Workload) -> int:
    return sum(1 for _ in to_posts(w, HOME))


def deliveries(w: Workload, sources: Sequence[str], lag: int = LAG) -> Iterator[tuple[str, StreamEvent]]:
    """The events of `w` as the relay receives them from the streams of `sources`: each source's
    stream parsed on its own, every post from every source, the j-th source `j * lag` posts behind
    the first (as a post federates: later, and with `lag` = a batch, in a later batch)."""
    streams = [(source, relay_events(w.writes)) for source in sources]
    for t in range(w.events + (len(sources) - 1) * lag):
        for j, (source, stream) in enumerate(streams):
            if 0 <= t - j * lag < w.events:
                yield source, next(stream)


def ingest(
    pipeline: Pipeline,
    w: Workload,
    sources: Sequence[str],
    *,
    batch: int = BATCH,
    fast: bool = True,
) -> int:
    """The whole path as `relay run` takes it: in the source threads, `relay.sources.normalise` (the
    fast path for statuses the store already has, or else `Post.from_status`), put on the queue; in the
    main thread, `Pipeline.handle_batch` on up to `batch` items, as the loop drains its queue.
    `w` arrives from each of `sources` (see `deliveries`). `fast=False` and `batch=1` measure the
    path without those two (for `--what-if`)."""

    def items() -> Iterator[Item]:
        seen = pipeline.seen if fast else None
        for source, event in deliveries(w, sources):
            item = normalise.stream_event(event.name, event.data, source=source, seen=seen)
            assert item is not None  # the workload is well-formed
            yield item

    count = 0
    pending: queue.Queue[Item] = queue.Queue(maxsize=10_000)  # as `relay run`'s: source → store thread
    stream = items()
    while True:
        for item in itertools.islice(stream, batch):
            pending.put(item)
        chunk: list[Item] = []
        with contextlib.suppress(queue.Empty):
            while len(chunk) < batch:
                chunk.append(pending.get_nowait())
        if not chunk:
            return count
        pipeline.handle_batch(chunk)
        count += len(chunk)


@contextlib.contextmanager
def pipeline_in(
    directory: str | None, *, synchronous: str | None = None, mode: str = "review"
) -> Iterator[Pipeline]:
    """A pipeline over a new state file (WAL, migrated) in a temporary directory, with the default
    rules in `mode` (relay.toml's default, "review", holds what passes; "open" boosts it)."""
    with tempfile.TemporaryDirectory(prefix="relay-bench-", dir=directory) as tmp:
        store = Store.open(Path(tmp) / "state.sqlite3")
        with store.atomic():
            for n in range(BLOCKS):
                store.people.block(f"blocked-{n}.example", "bench", "mod@home.example")
        if synchronous is not None:  # --what-if only: the relay leaves SQLite's default (FULL)
            store._conn.execute(f"PRAGMA synchronous = {synchronous}")
        try:
            yield Pipeline(store, default_rules(HASHTAGS, mode=mode), home_host=HOME)
        finally:
            store.close()


@dataclass(frozen=True)
class Ingest:
    """One timed pass of the full path: `workload` from `source` into `pipeline`."""

    pipeline: Pipeline
    workload: Workload
    sources: tuple[str, ...]
    batch: int = BATCH
    fast: bool = True

    def __call__(self) -> int:
        return ingest(self.pipeline, self.workload, self.sources, batch=self.batch, fast=self.fast)


Prepare = Callable[[Workload], contextlib.AbstractContextManager[Ingest]]


def new_posts(directory: str | None, *, batch: int = BATCH, accepted: int | None = None) -> Prepare:
    """New posts: the workload's, or with `accepted` set (the authors), as many public #hoot posts."""

    @contextlib.contextmanager
    def prepare(w: Workload) -> Iterator[Ingest]:
        posts = w if accepted is None else public_posts(w.events, authors=accepted)
        with pipeline_in(directory, mode="review" if accepted is None else "open") as pipeline:
            yield Ingest(pipeline, posts, (HOME,), batch)

    return prepare


def federated(directory: str | None, instances: int, *, authors: int) -> Prepare:
    """The accepted public #hoot posts (as many as the workload's events) as a relay watching the
    hashtag on `instances` instances receives them: each from the home instance first, then from
    each other instance a batch later (see `deliveries`)."""

    @contextlib.contextmanager
    def prepare(w: Workload) -> Iterator[Ingest]:
        posts = public_posts(w.events, authors=authors)
        sources = (HOME, *(f"instance{j}.example" for j in range(1, instances)))
        with pipeline_in(directory, mode="open") as pipeline:
            yield Ingest(pipeline, posts, sources)

    return prepare


def seen_posts(
    directory: str | None, *, batch: int = BATCH, fast: bool = True, synchronous: str | None = None
) -> Prepare:
    @contextlib.contextmanager
    def prepare(w: Workload) -> Iterator[Ingest]:
        with pipeline_in(directory, synchronous=synchronous) as pipeline:
            ingest(pipeline, w, (HOME,))  # untimed: every post is stored and screened once
            yield Ingest(pipeline, w, (OTHER,), batch, fast)

    return prepare


def stages(n: int, directory: str | None, *, authors: int, what_if: bool = False) -> list[Stage]:
    slow = max(200, n // 20)  # Mastodon.py is two orders of magnitude slower
    stored = max(500, n // 10)  # the full path writes a file: a tenth of the events suffice
    measured = [
        Stage(JSON, json_only),
        Stage(MASTODON, mastodon_py(cast=True), slow // 4),
        Stage(MASTODON_UNTYPED, mastodon_py(cast=False), slow),
        Stage(PARSE, relay_parse(lambda w: w.writes)),
        Stage(POST, parse_to_post),
        Stage(NEW, events=stored, prepare=new_posts(directory)),
        Stage(ACCEPTED, events=stored, prepare=new_posts(directory, accepted=authors)),
        Stage(SEEN, events=stored, prepare=seen_posts(directory)),
        *(
            Stage(
                federated_name(k), events=stored, prepare=federated(directory, k, authors=authors), copies=k
            )
            for k in INSTANCES
        ),
    ]
    if what_if:  # what the fast path and group commit save, and what SQLite's durability costs
        measured += [
            Stage("(e′) new, one transaction per post", events=stored, prepare=new_posts(directory, batch=1)),
            Stage(
                "(f′) seen, no fast path, one per post",
                events=stored,
                prepare=seen_posts(directory, batch=1, fast=False),
            ),
            Stage(
                "(f′) seen, no fast path, batched",
                events=stored,
                prepare=seen_posts(directory, fast=False),
            ),
            Stage(
                "(f′) seen, synchronous=NORMAL",
                events=stored,
                prepare=seen_posts(directory, synchronous="NORMAL"),
            ),
        ]
    return measured


def verdicts(w: Workload, directory: str | None, mode: str = "review") -> str:
    """What the default rules in `mode` decide for the posts of `w` (each, for the path it takes)."""
    with pipeline_in(directory, mode=mode) as pipeline:
        ingest(pipeline, w, (HOME,))
        rows = pipeline.store._conn.execute("SELECT decision, reasons FROM posts").fetchall()
    found = collections.Counter(
        f"{decision} ({', '.join(r['rule'] for r in json.loads(reasons) if r['decision'] != 'accept')})"
        for decision, reasons in rows
    )
    return ", ".join(f"{n} {verdict}" for verdict, n in found.most_common()).replace(" ()", "")


def table(rates: dict[str, float], sizes: dict[str, int]) -> list[str]:
    """One row per stage: rate, cost, cost relative to json.loads, speed relative to Mastodon.py."""
    json_us, typed, untyped = 1e6 / rates[JSON], rates[MASTODON], rates[MASTODON_UNTYPED]
    width = max(len(name) for name in rates)
    lines = [
        f"  {'stage':<{width}} {'events/s':>9} {'µs/event':>9} {'cost ÷ json.loads':>18}"
        f" {'speed × Mastodon.py':>20} {'(no casting)':>13} {'n':>6}"
    ]
    for name, rate in rates.items():
        us = 1e6 / rate
        lines.append(
            f"  {name:<{width}} {rate:>9,.0f} {us:>9.1f} {us / json_us:>17.2f}×"
            f" {rate / typed:>19,.1f}× {rate / untyped:>12,.1f}× {sizes[name]:>6}"
        )
    return lines


def summary(rates: dict[str, float]) -> list[str]:
    parse_us, post_us = 1e6 / rates[PARSE], 1e6 / rates[POST]
    new_us, seen_us = 1e6 / rates[NEW], 1e6 / rates[SEEN]
    lines = [
        f"  a post already seen costs {seen_us / parse_us:.1f}× parsing it: {seen_us - parse_us:.0f} µs of"
        f" fast-path lookup and batched sighting on top of {parse_us:.0f} µs (no Post is made)",
        f"  a new post costs {new_us / parse_us:.1f}× parsing it: {new_us - post_us:.0f} µs of dedupe,"
        f" screen and store on top of parse → Post",
    ]
    for name in (NEW, ACCEPTED, SEEN, *map(federated_name, INSTANCES)):
        verdict = "met" if rates[name] >= AIM else "NOT met"
        lines.append(f"  aim ≥ {AIM:,} events/s on one core, {name[4:]}: {rates[name]:,.0f} ({verdict})")
    accepted_us = 1e6 / rates[ACCEPTED]
    mixes = ", ".join(f"{k}: {k * 1e6 / (accepted_us + (k - 1) * seen_us):,.0f}" for k in (2, 3, 5, 20))
    lines.append(
        f"  computed from (e) accepted and (f): events/s when every post arrives from k instances"
        f" (one new, k - 1 already seen), k = {mixes}"
    )
    return lines


class _TimedConnection:
    """Stands in for the store's sqlite3 connection and adds up the time of each statement."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.took: collections.defaultdict[str, float] = collections.defaultdict(float)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        began = time.perf_counter()
        try:
            return self.conn.execute(sql, *args)
        finally:
            self.took[" ".join(sql.split())[:72]] += time.perf_counter() - began

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def sql_profile(name: str, prepare: Prepare, w: Workload, top: int) -> None:
    """The time of each SQL statement the store runs during one pass, per event."""
    with prepare(w) as run:
        store = run.pipeline.store
        timed = _TimedConnection(store._conn)
        store._conn = timed  # type: ignore[assignment]
        try:
            began = time.perf_counter()
            run()
            took = time.perf_counter() - began
        finally:
            store._conn = timed.conn
    sql = sum(timed.took.values())
    print(f"\n{name}: {1e6 * took / w.events:.0f} µs/event, {1e6 * sql / w.events:.0f} µs of it in SQL:")
    for statement, seconds in sorted(timed.took.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {1e6 * seconds / w.events:7.1f} µs  {statement}")


def profile(w: Workload, directory: str | None, top: int) -> None:
    """Where the time of (e) and (f) goes: SQL statement by statement, then cProfile of (f)."""
    sql_profile(NEW, new_posts(directory), w, top)
    sql_profile(SEEN, seen_posts(directory), w, top)
    with seen_posts(directory)(w) as run:
        profiler = cProfile.Profile()
        profiler.enable()
        run()
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    print(f"\ncProfile of {SEEN} ({w.events} events), by cumulative time:")
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--events", type=int, default=20000, help="events in the stream (20000)")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="runs per stage; the best counts (3)")
    parser.add_argument("--authors", type=int, default=100, help="accounts the posts come from (100)")
    parser.add_argument(
        "--blocks", type=int, default=0, help="domain blocks moderators made, in every state file (0)"
    )
    parser.add_argument("--dir", help="where to put the temporary state file (default: the system temp dir)")
    parser.add_argument(
        "--what-if", action="store_true", help="also measure the proposals for a cheap duplicate"
    )
    parser.add_argument("--profile", action="store_true", help="then cProfile the already-seen path")
    parser.add_argument("--top", type=int, default=25, help="functions the profile lists (25)")
    args = parser.parse_args(argv)
    global BLOCKS  # the one setting every state file of this run shares
    BLOCKS = args.blocks

    # The relay's logging, at the production level, rendered and written to nowhere.
    configure_logging("info", json=True, stream=open(os.devnull, "w"))  # noqa: SIM115 (for the process)
    status_json = recorded_status()
    workload = build(status_json, args.events, distinct=True, authors=args.authors)
    sample = max(500, args.events // 10)
    public = public_posts(sample, authors=args.authors)
    direct = build(status_json, sample, distinct=True, authors=args.authors)
    print(
        f"status: {len(status_json.encode())} bytes of JSON (from {CASSETTE}); {args.events} distinct"
        f" posts by {args.authors} accounts, a heartbeat every {HEARTBEAT_EVERY}; best of {args.repeat};"
        f" Python {sys.version.split()[0]}; SQLite {sqlite3.sqlite_version};"
        f" state file under {args.dir or tempfile.gettempdir()}, with {args.blocks} domain blocks\n"
        f"default rules decide: for the status, {verdicts(direct, args.dir)};"
        f" for the public #hoot posts ({len(public.status_json.encode())} bytes, {PUBLIC_CASSETTE}),"
        f" in open mode, {verdicts(public, args.dir, 'open')}"
    )
    rates: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for stage in stages(args.events, args.dir, authors=args.authors, what_if=args.what_if):
        rates[stage.name] = measure(stage, workload, args.repeat)
        sizes[stage.name] = min(stage.events or args.events, args.events) * stage.copies
    print("\n".join(table(rates, sizes)))
    print("\n".join(summary(rates)))
    if args.profile:
        profile(build(status_json, sizes[SEEN], distinct=True, authors=args.authors), args.dir, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
