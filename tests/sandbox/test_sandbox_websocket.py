"""Mastodon's WebSocket streaming at /api/v1/streaming, through a real client over loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest
import requests
from mastodon import Mastodon
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Ping, Request

from relay.sandbox import Instance, SeededAccount
from relay.sandbox.render import VIEWER_KEYS
from relay.sandbox.testing import SocketTap, wait_until

Client = Callable[[Instance, SeededAccount | str], Mastodon]
Tap = Callable[..., SocketTap]


def opened(tap: Tap, home: Instance, token: str, channels: int, **options: str) -> SocketTap:
    """A socket whose `channels` streams the instance counts open (subscribed, so nothing is lost)."""
    before = home.open_streams()
    sock = tap(home, token, **options)
    assert sock.status_code == 101, sock.body
    wait_until(lambda: home.open_streams() == before + channels)
    return sock


class TestConnect:
    @pytest.mark.parametrize("auth", ["header", "query", "protocol"])
    def test_token_in_each_place_mastodon_reads(
        self, home: Instance, alice: SeededAccount, client: Client, socket_tap: Tap, auth: str
    ) -> None:
        """Authorization header, access_token query, or Sec-WebSocket-Protocol (echoed in the 101)."""
        sock = opened(socket_tap, home, alice.token, 1, auth=auth, stream="hashtag", tag="relay")
        assert sock.subprotocol == (alice.token if auth == "protocol" else None)
        client(home, alice).status_post("hello #relay")
        message = sock.wait_event("update")
        assert message.stream == ["hashtag", "relay"]
        assert isinstance(message.data["payload"], str)  # JSON inside a string, as Mastodon sends
        assert message.payload["content"].startswith("<p>hello ")

    def test_no_token_or_a_bad_one_is_refused_before_upgrade(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        assert socket_tap(home, None, stream="user").status_code == 401
        assert socket_tap(home, "not-a-token", stream="user").status_code == 401
        home.revoke_token(alice.token)
        assert socket_tap(home, alice.token, stream="user").status_code == 401

    def test_plain_get_of_the_socket_path_is_not_a_socket(self, home: Instance, alice: SeededAccount) -> None:
        """Without an upgrade, /api/v1/streaming?stream=... is Mastodon's SSE endpoint as before."""
        response = requests.get(
            f"{home.url}/api/v1/streaming?stream=nonsense",
            headers={"Authorization": f"Bearer {alice.token}"},
            timeout=5,
        )
        assert response.status_code == 400


class TestMultiplex:
    def test_several_streams_on_one_socket(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
        socket_tap: Tap,
    ) -> None:
        """Two hashtags and user:notification by subscribe messages; each message names its stream."""
        sock = opened(socket_tap, home, alice.token, 0)
        sock.send(type="subscribe", stream="hashtag", tag="Relay")
        sock.send(type="subscribe", stream="hashtag", tag="other")
        sock.send(type="subscribe", stream="user:notification")
        sock.send(type="subscribe", stream="hashtag", tag="relay")  # the same channel again: ignored
        wait_until(lambda: home.open_streams() == 3)
        client(remote, bob).status_post("one #relay")
        client(remote, bob).status_post("two #other")
        client(remote, bob).status_post(f"@alice@{home.domain} hi")
        sock.wait_event("update", ["hashtag", "Relay"])
        sock.wait_event("update", ["hashtag", "other"])
        note = sock.wait_event("notification", ["user:notification"])
        assert note.payload["type"] == "mention"
        assert len(sock.events("update", ["hashtag", "Relay"])) == 1

        sock.send(type="unsubscribe", stream="hashtag", tag="other")
        wait_until(lambda: home.open_streams() == 2)
        client(remote, bob).status_post("three #other #relay")
        sock.wait_for(lambda t: len(t.events("update", ["hashtag", "Relay"])) == 2)
        assert len(sock.events("update", ["hashtag", "other"])) == 1

    def test_stream_statuses_have_no_viewer_keys_and_filtered(
        self, home: Instance, alice: SeededAccount, client: Client, socket_tap: Tap
    ) -> None:
        """Public and hashtag streams render for nobody; the user stream for its reader (as recorded)."""
        sock = opened(socket_tap, home, alice.token, 1, stream="hashtag", tag="relay")
        sock.send(type="subscribe", stream="user")
        wait_until(lambda: home.open_streams() == 2)
        client(home, alice).status_post("mine #relay")
        tagged = sock.wait_event("update", ["hashtag", "relay"]).payload
        own = sock.wait_event("update", ["user"]).payload
        assert not set(VIEWER_KEYS) & set(tagged)
        assert tagged["filtered"] == []
        assert set(VIEWER_KEYS) <= set(own)
        assert own["filtered"] == []

    def test_delete_payload_is_the_bare_id(
        self, home: Instance, alice: SeededAccount, client: Client, socket_tap: Tap
    ) -> None:
        sock = opened(socket_tap, home, alice.token, 1, stream="hashtag", tag="relay")
        api = client(home, alice)
        posted = api.status_post("gone soon #relay")
        sock.wait_event("update")
        api.status_delete(posted["id"])
        deleted = sock.wait_event("delete")
        assert deleted.data["payload"] == str(posted["id"])
        assert deleted.stream == ["hashtag", "relay"]

    @pytest.mark.parametrize(
        ("message", "error"),
        [
            ({"type": "subscribe", "stream": "nonsense"}, "Unknown stream type"),
            ({"type": "subscribe", "stream": "hashtag"}, "Missing tag name parameter"),
            ({"type": "subscribe", "stream": "hashtag", "tag": ""}, "Missing tag name parameter"),
        ],
    )
    def test_errors_come_back_as_messages(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap, message: dict[str, str], error: str
    ) -> None:
        sock = opened(socket_tap, home, alice.token, 0)
        sock.send(**message)
        sock.wait_for(lambda t: bool(t.messages))
        assert sock.messages[0].data == {"error": error, "status": 400}
        assert not sock.ended.is_set()

    def test_bad_stream_on_the_url_is_an_error_message(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        sock = socket_tap(home, alice.token, stream="hashtag")
        assert sock.status_code == 101
        sock.wait_for(lambda t: bool(t.messages))
        assert sock.messages[0].data == {"error": "Missing tag name parameter", "status": 400}

    def test_scopes_are_checked_per_stream(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        """A token without read or read:notifications may read hashtags (public channels need no
        scope) but not notifications (401 as a message)."""
        token = home.create_token(alice, ["write:statuses"])
        sock = opened(socket_tap, home, token, 1, stream="hashtag", tag="relay")
        sock.send(type="subscribe", stream="user:notification")
        sock.wait_for(lambda t: bool(t.messages))
        assert sock.messages[0].data["status"] == 401
        assert home.open_streams() == 1


class TestFaults:
    def test_revoked_token_closes_the_socket(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        sock = opened(socket_tap, home, alice.token, 1, stream="user")
        home.revoke_token(alice.token)
        assert sock.ended.wait(5)
        assert sock.close_code == 1000  # a close frame, not a cut
        wait_until(lambda: home.open_streams() == 0)

    def test_drop_cuts_without_a_close_frame(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        sock = opened(socket_tap, home, alice.token, 1, stream="user")
        sock.send(type="subscribe", stream="hashtag", tag="relay")
        wait_until(lambda: home.open_streams() == 2)
        home.drop_streams()
        assert sock.ended.wait(5)
        assert sock.close_code is None
        wait_until(lambda: home.open_streams() == 0)

    def test_malformed_message_is_sent_once_per_socket(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        sock = opened(socket_tap, home, alice.token, 1, stream="user")
        sock.send(type="subscribe", stream="hashtag", tag="relay")
        wait_until(lambda: home.open_streams() == 2)
        home.send_malformed(b'{"stream":["user"],"event":"update","payload":"{broken')
        sock.wait_for(lambda t: bool(t.messages))
        assert sock.messages[0].data is None
        assert sock.messages[0].raw.endswith("{broken")
        home.send_malformed(b"second")
        sock.wait_for(lambda t: len(t.messages) == 2)
        assert [m.raw for m in sock.messages][1] == "second"

    def test_reordering_lets_a_delete_overtake_its_update(
        self, home: Instance, alice: SeededAccount, client: Client, socket_tap: Tap
    ) -> None:
        sock = opened(socket_tap, home, alice.token, 1, stream="hashtag", tag="relay")
        home.reorder_streams(0.3)
        api = client(home, alice)
        posted = api.status_post("quick #relay")
        api.status_delete(posted["id"])
        sock.wait_for(lambda t: len(t.messages) == 2)
        assert [m.event for m in sock.messages] == ["delete", "update"]

    def test_stall_sends_nothing_until_cleared(
        self, home: Instance, alice: SeededAccount, client: Client, socket_tap: Tap
    ) -> None:
        sock = opened(socket_tap, home, alice.token, 1, stream="hashtag", tag="relay")
        home.stall_streams()
        client(home, alice).status_post("unseen #relay")
        home.stall_streams(False)
        client(home, alice).status_post("seen #relay")
        message = sock.wait_event("update")
        assert "unseen" not in message.payload["content"]
        assert len(sock.messages) == 1


class RawClient:
    """A WebSocket client that never answers pings (wsproto over a plain socket)."""

    def __init__(self, instance: Instance, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", instance.port), timeout=5)
        self.conn = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(
            self.conn.send(
                Request(host=instance.domain, target=f"/api/v1/streaming?access_token={token}&stream=user")
            )
        )
        self.events: list[object] = []
        self.eof = False

    def read_until(self, predicate: Callable[[RawClient], bool]) -> None:
        while not predicate(self) and not self.eof:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            self.conn.receive_data(data or None)
            self.events.extend(self.conn.events())
            self.eof = not data

    def close(self) -> None:
        self.sock.close()


def test_pings_and_a_client_that_does_not_pong_is_dropped(home: Instance, alice: SeededAccount) -> None:
    """The server pings every ping interval and drops a client that missed the last ping."""
    raw = RawClient(home, alice.token)
    try:
        raw.read_until(lambda r: any(isinstance(e, AcceptConnection) for e in r.events))
        raw.read_until(lambda r: any(isinstance(e, Ping) for e in r.events))
        raw.read_until(lambda r: r.eof)  # no pong sent: the next tick cuts the connection
        assert raw.eof
        wait_until(lambda: home.open_streams() == 0)
    finally:
        raw.close()


def test_stream_message_is_compact_json(
    home: Instance, alice: SeededAccount, client: Client, socket_tap: Tap
) -> None:
    """Each message is one JSON object with exactly stream, event and payload."""
    sock = opened(socket_tap, home, alice.token, 1, stream="public:local")
    client(home, alice).status_post("plain")
    message = sock.wait_event("update")
    assert set(json.loads(message.raw)) == {"stream", "event", "payload"}
    assert message.stream == ["public:local"]
