"""The directory's DM commands against a real store: `join`, `leave`, `intro` (anyone, by DM),
`unlist` (moderators), and `optout` and `block` taking members out. Nobody is listed unasked."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from statusgen import real_statuses

from relay.core.accounts import AccountId
from relay.core.dm import DirectMessage
from relay.core.post import Post
from relay.moderation import grammar as c
from relay.moderation.actions import Actions, Context, Outcome, Settings
from relay.moderation.guards import Who, triage
from relay.moderation.handles import Account, Domain
from relay.store.records import MemberAccount
from relay.store.store import Store

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
ANN = "ann@one.example"
MOD = "mira@home.example"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "relay.sqlite3", now=lambda: NOW) as s:
        yield s


def profile(acct: str = ANN) -> MemberAccount:
    user, _, domain = acct.partition("@")
    return MemberAccount(
        acct, f"https://{domain}/users/{user}", f"https://{domain}/@{user}", "Ann", "<p>bio</p>", "7"
    )


def run(
    store: Store, *commands: c.Command, actor: str = ANN, directory: bool = True, **ctx: Any
) -> list[str]:
    settings = Settings("home.example", ("TherapistsConnect",), directory=directory)
    actions = Actions(store, settings, streams=lambda: (1, 1))
    out = Outcome()
    for cmd in commands:
        actions.run(cmd, Context(actor, actor == MOD, NOW, **ctx), out)
    return out.lines


def post_by(acct: str, visibility: str = "public") -> Post:
    """A real recorded status, as if `acct` wrote it."""
    status = copy.deepcopy(
        next(s for s in real_statuses() if s["visibility"] == "public" and not s.get("reblog"))
    )
    user, _, domain = acct.partition("@")
    status["account"]["acct"] = acct
    status["account"]["username"] = user
    status["visibility"] = visibility
    status["uri"] = f"https://{domain}/users/{user}/statuses/1"
    status["url"] = f"https://{domain}/@{user}/1"
    status["content"] = "<p>Hello, I am a counsellor</p>"
    return Post.from_status(status, source="home.example")


def listed(store: Store) -> list[str]:
    return [m.acct for m in store.members.listed()]


class TestJoinLeave:
    def test_join_lists_the_sender_with_their_profile(self, store: Store) -> None:
        """`join` lists the sender (and nobody else) and says how to leave; a second join says so."""
        lines = run(store, c.Join(), sender=profile())
        assert listed(store) == [ANN]
        assert "Welcome" in lines[0]
        assert "`leave`" in lines[0]
        assert run(store, c.Join(), sender=profile()) == [
            "You are already in the directory since 2026-08-01; I refreshed your name and bio there."
            " Send `leave` to be taken out."
        ]

    def test_join_without_a_profile_lists_nobody(self, store: Store) -> None:
        """When the sender's account was not found on the home instance, nothing is written."""
        assert "could not find your account" in run(store, c.Join(), sender=None)[0]
        assert listed(store) == []

    def test_blocked_people_cannot_join(self, store: Store) -> None:
        """A blocked account, or one on a blocked domain, is not listed."""
        store.people.block("one.example", "spam", MOD)
        assert "blocked" in run(store, c.Join(), sender=profile())[0]
        assert listed(store) == []

    def test_leave(self, store: Store) -> None:
        """`leave` takes the sender out; leaving again says they were not in."""
        run(store, c.Join(), sender=profile())
        assert run(store, c.Leave()) == [
            "Done: you are no longer in the directory. Send `join` to come back."
        ]
        assert listed(store) == []
        assert run(store, c.Leave()) == ["You were not in the directory."]

    def test_no_directory(self, store: Store) -> None:
        """With `[directory] enabled = false`, every directory command says so and writes nothing."""
        lines = run(store, c.Join(), c.Leave(), c.Intro(), directory=False, sender=profile())
        assert lines == ["This relay keeps no directory."] * 3
        assert listed(store) == []


class TestRemoval:
    def test_moderator_unlists(self, store: Store) -> None:
        """`unlist` takes a member out, audited with the moderator as actor."""
        run(store, c.Join(), sender=profile())
        assert run(store, c.Unlist(ANN), actor=MOD)[0].startswith(f"Took {ANN} out of the directory.")
        assert listed(store) == []
        assert store.audit_log.audit_rows()[-1].actor == MOD
        assert run(store, c.Unlist(ANN), actor=MOD) == [f"{ANN} is not in the directory."]

    def test_optout_takes_the_member_out(self, store: Store) -> None:
        """An author's `optout` also removes them from the directory, and says so."""
        run(store, c.Join(), sender=profile())
        assert "no longer in the directory" in run(store, c.OptOut())[0]
        assert listed(store) == []

    def test_block_of_account_or_domain_takes_members_out(self, store: Store) -> None:
        """A block names the members it took out of the directory."""
        run(store, c.Join(), sender=profile())
        run(store, c.Join(), actor="zed@two.example", sender=profile("zed@two.example"))
        lines = run(store, c.Block(Account(ANN), "spam"), actor=MOD)
        assert lines[0].endswith(f"Took {ANN} out of the directory.")
        run(store, c.Block(Domain("two.example"), None), actor=MOD)
        assert listed(store) == []


class TestIntro:
    def test_reply_intro_sets_the_post(self, store: Store) -> None:
        """`intro` in reply to one of the sender's public posts makes it their introduction."""
        run(store, c.Join(), sender=profile())
        post = post_by(ANN)
        assert run(store, c.Intro(), reply_post=post) == [
            f"Done: {post.url} is your introduction in the directory."
        ]
        member = store.members.get(ANN)
        assert member is not None
        assert (member.intro_uri, member.intro_html, member.intro_chosen) == (
            post.uri,
            post.content_html,
            True,
        )

    def test_intro_by_url(self, store: Store) -> None:
        """`intro URL` uses the post the channel resolved for that URL."""
        run(store, c.Join(), sender=profile())
        post = post_by(ANN)
        run(store, c.Intro("https://one.example/@ann/1"), resolved={"https://one.example/@ann/1": post})
        member = store.members.get(ANN)
        assert member is not None
        assert member.intro_uri == post.uri

    def test_refusals(self, store: Store) -> None:
        """Not a member, no post, someone else's post, a non-public post: nothing is set."""
        assert run(store, c.Intro(), reply_post=post_by(ANN)) == [
            "You are not in the directory: send `join` first."
        ]
        run(store, c.Join(), sender=profile())
        assert "Which post?" in run(store, c.Intro())[0]
        assert "not yours" in run(store, c.Intro(), reply_post=post_by("zed@two.example"))[0]
        assert "Only a public post" in run(store, c.Intro(), reply_post=post_by(ANN, "unlisted"))[0]
        member = store.members.get(ANN)
        assert member is not None
        assert member.intro_uri is None


class TestGuards:
    def dm(self, text: str, visibility: str = "direct") -> DirectMessage:
        return DirectMessage(
            notification_id="1",
            status_id="10",
            uri="https://one.example/users/ann/statuses/10",
            url="",
            acct=ANN,
            account_uri="https://one.example/users/ann",
            account_id="7",
            sender_is_bot=False,
            visibility=visibility,
            in_reply_to_id=None,
            created_at=NOW,
            edited_at=None,
            text=text,
            mentions=("bot@home.example",),
            quotes_post=False,
        )

    def test_anyone_may_join_by_dm(self) -> None:
        """An author's `join`, `leave` and `intro` run from a DM; `unlist` is refused to them."""
        who = Who("bot@home.example", AccountId("https://home.example/users/bot", "1"), {MOD: None})
        t = triage(self.dm("join\nleave\nintro\nunlist zed@two.example"), who)
        assert t.commands == (c.Join(), c.Leave(), c.Intro())
        assert t.refuse

    def test_join_in_public_asks_for_a_dm(self) -> None:
        """A public `join` is not run: the sender is asked to send it as a DM."""
        who = Who("bot@home.example", AccountId("https://home.example/users/bot", "1"), {})
        t = triage(self.dm("join", visibility="public"), who)
        assert t.commands == ()
        assert t.ask_for_dm
