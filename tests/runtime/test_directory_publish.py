"""The running relay's directory publisher against the sandbox and a real store: the page and the
CSV written when members change, Mastodon Collections kept in step (items with their consent
states, a second Collection when one is full, removal), introductions filled from first boosts,
and a home instance without the Collections API said once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from mastodon import Mastodon
from storehelp import arrive
from structlog.testing import capture_logs

from relay.config.load import Config, parse_config
from relay.core.directory import CSV_NAME, PAGE_NAME
from relay.runtime.collections import CollectionsClient
from relay.runtime.directory import Directory
from relay.sandbox import Instance, SeededAccount
from relay.store.records import MemberAccount
from relay.store.store import Store


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bot(home: Instance) -> SeededAccount:
    return home.create_account("relaybot", bot=True)


@pytest.fixture
def config(tmp_path: Path, home: Instance) -> Config:
    doc = {
        "hashtags": ["TherapistsConnect"],
        "home": {"url": home.url},
        "directory": {"html_dir": "site", "collections_refresh_seconds": 60},
    }
    return parse_config(doc, path=tmp_path / "relay.toml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state.db") as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


def directory(
    home: Instance, bot: SeededAccount, store: Store, config: Config, clock: Clock, instance: Any = None
) -> Directory:
    api = Mastodon(access_token=bot.token, api_base_url=home.url)
    return Directory(
        api,
        store,
        config,
        instance=instance if instance is not None else api.instance_v2(),
        collections=CollectionsClient(home.url, bot.token),
        clock=clock,
    )


def join(store: Store, home: Instance, who: SeededAccount, viewer: SeededAccount) -> None:
    """List `who` as the channel would after their `join`, with their id on the home instance."""
    found = requests.get(
        f"{home.url}/api/v2/search",
        params={"q": who.acct, "resolve": "true", "type": "accounts"},
        headers={"Authorization": f"Bearer {viewer.token}"},
        timeout=10,
    ).json()["accounts"]
    account = next(a for a in found if a["uri"] == who.uri)
    store.members.join(
        MemberAccount(who.acct, who.uri, who.url, account["display_name"], account["note"], account["id"]),
        actor=who.acct,
    )


def published(config: Config, name: str) -> str:
    """The text of a file the directory wrote into `[directory] html_dir`."""
    site = config.directory.html_dir
    assert site is not None
    return (site / name).read_text(encoding="utf-8")


def tick(d: Directory, clock: Clock, seconds: float = 1.5) -> None:
    clock.now += seconds
    d.tick()


class TestPublishing:
    def test_page_csv_and_collection_follow_the_members(
        self,
        home: Instance,
        remote: Instance,
        bot: SeededAccount,
        store: Store,
        config: Config,
        clock: Clock,
    ) -> None:
        """Two members: both on the page and in the CSV; in the Collection, the local one accepted and
        the remote manual one pending until they accept; one who leaves is removed everywhere."""
        ann = home.create_account("ann", display_name="Ann", note="<p>Counsellor</p>", indexable=True)
        bob = remote.create_account("bob", display_name="Bob", indexable=True)
        remote.set_feature_approval(bob, "manual")
        d = directory(home, bot, store, config, clock)
        join(store, home, ann, bot)
        join(store, home, bob, bot)
        tick(d, clock)
        csv_lines = published(config, CSV_NAME).splitlines()
        assert csv_lines[1:] == [f"{ann.acct},true,false,", f"{bob.acct},true,false,"]
        page = published(config, PAGE_NAME)
        assert "@" + ann.acct in page
        assert "<p>Counsellor</p>" in page
        [collection] = home.collections()
        assert collection.name == "#TherapistsConnect directory"
        assert {i.account.uri: i.state for i in collection.items} == {ann.uri: "accepted", bob.uri: "pending"}
        member = store.members.get(bob.acct)
        assert member is not None
        assert member.item_state == "pending"

        remote.answer_feature_requests(bob, accept=True)
        tick(d, clock, seconds=61)
        member = store.members.get(bob.acct)
        assert member is not None
        assert member.item_state == "accepted"

        store.members.leave(ann.acct, "leave", actor=ann.acct)
        tick(d, clock)
        assert [i.account.uri for i in home.collections()[0].items] == [bob.uri]
        assert ann.acct not in published(config, CSV_NAME)
        assert "@" + ann.acct not in published(config, PAGE_NAME)

    def test_a_full_collection_starts_another(
        self, home: Instance, bot: SeededAccount, store: Store, config: Config, clock: Clock
    ) -> None:
        """The 26th member goes into a second Collection, named with its number."""
        d = directory(home, bot, store, config, clock)
        for n in range(26):
            join(store, home, home.create_account(f"m{n}", indexable=True), bot)
        tick(d, clock)
        collections = sorted(home.collections(), key=lambda c: c.created_at)
        assert [len(c.items) for c in collections] == [25, 1]
        assert collections[1].name == "#TherapistsConnect directory 2"
        assert len(store.members.collections()) == 2

    def test_a_member_who_does_not_allow_featuring_stays_on_the_page(
        self, home: Instance, bot: SeededAccount, store: Store, config: Config, clock: Clock
    ) -> None:
        """A 422 (feature_approval denied) leaves the member listed on the page, not in a Collection."""
        shy = home.create_account("shy")
        d = directory(home, bot, store, config, clock)
        join(store, home, shy, bot)
        tick(d, clock)
        assert [len(c.items) for c in home.collections()] == [0]
        assert shy.acct in published(config, CSV_NAME)

    def test_no_collections_api_is_said_once(
        self, home: Instance, bot: SeededAccount, store: Store, config: Config, clock: Clock
    ) -> None:
        """Before Mastodon 4.6: one warning with the fix; the page and CSV are still written."""
        ann = home.create_account("ann", indexable=True)
        with capture_logs() as logs:
            d = directory(home, bot, store, config, clock, instance={"api_versions": {"mastodon": 6}})
            join(store, home, ann, bot)
            tick(d, clock)
            tick(d, clock)
        warnings = [e for e in logs if e["event"] == "directory.collections_unavailable"]
        assert len(warnings) == 1
        assert "collections = false" in warnings[0]["fix"]
        assert home.collections() == []
        assert ann.acct in published(config, CSV_NAME)

    def test_first_boost_becomes_the_introduction(
        self, home: Instance, bot: SeededAccount, store: Store, config: Config, clock: Clock
    ) -> None:
        """A member's first boosted post (read from the home instance) is their introduction."""
        ann = home.create_account("ann", indexable=True)
        status_id = home.post(ann, "Hello #TherapistsConnect, I am Ann")
        status = requests.get(f"{home.url}/api/v1/statuses/{status_id}", timeout=10).json()
        join(store, home, ann, bot)
        arrive(
            store,
            status["uri"],
            source=home.domain,
            acct=ann.acct,
            url=status["url"],
            edited_at=None,
            text_fingerprint="fp",
            now=datetime.now(UTC),
        )
        store.boosts.boost_intent(status["uri"], status_id)
        store.boosts.boost_done(status["uri"], "r1")
        d = directory(home, bot, store, config, clock)
        tick(d, clock)
        member = store.members.get(ann.acct)
        assert member is not None
        assert member.intro_uri == status["uri"]
        assert member.intro_chosen is False
        assert "I am Ann" in published(config, PAGE_NAME)

    def test_items_unknown_to_the_store_are_adopted_or_removed(
        self, home: Instance, bot: SeededAccount, store: Store, config: Config, clock: Clock
    ) -> None:
        """After a stop between adding an item and recording it, the next read adopts a member's item
        and removes anyone else's (the directory's Collections hold its members only)."""
        ann = home.create_account("ann", indexable=True)
        stranger = home.create_account("stranger", indexable=True)
        d = directory(home, bot, store, config, clock)
        join(store, home, home.create_account("first", indexable=True), bot)
        tick(d, clock)
        [(collection_id, _, _)] = store.members.collections()
        client = CollectionsClient(home.url, bot.token)
        client.add(collection_id, ann.id)  # as if the relay stopped before recording it
        client.add(collection_id, stranger.id)
        join(store, home, ann, bot)
        tick(d, clock, seconds=61)
        member = store.members.get(ann.acct)
        assert member is not None
        assert (member.collection_id, member.item_state) == (collection_id, "accepted")
        assert sorted(i.account.username for i in home.collections()[0].items) == ["ann", "first"]
