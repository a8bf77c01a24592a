"""Notifications over REST: type filters, single fetch, dismiss, follows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mastodon import Mastodon, MastodonNotFoundError

from relay.sandbox import Instance, SeededAccount

Client = Callable[[Instance, SeededAccount | str], Mastodon]


@pytest.fixture
def dora(home: Instance) -> SeededAccount:
    return home.create_account("dora")


class TestNotifications:
    def test_types_and_exclude_types(
        self, home: Instance, alice: SeededAccount, dora: SeededAccount, client: Client
    ) -> None:
        """types[] keeps only the named kinds; exclude_types[] drops them."""
        theirs = client(home, dora)
        theirs.account_follow(alice.id)
        theirs.status_post("@alice hello")
        me = client(home, alice)
        assert [n["type"] for n in me.notifications()] == ["mention", "follow"]
        assert [n["type"] for n in me.notifications(types=["mention"])] == ["mention"]
        assert [n["type"] for n in me.notifications(exclude_types=["mention"])] == ["follow"]

    def test_get_and_dismiss(
        self, home: Instance, alice: SeededAccount, dora: SeededAccount, client: Client
    ) -> None:
        """A notification can be fetched by id and is gone after dismiss."""
        client(home, dora).status_post("@alice hello")
        me = client(home, alice)
        note = me.notifications()[0]
        assert me.notifications(id=note["id"])["status"]["content"].endswith("hello</p>")
        me.notifications_dismiss(note["id"])
        assert me.notifications() == []
        with pytest.raises(MastodonNotFoundError):
            me.notifications(id=note["id"])

    def test_remote_follow_notifies_the_followed_account(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """Following a remote account federates: bob gets a follow notification on remote."""
        me = client(home, alice)
        relationship = me.account_follow(me.account_lookup(bob.acct)["id"])
        assert relationship["following"] is True
        notes = client(remote, bob).notifications()
        assert [(n["type"], n["account"]["acct"]) for n in notes] == [("follow", alice.acct)]
