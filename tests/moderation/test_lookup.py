"""Finding a moderator's account on the home instance (relay.moderation.lookup), against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mastodon import Mastodon

from relay.moderation.lookup import find_account
from relay.runtime.relay import make_api
from relay.sandbox import Fediverse, Instance


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    """Two sandbox instances on loopback: the home one and a remote one."""
    with Fediverse(["home", "remote"]) as fediverse:
        yield fediverse


def bot_api(home: Instance) -> Mastodon:
    """The relay's client for its bot account on `home`."""
    return make_api(home.url, home.create_account("bot", bot=True).token)


def test_finds_local_and_remote_accounts_by_handle(fed: Fediverse) -> None:
    """A local account (whose `acct` has no domain) and a remote one (by a resolving search) are found;
    the handle may be written in any case and with a leading '@'."""
    home, remote = fed["home"], fed["remote"]
    alice, bob = home.create_account("alice"), remote.create_account("bob")
    api = bot_api(home)
    for handle in (f"alice@{home.domain}", f"@Alice@{home.domain.upper()}"):
        found = find_account(api, handle, home.domain)
        assert found is not None, handle
        assert str(found["id"]) == alice.id
    found = find_account(api, bob.acct, home.domain)
    assert found is not None
    assert found["acct"] == bob.acct


def test_an_unknown_handle_is_none(fed: Fediverse) -> None:
    """Neither lookup nor search knows the account: None, not a near match."""
    home = fed["home"]
    home.create_account("alice")
    assert find_account(bot_api(home), f"alicia@{home.domain}", home.domain) is None
