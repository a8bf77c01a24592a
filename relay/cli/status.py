"""`relay status -c relay.toml`: how a relay is doing, read from its database (safe while it runs).

Opens the state file read-only (SQLite WAL: the running relay keeps writing), gathers a frozen
`Summary`, and prints it for a person or, with `--json`, for a script. Nothing is written and no
instance is contacted.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from relay.config.load import Config, add_config_option, load_config
from relay.runtime.service import REPORT_EVERY as STALE_AFTER
from relay.runtime.service import STREAMS_SETTING
from relay.store.anchors import AnchorCounts
from relay.store.store import Store

PAUSED = "PAUSED (a moderator sent `pause`; `resume` continues)"


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One source: configured or not, its last event (seconds ago; None: never) and events today."""

    name: str
    configured: bool
    last_event_age: float | None
    today: int


@dataclass(frozen=True, slots=True)
class StreamLine:
    """One stream as the running relay last reported it (every few seconds)."""

    name: str
    connected: bool
    last_event_age: float | None  # seconds before the report; None: no event yet
    error: str | None


@dataclass(frozen=True, slots=True)
class MethodLine:
    """How the running relay reads one source (`relay.core.transport`): sse, websocket or rest."""

    source: str
    method: str
    shape: str
    reason: str
    interval: float | None  # seconds between REST polls; None for a stream


@dataclass(frozen=True, slots=True)
class IntentLine:
    """An open entry of the boost journal: written before a call whose outcome is not recorded."""

    kind: str
    uri: str
    age: float


@dataclass(frozen=True, slots=True)
class AnchorLine:
    """One anchor post: how its replies are read, how many the relay has seen and boosted now."""

    url: str
    replies_scope: str  # "direct" | "thread"
    interval: float
    configured: bool
    replies: int
    boosted: int


@dataclass(frozen=True, slots=True)
class Summary:
    config: str
    state: str
    now: str  # ISO-8601 UTC: when the figures were read
    paused: bool
    queue_length: int
    boosts_24h: int
    verdicts_24h: dict[str, int]  # decision → posts (each post with its last verdict)
    reasons_24h: dict[str, int]  # rule → posts it gave a reason for
    sources: tuple[SourceLine, ...]
    open_intents: tuple[IntentLine, ...]
    streams: tuple[StreamLine, ...] = ()
    streams_reported_age: float | None = None  # seconds since the relay last reported; None: never
    anchors: tuple[AnchorLine, ...] = ()
    methods: tuple[MethodLine, ...] = ()  # how the running relay reads each source, and why


def summarise(config: Config, store: Store, now: datetime) -> Summary:
    """Read everything `relay status` shows from `store` as of `now`."""
    stats = store.statistics.stats(now)
    seen = {s.source: s for s in stats.sources}
    configured = [i.host for i in (config.home, *config.sources)]
    names = configured + sorted(set(seen) - set(configured))
    sources = tuple(
        SourceLine(
            name=name,
            configured=name in configured,
            last_event_age=(now - seen[name].last_seen).total_seconds() if name in seen else None,
            today=seen[name].today if name in seen else 0,
        )
        for name in names
    )
    intents = tuple(
        IntentLine(kind=e.kind, uri=e.uri, age=(now - e.created_at).total_seconds())
        for e in store.boosts.unfinished_intents()
    )
    report = _stream_report(store.settings.get_setting(STREAMS_SETTING))
    streams = tuple(
        StreamLine(str(r["name"]), bool(r["connected"]), r.get("last_event_age"), r.get("error"))
        for r in report.get("streams", [])
    )
    methods = tuple(
        MethodLine(str(m["source"]), str(m["method"]), str(m["shape"]), str(m["reason"]), m.get("interval"))
        for m in report.get("sources", [])
    )
    reported = report.get("at")
    counts = store.anchors.counts()
    anchors = tuple(
        AnchorLine(a.url, a.replies, a.interval, True, *_counted(counts.pop(a.url, None)))
        for a in config.anchors
    ) + tuple(AnchorLine(url, "", 0.0, False, c.replies, c.boosted) for url, c in sorted(counts.items()))
    return Summary(
        anchors=anchors,
        streams=streams,
        methods=methods,
        streams_reported_age=None if reported is None else max(now.timestamp() - float(reported), 0.0),
        config=str(config.path),
        state=str(config.state),
        now=now.astimezone(UTC).isoformat(timespec="seconds"),
        paused=store.settings.paused(),
        queue_length=stats.queue_length,
        boosts_24h=stats.boosts_last_24h,
        verdicts_24h={d: stats.verdicts_by_decision.get(d, 0) for d in ("accept", "hold", "reject")},
        reasons_24h=dict(sorted(stats.verdicts_by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        sources=sources,
        open_intents=intents,
    )


def _counted(counts: AnchorCounts | None) -> tuple[int, int]:
    return (0, 0) if counts is None else (counts.replies, counts.boosted)


def render(summary: Summary) -> str:
    """The summary as a few aligned lines for a terminal."""
    verdicts = summary.verdicts_24h
    lines = [
        f"relay {summary.config}",
        f"  state      {summary.state}",
        f"  boosting   {PAUSED if summary.paused else 'on'}",
        f"  queue      {summary.queue_length} held for review",
        f"  last 24 h  {summary.boosts_24h} boosted; screened: {verdicts['accept']} accepted,"
        f" {verdicts['hold']} held, {verdicts['reject']} rejected",
    ]
    if summary.reasons_24h:
        lines.append("  reasons    " + ", ".join(f"{rule} {n}" for rule, n in summary.reasons_24h.items()))
    lines.append("sources (last event, events today UTC)")
    width = max((len(s.name) for s in summary.sources), default=0)
    for s in summary.sources:
        age = "never" if s.last_event_age is None else f"{format_age(s.last_event_age)} ago"
        note = "" if s.configured else "  (no longer configured)"
        lines.append(f"  {s.name:<{width}}  {age:>10}  {s.today:>6} today{note}")
    if summary.streams_reported_age is None:
        lines.append("streams: no report yet (the relay has not run with this database)")
    else:
        stale = summary.streams_reported_age > 2 * STALE_AFTER
        note = "  (old: is the relay running?)" if stale else ""
        lines.append(f"streams (reported {format_age(summary.streams_reported_age)} ago){note}")
        width = max((len(t.name) for t in summary.streams), default=0)
        for t in summary.streams:
            state = "connected" if t.connected else "DISCONNECTED"
            last = (
                "no event yet"
                if t.last_event_age is None
                else f"last event {format_age(t.last_event_age)} ago"
            )
            error = f"  ({t.error})" if t.error and not t.connected else ""
            lines.append(f"  {t.name:<{width}}  {state:<12}  {last}{error}")
    if summary.anchors:
        lines.append("anchor posts (replies seen, boosted now)")
        for a in summary.anchors:
            how = (
                f"{a.replies_scope} replies, read every {a.interval:g} s"
                if a.configured
                else "no longer configured"
            )
            lines.append(f"  {a.url}  {a.replies:>5} seen  {a.boosted:>5} boosted  ({how})")
    if summary.methods:
        lines.append("read by")
        width = max(len(m.source) for m in summary.methods)
        for m in summary.methods:
            every = f" every {format_age(m.interval)}" if m.interval is not None else ""
            lines.append(f"  {m.source:<{width}}  {m.method} ({m.shape}){every}: {m.reason}")
    if summary.open_intents:
        lines.append(f"boost journal: {len(summary.open_intents)} open (reconciled at the next start)")
        lines += [f"  {i.kind:<7} {format_age(i.age):>6} ago  {i.uri}" for i in summary.open_intents]
    else:
        lines.append("boost journal: no open intents")
    return "\n".join(lines)


def _stream_report(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        report = json.loads(text)
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def format_age(seconds: float) -> str:
    """A short age: 45s, 12m, 3h20m, 2d5h."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        hours, minutes = divmod(s // 60, 60)
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(s // 3600, 24)
    return f"{days}d{hours}h"


def to_json(summary: Summary) -> dict[str, Any]:
    """The summary as plain JSON data (ages in seconds, null for never)."""
    return asdict(summary)


# -- the `relay status` subcommand ----------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser, help="the relay's relay.toml")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with Store.open(config.state, readonly=True) as store:
        summary = summarise(config, store, datetime.now(UTC))
    print(json.dumps(to_json(summary), indent=2) if args.json else render(summary))
    return 0
