"""``relay sandbox``: run a local fediverse until SIGTERM or SIGINT, printing URLs and tokens."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

import structlog

from relay.sandbox.fediverse import Fediverse
from relay.sandbox.flavours import FLAVOURS, Flavour, flavour_named

log = structlog.get_logger()


def _account_spec(value: str) -> tuple[str, str]:
    instance, sep, username = value.partition(":")
    if not sep or not instance or not username:
        raise argparse.ArgumentTypeError(f"expected INSTANCE:USERNAME, got {value!r}")
    return instance, username


def _flavour_spec(value: str) -> tuple[str, Flavour]:
    """``INSTANCE=KIND`` or ``INSTANCE=KIND:VERSION`` (the version string nodeinfo reports)."""
    instance, sep, kind = value.partition("=")
    name, _, version = kind.partition(":")
    if not sep or not instance or not name:
        raise argparse.ArgumentTypeError(f"expected INSTANCE=KIND[:VERSION], got {value!r}")
    try:
        return instance, flavour_named(name, version or None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        "--flavour",
        "-f",
        dest="flavours",
        action="append",
        default=[],
        type=_flavour_spec,
        metavar="INSTANCE=KIND[:VERSION]",
        help=f"the server an instance plays: {', '.join(FLAVOURS)} (default mastodon), optionally"
        " reporting VERSION in nodeinfo, e.g. home=gotosocial:v0.20.0-rc1 (repeatable)",
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between WebSocket pings (default: --heartbeat; Mastodon's is 30)",
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
    for option, given in (("--account", args.accounts), ("--flavour", args.flavours)):
        unknown = sorted({inst for inst, _ in given} - set(names))
        if unknown:
            print(f"relay sandbox: {option} names unknown instance(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Fediverse(
            names,
            heartbeat=args.heartbeat,
            port_base=args.port_base,
            flavours=dict(args.flavours),
            ping_interval=args.ping_interval,
        ) as fed:
            for instance in fed:
                instance.reorder_streams(args.reorder_streams)
                print(f"instance {instance.name} {instance.url}", flush=True)
                flavour = instance.flavour
                if flavour.name != "mastodon":
                    print(
                        f"flavour {instance.name} {flavour.name} {flavour.software} {flavour.version}",
                        flush=True,
                    )
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
