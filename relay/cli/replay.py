"""`relay replay FILE`: screen a file of statuses offline, for tuning rules before going live.

The file is a JSON array as `/api/v1/timelines/tag/NAME` returns it, or JSON lines (one status per
line). No network and no database: the only history is what replay derives as it goes, in file
order: the same text from the same author again, and how many posts of each author were accepted
(would have been boosted) in the 24 hours before each post. Each post is screened at its own
`created_at`, as if it had arrived live. A post seen twice (same uri) is screened once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from relay.config.load import load_config
from relay.config.rules import default_rules
from relay.core.history import History
from relay.core.mastodon_json import MalformedStatus
from relay.core.post import Post
from relay.core.rules import MODES, Rules
from relay.core.screen import screen
from relay.core.tags import normalize_tag
from relay.core.verdict import Decision, Verdict
from relay.errors import InputError, RelayError

DAY = timedelta(hours=24)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="statuses: a JSON array or JSON lines")
    parser.add_argument("-c", "--config", type=Path, help="relay.toml whose [rules] to use (default: none)")
    parser.add_argument(
        "--hashtag",
        action="append",
        default=[],
        metavar="NAME",
        help="a watched hashtag (repeatable); required without --config, replaces its hashtags with it",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="review: hold what passes; open: accept it (default: the configuration's, else review)",
    )
    parser.add_argument(
        "--instance",
        default="",
        metavar="HOST",
        help="the instance the file came from, for local accounts' domain (default: from account URLs)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per post, then a summary")


@dataclass(frozen=True, slots=True)
class Row:
    """One screened post."""

    post: Post
    verdict: Verdict


@dataclass(slots=True)
class Replay:
    """The in-memory history replay derives, in file order (what the store would know live)."""

    rules: Rules
    texts: set[tuple[str, str]]
    accepted: defaultdict[str, deque[datetime]]
    seen: set[str]

    @classmethod
    def start(cls, rules: Rules) -> Replay:
        return cls(rules=rules, texts=set(), accepted=defaultdict(deque), seen=set())

    def screen(self, post: Post) -> Row | None:
        """Screen one post against what came before it; None for a uri already screened."""
        if post.uri in self.seen:
            return None
        self.seen.add(post.uri)
        acct = post.author.acct
        now = post.created_at
        window = self.accepted[acct]
        while window and now - window[0] >= DAY:
            window.popleft()
        text_key = (acct, post.text_fingerprint)
        history = History(boosts_last_24h=len(window), same_text_seen=text_key in self.texts)
        verdict = screen(post, self.rules, history, now)
        self.texts.add(text_key)
        if verdict.decision is Decision.ACCEPT:
            window.append(now)
        return Row(post=post, verdict=verdict)


def read_statuses(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, status) pairs of a JSON array or JSON-lines file; InputError names the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", fix="give the path of a file of statuses") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}", fix="give a UTF-8 JSON file") from None
    if text.lstrip().startswith("["):
        items = _loads(text, path, fix="give a JSON array of statuses, or one status per line")
        for index, item in enumerate(items):
            yield f"{path}: item {index}", _object(item, f"{path}: item {index}")
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = _loads(line, path, fix="put one JSON object (a status) on each line", first_line=number)
        yield f"{path}:{number}", _object(item, f"{path}:{number}")


def _loads(text: str, path: Path, *, fix: str, first_line: int = 1) -> Any:
    """`text` parsed as JSON, which starts at line `first_line` of `path`; InputError names the place."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        line = first_line + exc.lineno - 1
        raise InputError(f"{path}:{line}:{exc.colno}: not valid JSON: {exc.msg}", fix=fix) from None


def _object(item: object, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InputError(f"{where}: a status must be a JSON object, not {type(item).__name__}")
    return item


def replay(path: Path, rules: Rules, *, instance: str = "") -> list[Row]:
    """Screen every status of `path` in order; InputError names the line of a malformed one."""
    state = Replay.start(rules)
    rows = []
    for where, status in read_statuses(path):
        try:
            post = Post.from_status(status, source=instance)
        except MalformedStatus as exc:
            fix = "give Mastodon status JSON as the API returns it"
            raise InputError(f"{where}: {exc}", fix=fix) from None
        row = state.screen(post)
        if row is not None:
            rows.append(row)
    return rows


def summarise(rows: Sequence[Row]) -> dict[str, Any]:
    """Counts by verdict and by rule (a rule is counted once per post it applied to)."""
    verdicts = Counter(row.verdict.decision.value for row in rows)
    reasons = Counter(rule for row in rows for rule in {r.rule for r in row.verdict.reasons})
    return {
        "posts": len(rows),
        "by_verdict": {d.value: verdicts.get(d.value, 0) for d in Decision},
        "by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def _rules(args: argparse.Namespace) -> Rules:
    hashtags = tuple(args.hashtag)
    if args.config is not None:
        config = load_config(args.config)
        rules = config.rules
        if hashtags:
            rules = replace(rules, hashtags=frozenset(normalize_tag(t) for t in hashtags))
        return replace(rules, mode=args.mode) if args.mode else rules
    if not hashtags:
        raise InputError(
            "replay needs the watched hashtags", fix="pass --config relay.toml or --hashtag NAME"
        )
    return default_rules(hashtags, mode=args.mode or "review")


def print_table(rows: Sequence[Row], out: TextIO) -> None:
    width = max((len(row.post.author.acct) for row in rows), default=6)
    print(f"{'VERDICT':<7}  {'AUTHOR':<{width}}  REASONS", file=out)
    for row in rows:
        reasons = "; ".join(f"{r.rule} ({r.decision.value}): {r.detail}" for r in row.verdict.reasons) or "-"
        print(f"{row.verdict.decision.value:<7}  {row.post.author.acct:<{width}}  {reasons}", file=out)
    summary = summarise(rows)
    print(f"\n{summary['posts']} posts", file=out)
    for decision, count in summary["by_verdict"].items():
        print(f"  {decision:<7} {count}", file=out)
    if summary["by_reason"]:
        print("by reason:", file=out)
        for rule, count in summary["by_reason"].items():
            print(f"  {rule:<34} {count}", file=out)


def print_json(rows: Sequence[Row], out: TextIO) -> None:
    for row in rows:
        record = {
            "uri": row.post.uri,
            "url": row.post.url,
            "author": row.post.author.acct,
            "decision": row.verdict.decision.value,
            "reasons": [
                {"rule": r.rule, "decision": r.decision.value, "detail": r.detail}
                for r in row.verdict.reasons
            ],
        }
        print(json.dumps(record, ensure_ascii=False), file=out)
    print(json.dumps({"summary": summarise(rows)}), file=out)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    rows = replay(args.file, _rules(args), instance=args.instance)
    stream = out or sys.stdout
    if args.json:
        print_json(rows, stream)
    else:
        print_table(rows, stream)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m relay.cli.replay`: the same command without the rest of the CLI (exit 2 on bad input)."""
    parser = argparse.ArgumentParser(prog="relay replay", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except RelayError as exc:
        print(f"relay replay: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
