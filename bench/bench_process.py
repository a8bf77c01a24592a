"""What does the real `relay run` process cost per event? Run: python bench/bench_process.py

Starts the sandbox fediverse (relay/sandbox: a home instance and a second one, on loopback, in
this process) and the real `relay run` process against it (tests/relayproc.py writes its
relay.toml: the home instance's hashtag stream, the second instance's hashtag stream, the bot's
notification stream, open mode), then measures the relay from outside, by its CPU time in
/proc/PID/stat (user + system, every thread, the kernel's work for its sockets and fsyncs
included) and its memory in /proc/PID/status, in phases:

  new posts    M public posts with the hashtag, each by its own author, posted on the home
               instance (cut off from the second one, so that each arrives once): the relay
               reads each from the home stream, screens, stores, and boosts it (the REST
               reblog); the phase ends when the state file holds M done boosts
  duplicates   N `update` events of those posts, as the second instance's stream would carry
               them (its own ids, the same uris), written on the relay's subscription there one
               HTTP chunk each as Mastodon's streaming server writes them, as fast as the relay
               takes them; the phase ends when the state file counts N events from that source.
               Run `-r` times; RSS is read at the start, the middle and the end of each round

and next to them, in this process and the same run, on the same payloads: `json.loads` (the
floor for any reader, the baseline) and `relay.sources.sse.parse_stream` over the same bytes
(the stream parser alone, as `bench_stream.py` measures it), both as CPU time of this thread.

Waits are on conditions (the relay's log, the state file, the sandbox's streams), never sleeps.
Other processes on the machine do not change CPU time much, but they do change events/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))  # tests/relayproc.py starts `relay run` the way the e2e tests do

from relayproc import HASHTAG, RelayProcess, wait_for

from relay.log import configure_logging
from relay.sandbox import Fediverse, Instance
from relay.sandbox.ratelimit import Budget, RateLimits
from relay.sandbox.streaming import Subscription
from relay.sources.sse import StreamEvent, parse_stream
from relay.sources.websocket import decode_message

TICK = os.sysconf("SC_CLK_TCK")
AIM = 3.0  # a duplicate event costs at most this many times `json.loads` of its payload
UNLIMITED = RateLimits(api=Budget(10**9, 300.0), paging=Budget(10**9, 900.0))


# -- the relay seen from outside -------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """A process's CPU time so far (seconds, every thread, live or ended) and its memory (bytes)."""

    user: float
    system: float
    main: float  # of which the main thread (the pipeline, the booster, moderation)
    rss: int
    peak_rss: int

    @property
    def cpu(self) -> float:
        return self.user + self.system


def _times(stat: Path) -> tuple[float, float]:
    """utime and stime (fields 14 and 15) of /proc/.../stat, in seconds."""
    text = stat.read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces: fields start after it
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def usage(pid: int) -> Usage:
    user, system = _times(Path(f"/proc/{pid}/stat"))
    main = sum(_times(Path(f"/proc/{pid}/task/{pid}/stat")))
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0]) * 1024
    return Usage(user, system, main, memory["VmRSS"], memory["VmHWM"])


@dataclass(frozen=True)
class Phase:
    name: str
    events: int
    cpu: float  # seconds
    user: float
    system: float
    main: float
    wall: float
    rss: tuple[int, ...] = ()  # bytes: start, middle, end

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu / self.events


@contextlib.contextmanager
def measured(
    pid: int, name: str, events: int, out: list[Phase], rss: list[int] | None = None
) -> Iterator[None]:
    before, began = usage(pid), time.perf_counter()
    yield
    wall, after = time.perf_counter() - began, usage(pid)
    samples = (before.rss, *(rss or ()), after.rss)
    out.append(
        Phase(
            name,
            events,
            after.cpu - before.cpu,
            after.user - before.user,
            after.system - before.system,
            after.main - before.main,
            wall,
            samples,
        )
    )


def state_count(path: Path, sql: str, params: tuple[object, ...] = ()) -> int:
    """One number from the relay's state file, read as any other reader would (WAL: no blocking)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        return int(db.execute(sql, params).fetchone()[0] or 0)


# -- the workloads ---------------------------------------------------------------------------------


def post_new(fed: Fediverse, count: int) -> list[str]:
    """`count` public posts with the hashtag on the home instance, each by its own author; their ids."""
    home = fed["home"]
    ids = []
    for i in range(count):
        author = home.create_account(f"author{i}")
        ids.append(home.post(author, f"Hello, I am author {i}, a therapist in town number {i} #{HASHTAG}"))
    return ids


def copies_from(home: Instance, ids: list[str]) -> list[str]:
    """Each status as a second instance's stream carries it: its JSON as the home instance renders
    it, with the second instance's own id (the uri, which the relay knows it by, stays)."""
    import requests

    payloads = []
    for n, status_id in enumerate(ids):
        response = requests.get(f"{home.url}/api/v1/statuses/{status_id}", timeout=10)
        response.raise_for_status()
        status = response.json()
        status["id"] = str(900_000_000_000_000_000 + n)
        payloads.append(json.dumps(status, separators=(",", ":"), ensure_ascii=False))
    return payloads


def frames(sub: Subscription, payloads: list[str], count: int) -> list[bytes | str]:
    """`count` `update` events cycling through `payloads`, one frame each as `sub` carries them
    (SSE bytes, or a WebSocket message), shared."""
    once = [sub.encode("update", p) for p in payloads]
    return [once[i % len(once)] for i in range(count)]


def cpu_per_event(work: Callable[[], int], repeat: int) -> float:
    """The least CPU time (this thread's) per event of `work` over `repeat` runs, in µs."""
    best = float("inf")
    for _ in range(repeat):
        began = time.thread_time()
        handled = work()
        best = min(best, (time.thread_time() - began) / handled)
    return best * 1e6


def json_loads(payloads: list[str], count: int) -> Callable[[], int]:
    def run() -> int:
        loads = json.loads
        for i in range(count):
            loads(payloads[i % len(payloads)])
        return count

    return run


def parsed(chunks: list[bytes]) -> Callable[[], int]:
    """`parse_stream` over SSE bytes (over WebSocket messages: `decode_message` of each)."""

    def run() -> int:
        return sum(1 for event in parse_stream(chunks) if isinstance(event, StreamEvent))

    return run


def decoded(messages: list[str]) -> Callable[[], int]:
    def run() -> int:
        return sum(1 for m in messages if isinstance(decode_message(m), tuple))

    return run


# -- the run ---------------------------------------------------------------------------------------


def subscription_on(instance: Instance, channel: str) -> Subscription:
    subs = wait_for(
        lambda: [s for s in instance.hub.subscriptions() if s.channel == channel],
        timeout=20,
        what=f"the relay's {channel} stream on {instance.name}",
    )
    return subs[0]


def duplicates(
    pid: int, sub: Subscription, stream: list[bytes | str], counted: Callable[[], int], out: list[Phase]
) -> None:
    """One round: write `stream` on the relay's subscription, wait until the relay has counted
    every event in its state file; RSS is read again when it has counted half of them."""
    start, events = counted(), len(stream)
    middle: list[int] = []

    def done() -> bool:
        seen = counted()
        if not middle and seen >= start + events // 2:
            middle.append(usage(pid).rss)
        return seen >= start + events

    with measured(pid, "duplicates, from a second instance", events, out, middle):
        for frame in stream:
            sub.queue.put(frame)
        wait_for(done, timeout=60 + events * 0.001, what=f"{events} duplicates counted")


def run(args: argparse.Namespace, folder: Path) -> tuple[list[Phase], dict[str, float], int]:
    phases: list[Phase] = []
    with Fediverse(["home", "second"], heartbeat=15.0, rate_limits=UNLIMITED) as fed:
        bot = fed["home"].create_account("relaybot", bot=True)
        watcher = fed["second"].create_account("watcher")
        transports = dict.fromkeys(("home", "second"), args.transport)
        relay = RelayProcess(
            folder, fed, bot, streamed=(("second", watcher),), read_timeout=60.0, transports=transports
        )
        with relay:
            assert relay.process is not None
            pid = relay.process.pid
            if args.cpu is not None:
                for task in os.listdir(f"/proc/{pid}/task"):  # every thread (all started by now)
                    os.sched_setaffinity(int(task), {args.cpu})
            second_source = f"127.0.0.1:{fed['second'].port}"
            sub = subscription_on(fed["second"], "hashtag")
            subscription_on(fed["home"], "hashtag")
            wait_for(
                lambda: sum(1 for e in relay.logs() if e.get("event") == "fetch.done") >= 2,
                timeout=20,
                what="the catch-up of both instances",
            )

            # New posts: each arrives once (from the home stream), is screened, stored and boosted.
            fed.partition("home", "second")
            with measured(pid, "new posts, accepted and boosted", args.new, phases):
                ids = post_new(fed, args.new)
                wait_for(
                    lambda: (
                        state_count(
                            relay.state,
                            "SELECT count(*) FROM journal WHERE kind = 'boost' AND state = 'done'",
                        )
                        >= args.new
                    ),
                    timeout=60 + args.new * 0.2,
                    what=f"{args.new} boosts done",
                )
            payloads = copies_from(fed["home"], ids)

            # Duplicates: the same posts again, from the second instance's stream.
            def from_second() -> int:
                return state_count(
                    relay.state, "SELECT sum(count) FROM source_days WHERE source = ?", (second_source,)
                )

            stream = frames(sub, payloads, args.events)
            for _ in range(args.repeat):
                duplicates(pid, sub, stream, from_second, phases)
            code = relay.stop()
            if code != 0:
                raise SystemExit(f"relay run exited with {code}:\n{relay.log_text()[-3000:]}")
    baselines = {
        "json.loads": cpu_per_event(json_loads(payloads, args.events), args.repeat),
        "parse": cpu_per_event(
            decoded([str(m) for m in stream])
            if args.transport == "websocket"
            else parsed([m for m in stream if isinstance(m, bytes)]),
            args.repeat,
        ),
        "payload bytes": sum(len(p.encode()) for p in payloads) / len(payloads),
    }
    return phases, baselines, pid


def report(args: argparse.Namespace, phases: list[Phase], baselines: dict[str, float]) -> None:
    loads = baselines["json.loads"]
    print(
        f"relay run over {args.transport}, measured from outside (/proc): {args.new} new posts,"
        f" then {args.events} duplicates"
        f" × {args.repeat}; payload {baselines['payload bytes']:,.0f} bytes of JSON (a sandbox status);"
        f" Python {sys.version.split()[0]}"
    )
    print(
        f"  {'phase':<40} {'events':>7} {'events/s':>9} {'CPU µs/event':>13} {'(user':>8} {'+ sys)':>7}"
        f" {'main':>6} {'others':>7} {'÷ json.loads':>13}"
    )
    for p in phases:
        print(
            f"  {p.name:<40} {p.events:>7} {p.events / p.wall:>9,.0f} {p.cpu_us:>13,.1f}"
            f" {1e6 * p.user / p.events:>8,.1f} {1e6 * p.system / p.events:>7,.1f}"
            f" {1e6 * p.main / p.events:>6,.1f} {1e6 * (p.cpu - p.main) / p.events:>7,.1f}"
            f" {p.cpu_us / loads:>12.2f}×"
        )
    print(
        f"  {'json.loads of the same payloads (here)':<40} {'':>7} {'':>9} {loads:>13,.1f} {'':>16}"
        f" {1:>12.2f}×"
    )
    parse = baselines["parse"]
    parser = "decode_message" if args.transport == "websocket" else "parse_stream"
    print(
        f"  {parser + ' of the same bytes (here)':<40} {'':>7} {'':>9} {parse:>13,.1f} {'':>16}"
        f" {parse / loads:>12.2f}×"
    )
    dups = [p for p in phases if p.name.startswith("duplicates")]
    if dups:
        mb = [f"{r / 2**20:.1f}" for p in dups for r in p.rss]
        print(f"  RSS over the duplicate rounds (start, middle, end of each), MB: {' '.join(mb)}")
        best = min(p.cpu_us for p in dups)
        verdict = "met" if best <= AIM * loads else "NOT met"
        print(
            f"  aim: a duplicate ≤ {AIM:g}× json.loads, whole process: {best:,.1f} µs ="
            f" {best / loads:.2f}× ({verdict})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--events", type=int, default=20000, help="duplicate events per round (20000)")
    parser.add_argument("-m", "--new", type=int, default=200, help="new posts, each boosted (200)")
    parser.add_argument("-r", "--repeat", type=int, default=3, help="rounds of duplicates (3)")
    parser.add_argument("--cpu", type=int, help="pin the relay to this CPU (as taskset would)")
    parser.add_argument(
        "--transport",
        choices=("sse", "websocket"),
        default="sse",
        help="how the relay reads both instances (relay.toml's transport; sse)",
    )
    parser.add_argument("--dir", help="where the relay's folder and state file go (the system temp dir)")
    args = parser.parse_args(argv)
    configure_logging("warning")  # the sandbox's own log lines (this process), not the relay's
    with tempfile.TemporaryDirectory(prefix="bench-process-", dir=args.dir) as folder:
        phases, baselines, _ = run(args, Path(folder))
    report(args, phases, baselines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
