"""PURE judge of a soak run: what the schedule says must have happened, against what did.

`bench/soak.py` drives authors, a moderator and a `relay run` it kills; it keeps a `Planned`
record of every post it made (what kind, what the moderator decided, edits, deletion) and at
the end collects an `Observed` snapshot (which statuses the bot reblogged, how often each was
reblogged over the run, the relay's review queue and audit rows). `judge` turns the two into
`Row`s: one per promise, with how many posts it covers, how many kept it and which did not.

The expectations hold whatever the timing, so a kill at any moment cannot make them wrong:
an edit that makes a post fail may reach the relay before or after its boost, and a delete
before or after it, but either way the post must not be boosted at the end, and reblogged at
most once on the way. Only the cap is judged by count, since which of a burst's posts come
first is the relay's to see.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

PASS, HOLD, FAIL, BURST = "pass", "hold", "fail", "burst"  # what a post is written to be
APPROVE, REJECT = "approve", "reject"  # what the moderator sends about a held post


@dataclass
class Planned:
    """One post the soak made, and what happened to it on the authors' and moderator's side."""

    serial: int
    uri: str
    url: str
    acct: str
    kind: str  # PASS | HOLD | FAIL | BURST
    while_down: bool = False  # posted while no relay ran
    decision: str | None = None  # for HOLD: what the moderator will send (None: never decides)
    decided_at: datetime | None = None  # when the moderator's DM went out
    harmless_edits: int = 0
    failed_by_edit_at: datetime | None = None  # an edit that makes it fail the rules
    deleted_at: datetime | None = None
    deleted_unheard: bool = False  # while the relay's streams were not all up: it cannot learn of it

    @property
    def approved(self) -> bool:
        """The moderator sent an approval for this post before it was deleted (if it was)."""
        return (
            self.decision == APPROVE
            and self.decided_at is not None
            and (self.deleted_at is None or self.decided_at < self.deleted_at)
        )

    @property
    def may_boost(self) -> bool:
        """The rules (with the moderator's approval) let this post be boosted at some point."""
        return self.kind in (PASS, BURST) or self.approved

    @property
    def must_be_boosted(self) -> bool:
        """It passes the rules as it stands and still exists: boosted at the end, exactly once."""
        return self.may_boost and self.deleted_at is None and self.failed_by_edit_at is None


@dataclass(frozen=True)
class Observed:
    """What the home instance and the relay's state file show once the relay has nothing to do."""

    reblogs_made: Mapping[str, Sequence[datetime]]  # uri -> when the bot created each reblog of it
    boosted_now: frozenset[str]  # uris the bot's reblogs point at now
    approvals_audited: Mapping[str, int]  # uri -> `queue.approved` audit rows
    queue_states: Mapping[str, str]  # uri -> review-queue state
    boost_done: frozenset[str]  # uris whose latest journal entry is a done boost
    retracted: frozenset[str]  # uris the relay recorded as deleted
    known_versions: frozenset[str]  # uris whose current version the relay has screened (or retracted)
    screened: frozenset[str]  # uris the relay has screened at all
    open_intents: int
    unhandled_dms: int
    cap: int
    notes: Mapping[str, str] = field(default_factory=dict)  # uri or author -> what to print beside it


@dataclass
class Row:
    """One promise: how many posts it covers, how many kept it, and the uris that broke it."""

    name: str
    total: int = 0
    kept: int = 0
    broken: list[str] = field(default_factory=list)
    info: bool = False  # a figure to show, not a promise: never counted as a violation

    def add(self, uri: str, ok: bool) -> None:
        self.total += 1
        if ok:
            self.kept += 1
        else:
            self.broken.append(uri)


def judge(posts: Iterable[Planned], seen: Observed) -> list[Row]:
    """Every promise of the soak, checked on every post it covers (see the module docstring)."""
    posts = list(posts)
    made = {p.uri: len(seen.reblogs_made.get(p.uri, ())) for p in posts}
    passing = Row("passing posts boosted exactly once")
    lost = Row("passing posts lost (never boosted)")
    doubled = Row("posts reblogged more than once")
    approvals = Row("approvals honoured exactly once")
    approvals_lost = Row("approvals lost")
    held = Row("held posts not boosted without an approval")
    failing = Row("posts failing a rule never boosted")
    edited = Row("posts edited to fail not boosted at the end")
    deleted = Row("deleted posts not boosted after their deletion")
    capped = Row(f"authors within the cap ({seen.cap} in 24 h)")
    bursts = Row("burst authors boosted up to the cap, none lost")
    for post in posts:
        n = made[post.uri]
        now = post.uri in seen.boosted_now
        doubled.add(post.uri, n <= 1)
        if post.must_be_boosted and post.kind != BURST:
            passing.add(post.uri, n == 1 and now)
            lost.add(post.uri, n >= 1 and now)
        if post.kind == HOLD and post.approved and post.must_be_boosted:
            one_row = seen.approvals_audited.get(post.uri, 0) == 1
            approvals.add(post.uri, n == 1 and now and one_row)
            approvals_lost.add(post.uri, n >= 1 and now)
        if post.kind == HOLD and not post.approved:
            held.add(post.uri, n == 0)
        if post.kind == FAIL:
            failing.add(post.uri, n == 0)
        if post.failed_by_edit_at is not None and post.deleted_at is None:
            edited.add(post.uri, not now)
        if post.deleted_at is not None:
            when = post.deleted_at
            late = [t for t in seen.reblogs_made.get(post.uri, ()) if t > when]
            deleted.add(post.uri, not now and not late)
    by_author: dict[str, list[Planned]] = defaultdict(list)
    for post in posts:
        by_author[post.acct].append(post)
    for acct, own in sorted(by_author.items()):
        boosted = sum(1 for p in own if made[p.uri] >= 1)
        capped.add(acct, boosted <= seen.cap)
        if all(p.kind == BURST for p in own):
            expected = min(seen.cap, len(own))
            bursts.add(acct, sum(1 for p in own if p.uri in seen.boosted_now) == expected)
    rows = [passing, lost, doubled, approvals, approvals_lost, held, failing, edited, deleted, capped, bursts]
    rows += _bookkeeping(posts, seen)
    return rows


def _bookkeeping(posts: Sequence[Planned], seen: Observed) -> list[Row]:
    """What the relay's own records say once it is idle: figures beside the promises."""
    stale = Row("boosted posts whose review item still says approved")
    versions = Row("live posts whose last version the relay screened", info=True)
    deletes = Row("posts deleted while it listened that the relay knows are deleted", info=True)
    for post in posts:
        state = seen.queue_states.get(post.uri)
        if state is not None and post.uri in seen.boost_done:
            stale.add(post.uri, state != "approved")
        if post.deleted_at is None:
            versions.add(post.uri, post.uri in seen.known_versions)
        elif not post.deleted_unheard and post.uri in seen.screened:
            deletes.add(post.uri, post.uri in seen.retracted)
    idle = Row("relay idle at the end (open intents, unhandled DMs)")
    idle.add("open intents", seen.open_intents == 0)
    idle.add("unhandled DMs", seen.unhandled_dms == 0)
    return [stale, idle, versions, deletes]


def violations(rows: Iterable[Row]) -> int:
    """How many promises were broken, over every row that is a promise."""
    return sum(len(r.broken) for r in rows if not r.info)


def table(rows: Sequence[Row], notes: Mapping[str, str] | None = None) -> str:
    """The rows as a plain-text table: total, kept, broken, and the first few that broke it (with
    what `notes` says of each)."""
    notes = notes or {}
    width = max(len(r.name) for r in rows)
    lines = [f"  {'check':<{width}}  {'count':>6}  {'kept':>6}  {'broken':>6}"]
    for r in rows:
        mark = " (figure)" if r.info else ""
        lines.append(f"  {r.name:<{width}}  {r.total:>6}  {r.kept:>6}  {len(r.broken):>6}{mark}")
        for uri in r.broken[:5]:
            lines.append(f"      {uri}" + (f"\n        {notes[uri]}" if uri in notes else ""))
        if len(r.broken) > 5:
            lines.append(f"      ... and {len(r.broken) - 5} more")
    return "\n".join(lines)


def kinds(posts: Iterable[Planned]) -> Counter[str]:
    """How many posts of each kind, and of each fate, the schedule made (for the header)."""
    count: Counter[str] = Counter()
    for p in posts:
        count[p.kind] += 1
        count["while down"] += p.while_down
        count["edited (harmless)"] += p.harmless_edits > 0
        count["edited to fail"] += p.failed_by_edit_at is not None
        count["deleted"] += p.deleted_at is not None
        count["deleted unheard"] += p.deleted_unheard
        if p.kind == HOLD:
            count[f"held: {p.decision or 'undecided'}"] += 1
    return count
