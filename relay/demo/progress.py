"""PURE: what `relay demo` prints. One line per post, the summary table, the --keep instructions.

Nothing here talks to the sandbox, the relay or the terminal: callers pass facts in, get text out.
"""

from __future__ import annotations

import shlex
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from relay.demo.relaylog import PostFacts

ARROW = "→"
OK = "✓"
MISSED = "✗"


@dataclass(frozen=True, slots=True)
class Check:
    """One scripted expectation and whether reality met it."""

    step: str
    expected: str
    met: bool
    found: str = ""  # what happened instead (for a missed one)


def snippet(text: str, width: int = 38) -> str:
    """The start of a post's text on one line, quoted, cut with an ellipsis."""
    flat = " ".join(text.split())
    return f'"{flat}"' if len(flat) <= width else f'"{flat[: width - 1].rstrip()}…"'


def reasons_text(reasons: Sequence[str], width: int = 60) -> str:
    """`rule: detail` of the first reason, then the other rules by name."""
    if not reasons:
        return ""
    first = reasons[0] if len(reasons[0]) <= width else reasons[0][: width - 1] + "…"
    rest = [r.partition(":")[0] for r in reasons[1:]]
    return "; ".join([first, *rest])


def outcome(facts: PostFacts, *, took: float | None = None, short_id: str | None = None) -> str:
    """`accepted → boosted (0.21 s)`, `held h1 (keywords.hold: …)`, `rejected: replies: …`."""
    if facts.decision == "reject":
        text = f"rejected: {reasons_text(facts.reasons)}"
    elif facts.decision == "hold":
        text = f"held {short_id + ' ' if short_id else ''}({reasons_text(facts.reasons)})"
    elif facts.boosted_at is not None:
        text = "accepted " + ARROW + (" boosted" if took is None else f" boosted ({took:.2f} s)")
    elif facts.not_boosted is not None:
        text = f"accepted {ARROW} NOT boosted: {facts.not_boosted}"
    else:
        text = f"accepted {ARROW} waiting for the booster"
    if facts.unboosted_at is not None and facts.retracted_at is None:
        text += f" {ARROW} unboosted"
    if facts.retracted_at is not None:
        text += f" {ARROW} retracted ({facts.retract_reason or 'deleted'})"
    return text


def post_line(acct: str, text: str, where: str, result: str) -> str:
    """`seen @alice@127.0.0.1:8001 "Hello, I'm Alice…" (home stream) → accepted → boosted (0.21 s)`."""
    return f"  seen @{acct} {snippet(text)} ({where}) {ARROW} {result}"


def check_line(check: Check) -> str:
    mark = OK if check.met else MISSED
    line = f"    {mark} expected {check.expected}"
    return line if check.met or not check.found else f"{line}; instead: {check.found}"


# -- the summary ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Totals:
    """Everything the summary shows, counted from the relay's log and database."""

    posts: tuple[PostFacts, ...]
    boost_seconds: tuple[float, ...]  # post → boost, for posts boosted without a moderator
    held: tuple[tuple[str, str, str | None], ...]  # (short id, queue state, reason) per held post
    never_seen: int  # scripted posts no hashtag feed carried (private)
    checks: tuple[Check, ...]
    ready_seconds: float
    total_seconds: float


def rejected_by_rule(posts: Iterable[PostFacts]) -> list[tuple[str, int]]:
    """Rejected posts per rule (a post with two reasons counts under both), most frequent first."""
    counter: Counter[str] = Counter()
    for facts in posts:
        if facts.decision == "reject":
            counter.update(set(facts.rules))
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def held_text(held: Iterable[tuple[str, str, str | None]]) -> str:
    """`h1 boosted, h2 rejected (advertising)`: what became of each held post."""
    return ", ".join(
        f"{short_id} {state}" + (f" ({reason})" if reason else "") for short_id, state, reason in held
    )


def summary(totals: Totals) -> list[str]:
    posts = totals.posts
    boosted = [p for p in posts if p.boosted_at is not None]
    rejected = [p for p in posts if p.decision == "reject"]
    retracted = [p for p in posts if p.retracted_at is not None or p.unboosted_at is not None]
    times = sorted(totals.boost_seconds)
    timing = (
        f"post {ARROW} boost: median {statistics.median(times):.2f} s, max {times[-1]:.2f} s" if times else ""
    )
    met = sum(1 for c in totals.checks if c.met)
    rows: list[tuple[str, str, str]] = [
        ("screened", str(len(posts)), "each post once, however many feeds carried it"),
        ("boosted", str(len(boosted)), timing),
        ("held for review", str(len(totals.held)), held_text(totals.held)),
        ("rejected", str(len(rejected)), "by rule (a post can have several):"),
        *((f"  {rule}", str(count), "") for rule, count in rejected_by_rule(posts)),
        ("retracted", str(len(retracted)), "boosted, then deleted or opted out: boost undone"),
        ("never reached the relay", str(totals.never_seen), "private: hashtag feeds carry public posts only"),
        ("expectations met", f"{met}/{len(totals.checks)}", ""),
        ("time", f"{totals.total_seconds:.1f} s", f"relay ready after {totals.ready_seconds:.1f} s"),
    ]
    lines = ["", "Summary"]
    for label, value, note in rows:
        lines.append(f"  {label:<26}{value:>6}   {note}".rstrip())
    missed = [c for c in totals.checks if not c.met]
    if missed:
        lines += ["", f"{MISSED} {len(missed)} expectation(s) missed:"]
        lines += [f"  - {c.step}: expected {c.expected}; instead: {c.found or 'nothing'}" for c in missed]
    return lines


# -- --keep -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    acct: str
    instance: str
    role: str
    token: str


def curl_post(url: str, token: str, status: str, *, visibility: str | None = None) -> str:
    words = ["curl", "-sS", "-X", "POST", f"{url}/api/v1/statuses"]
    words += ["-H", f"Authorization: Bearer {token}", "--data-urlencode", f"status={status}"]
    if visibility is not None:
        words += ["-d", f"visibility={visibility}"]
    return shlex.join(words)


def curl_get(url: str, token: str, *, stream: bool = False) -> str:
    return shlex.join(["curl", "-sSN" if stream else "-sS", url, "-H", f"Authorization: Bearer {token}"])


def keep_text(
    *,
    urls: dict[str, str],
    accounts: Sequence[Account],
    hashtag: str,
    folder: str,
    relay_pid: int,
) -> list[str]:
    """What to try by hand while the sandbox and the relay keep running."""
    by_name = {a.acct.partition("@")[0]: a for a in accounts}
    alice, bob, fran = by_name["alice"], by_name["bob"], by_name["fran"]
    lines = ["", "The sandbox and the relay keep running (Ctrl-C or SIGTERM stops both).", ""]
    lines += [f"  {name:<7}{url}" for name, url in urls.items()]
    lines += [f"  relay  pid {relay_pid}, log {folder}/relay.log, config {folder}/relay.toml", ""]
    lines.append("Accounts (use the token as `Authorization: Bearer TOKEN`):")
    lines += [f"  {a.acct:<28} {a.instance:<7} {a.role:<30} {a.token}" for a in accounts]
    lines += [
        "",
        "Post as a therapist on home; a line for it appears here within a second:",
        "  " + curl_post(urls["home"], alice.token, f"Hello again from Alice #{hashtag}"),
        "",
        "Post on another instance (it federates to home; the relay boosts it once):",
        "  " + curl_post(urls["remote"], bob.token, f"Bob here, on remote #{hashtag}"),
        "",
        "Read the feed as a follower of the bot (the bot's boosts are in it):",
        "  " + curl_get(f"{urls['home']}/api/v1/timelines/home", fran.token),
        "",
        "Watch the hashtag stream the relay listens to:",
        "  " + curl_get(f"{urls['home']}/api/v1/streaming/hashtag?tag={hashtag}", fran.token, stream=True),
    ]
    maya = by_name["maya"]
    lines += [
        "",
        "DM the bot as the moderator (try `help`, `status`, `queue`), then read its answer in the",
        "moderator's notifications:",
        "  " + curl_post(urls["home"], maya.token, "@relaybot help", visibility="direct"),
        "  " + curl_get(f"{urls['home']}/api/v1/notifications", maya.token),
    ]
    return lines
