"""The moderation channel without a network: DirectMessage from real Mastodon 4.6 notifications,
the guards, what is answered, hold announcements, the commands run against a real store, and
`tick` (silence alerts, forgetting old handled mentions) with a recording home instance."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from mastodon import MastodonNetworkError
from paths import FIXTURES
from storehelp import arrive

from relay.config.load import parse_config
from relay.core.accounts import AccountId
from relay.core.dm import DirectMessage, dm_text
from relay.core.items import Mention, MentionsSeen
from relay.core.mastodon_json import MalformedStatus
from relay.core.post import Post
from relay.core.verdict import Decision, Reason, Verdict
from relay.moderation import grammar as c
from relay.moderation.actions import Actions, Context, Outcome, Settings, expire
from relay.moderation.channel import Moderation
from relay.moderation.guards import Batcher, Refusals, Who, triage
from relay.moderation.handles import Account, Domain, PostUrl, ShortId
from relay.moderation.notices import ASK_FOR_DM, EDITED, HeldPost
from relay.sources.sse import StreamEvent, parse_stream
from relay.store.store import Store

HOME = "localhost:3000"


def recorded(cassette: str, path: str, query: str | None = None) -> str:
    data = yaml.safe_load((FIXTURES / cassette).read_text(encoding="utf-8"))
    for interaction in data["interactions"]:
        parts = urlsplit(interaction["request"]["uri"])
        if parts.path == path and (query is None or query in parts.query):
            return str(interaction["response"]["body"]["string"])
    raise LookupError(path)


def stream_notifications() -> list[dict[str, Any]]:
    body = recorded("stream_user_direct.yaml", "/api/v1/streaming/user").encode("utf-8")
    events = [e for e in parse_stream([body]) if isinstance(e, StreamEvent)]
    return [e.data for e in events if e.name == "notification"]


@pytest.fixture
def direct() -> DirectMessage:
    """The recorded DM: mastodonpy_test_2 writes "@mastodonpy_test pssssst!" (visibility direct)."""
    note = next(n for n in stream_notifications() if n["status"]["visibility"] == "direct")
    return DirectMessage.from_notification(note, home=HOME)


MOD = "mastodonpy_test_2@localhost:3000"
MOD_URI = "http://localhost:3000/ap/users/117020617532860042"
BOT = ("mastodonpy_test@localhost:3000", "mastodonpy_test")
MOD_ID = "117020617532860042"
WHO = Who(
    self_acct=BOT[0],
    self_id=AccountId("http://localhost:3000/ap/users/117020617404561855", "117020617404561855"),
    moderators={MOD: AccountId(MOD_URI, MOD_ID)},
)


def says(dm: DirectMessage, text: str, **changes: Any) -> DirectMessage:
    """`dm` with other text (after the bot's mention) and other fields."""
    return dataclasses.replace(dm, text=f"@mastodonpy_test {text}", **changes)


class TestDirectMessage:
    def test_from_recorded_stream_notification(self, direct: DirectMessage) -> None:
        """A real `notification` event becomes a DM with full handles, uri, reply id and plain text."""
        assert direct.notification_id == "16"
        assert direct.acct == MOD
        assert direct.account_uri == MOD_URI
        assert direct.visibility == "direct"
        assert direct.is_direct
        assert direct.text == "@mastodonpy_test pssssst!"
        assert direct.mentions == ("mastodonpy_test@localhost:3000",)
        assert direct.in_reply_to_id == "117024236559579118"
        assert direct.edited_at is None
        assert direct.quotes_post is False
        assert direct.sender_is_bot is False

    def test_from_recorded_rest_notification(self) -> None:
        """A mention from `GET /api/v1/notifications?types[]=mention` is read the same way."""
        notes = json.loads(recorded("notifications_mentions_only.yaml", "/api/v1/notifications", "types"))
        dm = DirectMessage.from_notification(notes[0], home=f"http://{HOME}")
        assert dm.acct == "admin@localhost:3000"
        assert dm.visibility == "public"
        assert dm.text == "@mastodonpy_test hello!"

    def test_other_notification_types_are_refused(self) -> None:
        """Only `mention` notifications are messages."""
        note = {**stream_notifications()[0], "type": "favourite"}
        with pytest.raises(MalformedStatus, match="not 'mention'"):
            DirectMessage.from_notification(note, home=HOME)

    def test_quotes_are_left_out(self) -> None:
        """quote-inline fallbacks, blockquotes and `>` lines never reach the parser; lines stay lines."""
        html = (
            '<p class="quote-inline">RE: <a href="https://x.example/@m/1">x.example/@m/1</a></p>'
            "<p>@bot approve h1<br />reject h2 spam</p><blockquote><p>pause</p></blockquote>"
            "<p>&gt; resume<br>status</p>"
        )
        assert dm_text(html) == "@bot approve h1\nreject h2 spam\nstatus"

    def test_quote_post_is_flagged(self) -> None:
        """A status with a Mastodon 4.4+ `quote` says it quotes a post."""
        note = next(n for n in stream_notifications() if n["status"]["visibility"] == "direct")
        note = {**note, "status": {**note["status"], "quote": {"state": "accepted", "quoted_status": None}}}
        assert DirectMessage.from_notification(note, home=HOME).quotes_post is True


class TestGuards:
    def test_moderator_dm_runs(self, direct: DirectMessage) -> None:
        """A moderator's DM, matched by handle and account URI, runs every command line."""
        t = triage(says(direct, "approve h1 h2\nreject h3 spam"), WHO, bot_handles=BOT)
        assert t.moderator is True
        assert t.commands == (
            c.Approve((ShortId("h1"), ShortId("h2"))),
            c.Reject(ShortId("h3"), "spam"),
        )
        assert not t.refuse

    def test_same_username_on_another_domain_is_refused(self, direct: DirectMessage) -> None:
        """The same username on another instance is someone else."""
        dm = says(direct, "approve h1", acct="mastodonpy_test_2@evil.example")
        t = triage(dm, WHO, bot_handles=BOT)
        assert (t.moderator, t.commands, t.refuse) == (False, (), True)

    def test_right_handle_wrong_account_uri_is_refused(self, direct: DirectMessage) -> None:
        """A handle that matches but comes from another account URI is not the moderator."""
        dm = says(direct, "pause", account_uri="https://evil.example/users/mastodonpy_test_2")
        t = triage(dm, WHO, bot_handles=BOT)
        assert (t.moderator, t.commands, t.refuse) == (False, (), True)

    def test_without_uri_the_moderator_is_recognised_by_the_home_id(self, direct: DirectMessage) -> None:
        """A server that gives no account `uri` (GoToSocial): the moderator looked up by handle is
        recognised by the home instance's account id, in a DM only; the same handle with another
        id, a look-alike from another domain with the same id, and a non-DM are not obeyed."""
        who = dataclasses.replace(WHO, moderators={MOD: AccountId("", MOD_ID)})
        gts = says(direct, "approve h1", account_uri="")
        assert triage(gts, who, bot_handles=BOT).commands == (c.Approve((ShortId("h1"),)),)
        other_id = triage(dataclasses.replace(gts, account_id="999"), who, bot_handles=BOT)
        assert (other_id.moderator, other_id.commands, other_id.refuse) == (False, (), True)
        look_alike = dataclasses.replace(gts, acct="mastodonpy_test_2@evil.example")
        assert triage(look_alike, who, bot_handles=BOT).refuse
        public = triage(dataclasses.replace(gts, visibility="public"), who, bot_handles=BOT)
        assert (public.commands, public.ask_for_dm) == ((), True)

    def test_a_dm_without_any_identity_is_never_a_moderator(self, direct: DirectMessage) -> None:
        """A DM whose account has neither uri nor id matches nobody, even with the right handle."""
        anonymous = says(direct, "pause", account_uri="", account_id="")
        assert triage(anonymous, WHO, bot_handles=BOT).refuse

    def test_moderator_not_found_at_start_cannot_command(self, direct: DirectMessage) -> None:
        """Without the account URI from the home instance, nobody is a moderator yet."""
        who = dataclasses.replace(WHO, moderators={MOD: None})
        assert triage(says(direct, "pause"), who, bot_handles=BOT).refuse

    def test_public_mention_asks_for_a_dm(self, direct: DirectMessage) -> None:
        """A moderator's command in a public mention is not run; the moderator is asked for a DM."""
        for visibility in ("public", "unlisted", "private"):
            t = triage(says(direct, "approve h1", visibility=visibility), WHO, bot_handles=BOT)
            assert (t.commands, t.ask_for_dm) == ((), True)

    def test_anyone_may_opt_out_in_a_public_mention(self, direct: DirectMessage) -> None:
        """`optout` runs from anyone, in a DM or a public mention; other chatter is ignored."""
        stranger = says(direct, "optout", acct="someone@else.example", visibility="public")
        assert triage(stranger, WHO, bot_handles=BOT).commands == (c.OptOut(),)
        chatter = says(direct, "thanks for the boost!", acct="someone@else.example", visibility="public")
        t = triage(chatter, WHO, bot_handles=BOT)
        assert (t.commands, t.help, t.refuse, t.dropped) == ((), False, False, "nothing to do")

    def test_edited_message_is_never_run(self, direct: DirectMessage) -> None:
        """An edited status runs nothing; a moderator is told why, anyone else hears nothing."""
        edited = says(direct, "approve h1", edited_at=datetime(2026, 8, 2, tzinfo=UTC))
        assert triage(edited, WHO, bot_handles=BOT) == triage(edited, WHO, bot_handles=BOT)
        t = triage(edited, WHO, bot_handles=BOT)
        assert (t.commands, t.answers, t.dropped) == ((), (EDITED,), "edited")
        other = triage(dataclasses.replace(edited, acct="x@y.example"), WHO, bot_handles=BOT)
        assert (other.commands, other.answers) == ((), ())

    def test_own_post_is_dropped_first(self, direct: DirectMessage) -> None:
        """The bot's own post is dropped before anything else, by handle or by account URI."""
        mine = says(direct, "pause", acct=BOT[0])
        assert triage(mine, WHO, bot_handles=BOT).dropped == "own post"
        by_uri = says(direct, "pause", account_uri=WHO.self_id.uri)
        assert triage(by_uri, WHO, bot_handles=BOT).commands == ()

    def test_quoted_command_is_not_run(self, direct: DirectMessage) -> None:
        """A DM whose only command is quoted gets the help text, not the command."""
        html = "<p>@mastodonpy_test</p><blockquote><p>approve h1</p></blockquote><p>&gt; pause</p>"
        dm = dataclasses.replace(direct, text=dm_text(html))
        t = triage(dm, WHO, bot_handles=BOT)
        assert (t.commands, t.help) == ((), True)

    def test_usage_errors_and_unknown_words_in_a_dm(self, direct: DirectMessage) -> None:
        """A known command with bad arguments gets its usage; an unknown word gets the help."""
        t = triage(says(direct, "block alice\nfrobnicate"), WHO, bot_handles=BOT)
        assert t.commands == ()
        assert t.help is True
        assert len(t.answers) == 1
        assert "Usage: block user@domain|domain" in t.answers[0]

    def test_non_moderator_usage_error_is_refused_not_explained(self, direct: DirectMessage) -> None:
        """A stranger's broken moderator command is refused like a whole one (no usage hints)."""
        t = triage(says(direct, "block alice", acct="x@y.example"), WHO, bot_handles=BOT)
        assert (t.answers, t.refuse, t.refused_words) == ((), True, ("block",))

    def test_help_in_a_dm_from_anyone_is_a_command(self, direct: DirectMessage) -> None:
        """`help` and `optin` are for anyone and answered, not refused."""
        t = triage(says(direct, "help\noptin", acct="x@y.example"), WHO, bot_handles=BOT)
        assert (t.commands, t.refuse) == ((c.Help(), c.OptIn()), False)
        assert ASK_FOR_DM not in t.answers


class TestRateLimitAndBatching:
    def test_one_refusal_per_interval(self) -> None:
        """A sender gets one unsolicited answer per interval; others are counted apart."""
        refusals = Refusals(3600)
        assert refusals.allow("a@x.example", 0.0)
        assert not refusals.allow("a@x.example", 3599.0)
        assert refusals.allow("b@x.example", 10.0)
        assert refusals.allow("a@x.example", 3600.0)

    def test_first_hold_at_once_then_a_digest(self) -> None:
        """The first hold after a quiet spell goes out at once; the next ones wait and go together."""
        batcher = Batcher(60)
        batcher.add(HeldPost("h1", "a@x.example", "https://x.example/1", "one"))
        assert [p.short_id for p in batcher.take(0.0)] == ["h1"]
        batcher.add(HeldPost("h2", "a@x.example", None, "two"))
        batcher.add(HeldPost("h3", "a@x.example", None, "three"))
        assert batcher.take(59.0) == []
        batch = batcher.take(60.0)
        assert [p.short_id for p in batch] == ["h2", "h3"]
        batcher.give_back(batch)
        assert [p.short_id for p in batcher.waiting] == ["h2", "h3"]


NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
HOLD = Verdict(Decision.HOLD, (Reason("mode", Decision.HOLD, "review mode"),))
ACTOR = "mira@home.example"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store with three held posts by bob (h1, h2) and carol (h3), and one boosted post by bob."""
    s = Store.open(tmp_path / "relay.sqlite3", now=lambda: NOW)
    for i, acct in enumerate(["bob@x.example", "bob@x.example", "carol@y.example", "bob@x.example"], 1):
        uri = f"https://x.example/statuses/{i}"
        arrive(
            s, uri, source="x.example", acct=acct, url=uri, edited_at=None, text_fingerprint=str(i), now=NOW
        )
        s.posts.record_verdict(uri, HOLD, NOW)
        if i < 4:
            s.queue.hold(uri, HOLD, NOW - timedelta(days=i))
    s.boosts.boost_intent("https://x.example/statuses/4", "4", NOW)
    s.boosts.boost_done("https://x.example/statuses/4", "r4", NOW)
    return s


def run(store: Store, *commands: c.Command, actor: str = ACTOR, **ctx: Any) -> Outcome:
    actions = Actions(store, Settings("home.example", ("TherapistsConnect",)), streams=lambda: (2, 3))
    out = Outcome()
    for cmd in commands:
        actions.run(cmd, Context(actor, True, NOW, **ctx), out)
    return out


class TestActions:
    def test_approve_writes_the_intent_and_refuses_a_second_time(self, store: Store) -> None:
        """`approve` moves held → approved with a boost intent; a repeat names the allowed moves."""
        out = run(store, c.Approve((ShortId("h1"),)), c.Approve((ShortId("h1"), ShortId("h9"))))
        assert out.lines[0] == "Approved h1: boosting it."
        assert out.lines[1].startswith("h1: can't approve a post that is approved")
        assert out.lines[2] == "There is no held post h9; `queue` lists them."
        assert out.approved == ["https://x.example/statuses/1"]
        assert [e.uri for e in store.boosts.unfinished_intents()] == ["https://x.example/statuses/1"]

    def test_reply_approve_and_reject_with_reason(self, store: Store) -> None:
        """Without an id the replied-to post is meant; a reject keeps its reason in the audit log."""
        reply_to = store.queue.queue_item("h2")
        assert run(store, c.Approve(()), reply_to=reply_to).lines == ["Approved h2: boosting it."]
        assert run(store, c.Approve(())).lines[0].startswith("Which post?")
        assert run(store, c.Reject(ShortId("h3"), "spam")).lines == ["Rejected h3 (spam)."]
        row = store.audit_log.audit_rows(uri="https://x.example/statuses/3")[-1]
        assert (row.action, row.actor, row.detail) == ("queue.rejected", ACTOR, "spam")

    def test_reject_of_an_approved_post_cancels_its_boost(self, store: Store) -> None:
        """Rejecting an approved, not yet boosted post cancels the open boost intent."""
        run(store, c.Approve((ShortId("h1"),)))
        run(store, c.Reject(ShortId("h1"), None))
        assert store.boosts.unfinished_intents() == []
        assert store.queue.queue_item("h1").state == "rejected"  # type: ignore[union-attr]

    def test_block_retracts_boosts_and_withdraws_held_posts(self, store: Store) -> None:
        """Blocking bob writes an unboost intent for his boost and withdraws his held posts."""
        out = run(store, c.Block(Account("bob@x.example"), "spam"))
        assert out.lines == [
            "Blocked bob@x.example (spam). Undoing 1 boost; withdrew 2 posts waiting to be boosted."
        ]
        assert [(e.kind, e.uri) for e in store.boosts.unfinished_intents()] == [
            ("unboost", "https://x.example/statuses/4")
        ]
        assert [i.short_id for i in store.queue.pending()] == ["h3"]
        assert store.people.history("bob@x.example", "", NOW, uri="u").account_blocked == "spam"

    def test_block_cancels_boosts_not_yet_done_by_the_posts_author(self, store: Store) -> None:
        """Blocking bob cancels the open boost of his approved post and of his accepted post."""
        run(store, c.Approve((ShortId("h1"),)))
        accepted = "https://x.example/statuses/5"  # screened and accepted: never in the queue
        arrive(
            store,
            accepted,
            source="x.example",
            acct="Bob@X.example",
            url=None,
            edited_at=None,
            text_fingerprint="5",
        )
        store.boosts.boost_intent(accepted, None, NOW)
        out = run(store, c.Block(Account("bob@x.example"), None))
        assert out.lines == [
            "Blocked bob@x.example. Undoing 1 boost; withdrew 3 posts waiting to be boosted."
        ]
        assert [(e.kind, e.uri) for e in store.boosts.unfinished_intents()] == [
            ("unboost", "https://x.example/statuses/4")
        ]
        assert store.queue.queue_item("h1").state == "retracted"  # type: ignore[union-attr]

    def test_domain_block_covers_subdomains(self, store: Store) -> None:
        """A domain block withdraws posts from that domain only."""
        out = run(store, c.Block(Domain("y.example"), None))
        assert out.lines == ["Blocked y.example. Withdrew 1 post waiting to be boosted."]
        assert [i.short_id for i in store.queue.pending()] == ["h2", "h1"]

    def test_optout_is_the_senders_and_retracts(self, store: Store) -> None:
        """`optout` records the sender's consent, audited as theirs, and undoes their boosts."""
        out = run(store, c.OptOut(), actor="bob@x.example")
        assert "undoing my 1 earlier boost" in out.lines[0]
        assert store.people.consent("bob@x.example") == "opt-out"
        assert next(r.action for r in store.audit_log.audit_rows(actor="bob@x.example")) == "consent.opt-out"

    def test_pause_resume_and_status(self, store: Store) -> None:
        """`pause` and `resume` flip the stored flag once; `status` reports it with the queue."""
        assert run(store, c.Pause(), c.Pause()).lines[1].startswith("Boosting is already paused")
        assert store.settings.paused()
        assert run(store, c.Status()).lines[:2] == [
            "Boosting: PAUSED (`resume` starts it).",
            "Held for review: 3.",
        ]
        assert run(store, c.Resume()).lines == ["Resumed: boosting again (0 waiting)."]
        assert not store.settings.paused()

    def test_queue_lists_oldest_first(self, store: Store) -> None:
        """`queue` lists the held posts, oldest first, with the rules that held them."""
        lines = run(store, c.Queue()).lines
        assert lines[0] == "3 posts wait for review, oldest first:"
        assert [line.split()[0] for line in lines[1:4]] == ["h3", "h2", "h1"]
        assert lines[1].endswith("— mode")

    def test_unboost_is_final(self, store: Store) -> None:
        """`unboost` of a boosted post writes the intent and retracts the post for good."""
        post = Post.from_status(
            {
                "id": "4",
                "uri": "https://x.example/statuses/4",
                "url": "https://x.example/@bob/4",
                "account": {"acct": "bob@x.example"},
                "created_at": "2026-08-01T00:00:00Z",
                "visibility": "public",
                "content": "<p>hi</p>",
            },
            source="home.example",
        )
        out = run(store, c.Unboost(PostUrl(post.url)), resolved={post.url: post})
        assert out.lines == ["Unboosting https://x.example/@bob/4; it won't be boosted again."]
        assert store.posts.is_retracted(post.uri)
        again = run(store, c.Boost(post.url), resolved={post.url: post})
        assert again.lines[0].startswith("Not boosted: that post was retracted")

    def test_expiry_moves_old_holds(self, store: Store) -> None:
        """Held posts older than the expiry become `expired`, audited with the reason."""
        assert expire(store, NOW, timedelta(days=2)) == ["h3", "h2"]
        assert store.queue.queue_item("h2").state == "expired"  # type: ignore[union-attr]
        assert (
            store.audit_log.audit_rows(uri="https://x.example/statuses/3")[-1].detail
            == "nobody decided within 2 days"
        )
        assert [i.short_id for i in store.queue.pending()] == ["h1"]


class RecordingHome:
    """The home instance as `Moderation.tick` uses it: records each DM the bot posts, or refuses."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.down = False

    def status_post(self, text: str, *, visibility: str, in_reply_to_id: str | None = None) -> dict[str, Any]:
        if self.down:
            raise MastodonNetworkError("connection refused")
        assert visibility == "direct"
        self.sent.append(text)
        return {"id": str(len(self.sent))}


class Clock:
    """Both of the moderation channel's clocks (monotonic seconds and UTC time), moved together."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.now = NOW

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.now += timedelta(seconds=seconds)


MODERATORS = ("mira@home.example", "remi@remote.example")


def channel(store: Store, home: RecordingHome, clock: Clock, tmp_path: Path, **moderation: Any) -> Moderation:
    """A moderation channel for two moderators on `home`, on `clock` (no start-up lookups)."""
    doc = {
        "hashtags": ["TherapistsConnect"],
        "home": {"url": "https://home.example"},
        "moderation": {"moderators": list(MODERATORS), **moderation},
    }
    config = parse_config(doc, path=tmp_path / "relay.toml")
    return Moderation(
        home,  # type: ignore[arg-type]
        store,
        config,
        me={"uri": "https://home.example/users/relaybot"},
        self_acct="relaybot@home.example",
        clock=lambda: clock.seconds,
        now=lambda: clock.now,
    )


class TestTick:
    def test_silence_is_told_once_and_its_end_once(self, store: Store, tmp_path: Path) -> None:
        """After `silence_alert_minutes` without events both moderators get one DM, again after a
        restart none, and one more when events come again."""
        home, clock = RecordingHome(), Clock()
        store.statistics.record_source_event("x.example", NOW)
        moderation = channel(store, home, clock, tmp_path, silence_alert_minutes=1)
        clock.advance(59)
        moderation.tick()
        assert home.sent == []
        for wait in (1, 60, 3600):
            clock.advance(wait)
            moderation.tick()
        assert home.sent == [
            "@mira@home.example @remi@remote.example The relay has seen no post from any source for"
            " 1 minute: streams may be down; `relay status` on the server says more."
        ]
        restarted = channel(store, home, clock, tmp_path, silence_alert_minutes=1)
        clock.advance(120)
        restarted.tick()
        assert len(home.sent) == 1
        store.statistics.record_source_event("x.example", clock.now)
        clock.advance(10)
        restarted.tick()
        assert len(home.sent) == 2
        assert home.sent[1].endswith("Posts are arriving again: the relay sees new posts from its sources.")

    def test_an_alert_that_could_not_be_sent_is_tried_again_later(self, store: Store, tmp_path: Path) -> None:
        """While the home instance refuses the DM nothing is recorded; a minute later it goes out."""
        home, clock = RecordingHome(), Clock()
        moderation = channel(store, home, clock, tmp_path, silence_alert_minutes=0.5)
        home.down = True
        clock.advance(30)
        moderation.tick()
        home.down = False
        clock.advance(30)
        moderation.tick()
        assert home.sent == []
        clock.advance(30)
        moderation.tick()
        assert len(home.sent) == 1
        assert "for 0.5 minutes" in home.sent[0]

    def test_no_alert_when_it_is_off(self, store: Store, tmp_path: Path) -> None:
        """With the default silence_alert_minutes = 0 a silent relay sends nothing."""
        home, clock = RecordingHome(), Clock()
        moderation = channel(store, home, clock, tmp_path)
        clock.advance(86400)
        moderation.tick()
        assert home.sent == []

    def test_handled_mentions_are_forgotten_after_30_days(self, store: Store, tmp_path: Path) -> None:
        """`tick` prunes the record of mentions handled more than 30 days ago, and keeps newer ones."""
        store.settings.mark_mention_handled("1001", NOW - timedelta(days=31))
        store.settings.mark_mention_handled("1002", NOW - timedelta(days=29))
        channel(store, RecordingHome(), Clock(), tmp_path).tick()
        assert not store.settings.is_mention_handled("1001")
        assert store.settings.is_mention_handled("1002")


class TestCatchUpCursor:
    def test_each_forward_move_is_stored_and_handed_out(self, store: Store, tmp_path: Path) -> None:
        """`handle` stores a newer catch-up cursor and returns it for the fetcher; an older or the
        same one changes nothing and returns None."""
        moderation = channel(store, RecordingHome(), Clock(), tmp_path)
        assert moderation.handle(MentionsSeen("117")) == "117"
        assert moderation.handle(MentionsSeen("99")) is None
        assert moderation.handle(MentionsSeen("117")) is None
        assert moderation.handle(MentionsSeen("1000")) == "1000"
        assert (moderation.mentions_cursor, store.settings.get_setting("moderation.mentions_cursor")) == (
            "1000",
            "1000",
        )

    def test_a_repeated_catch_up_mention_moves_the_cursor(
        self, store: Store, tmp_path: Path, direct: DirectMessage
    ) -> None:
        """A mention handled before moves the cursor when the catch-up brings it again, not when
        the stream does, and runs nothing again."""
        home = RecordingHome()
        moderation = channel(store, home, Clock(), tmp_path)
        store.settings.mark_mention_handled(direct.status_id, NOW)
        assert moderation.handle(Mention(direct, via="stream")) is None
        assert moderation.handle(Mention(direct, via="catch-up")) == direct.notification_id
        assert home.sent == []
