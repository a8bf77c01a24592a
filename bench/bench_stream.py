"""How fast can relay take statuses off a Mastodon stream? Run: python bench/bench_stream.py

Builds an SSE byte stream of N `update` events carrying a real ~2 KB status recorded from
Mastodon 4.6.4 (with a `:thump` heartbeat every 20 events), then measures on one core:

  json.loads           the JSON decoding alone (a floor for any parser)
  relay parse_stream   the reader's real parse path (sseclient-py + orjson + shape checks),
                       fed from memory as the server writes (one chunk per event) and in 64 KiB
                       reads (what `read1` returns when events queue up)
  Mastodon.py          2.3's StreamListener.handle_stream over the same bytes, with and without
                       its typed casting (try_cast_recurse replaced by the identity)

The workload, the baseline stages and the timer are in `bench/common.py`; the whole ingest path
(parse → Post → dedupe → screen → store) is measured by `bench/bench_ingest.py`.
"""

from __future__ import annotations

import argparse
import sys

from common import (
    CASSETTE,
    HEARTBEAT_EVERY,
    READ_SIZE,
    Stage,
    build,
    json_only,
    mastodon_py,
    measure,
    reads_of,
    recorded_status,
    relay_parse,
)


def stages(n: int) -> list[Stage]:
    slow = max(200, n // 20)
    return [
        Stage("json.loads alone", json_only),
        Stage("relay parse_stream, one chunk per event", relay_parse(lambda w: w.writes)),
        Stage("relay parse_stream, 64 KiB reads", relay_parse(lambda w: reads_of(w.stream, READ_SIZE))),
        Stage("Mastodon.py 2.3 handle_stream, no casting", mastodon_py(cast=False), slow),
        Stage("Mastodon.py 2.3 handle_stream, typed", mastodon_py(cast=True), slow // 4),
    ]


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
    workload = build(status_json, args.events)
    rates: dict[str, float] = {}
    for stage in stages(args.events):
        rate = measure(stage, workload, args.repeat)
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
