"""The benchmarks still run: each, on a few events (or posts), prints every row it promises.

Their figures are measured by hand (see bench/README.md) and never asserted: this only keeps the
one-command benchmarks from rotting as the code they measure changes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from paths import ROOT

INGEST_ROWS = (
    "(a) json.loads alone",
    "(b) Mastodon.py 2.3, typed",
    "(b) Mastodon.py 2.3, no casting",
    "(c) parse",
    "(d) parse → Post",
    "(e) full path, new posts, rejected",
    "(e) full path, new posts, accepted",
    "(f) full path, already seen",
    "(g) full path, each post from 2 instances",
    "(g) full path, each post from 3 instances",
)


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(out: str) -> dict[str, int]:
    """Each table row's name and its `n` (the events it handled), from the printed table."""
    found = {}
    for line in out.splitlines():
        match = re.match(r"^  (\(\w\).*?)\s+([\d,]+)\s+[\d.]+\s+[\d.]+×.*\s(\d+)$", line)
        if match:
            found[match.group(1)] = int(match.group(3))
    return found


def test_bench_ingest_prints_every_row_and_the_aim(tmp_path: Path) -> None:
    out = run_bench("bench_ingest.py", "-n", "40", "-r", "1", "--dir", str(tmp_path))
    handled = rows(out)
    assert list(handled) == list(INGEST_ROWS)
    # (g) counts every copy: each of the 40 posts from k instances.
    assert handled["(g) full path, each post from 2 instances"] == 80
    assert handled["(g) full path, each post from 3 instances"] == 120
    aims = re.findall(r"aim ≥ 10,000 events/s on one core, (.*): [\d,]+ \((met|NOT met)\)", out)
    assert [name for name, _ in aims] == [
        "full path, new posts, rejected",
        "full path, new posts, accepted",
        "full path, already seen",
        "full path, each post from 2 instances",
        "full path, each post from 3 instances",
    ]
    # The accepted rows measure what they say: the default rules in open mode accept every #hoot post.
    assert re.search(r"for the public #hoot posts .*, in open mode, (\d+) accept$", out, re.M)
    assert list(tmp_path.iterdir()) == []  # every state file it made is gone


def test_bench_stream_runs() -> None:
    out = run_bench("bench_stream.py", "-n", "40", "-r", "1")
    for row in (
        "json.loads alone",
        "relay parse_stream, one chunk per event",
        "relay parse_stream, 64 KiB reads",
        "Mastodon.py 2.3 handle_stream, no casting",
        "Mastodon.py 2.3 handle_stream, typed",
    ):
        assert re.search(rf"^  {re.escape(row)}\s+[\d,]+ events/s", out, re.M), row


def test_bench_backlog_prints_both_kinds_and_the_aim() -> None:
    out = run_bench("bench_backlog.py", "--limit", "24", "--period", "2", "--windows", "1")
    for kind in ("home stream", "another instance"):
        assert re.search(
            rf"^  {kind}\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+%\s+\d+\s+[\d.]+s  ", out, re.M
        ), kind
    assert re.search(r"^  aim ≥ 95% of the ceiling .*: (met|NOT met)$", out, re.M)


def test_bench_process_prints_every_phase_and_the_aim(tmp_path: Path) -> None:
    """The whole-process benchmark starts `relay run`, boosts the new posts, counts the duplicates
    and prints each phase beside json.loads, RSS and the aim; its temporary folder is gone after."""
    out = run_bench("bench_process.py", "-n", "300", "-m", "3", "-r", "2", "--dir", str(tmp_path))
    phases = re.findall(
        r"^  (new posts, accepted and boosted|duplicates, from a second instance)\s+(\d+)\s", out, re.M
    )
    assert phases == [
        ("new posts, accepted and boosted", "3"),
        ("duplicates, from a second instance", "300"),
        ("duplicates, from a second instance", "300"),
    ]
    assert re.search(r"^  json\.loads of the same payloads \(here\)\s+[\d.]+\s+1\.00×$", out, re.M)
    assert re.search(r"RSS over the duplicate rounds .*MB:( [\d.]+){6}$", out, re.M)  # start, middle, end × 2
    assert re.search(
        r"aim: a duplicate ≤ 3× json\.loads, whole process: [\d.]+ µs = [\d.]+× \((met|NOT met)\)", out
    )
    assert list(tmp_path.iterdir()) == []


def test_bench_process_over_websocket_runs(tmp_path: Path) -> None:
    """`--transport websocket`: the same phases, the relay reading both instances over WebSocket."""
    out = run_bench(
        "bench_process.py",
        "-n",
        "200",
        "-m",
        "2",
        "-r",
        "1",
        "--transport",
        "websocket",
        "--dir",
        str(tmp_path),
    )
    assert out.startswith("relay run over websocket")
    assert re.search(r"^  duplicates, from a second instance\s+200\s", out, re.M)
    assert re.search(r"^  decode_message of the same bytes \(here\)\s+[\d.]+\s+[\d.]+×$", out, re.M)


def test_bench_websocket_prints_both_readers_and_the_ratio() -> None:
    out = run_bench("bench_websocket.py", "-n", "20", "--pace", "1", "--burst", "50")
    for reader in ("SSE (StreamReader)", "WebSocket (WebSocketReader)"):
        assert re.search(rf"^  {re.escape(reader)}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d,]+\s+[\d.]+×$", out, re.M)
    assert re.search(r"^  WebSocket ÷ SSE: p50 [\d.]+×, mean [\d.]+×, burst rate [\d.]+×$", out, re.M)
