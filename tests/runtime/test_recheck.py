"""The recheck of recent boosts: which posts it reads back, which answers are edits, and the shell
against the sandbox (several statuses per request, one by one on a server without that, deletes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mastodon import Mastodon, MastodonAPIError
from storehelp import arrive

from relay.core.budget import ServerBudget
from relay.core.items import Deleted, Delivered, Item
from relay.runtime.recheck import BATCH, MAX_ONE_BY_ONE, Rechecker, batches, edited
from relay.sandbox import Instance, SeededAccount
from relay.store.records import Recheck
from relay.store.store import Store

HOME = "home.example"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
EDIT = "2026-05-01T13:00:00.000Z"


def status(local_id: str, edited_at: str | None) -> dict[str, object]:
    return {"id": local_id, "edited_at": edited_at}


class TestEdited:
    def test_only_answers_newer_than_the_stored_version_are_edits(self) -> None:
        """Never edited, the same version, or an older one is no edit; a newer one, or a first
        edit of a post stored unedited, is."""
        posts = [
            Recheck("u1", "1", None),
            Recheck("u2", "2", None),
            Recheck("u3", "3", "2026-05-01T13:00:00+00:00"),
            Recheck("u4", "4", "2026-05-01T14:00:00+00:00"),
            Recheck("u5", "5", "2026-05-01T12:30:00+00:00"),
        ]
        answer = [
            status("1", None),
            status("2", EDIT),
            status("3", EDIT),
            status("4", EDIT),
            status("5", EDIT),
        ]
        newer, missing = edited(posts, answer)
        assert [s["id"] for s in newer] == ["2", "5"]
        assert missing == []

    def test_a_post_left_out_of_the_answer_is_missing(self) -> None:
        """The multi-id answer leaves out what the server does not have: matched by id, not order."""
        posts = [Recheck("u1", "1", None), Recheck("u2", "2", None), Recheck("u3", "3", None)]
        newer, missing = edited(posts, [status("3", EDIT), status("1", None)])
        assert [s["id"] for s in newer] == ["3"]
        assert missing == [posts[1]]

    def test_a_quote_that_moved_on_is_handed_on(self) -> None:
        """A boosted quote revoked, or whose quoted post was deleted, keeps its `edited_at`: its
        quote state further on than the stored one is what makes it change."""
        posts = [
            Recheck("u1", "1", None, "accepted"),
            Recheck("u2", "2", None, "accepted"),
            Recheck("u3", "3", None, "revoked"),
            Recheck("u4", "4", "2026-05-01T13:00:00+00:00", "accepted"),
        ]
        answer = [
            dict(status("1", None), quote={"state": "revoked", "quoted_status": None}),
            dict(status("2", None), quote={"state": "accepted", "quoted_status": None}),
            dict(status("3", None), quote={"state": "revoked", "quoted_status": None}),
            dict(status("4", "2026-05-01T13:00:00+00:00"), quote={"state": "deleted", "quoted_status": None}),
        ]
        newer, _ = edited(posts, answer)
        assert [s["id"] for s in newer] == ["1", "4"]

    def test_a_time_that_does_not_parse_is_no_edit(self) -> None:
        """A malformed `edited_at` in the answer changes nothing."""
        newer, _ = edited([Recheck("u1", "1", None)], [status("1", "yesterday")])
        assert newer == []

    def test_batches_keep_order_and_size(self) -> None:
        """45 posts are asked in runs of 20, 20 and 5."""
        posts = [Recheck(f"u{i}", str(i), None) for i in range(45)]
        runs = list(batches(posts))
        assert [len(r) for r in runs] == [BATCH, BATCH, 5]
        assert [p for r in runs for p in r] == posts


def seen(
    store: Store, uri: str, *, source: str = HOME, local_id: str | None = None, at: datetime = T0
) -> None:
    arrive(
        store,
        uri, source=source, acct="bob@remote.example", url=None, edited_at=None,
        text_fingerprint="fp", local_id=local_id, now=at,
    )  # fmt: skip


class TestWhichPosts:
    def test_boosted_and_pending_posts_of_the_window_with_a_home_id(self, tmp_path: Path) -> None:
        """Boosted now or pending, intent within the window, known home id; newest first."""
        with Store.open(tmp_path / "s.sqlite3") as store:
            old = T0 - timedelta(hours=30)
            for uri, local_id in [("old", "1"), ("boosted", "2"), ("pending", "3"), ("undone", "4")]:
                seen(store, uri, local_id=local_id, at=old)
            seen(store, "nohome", source="remote.example", local_id="9")
            seen(store, "failed", local_id="5")
            store.boosts.boost_intent("old", None, old)
            store.boosts.boost_done("old", "r1", old)
            store.boosts.boost_intent("boosted", None, T0)
            store.boosts.boost_done("boosted", "r2", T0)
            store.boosts.boost_intent("undone", None, T0)
            store.boosts.boost_done("undone", "r4", T0)
            store.boosts.unboost_intent("undone", None, T0)
            store.boosts.unboost_done("undone", T0)
            store.boosts.boost_intent("nohome", None, T0)
            store.boosts.boost_intent("failed", None, T0)
            store.boosts.boost_failed("failed", "gone", T0)
            store.boosts.boost_intent("pending", "33", T0 + timedelta(minutes=1))
            found = store.boosts.boosts_to_recheck(HOME, T0 - timedelta(hours=24), 10)
            assert found == [Recheck("pending", "33", None), Recheck("boosted", "2", None)]
            assert store.boosts.boosts_to_recheck(HOME, T0 - timedelta(hours=24), 1) == [found[0]]


def recheck(home: Instance, bot: SeededAccount, posts: list[Recheck], tmp_path: Path) -> list[Item]:
    """Run one recheck of `posts` (a store holding them as boosted) against `home`."""
    state = tmp_path / "s.sqlite3"
    now = datetime.now(UTC)
    with Store.open(state) as store:
        for post in posts:
            seen(store, post.uri, source=home.url.removeprefix("http://"), local_id=post.local_id, at=now)
            store.boosts.boost_intent(post.uri, None, now)
    items: list[Item] = []
    rechecker = Rechecker(
        state=state,
        home=home.url.removeprefix("http://"),
        budget=ServerBudget(),
        emit=items.append,
        stop=threading.Event(),
    )
    rechecker.run(Mastodon(access_token=bot.token, api_base_url=home.url))
    return items


class TestAgainstTheSandbox:
    def test_several_statuses_in_one_request(
        self, home: Instance, alice: SeededAccount, client: Callable[..., Mastodon]
    ) -> None:
        """`GET /api/v1/statuses?id[]=` answers in the order asked and leaves out unknown ids;
        more than 20 ids is a 422, as Mastodon answers."""
        ids = [home.post(alice, f"post {n}") for n in range(3)]
        me = client(home, alice)
        answer = me.statuses([ids[2], "999", ids[0]])
        assert [str(s["id"]) for s in answer] == [ids[2], ids[0]]
        with pytest.raises(MastodonAPIError) as refused:
            me.statuses([str(n) for n in range(21)])
        assert 422 in refused.value.args

    def test_edits_and_deletes_are_handed_on(
        self, home: Instance, alice: SeededAccount, tmp_path: Path, client: Callable[..., Mastodon]
    ) -> None:
        """An edited post comes back as a `Delivered` via "recheck", a deleted one as `Deleted`,
        an unchanged one not at all; the edited and unchanged ones take one request."""
        kept, changed, gone = (home.post(alice, f"post {n} #Relay") for n in range(3))
        me = client(home, alice)
        me.status_update(changed, "post 1 edited #Relay")
        me.status_delete(gone)
        posts = [Recheck(f"uri-{i}", i, None) for i in (kept, changed, gone)]
        home.faults.clear_requests()
        items = recheck(home, alice, posts, tmp_path)
        assert [type(i).__name__ for i in items] == ["Delivered", "Deleted"]
        first, second = items
        assert isinstance(first, Delivered)
        assert (first.via, first.post.id) == ("recheck", changed)
        assert second == Deleted(home.url.removeprefix("http://"), gone)
        paths = [r.path for r in home.requests]
        assert paths == ["/api/v1/statuses", f"/api/v1/statuses/{gone}"]

    def test_a_server_without_the_multi_id_read_is_asked_one_by_one(
        self, home: Instance, alice: SeededAccount, tmp_path: Path, client: Callable[..., Mastodon]
    ) -> None:
        """A 404 to `GET /api/v1/statuses?id[]=` (Mastodon before 4.3): each post is read alone."""
        kept, changed = (home.post(alice, f"post {n} #Relay") for n in range(2))
        client(home, alice).status_update(changed, "post 1 edited #Relay")
        home.faults.clear_requests()
        home.fail_next(1, status=404, path_prefix="/api/v1/statuses")
        items = recheck(home, alice, [Recheck("a", kept, None), Recheck("b", changed, None)], tmp_path)
        assert [i.post.id for i in items if isinstance(i, Delivered)] == [changed]
        assert [r.path for r in home.requests] == [
            "/api/v1/statuses",
            f"/api/v1/statuses/{changed}",  # newest boost first
            f"/api/v1/statuses/{kept}",
        ]

    def test_one_by_one_reads_only_the_newest_posts(
        self, home: Instance, alice: SeededAccount, tmp_path: Path
    ) -> None:
        """Without the multi-id read, a recheck asks for the newest `MAX_ONE_BY_ONE` posts alone and
        leaves the older ones, so that a reconnect keeps most of the token's budget for boosts."""
        ids = [home.post(alice, f"post {n} #Relay") for n in range(MAX_ONE_BY_ONE + 5)]
        home.faults.clear_requests()
        home.fail_next(1, status=404, path_prefix="/api/v1/statuses")
        posts = [Recheck(f"uri-{n}", local_id, None) for n, local_id in enumerate(ids)]
        recheck(home, alice, posts, tmp_path)
        asked = [r.path.rsplit("/", 1)[-1] for r in home.requests if r.path != "/api/v1/statuses"]
        assert len(asked) == MAX_ONE_BY_ONE
        assert set(asked) == set(ids[5:])  # the newest boosts: the oldest five are left
