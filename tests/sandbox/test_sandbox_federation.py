"""Federation between sandbox instances: push, fetch under partition, reblog rules."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from mastodon import Mastodon, MastodonAPIError

from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sandbox.testing import StreamTap

Client = Callable[[Instance, SeededAccount | str], Mastodon]


class TestPush:
    def test_post_on_remote_arrives_on_home_hashtag_stream(
        self,
        remote: Instance,
        bob: SeededAccount,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """A public post on remote is streamed on home's hashtag stream as a remote status."""
        stream = listen("/api/v1/streaming/hashtag?tag=TherapistsConnect")
        posted = client(remote, bob).status_post("Hello #therapistsconnect")
        event = stream.wait_event("update")
        status = json.loads(event.data)
        assert status["uri"] == posted["uri"]
        assert status["id"] != str(posted["id"])
        assert status["account"]["acct"] == f"bob@{remote.domain}"
        assert status["url"].startswith(remote.url)

    def test_unlisted_posts_federate_but_skip_hashtag_streams(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """Unlisted posts are copied to peers but never appear on a hashtag stream."""
        stream = listen("/api/v1/streaming/hashtag?tag=relay")
        bob_client = client(remote, bob)
        unlisted = bob_client.status_post("quiet #relay", visibility="unlisted")
        bob_client.status_post("loud #relay")
        update = stream.wait_event("update")
        assert "loud" in json.loads(update.data)["content"]
        found = client(home, alice).search_v2(unlisted["url"], resolve=False)
        assert [s["uri"] for s in found["statuses"]] == [unlisted["uri"]]

    def test_edit_and_delete_federate(
        self,
        remote: Instance,
        bob: SeededAccount,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """An edit arrives as status.update and a delete as delete with the home-local id."""
        stream = listen("/api/v1/streaming/hashtag?tag=relay")
        bob_client = client(remote, bob)
        posted = bob_client.status_post("first #relay")
        local_id = json.loads(stream.wait_event("update").data)["id"]
        bob_client.status_update(posted["id"], "second #relay")
        edited = json.loads(stream.wait_event("status.update").data)
        assert edited["id"] == local_id
        assert "second" in edited["content"]
        assert edited["edited_at"] is not None
        bob_client.status_delete(posted["id"])
        assert stream.wait_event("delete").data == local_id

    def test_direct_status_reaches_only_mentioned_instances(
        self,
        fediverse: Fediverse,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """A DM from remote to alice@home is copied to home but not to the third instance."""
        third = fediverse["third"]
        carol = third.create_account("carol")
        dm = client(remote, bob).status_post(f"@alice@{home.domain} psst", visibility="direct")
        assert client(home, alice).search_v2(dm["url"])["statuses"]
        assert not client(third, carol).search_v2(dm["url"], resolve=False)["statuses"]


class TestFetchUnderPartition:
    def test_resolve_and_reblog_twice_under_partition(
        self,
        fediverse: Fediverse,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """A partitioned status is found only by resolve, then reblogged twice without error."""
        fediverse.partition("home", "remote")
        posted = client(remote, bob).status_post("hidden #relay")
        me = client(home, alice)
        assert me.search_v2(posted["url"], resolve=False)["statuses"] == []
        resolved = me.search_v2(posted["url"], resolve=True)["statuses"]
        assert [s["uri"] for s in resolved] == [posted["uri"]]
        local_id = resolved[0]["id"]
        assert local_id != posted["id"]
        first = me.status_reblog(local_id)
        second = me.status_reblog(local_id)
        assert first["id"] == second["id"]
        assert me.status(local_id)["reblogged"] is True
        me.status_unreblog(local_id)
        assert me.status(local_id)["reblogged"] is False

    def test_resolve_needs_a_token(
        self,
        fediverse: Fediverse,
        home: Instance,
        remote: Instance,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """Anonymous search never resolves remote URLs."""
        fediverse.partition("home", "remote")
        posted = client(remote, bob).status_post("hidden")
        anonymous = Mastodon(api_base_url=home.url)
        assert anonymous.search_v2(posted["uri"], resolve=True)["statuses"] == []

    def test_heal_restores_push(
        self,
        fediverse: Fediverse,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """After heal, new posts are pushed again."""
        fediverse.partition("home", "remote")
        fediverse.heal("home", "remote")
        posted = client(remote, bob).status_post("back #relay")
        tag = client(home, alice).timeline_hashtag("relay")
        assert [s["uri"] for s in tag] == [posted["uri"]]


class TestReblogVisibility:
    @pytest.mark.parametrize("visibility", ["private", "direct"])
    def test_reblog_of_someone_elses_private_or_direct_is_403(
        self, home: Instance, alice: SeededAccount, client: Client, visibility: str
    ) -> None:
        """Boosting another account's private or direct status is refused with 403."""
        dora = home.create_account("dora")
        home.follow(alice, "dora")
        status = client(home, dora).status_post("@alice secret", visibility=visibility)
        with pytest.raises(MastodonAPIError) as caught:
            client(home, alice).status_reblog(status["id"])
        assert caught.value.args[1] == 403
        assert caught.value.args[3] == "This action is not allowed"

    def test_self_reblog_of_private_keeps_private(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """As in the fixture, an author may boost their own private post; it stays private."""
        me = client(home, alice)
        status = me.status_post("mine", visibility="private")
        reblog = me.status_reblog(status["id"], visibility="unlisted")
        assert reblog["visibility"] == "private"
        assert reblog["reblog"]["id"] == status["id"]

    def test_reblog_of_a_deleted_status_is_404_as_mastodon_4_6_words_it(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """A deleted post cannot be boosted: 404 with the body Mastodon 4.6 sends (`Not Found`)."""
        dora = home.create_account("dora")
        status = client(home, dora).status_post("soon gone #relay")
        client(home, dora).status_delete(status["id"])
        with pytest.raises(MastodonAPIError) as caught:
            client(home, alice).status_reblog(status["id"])
        assert caught.value.args[1:4] == (404, "Not Found", "Not Found")

    def test_reblog_of_a_private_status_the_booster_cannot_see_is_404(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """A private post of someone alice does not follow does not exist for her: 404, not 403."""
        dora = home.create_account("dora")
        status = client(home, dora).status_post("followers only", visibility="private")
        with pytest.raises(MastodonAPIError) as caught:
            client(home, alice).status_reblog(status["id"])
        assert caught.value.args[1] == 404

    def test_a_direct_reblog_is_refused_with_422_and_a_repeated_reblog_is_the_same_one(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """A reblog may not be direct (Mastodon's Status validation: 422); reblogging again returns
        the first reblog, whatever the visibility asked."""
        dora = home.create_account("dora")
        status = client(home, dora).status_post("public #relay")
        me = client(home, alice)
        with pytest.raises(MastodonAPIError) as caught:
            me.status_reblog(status["id"], visibility="direct")
        assert caught.value.args[1] == 422
        assert caught.value.args[3] == "Validation failed: Visibility is reserved"
        first = me.status_reblog(status["id"])
        assert me.status_reblog(status["id"], visibility="direct")["id"] == first["id"]

    def test_reblog_response_carries_the_post_as_the_booster_sees_it(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """As in status_reblog_visibility.yaml: the reblog, with the original under `reblog`, its
        visibility and `reblogged` set for the booster."""
        dora = home.create_account("dora")
        status = client(home, dora).status_post("boost me #relay", visibility="unlisted")
        reblog = client(home, alice).status_reblog(status["id"])
        assert reblog["id"] != status["id"]
        assert reblog["reblogged"] is True
        original = reblog["reblog"]
        assert (original["id"], original["uri"]) == (status["id"], status["uri"])
        assert (original["visibility"], original["reblogged"], original["reblogs_count"]) == (
            "unlisted",
            True,
            1,
        )
