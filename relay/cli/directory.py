"""`relay directory -c relay.toml`: the community directory (safe while the relay runs).

Reads the state file read-only. Without options it lists the members; `--csv` prints the
follow-import CSV that Mastodon's Preferences → Import and export → Import takes as a "Following
list"; `--html DIR` writes the static page (`index.html`) and that CSV (`directory.csv`, which the
page links to) into DIR, as `relay run` does into `[directory] html_dir` whenever members change.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from relay.config.load import add_config_option, load_config
from relay.core.directory import CSV_NAME, PAGE_NAME, follow_csv
from relay.runtime.directory import write_files
from relay.store.records import Member
from relay.store.store import Store


def render(members: list[Member]) -> str:
    """The members as a table, in the order they joined."""
    if not members:
        return "Nobody is in the directory. People join by sending the bot `join` by DM."
    rows = [("JOINED", "HANDLE", "INTRODUCTION")]
    for m in members:
        intro = m.intro_url or m.intro_uri or "(bio)"
        rows.append((f"{m.joined_at:%Y-%m-%d}", m.acct, intro))
    widths = [max(len(r[n]) for r in rows) for n in range(2)]
    lines = ["  ".join((r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2])) for r in rows]
    noun = "member" if len(members) == 1 else "members"
    return "\n".join([*lines, f"{len(members)} {noun}."])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, help="the relay's relay.toml")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--csv", action="store_true", help="print the follow-import CSV for Mastodon")
    what.add_argument("--html", type=Path, metavar="DIR", help=f"write {PAGE_NAME} and {CSV_NAME} into DIR")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with Store.open(config.state, readonly=True) as store:
        if args.html is not None:
            write_files(args.html, config.directory_title, store, datetime.now(UTC))
            count = len(store.members.listed())
            print(f"Wrote {args.html / PAGE_NAME} and {args.html / CSV_NAME} ({count} members).")
            return 0
        members = store.members.listed()
    if args.csv:
        sys.stdout.write(follow_csv(m.acct for m in members))
    else:
        print(render(members))
    return 0
