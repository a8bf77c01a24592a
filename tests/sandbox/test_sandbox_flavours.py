"""Each flavour behaves like its server where a reader meets it: nodeinfo, streaming, REST."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sandbox.flavours import FLAVOURS, flavour_named
from relay.sandbox.testing import SocketTap, StreamTap, wait_until

HEARTBEAT = 0.2
Tap = Callable[..., SocketTap]


@pytest.fixture
def make_fediverse() -> Iterator[Callable[..., Fediverse]]:
    """Start a home/remote fediverse whose home plays a given flavour; stopped when the test ends."""
    started: list[Fediverse] = []

    def make(kind: Any, **options: Any) -> Fediverse:
        fed = Fediverse(["home", "remote"], heartbeat=HEARTBEAT, flavours={"home": kind}, **options)
        started.append(fed.start())
        return fed

    yield make
    for fed in started:
        fed.stop()


def get(instance: Instance, path: str, token: str | None = None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(instance.url + path, headers=headers, params=params, timeout=5)


def post(instance: Instance, path: str, token: str, **data: str) -> requests.Response:
    return requests.post(
        instance.url + path, headers={"Authorization": f"Bearer {token}"}, data=data, timeout=5
    )


class TestNodeinfo:
    @pytest.mark.parametrize(
        ("kind", "software"),
        [
            ("mastodon", "mastodon"),
            ("gotosocial", "gotosocial"),
            ("akkoma", "akkoma"),
            ("rest-only", "mitra"),
        ],
    )
    def test_software_name_and_version(
        self, make_fediverse: Callable[..., Fediverse], kind: str, software: str
    ) -> None:
        """/.well-known/nodeinfo links the documents; each names the software and its version."""
        home = make_fediverse(kind)["home"]
        links = get(home, "/.well-known/nodeinfo").json()["links"]
        assert links
        for link in links:
            assert link["rel"].startswith("http://nodeinfo.diaspora.software/ns/schema/2.")
            document = requests.get(link["href"], timeout=5)
            assert document.status_code == 200
            info = document.json()
            assert info["software"] == {"name": software, "version": FLAVOURS[kind].version} | (
                {"repository": info["software"]["repository"]} if info["version"] == "2.1" else {}
            )
            assert info["version"] == link["rel"].rsplit("/", 1)[1]
        assert get(home, "/api/v1/instance").json()["version"] == FLAVOURS[kind].version

    @pytest.mark.parametrize("version", ["v0.20.0-rc1", "0.20.0-rc1+git-57cb4fe"])
    def test_version_string_is_reported_as_given(
        self, make_fediverse: Callable[..., Fediverse], version: str
    ) -> None:
        home = make_fediverse(flavour_named("gotosocial", version))["home"]
        assert get(home, "/nodeinfo/2.0").json()["software"]["version"] == version
        assert get(home, "/api/v2/instance").json()["version"] == version

    def test_unknown_flavour_names_the_choices(self) -> None:
        with pytest.raises(ValueError, match="gotosocial"):
            Fediverse(["home"], flavours={"home": "pleromium"})
        with pytest.raises(ValueError, match="nowhere"):
            Fediverse(["home"], flavours={"nowhere": "akkoma"})


class TestGoToSocial:
    @pytest.fixture
    def home(self, make_fediverse: Callable[..., Fediverse]) -> Instance:
        return make_fediverse("gotosocial")["home"]

    @pytest.fixture
    def alice(self, home: Instance) -> SeededAccount:
        return home.create_account("alice")

    @pytest.mark.parametrize(
        "path", ["/api/v1/streaming/hashtag?tag=x", "/api/v1/streaming/user", "/api/v1/streaming/health"]
    )
    def test_no_server_sent_events(self, home: Instance, alice: SeededAccount, path: str) -> None:
        assert get(home, path, alice.token).status_code == 404

    def test_advertises_wss_though_it_serves_http(self, home: Instance) -> None:
        assert get(home, "/api/v1/instance").json()["urls"]["streaming_api"] == f"wss://{home.domain}"
        v2 = get(home, "/api/v2/instance").json()
        assert v2["configuration"]["urls"]["streaming"] == f"wss://{home.domain}"
        assert "timelines_access" not in v2["configuration"]

    def test_account_json_has_no_uri(self, home: Instance, alice: SeededAccount) -> None:
        me = get(home, "/api/v1/accounts/verify_credentials", alice.token).json()
        assert "uri" not in me
        assert me["url"] == f"{home.url}/@alice"

    def test_hashtag_stream_is_accepted_but_never_sends(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        """stream=hashtag opens; the tag's posts come only on the user stream of a tag follower."""
        sock = socket_tap(home, alice.token, auth="query", stream="hashtag", tag="relay")
        assert sock.status_code == 101
        assert sock.subprotocol is None
        wait_until(lambda: home.open_streams() == 1)
        assert post(home, "/api/v1/tags/relay/follow", alice.token).json()["following"] is True
        sock.send(type="subscribe", stream="user")
        wait_until(lambda: home.open_streams() == 2)
        bob = home.create_account("bob")
        home.post(bob, "first #relay")
        update = sock.wait_event("update")
        assert update.stream == ["user"]
        assert "first" in update.payload["content"]
        home.post(bob, "second #relay")
        sock.wait_for(lambda t: len(t.events("update")) == 2)
        assert not sock.events(stream=["hashtag", "relay"])

    def test_followed_tag_fills_home_timeline(self, home: Instance, alice: SeededAccount) -> None:
        bob = home.create_account("bob")
        home.post(bob, "before the follow #Relay")
        assert get(home, "/api/v1/followed_tags", alice.token).json() == []
        post(home, "/api/v1/tags/Relay/follow", alice.token)
        assert [t["name"] for t in get(home, "/api/v1/followed_tags", alice.token).json()] == ["relay"]
        home.post(bob, "untagged")
        home.post(bob, "unlisted #relay", visibility="unlisted")
        timeline = get(home, "/api/v1/timelines/home", alice.token).json()
        assert ["before the follow" in s["content"] for s in timeline] == [True]
        post(home, "/api/v1/tags/relay/unfollow", alice.token)
        assert get(home, "/api/v1/timelines/home", alice.token).json() == []

    @pytest.mark.parametrize("auth", ["header", "query", "protocol"])
    def test_streaming_needs_the_top_level_read_scope(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap, auth: str
    ) -> None:
        granular = home.create_token(alice, ["read:statuses", "read:notifications", "write"])
        assert socket_tap(home, granular, auth=auth, stream="user").status_code == 403
        assert socket_tap(home, alice.token, auth=auth, stream="user").status_code == 101

    def test_tag_timeline_needs_a_token(self, home: Instance, alice: SeededAccount) -> None:
        home.post(alice, "tagged #relay")
        assert get(home, "/api/v1/timelines/tag/relay").status_code == 401
        found = get(home, "/api/v1/timelines/tag/relay", alice.token)
        assert found.status_code == 200
        assert len(found.json()) == 1
        assert "X-RateLimit-Limit" in found.headers

    def test_replies_and_unlisted_are_in_no_public_feed(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        sock = socket_tap(home, alice.token, stream="public")
        wait_until(lambda: home.open_streams() == 1)
        first = home.post(alice, "top #relay")
        home.post(alice, "a reply #relay", in_reply_to=home.state.statuses[first])
        home.post(alice, "unlisted #relay", visibility="unlisted")
        home.post(alice, "last #relay")
        sock.wait_for(lambda t: len(t.events("update")) == 2)
        contents = [m.payload["content"] for m in sock.events("update")]
        assert ["top" in contents[0], "last" in contents[1]] == [True, True]
        tagged = get(home, "/api/v1/timelines/tag/relay", alice.token).json()
        assert len(tagged) == 2

    def test_ids_are_ulids_and_page_in_order(self, home: Instance, alice: SeededAccount) -> None:
        """Statuses, accounts and notifications have 26-character ULIDs; min_id/max_id page by them."""
        ids = [home.post(alice, f"post {n} #relay") for n in range(5)]
        assert all(len(i) == 26 and i.isalnum() and i.isupper() for i in ids)
        assert ids == sorted(ids)
        assert len(alice.id) == 26
        newest = get(home, "/api/v1/timelines/tag/relay", alice.token, limit="2").json()
        assert [s["id"] for s in newest] == [ids[4], ids[3]]
        forward = get(home, "/api/v1/timelines/tag/relay", alice.token, limit="2", min_id=ids[0]).json()
        assert [s["id"] for s in forward] == [ids[2], ids[1]]
        back = get(home, "/api/v1/timelines/tag/relay", alice.token, max_id=ids[1]).json()
        assert [s["id"] for s in back] == [ids[0]]
        assert get(home, f"/api/v1/statuses/{ids[0]}", alice.token).json()["id"] == ids[0]
        bob = home.create_account("bob")
        home.post(bob, "@alice hello")
        note = get(home, "/api/v1/notifications", alice.token).json()[0]
        assert len(note["id"]) == 26
        assert get(home, f"/api/v1/notifications/{note['id']}", alice.token).json()["id"] == note["id"]

    def test_tag_rss_is_an_html_page(self, home: Instance) -> None:
        page = get(home, "/tags/relay.rss")
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")


class TestAkkoma:
    @pytest.fixture
    def home(self, make_fediverse: Callable[..., Fediverse]) -> Instance:
        return make_fediverse("akkoma")["home"]

    @pytest.fixture
    def alice(self, home: Instance) -> SeededAccount:
        return home.create_account("alice")

    def test_no_server_sent_events(self, home: Instance, alice: SeededAccount) -> None:
        stream = StreamTap(home.url + "/api/v1/streaming/hashtag?tag=relay", alice.token)
        assert stream.status_code == 404

    def test_token_by_query_or_protocol_not_header(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        assert socket_tap(home, alice.token, auth="header", stream="user").status_code == 401
        assert socket_tap(home, alice.token, auth="query", stream="user").status_code == 101
        by_protocol = socket_tap(home, alice.token, auth="protocol", stream="user")
        assert by_protocol.status_code == 101
        assert by_protocol.subprotocol == alice.token

    def test_one_hashtag_per_connection(self, home: Instance, alice: SeededAccount, socket_tap: Tap) -> None:
        """The URL's tag streams; a subscribe for a second tag is ignored without a reply."""
        sock = socket_tap(home, alice.token, auth="query", stream="hashtag", tag="relay")
        wait_until(lambda: home.open_streams() == 1)
        sock.send(type="subscribe", stream="hashtag", tag="other")
        sock.send(type="subscribe", stream="user")  # other streams may be added: a marker
        wait_until(lambda: home.open_streams() == 2)
        home.post(alice, "both #relay #other")
        sock.wait_for(lambda t: len(t.events("update")) == 2)
        streams = sorted(str(m.stream) for m in sock.events("update"))
        assert streams == ["['hashtag', 'relay']", "['user']"]
        assert not [m for m in sock.messages if m.event is None]  # no error message either

    def test_bad_topic_is_refused_before_upgrade(
        self, home: Instance, alice: SeededAccount, socket_tap: Tap
    ) -> None:
        assert socket_tap(home, alice.token, auth="query", stream="hashtag").status_code == 404
        assert socket_tap(home, alice.token, auth="query", stream="nonsense").status_code == 404

    def test_no_rate_limit_headers_and_throttled(self, home: Instance, alice: SeededAccount) -> None:
        response = get(home, "/api/v1/timelines/tag/relay", alice.token)
        assert response.status_code == 200
        assert not [h for h in response.headers if h.lower().startswith("x-ratelimit")]
        home.fail_next(status=429)
        throttled = get(home, "/api/v1/timelines/tag/relay", alice.token)
        assert throttled.status_code == 429
        assert throttled.json() == {"error": "Throttled"}
        assert not [h for h in throttled.headers if h.lower().startswith("x-ratelimit")]


class TestRestOnly:
    @pytest.fixture
    def home(self, make_fediverse: Callable[..., Fediverse]) -> Instance:
        return make_fediverse("rest-only")["home"]

    @pytest.fixture
    def alice(self, home: Instance) -> SeededAccount:
        return home.create_account("alice")

    def test_no_streaming_at_all(self, home: Instance, alice: SeededAccount, socket_tap: Tap) -> None:
        assert get(home, "/api/v1/streaming/hashtag", alice.token, tag="relay").status_code == 404
        assert socket_tap(home, alice.token, stream="user").status_code == 404
        assert post(home, "/api/v1/tags/relay/follow", alice.token).status_code == 404

    def test_rest_works_and_pages_with_max_id_only(self, home: Instance, alice: SeededAccount) -> None:
        ids = [home.post(alice, f"post {n} #relay") for n in range(5)]
        newest = get(home, "/api/v1/timelines/tag/relay", alice.token, limit="2")
        assert [s["id"] for s in newest.json()] == [ids[4], ids[3]]
        assert 'rel="prev"' not in newest.headers["Link"]
        older = get(home, "/api/v1/timelines/tag/relay", alice.token, limit="2", max_id=ids[3])
        assert [s["id"] for s in older.json()] == [ids[2], ids[1]]
        ignored = get(home, "/api/v1/timelines/tag/relay", alice.token, limit="2", min_id=ids[0])
        assert [s["id"] for s in ignored.json()] == [ids[4], ids[3]]  # min_id is not understood


class TestMastodonFollowsTagsToo:
    def test_followed_tag_on_the_user_stream_over_sse(
        self, home: Instance, alice: SeededAccount, listen: Callable[[str], StreamTap]
    ) -> None:
        home.follow_tag(alice, "relay")
        stream = listen("/api/v1/streaming/user")
        bob = home.create_account("bob")
        home.post(bob, "hello #relay")
        event = stream.wait_event("update")
        assert "hello" in event.data
