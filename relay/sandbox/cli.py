"""``relay sandbox``: run a local fediverse until SIGTERM or SIGINT, printing URLs and tokens."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

import structlog

from relay.sandbox.fediverse import Fediverse

log = structlog.get_logger()


def _account_spec(value: str) -> tuple[str, str]:
    instance, sep, username = value.partition(":")
    if not sep or not instance or not username:
        raise argparse.ArgumentTypeError(f"expected INSTANCE:USERNAME, got {value!r}")
    return instance, username


def _hold(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instance",
        "-i",
        dest="instances",
        action="append",
        metavar="NAME",
        help="an instance to start (repeatable; default: home and remote)",
    )
    parser.add_argument(
        "--account",
        "-a",
        dest="accounts",
        action="append",
        default=[],
        type=_account_spec,
        metavar="INSTANCE:USERNAME",
        help="seed a local account and print its token (repeatable)",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds between :thump heartbeats on streams (default 15)",
    )
    parser.add_argument(
        "--reorder-streams",
        type=_hold,
        default=None,
        metavar="SECONDS",
        help="deliver stream events out of order as Mastodon's streaming server does: deletes at once,"
        " each update held SECONDS to twice SECONDS (default: in order)",
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        metavar="PORT",
        help="first port to listen on (then +1 per instance); default: free ports",
    )


def run(args: argparse.Namespace) -> int:
    names: list[str] = args.instances or ["home", "remote"]
    unknown = sorted({inst for inst, _ in args.accounts} - set(names))
    if unknown:
        print(f"relay sandbox: --account names unknown instance(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Fediverse(names, heartbeat=args.heartbeat, port_base=args.port_base) as fed:
            for instance in fed:
                instance.reorder_streams(args.reorder_streams)
                print(f"instance {instance.name} {instance.url}", flush=True)
            for instance_name, username in args.accounts:
                seeded = fed[instance_name].create_account(username)
                print(f"account {seeded.acct} instance={instance_name} token={seeded.token}", flush=True)
            print("ready", flush=True)
            stop.wait()
            log.info("sandbox.stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relay sandbox", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
