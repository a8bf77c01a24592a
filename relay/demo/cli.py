"""`relay demo`: start the sandbox, run the real relay on it, play the scenario, print the summary.

Exit codes: 0 every expectation met; 1 one was missed (the demo doubles as a smoke test);
2 the folder given with --dir cannot be used; 130 interrupted before the end.
"""

from __future__ import annotations

import argparse
import io
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from mastodon import MastodonError

from relay.demo.cast import HASHTAG, HEARTBEAT, INSTANCES, SABOTAGE, Cast, seed, write_config
from relay.demo.progress import Account, Check, Totals, keep_text, outcome, post_line, summary
from relay.demo.relaylog import PostFacts, RelayProcess
from relay.demo.scenario import Reality, Scenario
from relay.log import configure_logging
from relay.sandbox import Fediverse

READY_TIMEOUT = 20.0  # seconds for the relay to start and connect its streams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the scenario, keep the sandbox and the relay running and print URLs, tokens and "
        "ready-made curl commands to try it by hand, until Ctrl-C or SIGTERM",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="an empty folder for relay.toml, the tokens, the database and the logs "
        "(default: a new temporary folder, left in place so the logs can be read)",
    )
    parser.add_argument(
        "--sabotage",
        choices=sorted(SABOTAGE),
        default=None,
        help="testing aid: break one part on purpose ("
        + "; ".join(f"{name}: {what}" for name, (what, _) in sorted(SABOTAGE.items()))
        + ") and watch the demo name the missed expectations and exit 1",
    )


def run(args: argparse.Namespace) -> int:
    folder = _folder(args.dir)
    if folder is None:
        print(f"relay demo: --dir {args.dir} must be an empty folder (or not exist yet)", file=sys.stderr)
        return 2
    _readable_stdout()
    with _stop_on_signals() as stop, (folder / "sandbox.log").open("a", encoding="utf-8") as sandbox_log:
        # The sandbox runs in this process: its log goes to a file, the terminal gets the story.
        configure_logging("info", json=True, stream=sandbox_log)
        return Demo(folder, keep=args.keep, sabotage=args.sabotage, stop=stop).run()


class Demo:
    def __init__(self, folder: Path, *, keep: bool, sabotage: str | None, stop: threading.Event) -> None:
        self.folder = folder
        self.keep = keep
        self.sabotage = sabotage
        self.stop = stop
        self.started = time.monotonic()
        self._print_lock = threading.Lock()

    def out(self, line: str = "") -> None:
        with self._print_lock:
            print(line, flush=True)

    def run(self) -> int:
        with Fediverse(INSTANCES, heartbeat=HEARTBEAT) as fed:
            cast = seed(fed)
            config = write_config(self.folder, cast, sabotage=self.sabotage)
            self._header(cast)
            relay = RelayProcess(config, self.folder / "relay.log")
            relay.start()
            self.out(f"  relay   {' '.join(['python', *relay.command[1:]])}  (pid {relay.pid})")
            reality = Reality(cast, self.folder / "relay.sqlite3")
            try:
                return self._play(cast, relay, reality)
            except MastodonError as exc:  # the sandbox refused a scripted request: a bug, said plainly
                self.out(f"\n✗ a scripted request failed: {type(exc).__name__}: {exc}")
                return 1
            finally:
                reality.close()
                if relay.process is not None and relay.process.poll() is None:
                    relay.stop()

    def _header(self, cast: Cast) -> None:
        fed = cast.fed
        self.out("relay demo: a loopback fediverse, the real relay, a scripted scenario")
        roles = {
            "home": f"the bot @{cast.acct('relaybot')} boosts here; streamed",
            "remote": "streamed with a reader account's token",
            "third": "no token: its public tag timeline is polled",
        }
        for name in INSTANCES:
            self.out(f"  {name:<7} {fed[name].url:<24} {roles[name]}")
        self.out(f"  folder  {self.folder}  (relay.toml, relay.log: the relay's own JSON log)")
        if self.sabotage is not None:
            self.out(f"  SABOTAGED on purpose: {SABOTAGE[self.sabotage][0]}; expect missed expectations")

    def _play(self, cast: Cast, relay: RelayProcess, reality: Reality) -> int:
        def connected() -> bool:
            polled = relay.seen("fetch.done:poll") > 0
            return relay.seen("relay.ready") > 0 and polled and relay.seen("mentions.fetched") > 0

        if not relay.wait(connected, READY_TIMEOUT, abort=self.stop):
            if self.stop.is_set():
                return 130
            self.out(f"\n✗ the relay did not become ready within {READY_TIMEOUT:.0f} s; its log ends:")
            self.out(relay.tail())
            return 1
        ready = time.monotonic() - self.started
        self.out(f"  ready   after {ready:.1f} s: streams connected, third polled, DMs read")
        scenario = Scenario(cast, relay, reality, self.out, self.stop)
        scenario.play()
        if self.stop.is_set() and not self.keep:
            self.out("\nInterrupted.")
            return 130
        checks = list(scenario.checks)
        if not self.keep:
            checks.append(self._stop_relay(relay))
        totals = Totals(
            posts=tuple(relay.snapshot()),
            boost_seconds=tuple(scenario.boost_seconds),
            held=reality.queue([f.uri for f in relay.snapshot()]),
            never_seen=scenario.never_seen,
            checks=tuple(checks),
            ready_seconds=ready,
            total_seconds=time.monotonic() - self.started,
        )
        for line in summary(totals):
            self.out(line)
        if self.keep:
            checks.append(self._keep(cast, relay, reality))
        missed = [c for c in checks if not c.met]
        self.out(
            f"\nrelay demo: {len(missed)} expectation(s) missed (exit 1)"
            if missed
            else "\nrelay demo: every expectation met (exit 0)"
        )
        self.out(f"The relay's log: {self.folder / 'relay.log'}")
        return 1 if missed else 0

    def _stop_relay(self, relay: RelayProcess) -> Check:
        code = relay.stop()
        self.out(f"  relay stopped with SIGTERM: exit code {code}")
        return Check("stop", "the relay stops cleanly on SIGTERM (exit 0)", code == 0, f"exit code {code}")

    # -- --keep ----------------------------------------------------------------------------------

    def _keep(self, cast: Cast, relay: RelayProcess, reality: Reality) -> Check:
        printed = {f.uri: outcome(f) for f in relay.snapshot()}

        def on_change(facts: PostFacts) -> None:
            if facts.decision == "accept" and facts.boosted_at is None and facts.not_boosted is None:
                return  # the booster's line follows within a second
            if printed.get(facts.uri) == outcome(facts):
                return
            printed[facts.uri] = outcome(facts)
            text, created = cast.original(facts.uri) or (facts.uri, None)
            took = None
            if facts.boosted_at is not None and created is not None:
                took = (facts.boosted_at - created).total_seconds()
            held = reality.held_id(facts.uri) if facts.decision == "hold" else None
            where = f"{cast.instance_name(facts.source)} {facts.via}"
            self.out(post_line(facts.acct, text, where, outcome(facts, took=took, short_id=held)))

        relay.on_change = on_change
        urls = {name: cast.fed[name].url for name in INSTANCES}
        people = [p for p in cast.people.values() if p.username != "reader"]
        accounts = [
            Account(cast.acct(p.username), p.instance, p.role, cast.accounts[p.username].token)
            for p in people
        ]
        lines = keep_text(
            urls=urls,
            accounts=accounts,
            hashtag=HASHTAG,
            folder=str(self.folder),
            relay_pid=relay.pid,
        )
        for line in lines:
            self.out(line)
        self.out("\nWaiting; new posts appear below.")
        while not self.stop.wait(0.5):
            if relay.process is not None and relay.process.poll() is not None:
                self.out(f"\nThe relay ended by itself (exit code {relay.process.returncode}).")
                break
        relay.on_change = None
        self.out("\nStopping.")
        return self._stop_relay(relay)


def _folder(wanted: Path | None) -> Path | None:
    if wanted is None:
        return Path(tempfile.mkdtemp(prefix="relay-demo-"))
    if wanted.exists() and (not wanted.is_dir() or any(wanted.iterdir())):
        return None
    wanted.mkdir(parents=True, exist_ok=True)
    return wanted.resolve()


def _readable_stdout() -> None:
    """Arrows and ellipses on any terminal: characters it cannot show become '?', not a crash."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set one event that every wait in the demo watches."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
