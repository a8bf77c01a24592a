"""Tag timeline paging, timelines_access, RSS, and status text rendering."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import requests
from mastodon import Mastodon, MastodonAPIError

from relay.sandbox import Instance, SeededAccount
from relay.sandbox.text import find_hashtags, normalize_tag

Client = Callable[[Instance, SeededAccount | str], Mastodon]


@pytest.fixture
def five_posts(home: Instance, alice: SeededAccount) -> list[str]:
    """Five public #relay posts on home, oldest first (ids)."""
    return [home.post(alice, f"post {n} #Relay") for n in range(5)]


class TestTagTimeline:
    def test_limit_max_id_since_id(
        self, home: Instance, alice: SeededAccount, five_posts: list[str], client: Client
    ) -> None:
        """Newest first; max_id and since_id bound the page exclusively."""
        me = client(home, alice)
        newest = me.timeline_hashtag("relay", limit=2)
        assert [str(s["id"]) for s in newest] == [five_posts[4], five_posts[3]]
        page = me.timeline_hashtag("relay", max_id=five_posts[4], since_id=five_posts[0])
        assert [str(s["id"]) for s in page] == five_posts[3:0:-1]

    def test_min_id_pages_forward_from_the_oldest(
        self, home: Instance, alice: SeededAccount, five_posts: list[str], client: Client
    ) -> None:
        """min_id returns the posts just after it (oldest first chosen), newest first in the array."""
        me = client(home, alice)
        page = me.timeline_hashtag("relay", min_id=five_posts[0], limit=2)
        assert [str(s["id"]) for s in page] == [five_posts[2], five_posts[1]]

    def test_fetch_next_and_previous_follow_link_header(
        self, home: Instance, alice: SeededAccount, five_posts: list[str], client: Client
    ) -> None:
        """Mastodon.py's fetch_next/fetch_previous walk the Link header."""
        me = client(home, alice)
        first = me.timeline_hashtag("relay", limit=2)
        second = me.fetch_next(first)
        assert [str(s["id"]) for s in second] == [five_posts[2], five_posts[1]]
        back = me.fetch_previous(second)
        assert [str(s["id"]) for s in back] == [five_posts[4], five_posts[3]]

    def test_tag_match_ignores_case_and_accents(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """#Café and #cafe are one tag; unlisted and private posts are left out."""
        home.post(alice, "one #Café")
        home.post(alice, "two #cafe", visibility="unlisted")
        home.post(alice, "three #CAFE", visibility="private")
        assert len(client(home, alice).timeline_hashtag("cafe")) == 1

    def test_authenticated_feed_needs_a_user(
        self, home: Instance, alice: SeededAccount, five_posts: list[str]
    ) -> None:
        """With hashtag feeds "authenticated", anonymous requests get 422, users get posts."""
        home.set_hashtag_feeds(local="authenticated", remote="authenticated")
        url = f"{home.url}/api/v1/timelines/tag/relay"
        anonymous = requests.get(url, timeout=5)
        assert (anonymous.status_code, anonymous.json()) == (
            422,
            {"error": "This method requires an authenticated user"},
        )
        authed = requests.get(url, headers={"Authorization": f"Bearer {alice.token}"}, timeout=5)
        assert len(authed.json()) == 5
        v2 = requests.get(f"{home.url}/api/v2/instance", timeout=5).json()
        assert v2["configuration"]["timelines_access"]["hashtag_feeds"] == {
            "local": "authenticated",
            "remote": "authenticated",
        }

    def test_disabled_remote_feed_hides_remote_posts(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """A disabled remote hashtag feed returns only local posts, as Mastodon does."""
        home.set_hashtag_feeds(remote="disabled")
        remote.post(bob, "far #relay")
        home.post(alice, "near #relay")
        posts = client(home, alice).timeline_hashtag("relay")
        assert [s["account"]["acct"] for s in posts] == ["alice"]

    def test_anonymous_request_with_bad_token_is_401(self, home: Instance) -> None:
        """A token that does not exist is refused even on a public endpoint."""
        with pytest.raises(MastodonAPIError) as caught:
            Mastodon(access_token="nope", api_base_url=home.url).timeline_hashtag("relay")
        assert caught.value.args[1] == 401


class TestRss:
    def test_tag_rss_items(self, home: Instance, alice: SeededAccount, five_posts: list[str]) -> None:
        """/tags/NAME.rss lists public posts with link, guid, pubDate, description, category."""
        response = requests.get(f"{home.url}/tags/relay.rss", timeout=5)
        assert response.headers["Content-Type"].startswith("application/rss+xml")
        channel = ET.fromstring(response.text).find("channel")  # noqa: S314 (our own server)
        assert channel is not None
        items = channel.findall("item")
        assert len(items) == 5
        first = items[0]
        assert first.findtext("guid") == first.findtext("link")
        assert first.findtext("link", "").endswith(five_posts[-1])
        assert "post 4" in first.findtext("description", "")
        assert first.findtext("pubDate")
        assert [c.text for c in first.findall("category")] == ["relay"]

    def test_rss_ignores_authenticated_but_honours_disabled(
        self, home: Instance, alice: SeededAccount, five_posts: list[str]
    ) -> None:
        """A feed reader cannot sign in: RSS serves an `authenticated` feed, nothing of a `disabled` one."""
        home.set_hashtag_feeds(local="authenticated", remote="authenticated")
        assert requests.get(f"{home.url}/api/v1/timelines/tag/relay", timeout=5).status_code == 422
        items = ET.fromstring(requests.get(f"{home.url}/tags/relay.rss", timeout=5).text).iter("item")  # noqa: S314
        assert len(list(items)) == 5
        home.set_hashtag_feeds(local="disabled", remote="disabled")
        items = ET.fromstring(requests.get(f"{home.url}/tags/relay.rss", timeout=5).text).iter("item")  # noqa: S314
        assert list(items) == []


class TestText:
    def test_mentions_and_hashtags_render_like_mastodon(
        self,
        home: Instance,
        remote: Instance,
        alice: SeededAccount,
        bob: SeededAccount,
        client: Client,
    ) -> None:
        """Local and remote mentions become h-card links; hashtags become tag links."""
        status = client(home, alice).status_post(f"hi @bob@{remote.domain} #Relay it's me")
        assert status["content"] == (
            f'<p>hi <span class="h-card" translate="no"><a href="{remote.url}/@bob" '
            f'class="u-url mention">@<span>bob</span></a></span> '
            f'<a href="{home.url}/tags/relay" class="mention hashtag" rel="tag">#<span>Relay'
            "</span></a> it&#39;s me</p>"
        )
        assert [m["acct"] for m in status["mentions"]] == [bob.acct]
        assert [t["name"] for t in status["tags"]] == ["Relay"]

    @pytest.mark.parametrize(
        ("raw", "normal"),
        [("#Café", "cafe"), ("ＴＥＳＴ", "test"), ("Therapists_Connect", "therapists_connect")],
    )
    def test_normalize_tag(self, raw: str, normal: str) -> None:
        """Tags fold to NFKC, lower case, ASCII letters and word characters."""
        assert normalize_tag(raw) == normal

    def test_find_hashtags_skips_urls_and_numbers(self) -> None:
        """Fragments in URLs and all-digit tags are not hashtags."""
        assert find_hashtags("see http://x.test/#frag #123 and #ok") == ["ok"]


class TestAccountStatuses:
    def test_the_author_sees_all_theirs_newest_first_without_boosts(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """GET /api/v1/accounts/:id/statuses: newest first, direct ones too for the author,
        `exclude_reblogs` leaves boosts out, `exclude_replies` keeps a reply to oneself, others see
        only what they may."""
        carol = home.create_account("carol")
        other = home.post(carol, "carol's #relay post")
        me = client(home, alice)
        first = me.status_post("first", visibility="public")
        me.status_post("private note @carol", visibility="direct")
        me.status_reblog(other)
        me.status_post("second", in_reply_to_id=first["id"])
        me.status_post("to carol", in_reply_to_id=other)
        texts = [s["content"] for s in me.account_statuses(alice.id, exclude_reblogs=True)]
        assert [t.startswith("<p>") for t in texts] == [True] * 4
        assert len(me.account_statuses(alice.id)) == 5
        assert len(me.account_statuses(alice.id, exclude_replies=True, exclude_reblogs=True)) == 3
        seen_by_carol = client(home, carol).account_statuses(alice.id, exclude_reblogs=True)
        assert len(seen_by_carol) == 4  # the DM mentions carol
        assert len(Mastodon(api_base_url=home.url).account_statuses(alice.id, exclude_reblogs=True)) == 3


class TestIdempotency:
    def test_the_same_key_within_the_hour_gives_the_same_status(
        self, home: Instance, alice: SeededAccount, client: Client
    ) -> None:
        """A repeated Idempotency-Key is answered with the status made the first time (Mastodon
        keeps keys an hour, per account); another key, or another account, makes a new one."""
        me = client(home, alice)
        first = me.status_post("weekly digest", idempotency_key="digest-1")
        again = me.status_post("weekly digest", idempotency_key="digest-1")
        other = me.status_post("weekly digest", idempotency_key="digest-2")
        carol = home.create_account("carol")
        theirs = client(home, carol).status_post("weekly digest", idempotency_key="digest-1")
        assert again["id"] == first["id"]
        assert len({first["id"], other["id"], theirs["id"]}) == 3
        with home.lock:
            home.state.idempotency[(alice.id, "digest-1")] = (first["id"], first["created_at"])
        assert me.status_post("weekly digest", idempotency_key="digest-1")["id"] != first["id"]  # expired
