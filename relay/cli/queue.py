"""`relay queue -c relay.toml`: the posts held for review, oldest first (safe while the relay runs).

Reads the state file read-only. Moderators usually answer by DM (`queue`, `approve h42`); this is
the shell side of the same list, as a table or, with `--json`, for scripts.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from relay.cli.status import format_age
from relay.config.load import add_config_option, load_config
from relay.core.verdict import Decision
from relay.store.records import QueueItem
from relay.store.store import Store


def to_json(item: QueueItem, now: datetime) -> dict[str, Any]:
    """One held post as plain JSON data."""
    return {
        "id": item.short_id,
        "uri": item.uri,
        "url": item.url,
        "author": item.acct,
        "held_at": item.held_at.isoformat(),
        "age_seconds": round((now - item.held_at).total_seconds(), 1),
        "announced": item.announcement_id is not None,
        "reasons": [
            {"rule": r.rule, "decision": r.decision.value, "detail": r.detail} for r in item.verdict.reasons
        ],
    }


def render(items: list[QueueItem], now: datetime) -> str:
    """The held posts as an aligned table, oldest first, with every reason on its own line."""
    if not items:
        return "Nothing waits for review."
    rows = [("ID", "HELD", "AUTHOR", "LINK")]
    rows += [
        (i.short_id, f"{format_age((now - i.held_at).total_seconds())} ago", i.acct or "?", i.url or i.uri)
        for i in items
    ]
    widths = [max(len(r[n]) for r in rows) for n in range(3)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[n]) for n, cell in enumerate(row[:3])) + "  " + row[3])
        if index:
            item = items[index - 1]
            reasons = [r for r in item.verdict.reasons if r.decision is not Decision.ACCEPT]
            lines += [f"    {r.rule}: {r.detail}" for r in reasons or item.verdict.reasons]
    noun = "post waits" if len(items) == 1 else "posts wait"
    lines.append(f"{len(items)} {noun} for review. Moderators answer by DM: approve ID, reject ID [reason].")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, help="the relay's relay.toml")
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    now = datetime.now(UTC)
    with Store.open(config.state, readonly=True) as store:
        items = store.queue.pending()
    print(json.dumps([to_json(i, now) for i in items], indent=2) if args.json else render(items, now))
    return 0
