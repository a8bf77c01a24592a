"""`relay audit -c relay.toml`: every decision and moderator action, oldest first (read-only).

Filters: `--since` (an ISO date or time, or an age like 30m, 12h, 7d), `--actor` (`relay` or a
moderator's user@domain), `--post` (a post's uri, or its review id like h42), `--limit` (the
newest N rows). Prints a table, or JSON lines with `--json`.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.config.load import add_config_option, load_config
from relay.core.accounts import norm_acct
from relay.core.ids import parse_time
from relay.errors import InputError
from relay.store.records import AuditRow
from relay.store.store import Store

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> datetime:
    """`7d`, `12h`, `30m` before `now`, or an ISO-8601 date or time (UTC unless it says otherwise)."""
    text = text.strip()
    if match := _AGE.fullmatch(text.lower()):
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    when = parse_time(text)
    if when is None:
        raise InputError(
            f"--since {text!r} is neither an age nor a date",
            fix="write an age like 30m, 12h or 7d, or a date like 2026-08-01 or 2026-08-01T12:00",
        )
    return when


def to_json(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "detail": row.detail,
        "uri": row.uri,
    }


def render(rows: list[AuditRow]) -> str:
    """The rows as an aligned table: time (UTC), actor, action, target, then detail and post."""
    if not rows:
        return "No audit rows match."
    table = [("AT (UTC)", "ACTOR", "ACTION", "TARGET", "DETAIL / POST")]
    for r in rows:
        rest = " ".join(filter(None, (r.detail, f"<{r.uri}>" if r.uri else None)))
        table.append((f"{r.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}", r.actor, r.action, r.target or "-", rest))
    widths = [max(len(row[n]) for row in table) for n in range(4)]
    return "\n".join(
        "  ".join(c.ljust(widths[n]) for n, c in enumerate(row[:4])) + "  " + row[4] for row in table
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, help="the relay's relay.toml")
    parser.add_argument("--since", help="only rows from then on: an age (30m, 12h, 7d) or an ISO date/time")
    parser.add_argument("--actor", help="only rows by this actor: relay, or a moderator's user@domain")
    parser.add_argument("--post", help="only rows about this post: its uri, or its review id (h42)")
    parser.add_argument("--limit", type=int, default=None, help="only the newest N rows")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    now = datetime.now(UTC)
    since = None if args.since is None else parse_since(args.since, now)
    actor = None if args.actor is None else (args.actor if args.actor == "relay" else norm_acct(args.actor))
    with Store.open(config.state, readonly=True) as store:
        uri = args.post
        if uri is not None and re.fullmatch(r"[hH]\d+", uri.strip()):
            item = store.queue.queue_item(uri)
            if item is None:
                raise InputError(f"--post {uri}: no such review id", fix="`relay queue` lists the held posts")
            uri = item.uri
        rows = store.audit_log.audit_rows(since=since, actor=actor, uri=uri, limit=args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(to_json(row)))
    else:
        print(render(rows))
    return 0
