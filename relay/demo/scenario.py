"""The scripted scenario: people post over HTTP, the running relay reacts, every outcome is checked.

Each step posts with Mastodon.py as a real client would, then waits (with a deadline, never a fixed
sleep) until the relay's log says what it decided, and checks that against reality: which statuses
the bot has reblogged on the home instance, and what the relay's database holds (opened read-only).
One line per post is printed as soon as its outcome is known; a missed expectation is a `Check`
with `met=False` and makes `relay demo` exit 1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from relay.demo import dms
from relay.demo.cast import HASHTAG, Cast
from relay.demo.progress import ARROW, Check, check_line, outcome, post_line, snippet
from relay.demo.relaylog import PostFacts, RelayProcess
from relay.store.store import Store

EXPECT_TIMEOUT = 10.0  # seconds an outcome may take before it counts as missed
TAG = f"#{HASHTAG}"


@dataclass(frozen=True, slots=True)
class Posted:
    """A status one of the cast posted, as its instance returned it."""

    who: str
    id: str
    uri: str
    text: str
    created_at: datetime


class Reality:
    """What the home instance shows and what the relay's database holds, read without writing."""

    def __init__(self, cast: Cast, state: Path) -> None:
        self._cast = cast
        self._state = state
        self._store: Store | None = None
        self.site = state.parent / "site"  # the demo's [directory] html_dir

    def reblogs(self) -> list[str]:
        """The uris of the statuses the bot has reblogged on the home instance, one per reblog."""
        state = self._cast.fed["home"].state
        with state.lock:
            bot = state.accounts[self._cast.bot.id]
            return [
                s.reblog.uri for s in state.statuses.values() if s.reblog is not None and s.account is bot
            ]

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self._state, readonly=True)
        return self._store

    def held_id(self, uri: str) -> str | None:
        item = self.store.queue.queue_by_uri(uri)
        return item.short_id if item is not None and item.state == "held" else None

    def queue(self, uris: list[str]) -> tuple[tuple[str, str, str | None], ...]:
        """(short id, state, reason) of every post of `uris` that was held, by short id."""
        items = [item for uri in uris if (item := self.store.queue.queue_by_uri(uri)) is not None]
        items.sort(key=lambda item: int(item.short_id[1:]))
        return tuple((item.short_id, item.state, item.reason) for item in items)

    def known(self, uri: str) -> bool:
        return bool(self.store.posts.sightings(uri)) or self.store.posts.verdict_for(uri) is not None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


@dataclass
class Scenario:
    """Plays the steps in order; `checks` holds every expectation and whether it was met."""

    cast: Cast
    relay: RelayProcess
    reality: Reality
    out: Callable[[str], None]
    abort: threading.Event
    checks: list[Check] = field(default_factory=list)
    posted: dict[str, Posted] = field(default_factory=dict)
    boost_seconds: list[float] = field(default_factory=list)  # post → boost, no moderator involved
    expected_boosts: set[str] = field(default_factory=set)  # uris the bot should still have reblogged
    never_seen: int = 0
    _step: str = ""

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("Introductions from three instances", self.introductions),
            ("One post seen on several instances: screened once, boosted once", self.seen_twice),
            ("A reply", self.reply),
            ("A private post, then a public one", self.private_post),
            ("A spam burst", self.spam_burst),
            ("An author with #nobot in the bio", self.nobot),
            ("A bot account", self.bot_account),
            ("A post held for review, approved by the moderator by DM", self.approved_by_dm),
            ("A post held for review, rejected by the moderator by DM", self.rejected_by_dm),
            ("A therapist joins the community directory by DM", self.joins_directory),
            ("An author opts out by DM", self.optout),
            ("A boosted post deleted by its author", self.deleted),
        ]

    def play(self) -> None:
        for number, (title, step) in enumerate(self.steps(), start=1):
            if self.abort.is_set():
                return
            self._step = title
            self.out(f"\n{number}. {title}")
            step()
        if not self.abort.is_set():
            self.out("\nFinally")
            self.nothing_else_boosted()

    # -- the steps -------------------------------------------------------------------------------

    def introductions(self) -> None:
        self.intro_alice = self.post("alice", f"Hello, I'm Alice, a couples therapist in Lyon. {TAG}")
        self.expect_boosted(self.intro_alice)
        self.intro_bob = self.post("bob", f"Hi all, Bob here: psychotherapist in Leeds, CBT and ACT. {TAG}")
        self.expect_boosted(self.intro_bob)
        chidi = self.post("chidi", f"Chidi, trauma therapist in Lagos. Happy to connect! {TAG}")
        self.expect_boosted(chidi)

    def seen_twice(self) -> None:
        uri = self.intro_bob.uri
        reality = self.reality
        # Every feed that carries Bob's post (home and remote streams, third's poll) adds a sighting.
        self.relay.wait(lambda: len(reality.store.posts.sightings(uri)) >= 3, 3.0, abort=self.abort)
        sightings = reality.store.posts.sightings(uri)
        screened, reblogs = reality.store.posts.screened_count(uri), reality.reblogs().count(uri)
        feeds = ", ".join(self.cast.instance_name(source) for source in sorted(sightings))
        self.out(
            f"  @{self.cast.acct('bob')} {snippet(self.intro_bob.text)} was delivered by {len(sightings)} "
            f"feeds ({feeds}), screened {screened}x, boosted {reblogs}x"
        )
        met = len(sightings) >= 2 and screened == 1 and reblogs == 1
        found = f"{len(sightings)} feeds, screened {screened}x, reblogged {reblogs}x"
        self.check("seen on 2+ feeds, screened once, boosted once", met, found)

    def reply(self) -> None:
        dana = self.cast.client("dana")
        found = dana.search_v2(self.intro_alice.uri, resolve=True, result_type="statuses")["statuses"]
        reply = self.post(
            "dana", f"Welcome, Alice! So glad you're here. {TAG}", in_reply_to_id=found[0]["id"]
        )
        self.expect_rejected(reply, "replies")

    def private_post(self) -> None:
        private = self.post(
            "alice", f"Case notes for my peer group, followers only. {TAG}", visibility="private"
        )
        public = self.post("alice", f"Peer consultation group, Thursdays 6 pm, all welcome. {TAG}")
        # The public post went out after the private one on the same streams: once it has been
        # screened, the private one would have been too if any feed had carried it.
        public_check = self.expect_boosted(public, show=False)
        seen = self.relay.facts(private.uri) is not None or self.reality.known(private.uri)
        boosted = private.uri in self.reality.reblogs()
        self.out(
            f"  posted @{self.cast.acct('alice')} {snippet(private.text)} (followers only) "
            f"→ {'SEEN by the relay' if seen else 'on no hashtag feed: the relay never saw it'}"
        )
        self.check("never seen, never boosted", not seen and not boosted, "seen" if seen else "boosted")
        self.never_seen += 1
        self._show(public, public_check)

    def spam_burst(self) -> None:
        texts = [
            f"Earn crypto fast, DM me now! {TAG}",
            f"Earn crypto fast, DM me now! {TAG}",
            f"Crypto signals for therapists, 500% returns {TAG}",
            f"Last chance: crypto giveaway for {TAG}",
        ]
        burst = [self.post("quickcash", text) for text in texts]
        for status in burst:
            self.expect_rejected(status, "keywords.reject")

    def nobot(self) -> None:
        self.expect_rejected(
            self.post("nora", f"Nora, counselling psychologist, saying hello. {TAG}"), "consent.refuse_tags"
        )

    def bot_account(self) -> None:
        self.expect_rejected(self.post("digest", f"Today's top 5 posts in {TAG}: ..."), "bots")

    def approved_by_dm(self) -> None:
        workshop = self.post("alice", f"Free workshop on trauma-informed care next Tuesday. {TAG}")
        short_id = self.expect_held(workshop, "keywords.hold")
        notice = self.bot_dm("maya", f"Held for review: {short_id}") if short_id else None
        if notice is None:
            return
        answer = self.dm("maya", "approve", in_reply_to=notice)
        uri = workshop.uri

        def decided() -> bool:  # boosted (and logged), or given up: failed, rejected, ...
            state, facts = self._queue_state(uri), self.relay.facts(uri)
            boosted = state == "boosted" and facts is not None and facts.boosted_at is not None
            return boosted or state not in ("held", "approved", "boosted")

        self._wait(decided)
        facts = self.relay.facts(uri)
        ok = self._queue_state(uri) == "boosted" and uri in self.reality.reblogs()
        if ok and facts is not None and facts.boosted_at is not None:
            self.expected_boosts.add(uri)
            took = (facts.boosted_at - answer.sent_at).total_seconds()
            self.out(f"  {short_id} approved by @maya {ARROW} boosted ({took:.2f} s after her DM)")
        found = "; ".join(
            f"{i} is {state}" + (f": {why}" if why else "") for i, state, why in self.reality.queue([uri])
        )
        self.check(f"{short_id} boosted after the approval", ok, found)
        self.bot_dm("maya", f"Boosted {short_id}", in_reply_to=answer, failed=f"Could not boost {short_id}")

    def rejected_by_dm(self) -> None:
        discount = self.post("evan", f"50% discount on my burnout course this week only! {TAG}")
        short_id = self.expect_held(discount, "keywords.hold")
        if not short_id or not self.bot_dm("maya", f"Held for review: {short_id}"):
            return
        command = self.dm("maya", f"reject {short_id} advertising")
        self.bot_dm("maya", f"Rejected {short_id}", in_reply_to=command)
        ok = self._wait(lambda: self._queue_state(discount.uri) == "rejected")
        ok = ok and discount.uri not in self.reality.reblogs()
        self.out(f"  {short_id} rejected by @maya (advertising): never boosted")
        self.check(f"{short_id} rejected, not boosted", ok, f"queue state {self._queue_state(discount.uri)}")

    def joins_directory(self) -> None:
        asked = self.dm("dana", "join")
        if self.bot_dm("dana", "Welcome", in_reply_to=asked) is None:
            return
        acct, site = self.cast.acct("dana"), self.reality.site
        dana_uri = self.cast.accounts["dana"].uri

        def featured() -> str | None:
            home = self.cast.fed["home"]
            items = [i for c in home.collections() for i in c.items if i.account.uri == dana_uri]
            return items[0].state if items else None

        def listed() -> bool:
            page, csv = site / "index.html", site / "directory.csv"
            return (
                page.exists()
                and f"@{acct}" in page.read_text(encoding="utf-8")
                and f"{acct},true,false," in csv.read_text(encoding="utf-8")
                and featured() is not None
            )

        ok = self._wait(listed)
        self.out(
            f"  @{acct} {ARROW} listed on {site / 'index.html'}, in directory.csv (Mastodon's follow"
            f" import) and in the bot's Mastodon Collection (her consent: {featured() or 'none'})"
        )
        self.check("listed on the page, in the CSV and in the Collection", ok, "not everywhere")

    def optout(self) -> None:
        asked = self.dm("bob", "optout")
        self.bot_dm("bob", "I won't boost your posts any more", in_reply_to=asked)
        uri = self.intro_bob.uri
        self.expected_boosts.discard(uri)
        ok = self._wait(lambda: uri not in self.reality.reblogs())
        self.out(f"  @{self.cast.acct('bob')}'s introduction {ARROW} unboosted: the bot undid its reblog")
        self.check("Bob's earlier boost undone", ok, "still reblogged by the bot")
        later = self.post("bob", f"Bob again: I run a men's group on Mondays. {TAG}")
        self.expect_rejected(later, "consent.opt_out")

    def deleted(self) -> None:
        slides = self.post("chidi", f"My slides from today's talk on grief work. {TAG}")
        self.expect_boosted(slides)
        self.cast.client("chidi").status_delete(slides.id)
        self.expected_boosts.discard(slides.uri)
        self.expect_retracted(slides)

    def nothing_else_boosted(self) -> None:
        reblogs = self.reality.reblogs()
        extra = sorted(set(reblogs) - self.expected_boosts)
        missing = sorted(self.expected_boosts - set(reblogs))
        twice = sorted({u for u in reblogs if reblogs.count(u) > 1})
        self._step = "the bot's boosts"
        self.out(f"  the bot's boosts on home: {len(reblogs)} statuses")
        found = "; ".join(
            f"{what}: {', '.join(self._who(u) for u in uris)}"
            for what, uris in (("unexpected", extra), ("missing", missing), ("twice", twice))
            if uris
        )
        self.check("exactly the accepted posts, each once", not found, found)
        errors = list(self.relay.errors)
        self._step = "the relay's log"
        self.check("no errors in the relay's log", not errors, "; ".join(errors[:3]))

    # -- posting and expecting -------------------------------------------------------------------

    def post(self, who: str, text: str, **options: Any) -> Posted:
        status = self.cast.client(who).status_post(text, **options)
        posted = Posted(who, str(status["id"]), str(status["uri"]), text, status["created_at"])
        self.posted[posted.uri] = posted
        return posted

    def expect_boosted(self, posted: Posted, *, show: bool = True) -> Check:
        """Wait until the post is boosted (or the relay decided otherwise); `show=False` leaves
        printing its line and recording the check to the caller."""
        uri = posted.uri

        self._wait(lambda: self._boost_settled(uri))
        facts = self.relay.facts(uri)
        ok = facts is not None and facts.boosted_at is not None and uri in self.reality.reblogs()
        if ok and facts is not None and facts.boosted_at is not None:
            self.boost_seconds.append((facts.boosted_at - posted.created_at).total_seconds())
            self.expected_boosts.add(uri)
        check = Check(self._step, "boosted", ok, self._found(facts))
        if show:
            self._show(posted, check)
        return check

    def expect_rejected(self, posted: Posted, rule: str) -> None:
        self._wait(lambda: self._boost_settled(posted.uri))
        facts = self.relay.facts(posted.uri)
        ok = facts is not None and facts.decision == "reject" and rule in facts.rules
        ok = ok and posted.uri not in self.reality.reblogs()
        self._show(posted, Check(self._step, f"rejected by {rule}", ok, self._found(facts)))

    def expect_held(self, posted: Posted, rule: str) -> str | None:
        """Wait until the post is in the review queue; its short id (None: not held)."""
        uri = posted.uri

        def settled() -> bool:
            facts = self.relay.facts(uri)
            return facts is not None and (facts.decision != "hold" or self.reality.held_id(uri) is not None)

        self._wait(settled)
        facts = self.relay.facts(uri)
        ok = facts is not None and facts.decision == "hold" and rule in facts.rules
        short_id = self.reality.held_id(uri)
        ok = ok and short_id is not None and uri not in self.reality.reblogs()
        self._show(posted, Check(self._step, f"held by {rule}", ok, self._found(facts)))
        return short_id if ok else None

    def dm(self, who: str, command: str, *, in_reply_to: dms.Dm | None = None) -> dms.Dm:
        """`who` sends the bot a direct message (printed)."""
        sent = dms.send(self.cast, who, command, in_reply_to=in_reply_to)
        how = ", answering it" if in_reply_to is not None else ""
        self.out(f"  DM @{who} {ARROW} @relaybot{how}: {snippet(sent.body, 50)}")
        return sent

    def bot_dm(
        self, who: str, contains: str, *, in_reply_to: dms.Dm | None = None, failed: str | None = None
    ) -> dms.Dm | None:
        """Wait for the bot's DM to `who` containing `contains`, or `failed` (which ends the wait
        early as a miss). Printed; a missed one is a failed check."""
        wanted = (contains,) if failed is None else (contains, failed)
        found = dms.wait_dm(
            self.cast, who, wanted, in_reply_to=in_reply_to, timeout=EXPECT_TIMEOUT, abort=self.abort
        )
        if found is not None:
            self.out(f"  DM @relaybot {ARROW} @{who}: {snippet(found.body, 60)}")
        met = found is not None and contains in found.text
        instead = f"none within {EXPECT_TIMEOUT:.0f} s" if found is None else snippet(found.body, 80)
        self.check(f"a DM to @{who} saying {contains!r}", met, instead)
        return found if met else None

    def expect_retracted(self, posted: Posted) -> None:
        uri = posted.uri

        def settled() -> bool:
            facts = self.relay.facts(uri)
            retracted = facts is not None and facts.retracted_at is not None
            # The log line is written inside the relay's transaction: wait for the commit too.
            return (
                retracted and uri not in self.reality.reblogs() and self.reality.store.posts.is_retracted(uri)
            )

        ok = self._wait(settled)
        facts = self.relay.facts(uri)
        reason = facts.retract_reason if facts is not None and facts.retract_reason else "not retracted"
        self.out(
            f"  deleted by @{self.cast.acct(posted.who)} {ARROW} retracted ({reason}); "
            f"{'the boost is gone from the bot' if uri not in self.reality.reblogs() else 'STILL BOOSTED'}"
        )
        self._record(Check(self._step, "retracted, its boost gone", ok, self._found(facts)))

    # -- helpers ---------------------------------------------------------------------------------

    def _boost_settled(self, uri: str) -> bool:
        """Screened, and if accepted, boosted (and visible on home) or given up by the booster."""
        facts = self.relay.facts(uri)
        if facts is None:
            return False
        if facts.decision != "accept" or facts.not_boosted is not None:
            return True
        return facts.boosted_at is not None and uri in self.reality.reblogs()

    def _wait(self, settled: Callable[[], bool]) -> bool:
        return self.relay.wait(settled, EXPECT_TIMEOUT, abort=self.abort)

    def _show(self, posted: Posted, check: Check | None = None) -> None:
        """Print the post's line (seen → verdict → outcome), then its check if it was missed."""
        facts = self.relay.facts(posted.uri)
        if facts is None:
            self.out(f"  posted @{self.cast.acct(posted.who)} {snippet(posted.text)} → not seen by the relay")
        else:
            took = None
            if facts.boosted_at is not None:
                took = (facts.boosted_at - posted.created_at).total_seconds()
            held = self.reality.held_id(posted.uri) if facts.decision == "hold" else None
            where = f"{self.cast.instance_name(facts.source)} {facts.via}"
            self.out(post_line(facts.acct, posted.text, where, outcome(facts, took=took, short_id=held)))
        if check is not None:
            self._record(check)

    def check(self, expected: str, met: bool, found: str = "") -> None:
        """Record an expectation; a missed one is printed at once."""
        self._record(Check(self._step, expected, met, "" if met else found))

    def _queue_state(self, uri: str) -> str | None:
        item = self.reality.store.queue.queue_by_uri(uri)
        return None if item is None else item.state

    def _record(self, check: Check) -> None:
        self.checks.append(check)
        if not check.met:
            self.out(check_line(check))

    def _found(self, facts: PostFacts | None) -> str:
        if facts is None:
            return f"the relay did not see it within {EXPECT_TIMEOUT:.0f} s"
        return outcome(facts)

    def _who(self, uri: str) -> str:
        posted = self.posted.get(uri)
        return f"{posted.who}: {snippet(posted.text, 24)}" if posted else uri
