"""The sandbox's Mastodon 4.6 Collections API, as documented: create, read, items with their
consent states (pending until the member's server accepts), limits, owner-only changes, revoke.
Driven over HTTP by the relay's own client (`relay.runtime.collections`) and plain requests."""

from __future__ import annotations

import pytest
import requests

from relay.runtime.collections import MAX_ITEMS, CollectionsClient, CollectionsError, has_collections
from relay.sandbox import Fediverse, Instance, SeededAccount


def bearer(who: SeededAccount) -> dict[str, str]:
    return {"Authorization": f"Bearer {who.token}"}


@pytest.fixture
def bot(home: Instance) -> SeededAccount:
    """The account that owns the Collections."""
    return home.create_account("relaybot", bot=True)


@pytest.fixture
def api(home: Instance, bot: SeededAccount) -> CollectionsClient:
    return CollectionsClient(home.url, bot.token)


def account_id_on_home(home: Instance, who: SeededAccount) -> str:
    """The home instance's id of `who` (a remote account is resolved first)."""
    viewer = home.create_account(f"viewer{who.id}")
    found = requests.get(
        f"{home.url}/api/v2/search",
        params={"q": who.acct, "resolve": "true", "type": "accounts"},
        headers=bearer(viewer),
        timeout=10,
    ).json()["accounts"]
    return str(next(a["id"] for a in found if a["acct"] in (who.acct, who.username)))


class TestCollections:
    def test_instance_says_it_has_the_api(self, home: Instance) -> None:
        """`api_versions.mastodon` is at least 10, which is how the relay detects Collections."""
        instance = requests.get(f"{home.url}/api/v2/instance", timeout=10).json()
        assert has_collections(instance)
        assert not has_collections({"api_versions": {"mastodon": 9}})
        assert not has_collections({})

    def test_create_and_read(self, home: Instance, bot: SeededAccount, api: CollectionsClient) -> None:
        """A Collection is created empty, wrapped as documented, and read back with its owner."""
        created = api.create("Therapists", "People who asked", "TherapistsConnect")
        assert created.items == ()
        assert created.url == f"{home.url}/collections/{created.id}"
        body = requests.get(f"{home.url}/api/v1/collections/{created.id}", timeout=10).json()
        assert body["collection"]["name"] == "Therapists"
        assert body["collection"]["tag"]["name"] == "TherapistsConnect"
        assert [a["acct"] for a in body["accounts"]] == ["relaybot"]
        listed = requests.get(f"{home.url}/api/v1/accounts/{bot.id}/collections", timeout=10).json()
        assert [c["id"] for c in listed["collections"]] == [created.id]
        documented = requests.get(f"{home.url}/api/v1/{bot.id}/collections", timeout=10).json()
        assert documented == listed

    def test_name_is_validated(self, home: Instance, bot: SeededAccount) -> None:
        """A name over 40 characters is a 422 with per-attribute details."""
        response = requests.post(
            f"{home.url}/api/v1/collections", json={"name": "x" * 41}, headers=bearer(bot), timeout=10
        )
        assert response.status_code == 422
        assert response.json()["error"]["details"]["name"][0]["error"] == "ERR_TOO_LONG"

    def test_local_automatic_member_is_accepted_at_once(self, home: Instance, api: CollectionsClient) -> None:
        """A discoverable local account approves automatically: its item is accepted."""
        ann = home.create_account("ann", indexable=True)
        collection = api.create("Directory", "", None)
        item = api.add(collection.id, ann.id)
        assert (item.account_id, item.state) == (ann.id, "accepted")

    def test_remote_manual_member_is_pending_until_they_accept(
        self, home: Instance, remote: Instance, api: CollectionsClient
    ) -> None:
        """An account that approves manually stays pending, seen only by the owner, until it accepts."""
        bob = remote.create_account("bob", indexable=True)
        remote.set_feature_approval(bob, "manual")
        collection = api.create("Directory", "", None)
        item = api.add(collection.id, account_id_on_home(home, bob))
        assert item.state == "pending"
        public = requests.get(f"{home.url}/api/v1/collections/{collection.id}", timeout=10).json()
        assert public["collection"]["items"] == []
        assert remote.answer_feature_requests(bob, accept=True) == 1
        assert [i.state for i in api.get(collection.id).items] == ["accepted"]
        public = requests.get(f"{home.url}/api/v1/collections/{collection.id}", timeout=10).json()
        assert [i["state"] for i in public["collection"]["items"]] == ["accepted"]

    def test_remote_automatic_member_waits_while_partitioned(
        self, fediverse: Fediverse, home: Instance, remote: Instance, api: CollectionsClient
    ) -> None:
        """An automatic approval comes from the member's server: while it is cut off, pending."""
        bob = remote.create_account("bob", indexable=True)
        bob_id = account_id_on_home(home, bob)
        fediverse.partition("home", "remote")
        collection = api.create("Directory", "", None)
        assert api.add(collection.id, bob_id).state == "pending"

    def test_account_that_does_not_consent_cannot_be_added(
        self, home: Instance, api: CollectionsClient
    ) -> None:
        """A non-discoverable account (feature_approval denied) is a 422, as is adding one twice."""
        shy = home.create_account("shy")
        ann = home.create_account("ann", indexable=True)
        collection = api.create("Directory", "", None)
        with pytest.raises(CollectionsError) as denied:
            api.add(collection.id, shy.id)
        assert denied.value.status == 422
        api.add(collection.id, ann.id)
        with pytest.raises(CollectionsError) as twice:
            api.add(collection.id, ann.id)
        assert twice.value.status == 422

    def test_a_collection_holds_25(self, home: Instance, api: CollectionsClient) -> None:
        """The 26th account is refused: the relay must start another Collection."""
        collection = api.create("Directory", "", None)
        for n in range(MAX_ITEMS):
            api.add(collection.id, home.create_account(f"m{n}", indexable=True).id)
        with pytest.raises(CollectionsError) as full:
            api.add(collection.id, home.create_account("extra", indexable=True).id)
        assert full.value.status == 422

    def test_only_the_owner_changes_items_and_the_member_revokes(
        self, home: Instance, api: CollectionsClient
    ) -> None:
        """Another user may not remove an item; the featured account may revoke; the owner removes."""
        ann = home.create_account("ann", indexable=True)
        collection = api.create("Directory", "", None)
        item = api.add(collection.id, ann.id)
        base = f"{home.url}/api/v1/collections/{collection.id}/items/{item.id}"
        assert requests.delete(base, headers=bearer(ann), timeout=10).status_code == 403
        assert requests.post(base + "/revoke", headers=bearer(ann), timeout=10).status_code == 200
        assert [i.state for i in api.get(collection.id).items] == ["revoked"]
        api.remove(collection.id, item.id)
        assert api.get(collection.id).items == ()

    def test_collection_limit(self, home: Instance, api: CollectionsClient) -> None:
        """A user may own 10 Collections (the default role's collection_limit)."""
        for n in range(10):
            api.create(f"c{n}", "", None)
        with pytest.raises(CollectionsError) as limit:
            api.create("c10", "", None)
        assert limit.value.status == 422
