"""End to end: moderation by direct message, through the real `relay run` process and a sandbox.

Moderators on the home and on a remote instance DM the bot with Mastodon.py; the relay reads its
notification stream, acts, and answers by DM. One relay process serves the whole `TestByDM`
class (each test uses its own authors, so the checks stay independent); restarts get their own.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, wait_for

from relay.core.dm import dm_text
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.store.records import QueueItem
from relay.store.store import Store

NAMES = itertools.count()


@dataclass
class Person:
    """A sandbox account with a client: posts, sends DMs to the bot, reads the bot's DMs."""

    instance: Instance
    account: SeededAccount
    bot: SeededAccount
    bot_acct: str  # the bot's full handle

    @property
    def acct(self) -> str:
        return self.account.acct

    @property
    def api(self) -> Mastodon:
        return Mastodon(access_token=self.account.token, api_base_url=self.instance.url)

    def post(self, text: str, **options: Any) -> dict[str, Any]:
        return dict(self.api.status_post(text, **options))

    def dm(self, text: str, *, visibility: str = "direct", **options: Any) -> dict[str, Any]:
        """Mention the bot with `text` (a DM unless told otherwise)."""
        return self.post(f"@{self.bot_acct} {text}", visibility=visibility, **options)

    def from_bot(self) -> list[dict[str, Any]]:
        """The bot's posts that mention this person, oldest first, with their plain text."""
        notes = self.api.notifications(types=["mention"], limit=80)
        found = [
            {**dict(n["status"]), "text": dm_text(n["status"]["content"])}
            for n in notes
            if n["account"]["uri"] == self.bot.uri
        ]
        return sorted(found, key=lambda s: int(s["id"]))

    def replies(self, to: dict[str, Any]) -> list[str]:
        """The texts of the bot's answers to status `to`."""
        return [s["text"] for s in self.from_bot() if str(s["in_reply_to_id"]) == str(to["id"])]

    def wait_reply(self, to: dict[str, Any], contains: str, timeout: float = 15.0) -> str:
        def found() -> str | None:
            return next((t for t in self.replies(to) if contains in t), None)

        return wait_for(found, timeout=timeout, what=f"a DM to {self.acct} saying {contains!r}")

    def wait_dm(self, contains: str, timeout: float = 15.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((s for s in self.from_bot() if contains in s["text"]), None)

        return wait_for(found, timeout=timeout, what=f"a DM to {self.acct} saying {contains!r}")


@dataclass
class World:
    fed: Fediverse
    relay: RelayProcess
    bot: SeededAccount
    mira: Person  # moderator on home
    remi: Person  # moderator on remote

    def person(self, instance: str, username: str, **profile: Any) -> Person:
        """A new account that follows the bot (so the bot's DMs reach it)."""
        inst = self.fed[instance]
        account = inst.create_account(username, **profile)
        person = Person(inst, account, self.bot, bot_handle(self.fed, self.bot))
        inst.follow(account, person.bot_acct)
        return person

    def held(self, status: dict[str, Any]) -> QueueItem:
        """Wait until `status` is in the review queue; its item."""
        with Store.open(self.relay.state, readonly=True) as store:
            return wait_for(lambda: store.queue.queue_by_uri(status["uri"]), what=f"{status['uri']} held")

    def item(self, short_id: str) -> QueueItem:
        with Store.open(self.relay.state, readonly=True) as store:
            item = store.queue.queue_item(short_id)
        assert item is not None
        return item

    def wait_state(self, short_id: str, state: str) -> QueueItem:
        return wait_for(
            lambda: (i := self.item(short_id)).state == state and i, what=f"{short_id} to be {state}"
        )

    def audit(self, **filters: Any) -> list[Any]:
        with Store.open(self.relay.state, readonly=True) as store:
            return store.audit_log.audit_rows(**filters)


def bot_handle(fed: Fediverse, bot: SeededAccount) -> str:
    return f"{bot.username}@{fed['home'].domain}"


def make_world(folder: Path, fed: Fediverse, *, moderation: str) -> World:
    bot = fed["home"].create_account("relaybot", bot=True, display_name="TherapistsConnect relay")
    handle = bot_handle(fed, bot)
    people = {}
    for instance, name in (("home", "mira"), ("remote", "remi")):
        account = fed[instance].create_account(name, display_name=name.capitalize())
        fed[instance].follow(account, handle)
        people[name] = Person(fed[instance], account, bot, handle)
    relay = RelayProcess(
        folder,
        fed,
        bot,
        mode="review",
        moderators=(people["mira"].acct, people["remi"].acct),
        moderation=moderation,
    )
    return World(fed, relay, bot, people["mira"], people["remi"])


@pytest.fixture(scope="class")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One relay in review mode with two moderators (home and remote); the bot accepts all DMs."""
    with Fediverse(["home", "remote", "third"], heartbeat=0.5) as fed:
        w = make_world(
            tmp_path_factory.mktemp("moderation"),
            fed,
            moderation='dm_policy = "accept"\ndigest_interval = 1.5\nrefusal_interval = 3600',
        )
        with w.relay:
            w.relay.wait_log("stream.connected", stream=f"{fed['home'].domain} notifications")
            w.relay.wait_log("mentions.fetched")
            yield w


class TestByDM:
    def test_help_and_unknown_command_are_answered(self, world: World) -> None:
        """`help` and an unknown word both get the moderators' help text by DM."""
        asked = world.mira.dm("help")
        assert "approve" in world.mira.wait_reply(asked, "Commands, one per line")
        unknown = world.mira.dm("frobnicate h1")
        world.mira.wait_reply(unknown, "Commands, one per line")

    def test_approve_by_id_boosts_and_confirms(self, world: World) -> None:
        """A held post is announced by DM; `approve ID` boosts it and a DM confirms the boost."""
        bob = world.person("remote", "bob")
        status = bob.post(f"Hello, I am Bob, a therapist in Leeds #{HASHTAG}")
        short_id = world.held(status).short_id
        notice = world.mira.wait_dm(f"Held for review: {short_id}")
        assert bob.acct in notice["text"]
        assert status["url"] in notice["text"]
        assert "Hello, I am Bob" in notice["text"]
        assert world.remi.wait_dm(f"Held for review: {short_id}")  # every moderator is told
        command = world.mira.dm(f"approve {short_id}")
        world.mira.wait_reply(command, f"Approved {short_id}")
        world.relay.wait_boosted(status["uri"])
        world.mira.wait_reply(command, f"Boosted {short_id}")
        assert world.wait_state(short_id, "boosted").actor == "relay"
        approved = [r for r in world.audit(uri=status["uri"]) if r.action == "queue.approved"]
        assert [r.actor for r in approved] == [world.mira.acct]

    def test_reply_approve_from_a_remote_moderator(self, world: World) -> None:
        """A remote moderator answers the hold DM with just `approve`: that post is boosted."""
        cleo = world.person("third", "cleo")
        status = cleo.post(f"New here: art therapist in Lyon #{HASHTAG}")
        short_id = world.held(status).short_id
        notice = world.remi.wait_dm(f"Held for review: {short_id}")
        answer = world.remi.post(
            f"@{world.remi.bot_acct} Approve", visibility="direct", in_reply_to_id=notice["id"]
        )
        world.remi.wait_reply(answer, f"Approved {short_id}")
        world.relay.wait_boosted(status["uri"])
        assert world.wait_state(short_id, "boosted")

    def test_reject_with_a_reason_is_audited(self, world: World) -> None:
        """`reject ID reason` rejects the post and the audit log keeps who and why."""
        spam = world.person("remote", "spammy")
        status = spam.post(f"Buy followers cheap #{HASHTAG}")
        short_id = world.held(status).short_id
        command = world.mira.dm(f"reject {short_id} selling followers")
        world.mira.wait_reply(command, f"Rejected {short_id} (selling followers)")
        rows = [r for r in world.audit(uri=status["uri"]) if r.action == "queue.rejected"]
        assert [(r.actor, r.target, r.detail) for r in rows] == [
            (world.mira.acct, short_id, "selling followers")
        ]
        assert status["uri"] not in world.relay.boosted_uris()

    def test_block_retracts_earlier_boosts(self, world: World) -> None:
        """`block user@domain` unboosts that author's boosted posts and keeps new ones out."""
        dave = world.person("third", "dave")
        first = dave.post(f"First post #{HASHTAG}")
        short_id = world.held(first).short_id
        world.mira.dm(f"approve {short_id}")
        world.relay.wait_boosted(first["uri"])
        command = world.mira.dm(f"block {dave.acct} sockpuppet")
        assert "Undoing 1 boost" in world.mira.wait_reply(command, f"Blocked {dave.acct} (sockpuppet)")
        wait_for(lambda: first["uri"] not in world.relay.boosted_uris(), what="the unboost")
        assert world.wait_state(short_id, "retracted")
        later = dave.post(f"Second post #{HASHTAG}")
        world.relay.wait_log("post.screened", uri=later["uri"], decision="reject")
        blocks = [r for r in world.audit(actor=world.mira.acct) if r.action == "block.account"]
        assert [(r.target, r.detail) for r in blocks] == [(dave.acct, "sockpuppet")]

    def test_pause_holds_back_boosting_until_resume(self, world: World) -> None:
        """After `pause` an approved post waits; `resume` boosts it."""
        erin = world.person("remote", "erin")
        status = erin.post(f"Group supervision on Friday #{HASHTAG}")
        short_id = world.held(status).short_id
        world.mira.wait_dm(f"Held for review: {short_id}")
        paused = world.mira.dm("pause")
        world.mira.wait_reply(paused, "Paused: nothing is boosted")
        approve = world.remi.dm(f"approve {short_id}")
        world.remi.wait_reply(approve, "Boosting is paused")
        asked = world.mira.dm("status")  # answered after the booster had its turn
        assert "Boosting: PAUSED" in world.mira.wait_reply(asked, "Held for review")
        assert status["uri"] not in world.relay.boosted_uris()
        resumed = world.mira.dm("resume")
        world.mira.wait_reply(resumed, "Resumed: boosting again")
        world.relay.wait_boosted(status["uri"])
        world.remi.wait_reply(approve, f"Boosted {short_id}")
        assert [r.action for r in world.audit(actor=world.mira.acct) if r.action in ("pause", "resume")] == [
            "pause",
            "resume",
        ]

    def test_optout_retracts_and_stops_new_boosts(self, world: World) -> None:
        """An author's `optout` by DM unboosts their posts, confirms by DM and stops new boosts."""
        fay = world.person("remote", "fay")
        first = fay.post(f"My practice opens in May #{HASHTAG}")
        world.mira.dm(f"approve {world.held(first).short_id}")
        world.relay.wait_boosted(first["uri"])
        asked = fay.dm("optout")
        text = fay.wait_reply(asked, "I won't boost your posts any more")
        assert "undoing my 1 earlier boost" in text
        wait_for(lambda: first["uri"] not in world.relay.boosted_uris(), what="the unboost")
        later = fay.post(f"Another post #{HASHTAG}")
        world.relay.wait_log("post.screened", uri=later["uri"], decision="reject")
        assert [r.action for r in world.audit(actor=fay.acct)] == ["consent.opt-out", "queue.retracted"]

    def test_optin_by_public_mention_is_confirmed_by_dm(self, world: World) -> None:
        """`optin` works in a public mention too, and the answer comes by DM."""
        gus = world.person("third", "gus")
        asked = gus.dm("optin", visibility="public")
        reply = gus.wait_dm("your public posts with #TherapistsConnect can be boosted")
        assert reply["visibility"] == "direct"
        assert str(reply["in_reply_to_id"]) == str(asked["id"])
        assert [r.action for r in world.audit(actor=gus.acct)] == ["consent.opt-in"]

    def test_boost_and_unboost_by_hand(self, world: World) -> None:
        """`boost URL` boosts a public post without review, refuses an unlisted one; `unboost` undoes it."""
        jo = world.person("remote", "jo")
        public = jo.post("A public post without the hashtag")
        unlisted = jo.post("An unlisted post", visibility="unlisted")
        refused = world.mira.dm(f"boost {unlisted['url']}")
        world.mira.wait_reply(refused, "Not boosted: that post is unlisted; only public posts are boosted.")
        command = world.mira.dm(f"boost {public['url']}")
        world.mira.wait_reply(command, f"Boosting {public['url']} by {jo.acct}.")
        world.relay.wait_boosted(public["uri"])
        world.mira.wait_reply(command, "Boosted")
        undo = world.mira.dm(f"unboost {public['url']}")
        world.mira.wait_reply(undo, "it won't be boosted again")
        wait_for(lambda: public["uri"] not in world.relay.boosted_uris(), what="the unboost")
        actions = [r.action for r in world.audit(uri=public["uri"], actor=world.mira.acct)]
        assert actions == ["moderator.boost", "post.retracted"]
        assert unlisted["uri"] not in world.relay.boosted_uris()

    def test_many_holds_at_once_come_as_one_digest(self, world: World) -> None:
        """Several posts held together are announced in one digest DM, not one DM each."""
        hal = world.person("remote", "hal")
        # The relay is frozen while the burst is posted, so that the four posts reach it together
        # however slowly the machine posts them (the digest groups holds within digest_interval).
        assert world.relay.process is not None
        world.relay.process.send_signal(signal.SIGSTOP)
        try:
            statuses = [hal.post(f"Burst {i} #{HASHTAG}") for i in range(4)]
        finally:
            world.relay.process.send_signal(signal.SIGCONT)
        ids = [world.held(s).short_id for s in statuses]

        def find_digest() -> dict[str, Any] | None:
            texts = [s for s in world.mira.from_bot() if "posts wait for review" in s["text"]]
            return next((s for s in texts if any(f"{i} " in s["text"] for i in ids)), None)

        digest = wait_for(find_digest, what="a digest of the burst")
        listed = [i for i in ids if f"{i} " in digest["text"]]
        assert len(listed) >= 3, digest["text"]
        notices = [s for s in world.mira.from_bot() if any(f"{i} " in s["text"] for i in ids)]
        assert len(notices) <= 2
        answer = world.mira.post(
            f"@{world.mira.bot_acct} approve", visibility="direct", in_reply_to_id=digest["id"]
        )
        world.mira.wait_reply(answer, "That DM lists several posts")


class TestSpoofing:
    """Every attempt to command the relay without being a moderator in a DM is refused."""

    @pytest.fixture
    def target(self, world: World) -> tuple[dict[str, Any], str]:
        """A freshly held post and its short id: the prize every spoof goes for."""
        ivy = world.person("remote", f"ivy{next(NAMES)}")
        status = ivy.post(f"Please boost me #{HASHTAG}")
        return status, world.held(status).short_id

    def test_same_username_on_another_domain(self, world: World, target: tuple[dict[str, Any], str]) -> None:
        """mira@third is not mira@home: refused politely, nothing approved."""
        _status, short_id = target
        twin = world.person("third", "mira", display_name="Mira")
        asked = twin.dm(f"approve {short_id}")
        twin.wait_reply(asked, "only this relay's moderators")
        assert world.item(short_id).state == "held"
        assert [r.action for r in world.audit(actor=twin.acct)] == ["dm.refused"]

    def test_look_alike_display_name(self, world: World, target: tuple[dict[str, Any], str]) -> None:
        """An account named like a moderator (display name and all) is refused."""
        _status, short_id = target
        fake = world.person("home", "mira_", display_name="Mira")
        asked = fake.dm(f"approve {short_id}")
        fake.wait_reply(asked, "only this relay's moderators")
        assert world.item(short_id).state == "held"

    def test_moderator_command_in_a_public_mention(
        self, world: World, target: tuple[dict[str, Any], str]
    ) -> None:
        """A moderator's command in a public mention is not run; the bot asks for a DM."""
        _status, short_id = target
        asked = world.mira.dm(f"approve {short_id}", visibility="public")
        world.mira.wait_reply(asked, "only by direct message")
        unlisted = world.remi.dm(f"reject {short_id}", visibility="unlisted")
        world.remi.wait_reply(unlisted, "only by direct message")
        assert world.item(short_id).state == "held"

    def test_quoted_command_is_not_run(self, world: World, target: tuple[dict[str, Any], str]) -> None:
        """A command quoted in someone else's post, or quoted in a moderator's DM, never runs."""
        _status, short_id = target
        eve = world.person("remote", "eve")
        quoting = eve.dm(f"\n> {world.mira.acct} wrote: approve {short_id}\nthis is what she said")
        eve.wait_reply(quoting, "You can send")  # eve gets the public help; nothing ran
        quoted = world.mira.dm(f"\n> approve {short_id}\nwhat do you think?")
        world.mira.wait_reply(quoted, "Commands, one per line")
        assert world.item(short_id).state == "held"

    def test_non_moderator_gets_one_refusal(self, world: World, target: tuple[dict[str, Any], str]) -> None:
        """A non-moderator's commands are never run; the refusal comes once, then stays quiet."""
        _status, short_id = target
        kim = world.person("third", "kim")
        first = kim.dm(f"approve {short_id}")
        kim.wait_reply(first, "only this relay's moderators")
        second = kim.dm(f"block {world.remi.acct}\npause")
        asked = kim.dm("help")  # answered, so everything before it was handled
        kim.wait_reply(asked, "You can send")
        assert kim.replies(second) == []
        assert world.item(short_id).state == "held"
        assert [r.action for r in world.audit(actor=kim.acct)] == ["dm.refused", "dm.refused"]
        assert not any(r.target == world.remi.acct for r in world.audit())

    def test_bot_own_post_is_ignored(self, world: World, target: tuple[dict[str, Any], str]) -> None:
        """A command posted by the bot account itself does nothing."""
        _status, short_id = target
        bot = Person(world.fed["home"], world.bot, world.bot, world.mira.bot_acct)
        bot.dm(f"approve {short_id}")
        asked = world.mira.dm(f"why {short_id}")
        assert "now held" in world.mira.wait_reply(asked, f"{short_id}: hold")
        assert world.item(short_id).state == "held"

    def test_edited_dm_is_not_run(self, world: World, target: tuple[dict[str, Any], str]) -> None:
        """A DM edited into a command after it was sent does not run the command."""
        _status, short_id = target
        sent = world.mira.dm("hello there")
        world.mira.wait_reply(sent, "Commands, one per line")
        world.mira.api.status_update(sent["id"], f"@{world.mira.bot_acct} approve {short_id}")
        asked = world.mira.dm(f"why {short_id}")
        assert "now held" in world.mira.wait_reply(asked, f"{short_id}: hold")


def test_restart_handles_missed_dms_once(tmp_path: Path) -> None:
    """DMs sent while the relay is down run once after the restart, edited ones never, and the bot
    follows its moderators (dm_policy = "follow") so that their DMs pass the notification policy."""
    with Fediverse(["home", "remote"], heartbeat=0.5) as fed:
        w = make_world(tmp_path, fed, moderation="digest_interval = 0")
        w.relay.start()
        w.relay.wait_log("mentions.fetched")
        w.relay.wait_log("moderation.followed", moderator=w.remi.acct)
        with fed["home"].lock:
            state = fed["home"].state
            bot = state.accounts[w.bot.id]
            assert {a.acct for a in state.following_of(bot)} == {"mira", w.remi.acct}
            assert state.policy(bot).for_private_mentions == "filter"  # left as it was
        nia = w.person("remote", "nia")
        first = nia.post(f"One #{HASHTAG}")
        second = nia.post(f"Two #{HASHTAG}")
        one, two = w.held(first).short_id, w.held(second).short_id
        wait_for(lambda: w.item(two).announcement_id, what=f"{two} announced")  # alone or in a digest
        assert w.relay.stop() == 0
        approve = w.remi.dm(f"approve {one}")
        edited = w.mira.dm("nothing yet")
        w.mira.api.status_update(edited["id"], f"@{w.mira.bot_acct} approve {two}")
        again = RelayProcess(w.relay.folder, fed, w.bot, mode="review", moderators=(w.mira.acct, w.remi.acct))
        with again:  # its log file is the first run's: wait on what the instances show
            again.wait_boosted(first["uri"])
            w.remi.wait_reply(approve, f"Boosted {one}")
            w.mira.wait_reply(edited, "I don't act on edited messages")
            assert w.item(two).state == "held"
        with RelayProcess(w.relay.folder, fed, w.bot, mode="review", moderators=(w.mira.acct,)):
            asked = w.mira.dm("queue")
            assert two in w.mira.wait_reply(asked, "1 post waits for review")
        approvals = [r for r in w.audit() if r.action == "queue.approved"]
        assert [(r.actor, r.target) for r in approvals] == [(w.remi.acct, one)]
        answers = [t for t in w.remi.replies(approve) if "Approved" in t]
        assert answers == [f"@remi Approved {one}: boosting it."]


def test_silence_is_told_once_and_so_is_its_end(tmp_path: Path) -> None:
    """With `silence_alert_minutes` set, moderators get one DM when no source has delivered a post
    for that long, and one more when posts arrive again."""
    with Fediverse(["home", "remote"], heartbeat=0.5) as fed:
        w = make_world(tmp_path, fed, moderation="silence_alert_minutes = 0.02")  # 1.2 s
        with w.relay:
            silent = w.mira.wait_dm("has seen no post from any source for 0.02 minutes")
            assert "`relay status` on the server" in silent["text"]
            w.remi.wait_dm("has seen no post from any source")
            w.person("remote", "oli").post(f"Back at the practice #{HASHTAG}")
            resumed = w.mira.wait_dm("Posts are arriving again")
            told = [
                s["id"]
                for s in w.mira.from_bot()
                if "seen no post" in s["text"] and int(s["id"]) < int(resumed["id"])
            ]
            assert told == [silent["id"]]
            w.relay.wait_log("sources.resumed")
