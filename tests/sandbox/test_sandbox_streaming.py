"""Streaming: authentication, framing as recorded from Mastodon 4.6, user and direct streams."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
import requests
import sseclient
from mastodon import CallbackStreamListener, Mastodon, MastodonError
from paths import DATA

from relay.sandbox import Instance, SeededAccount
from relay.sandbox.testing import StreamTap, wait_until

Client = Callable[[Instance, SeededAccount | str], Mastodon]
RECORDED = json.loads((DATA / "sandbox/stream_bodies.json").read_text())
FRAME_LINE = re.compile(r"\A(:\)|:thump|:|event: [a-z.]+|data: .+|)\Z")


def frame_skeleton(body: str) -> list[str]:
    """The framing of a stream body with the JSON left out: line kinds in order."""
    kinds = []
    for line in body.split("\n"):
        if line.startswith("data: "):
            kinds.append("data")
        elif line.startswith("event: "):
            kinds.append("event")
        else:
            kinds.append(line)
    return kinds


class TestAuthentication:
    @pytest.mark.parametrize(
        "path",
        ["hashtag?tag=relay", "hashtag/local?tag=relay", "user", "user/notification", "public", "direct"],
    )
    def test_streams_without_token_get_401(self, home: Instance, path: str) -> None:
        """Every stream but health answers 401 with Mastodon's JSON body when no token is sent."""
        response = requests.get(f"{home.url}/api/v1/streaming/{path}", timeout=5)
        assert response.status_code == 401
        assert response.json() == {"error": "Missing access token"}

    def test_invalid_token_gets_401(self, home: Instance) -> None:
        """An unknown token is refused like the Node server does."""
        response = requests.get(
            f"{home.url}/api/v1/streaming/user", params={"access_token": "nope"}, timeout=5
        )
        assert response.status_code == 401
        assert response.json() == {"error": "Invalid access token"}

    def test_mastodon_py_stream_hashtag_without_token_fails(self, home: Instance) -> None:
        """Mastodon.py's stream_hashtag without a token raises instead of streaming."""
        anonymous = Mastodon(api_base_url=home.url)
        with pytest.raises(MastodonError):
            anonymous.stream_hashtag("relay", listener=None, run_async=False)  # type: ignore[arg-type]

    def test_health_is_plain_ok(self, home: Instance) -> None:
        """The health endpoint needs no token and answers OK as text/plain."""
        response = requests.get(f"{home.url}/api/v1/streaming/health", timeout=5)
        assert (response.status_code, response.text) == (200, RECORDED["health"])
        assert response.headers["Content-Type"].startswith("text/plain")


class TestFraming:
    def test_user_stream_framing_matches_recording(
        self,
        home: Instance,
        alice: SeededAccount,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """Greeting, event/data pairs and blank separators match the recorded Mastodon stream."""
        stream = listen("/api/v1/streaming/user")
        assert stream.response.headers["Content-Type"] == "text/event-stream"
        assert stream.response.headers["Transfer-Encoding"] == "chunked"
        me = client(home, alice)
        status = me.status_post("only real cars respond.")
        me.status_update(status["id"], "only real animals respond.")
        me.status_delete(status["id"])
        stream.wait_event("delete")
        ours = [k for k in frame_skeleton(stream.text()) if k not in (":thump",)]
        recorded = frame_skeleton(RECORDED["user"])
        assert ours[0] == recorded[0] == ":)"
        assert all(FRAME_LINE.match(line) for line in stream.text().split("\n"))
        assert ours[1:4] == recorded[1:4] == ["event", "data", ""]
        names = [e.name for e in stream.events()]
        assert names == ["update", "status.update", "delete"]
        assert stream.events()[2].data == json.loads(stream.events()[0].data)["id"]

    def test_heartbeats_arrive_every_interval(
        self, home: Instance, alice: SeededAccount, tap: Callable[..., StreamTap]
    ) -> None:
        """An idle stream sends ``:thump`` comments, each ending a block, at the configured heartbeat."""
        stream = tap(home, "/api/v1/streaming/hashtag?tag=relay", alice.token)
        stream.wait_for(lambda t: t.text().count(":thump\n\n") >= 2)
        assert stream.text().startswith(":)\n:thump\n\n:thump\n\n")

    def test_mastodon_py_stream_hashtag_receives_updates(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """Mastodon.py finds the streaming URL in the instance and streams a federated post."""
        received: list[dict[str, object]] = []
        listener = CallbackStreamListener(update_handler=received.append)
        handle = client(home, alice).stream_hashtag("relay", listener, run_async=True)
        try:
            wait_until(lambda: home.open_streams() == 1)
            client(remote, bob).status_post("streamed #relay")
            wait_until(lambda: len(received) == 1)
        finally:
            handle.close()
        assert received[0]["account"]["acct"] == bob.acct  # type: ignore[index]

    def test_sseclient_parses_sandbox_events(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """sseclient-py (what the relay uses) reads the sandbox's hashtag events."""
        response = requests.get(
            f"{home.url}/api/v1/streaming/hashtag",
            params={"tag": "relay"},
            stream=True,
            timeout=5,
            headers={"Authorization": f"Bearer {alice.token}"},
        )
        wait_until(lambda: home.open_streams() == 1)
        client(remote, bob).status_post("via sse #Relay")
        events = sseclient.SSEClient(response).events()
        event = next(events)
        response.close()
        assert event.event == "update"
        assert json.loads(event.data)["tags"][0]["name"] == "Relay"


class TestUserStream:
    def test_dm_from_followed_account_is_a_mention_notification(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """A DM from an account alice follows arrives as a direct mention on her user stream."""
        me = client(home, alice)
        me.account_follow(me.account_lookup(bob.acct)["id"])
        stream = listen("/api/v1/streaming/user")
        client(remote, bob).status_post(f"@alice@{home.domain} approve 3", visibility="direct")
        note = json.loads(stream.wait_event("notification").data)
        assert note["type"] == "mention"
        assert note["status"]["visibility"] == "direct"
        assert note["account"]["acct"] == bob.acct

    def test_dm_from_stranger_is_filtered_by_default(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """Under the default policy a stranger's DM is neither listed nor streamed."""
        stream = listen("/api/v1/streaming/user/notification")
        client(remote, bob).status_post(f"@alice@{home.domain} psst", visibility="direct")
        client(remote, bob).status_post(f"@alice@{home.domain} public hello")
        stream.wait_event("notification")
        assert [json.loads(e.data)["status"]["visibility"] for e in stream.events()] == ["public"]
        me = client(home, alice)
        assert [n["status"]["visibility"] for n in me.notifications()] == ["public"]
        policy = me.notifications_policy()
        assert policy["for_private_mentions"] == "filter"
        assert policy["summary"]["pending_notifications_count"] == 1

    def test_accept_policy_lets_stranger_dms_through(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """After PATCHing for_private_mentions=accept, a stranger's DM is a notification."""
        me = client(home, alice)
        me.update_notifications_policy(for_private_mentions="accept")
        client(remote, bob).status_post(f"@alice@{home.domain} psst", visibility="direct")
        notes = me.notifications(types=["mention"])
        assert [n["status"]["visibility"] for n in notes] == ["direct"]

    def test_direct_stream_carries_conversations(
        self,
        home: Instance,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """A DM between local accounts is a conversation event on the direct stream."""
        dora = home.create_account("dora")
        stream = listen("/api/v1/streaming/direct")
        client(home, dora).status_post("@alice hi", visibility="direct")
        conversation = json.loads(stream.wait_event("conversation").data)
        assert set(conversation) == {"id", "unread", "accounts", "last_status"}
        assert conversation["unread"] is True

    def test_chosen_languages_filter_hashtag_stream(
        self,
        home: Instance,
        alice: SeededAccount,
        client: Client,
        listen: Callable[[str], StreamTap],
    ) -> None:
        """An account's language filter silently drops other languages from its hashtag stream."""
        home.set_chosen_languages(alice, ["de"])
        stream = listen("/api/v1/streaming/hashtag?tag=relay")
        me = client(home, alice)
        me.status_post("english #relay", language="en")
        me.status_post("deutsch #relay", language="de")
        stream.wait_event("update")
        assert ["deutsch" in e.data for e in stream.events()] == [True]


HOLD = 1.0  # seconds: long next to any scheduling delay between two calls, even on a busy machine


class TestReordering:
    def test_delete_overtakes_its_update(
        self, home: Instance, alice: SeededAccount, client: Client, listen: Callable[[str], StreamTap]
    ) -> None:
        """With the switch on, a post deleted right away reaches the stream as its delete first."""
        home.reorder_streams(HOLD)
        stream = listen("/api/v1/streaming/hashtag?tag=relay")
        me = client(home, alice)
        status = me.status_post("gone soon #relay")
        me.status_delete(status["id"])
        stream.wait_for(lambda t: len(t.events()) == 2, timeout=10 * HOLD)
        assert [e.name for e in stream.events()] == ["delete", "update"]
        assert stream.events()[0].data == str(status["id"]) == json.loads(stream.events()[1].data)["id"]

    def test_edits_are_held_too(
        self, home: Instance, alice: SeededAccount, client: Client, listen: Callable[[str], StreamTap]
    ) -> None:
        """A `status.update` is held like an `update`: the delete that follows both comes first."""
        stream = listen("/api/v1/streaming/hashtag?tag=relay")
        me = client(home, alice)
        status = me.status_post("first #relay")
        stream.wait_event("update")
        home.reorder_streams(HOLD)
        me.status_update(status["id"], "second #relay")
        me.status_delete(status["id"])
        stream.wait_for(lambda t: len(t.events()) == 3, timeout=10 * HOLD)
        assert [e.name for e in stream.events()] == ["update", "delete", "status.update"]

    def test_each_subscriber_gets_its_own_order(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
        tap: Callable[..., StreamTap],
    ) -> None:
        """Posts published together overtake each other, differently on each of two streams."""
        home.reorder_streams(HOLD)
        streams = [tap(home, "/api/v1/streaming/hashtag?tag=relay", alice.token) for _ in range(2)]
        wait_until(lambda: home.open_streams() == 2)
        poster = client(remote, bob)
        published = [poster.status_post(f"burst {n} #relay") for n in range(30)]
        local_ids = {
            status["uri"]: status["id"] for status in client(home, alice).timeline_hashtag("relay", limit=40)
        }
        orders = []
        for stream in streams:
            stream.wait_for(lambda t: len(t.events()) == len(published), timeout=10 * HOLD)
            orders.append([json.loads(e.data)["uri"] for e in stream.events()])
        assert all(sorted(order) == sorted(local_ids) for order in orders)
        publish_order = sorted(local_ids, key=lambda uri: int(local_ids[uri]))
        assert orders[0] != publish_order
        assert orders[1] != publish_order
        assert orders[0] != orders[1]

    def test_off_again_keeps_publish_order(
        self, home: Instance, alice: SeededAccount, client: Client, listen: Callable[[str], StreamTap]
    ) -> None:
        """`reorder_streams(None)` turns it off: an update again comes before its delete."""
        home.reorder_streams(HOLD)
        home.reorder_streams(None)
        stream = listen("/api/v1/streaming/hashtag?tag=relay")
        me = client(home, alice)
        status = me.status_post("stays in order #relay")
        me.status_delete(status["id"])
        stream.wait_for(lambda t: len(t.events()) == 2)
        assert [e.name for e in stream.events()] == ["update", "delete"]

    @pytest.mark.parametrize("hold", [0.0, -1.0, float("nan")])
    def test_hold_must_be_positive(self, home: Instance, hold: float) -> None:
        """A hold that is not a positive number of seconds is refused."""
        with pytest.raises(ValueError, match="positive"):
            home.reorder_streams(hold)
