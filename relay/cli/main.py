"""The `relay` command: one subcommand per job, each implemented in its own module.

A subcommand module offers `add_arguments(parser)` and `run(args) -> int`; this file only builds
the parser, sets up logging, and turns a `RelayError` into one clear message and its exit code
(0 done, 1 runtime failure, 2 configuration or credentials: see docs/deploy.md).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from relay import __version__
from relay.config.load import LOG_LEVELS
from relay.errors import RelayError
from relay.log import configure_logging


@dataclass(frozen=True, slots=True)
class Subcommand:
    name: str
    module: str | None  # None: not available in this version yet
    summary: str
    description: str


SUBCOMMANDS = (
    Subcommand(
        "run",
        "relay.runtime.relay",
        "run the relay: listen, screen, boost",
        "Listen to the watched hashtags on every configured instance, screen each post and boost "
        "the accepted ones from the home account, until SIGTERM or Ctrl-C.",
    ),
    Subcommand(
        "check",
        "relay.cli.check",
        "verify a configuration before going live",
        "Check the configuration, the tokens, every source and the bot account, and print a checklist.",
    ),
    Subcommand(
        "demo",
        "relay.demo.cli",
        "run the whole relay on a local sandbox fediverse",
        "Start a local sandbox fediverse, run the real relay against it and play a scripted scenario.",
    ),
    Subcommand(
        "sandbox",
        "relay.sandbox.cli",
        "run a local Mastodon-compatible sandbox fediverse",
        "Start several Mastodon-compatible instances on loopback ports, print their URLs and tokens, "
        "and keep them running until Ctrl-C or SIGTERM. For trying the relay by hand.",
    ),
    Subcommand(
        "replay",
        "relay.cli.replay",
        "screen a file of statuses offline",
        "Screen a file of Mastodon statuses (a JSON array as returned by the tag timeline, or JSON "
        "lines) with the rules of a configuration, without network and without touching the database, "
        "and print a verdict per post and a summary. For tuning rules before going live.",
    ),
    Subcommand(
        "queue",
        "relay.cli.queue",
        "list posts held for review",
        "List the posts waiting for a moderator, oldest first.",
    ),
    Subcommand(
        "audit",
        "relay.cli.audit",
        "print the audit log",
        "Print every decision and moderator action, filtered by time, actor or post.",
    ),
    Subcommand(
        "directory",
        "relay.cli.directory",
        "the community directory: list, CSV, web page",
        "List the people who joined the directory by DM; --csv prints the follow-import CSV for "
        "Mastodon, --html DIR writes the static page and the CSV.",
    ),
    Subcommand(
        "login",
        "relay.cli.login",
        "get a token for an instance",
        "Register the relay with an instance, authorise it in a browser and write the token file (0600).",
    ),
    Subcommand(
        "init",
        "relay.cli.init",
        "set up a new relay: log in, write relay.toml, check it",
        "Ask for (or take as flags) the home instance, hashtags, moderators and consent mode; log in as "
        "the bot; write a commented NAME.toml; run relay check; print the systemd commands that start it.",
    ),
    Subcommand(
        "digest",
        "relay.cli.digest",
        "preview the weekly digest",
        "Print the next weekly digest ([digest] in relay.toml) as the bot would post it, without posting.",
    ),
    Subcommand(
        "status",
        "relay.cli.status",
        "summarise a relay's health",
        "Print each source's state, the queue and the last day's verdicts from the database.",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relay",
        description="A self-hosted fediverse hashtag boost relay with moderation by direct message.",
    )
    parser.add_argument("--version", action="version", version=f"relay {__version__}")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        help="log verbosity (default: the configuration's [log] level, else info)",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default="auto",
        help="auto: JSON lines unless stderr is a terminal (default)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for sub in SUBCOMMANDS:
        sub_parser = commands.add_parser(sub.name, help=sub.summary, description=sub.description)
        if sub.module is not None:
            importlib.import_module(sub.module).add_arguments(sub_parser)
        sub_parser.set_defaults(subcommand=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sub: Subcommand = args.subcommand
    json_logs = {"auto": None, "json": True, "console": False}[args.log_format]
    configure_logging(args.log_level or "info", json=json_logs)
    if sub.module is None:
        print(f"relay {sub.name}: not available in relay {__version__} yet", file=sys.stderr)
        return 1
    try:
        return int(importlib.import_module(sub.module).run(args))
    except RelayError as exc:
        # One structured line with the fix, never a traceback: the journal and a terminal both read it.
        structlog.get_logger().error(f"{sub.name}.failed", error=exc.message, fix=exc.fix)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
