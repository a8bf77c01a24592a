"""Moderators on a home instance whose account JSON has no `uri` (GoToSocial), against the sandbox.

The moderation channel looks the moderator up on the home instance and recognises their DMs by
handle and the home instance's account id; a look-alike on another instance with the same user
name, a stranger, and a moderator writing outside a DM are treated as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from relay.config.load import parse_config
from relay.core.accounts import AccountId
from relay.core.dm import DirectMessage
from relay.moderation import grammar as c
from relay.moderation.channel import Moderation
from relay.moderation.guards import triage
from relay.moderation.handles import ShortId
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sources.client import mastodon_client
from relay.sources.rest import as_json
from relay.store.store import Store


class World:
    """A GoToSocial home with the bot and the moderator alice; alice's namesake on a remote."""

    def __init__(self, fed: Fediverse, tmp: Path) -> None:
        self.fed = fed
        self.bot = self.home.create_account("relaybot", bot=True)
        self.alice = self.home.create_account("alice")
        self.namesake = fed["remote"].create_account("alice")
        self.home.set_notification_policy(self.bot, for_private_mentions="accept")  # strangers' DMs too
        self.api = mastodon_client(self.home.url, self.bot.token)
        doc = {
            "hashtags": ["TherapistsConnect"],
            "home": {"url": self.home.url},
            "moderation": {"moderators": [self.alice.acct], "dm_policy": "leave"},
        }
        self.store = Store.open(tmp / "relay.sqlite3")
        me = self.api.account_verify_credentials()
        self.channel = Moderation(
            self.api, self.store, parse_config(doc, path=tmp / "relay.toml"), me=me, self_acct=self.bot.acct
        )

    @property
    def home(self) -> Instance:
        return self.fed["home"]

    def message(
        self, sender: SeededAccount, instance: str, text: str, visibility: str = "direct"
    ) -> DirectMessage:
        """`sender` mentions the bot; the bot reads the mention as its home instance renders it."""
        self.fed[instance].post(sender, f"@{self.bot.acct} {text}", visibility=visibility)
        notes = [n for n in self.api.notifications(types=["mention"]) if text in n["status"]["content"]]
        assert notes, f"no mention carrying {text!r}"
        return DirectMessage.from_notification(as_json(notes[0]), home=self.home.url)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Fediverse(["home", "remote"], heartbeat=0.2, flavours={"home": "gotosocial"}) as fed:
        w = World(fed, tmp_path)
        yield w
        w.store.close()


class TestWithoutUri:
    def test_the_home_gives_no_uri(self, world: World) -> None:
        """The sandbox's GoToSocial renders accounts without `uri`, as the real one does."""
        me = requests.get(
            f"{world.home.url}/api/v1/accounts/verify_credentials",
            headers={"Authorization": f"Bearer {world.bot.token}"},
            timeout=5,
        ).json()
        assert "uri" not in me
        assert me["id"]

    def test_moderator_is_found_by_the_home_id(self, world: World) -> None:
        """At start the moderator is looked up and known by the home instance's account id."""
        world.channel.start()
        known = world.channel.who.moderators[world.alice.acct]
        assert known == AccountId("", world.alice.id)

    def test_moderators_dm_is_obeyed(self, world: World) -> None:
        """A DM from the moderator, without any uri, is a moderator's command."""
        world.channel.start()
        dm = world.message(world.alice, "home", "approve h1")
        assert dm.account_uri == ""
        verdict = triage(dm, world.channel.who, bot_handles=world.channel.bot_handles)
        assert verdict.moderator is True
        assert verdict.commands == (c.Approve((ShortId("h1"),)),)

    def test_namesake_on_another_instance_is_refused(self, world: World) -> None:
        """alice@remote, the same user name on another server, is not the moderator."""
        world.channel.start()
        dm = world.message(world.namesake, "remote", "approve h2")
        verdict = triage(dm, world.channel.who, bot_handles=world.channel.bot_handles)
        assert (verdict.moderator, verdict.commands, verdict.refuse) == (False, (), True)

    def test_moderator_outside_a_dm_is_asked_for_one(self, world: World) -> None:
        """The moderator's command in a public mention is not run; a DM is asked for."""
        world.channel.start()
        dm = world.message(world.alice, "home", "approve h3", visibility="public")
        verdict = triage(dm, world.channel.who, bot_handles=world.channel.bot_handles)
        assert (verdict.commands, verdict.ask_for_dm) == ((), True)


class TestJoinWithoutUri:
    def test_join_finds_the_sender_by_the_home_id(self, world: World) -> None:
        """`join` on a home without uris: the sender's profile is the account the home instance gives
        the DM's sender id, so anyone can still list themselves."""
        world.channel.start()
        dm = world.message(world.namesake, "remote", "join")
        sender = world.channel._sender(dm)
        assert sender is not None
        assert sender.account_id == dm.account_id
        assert sender.acct == world.namesake.acct

    def test_join_refuses_a_profile_that_is_another_account(self, world: World) -> None:
        """A DM whose sender id is not the id the handle resolves to gives no profile."""
        world.channel.start()
        dm = world.message(world.namesake, "remote", "join")
        forged = dataclasses.replace(dm, account_id=world.alice.id)
        assert world.channel._sender(forged) is None
