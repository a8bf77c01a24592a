"""Quote posts in the sandbox, as Mastodon 4.5 documents them: posting with `quoted_status_id`, the
quote approval policy, revoking, the quoted post deleted or edited, and what streams and
notifications say of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests

from relay.sandbox import Instance, SeededAccount
from relay.sandbox.testing import StreamTap, wait_until


def post(instance: Instance, who: SeededAccount, **params: str) -> requests.Response:
    return requests.post(
        f"{instance.url}/api/v1/statuses",
        data=params,
        headers={"Authorization": f"Bearer {who.token}"},
        timeout=5,
    )


def show(instance: Instance, status_id: str, who: SeededAccount) -> dict[str, Any]:
    url = f"{instance.url}/api/v1/statuses/{status_id}"
    answer = requests.get(url, headers={"Authorization": f"Bearer {who.token}"}, timeout=5)
    result: dict[str, Any] = answer.json()
    return result


def updates(stream: StreamTap) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in stream.events() if e.name == "status.update"]


class TestPosting:
    def test_a_quote_carries_the_quoted_status_and_its_shallow_quote(
        self, home: Instance, alice: SeededAccount
    ) -> None:
        """`quote: {state, quoted_status}`; inside, the quoted status's own quote is a ShallowQuote."""
        carol = home.create_account("carol")
        first = home.post(carol, "the original #hoot")
        middle = home.quote(carol, "quoting myself", first)
        answer = post(home, alice, status="look #hoot", quoted_status_id=middle)
        assert answer.status_code == 200
        quote = answer.json()["quote"]
        assert quote["state"] == "accepted"
        assert quote["quoted_status"]["id"] == middle
        assert quote["quoted_status"]["quote"] == {"state": "accepted", "quoted_status_id": first}
        assert show(home, middle, alice)["quotes_count"] == 1

    def test_the_policy_decides_a_local_quote(self, home: Instance, alice: SeededAccount) -> None:
        """ "followers" lets only followers quote, "nobody" only the author; a denied quote is a 403,
        and `quote_approval` tells the viewer beforehand."""
        carol = home.create_account("carol")
        home.set_quote_policy(carol, "followers")
        closed = home.post(carol, "followers may quote")
        assert show(home, closed, alice)["quote_approval"] == {
            "automatic": ["followers"],
            "manual": [],
            "current_user": "denied",
        }
        assert post(home, alice, status="no", quoted_status_id=closed).status_code == 403
        home.follow(alice, "carol")
        assert post(home, alice, status="yes", quoted_status_id=closed).json()["quote"]["state"] == "accepted"
        mine = home.post(carol, "nobody", quote_policy="nobody")
        assert post(home, alice, status="no", quoted_status_id=mine).status_code == 403
        assert post(home, carol, status="me", quoted_status_id=mine).status_code == 200
        bad = post(home, alice, status="x", quoted_status_id=closed, quote_approval_policy="friends")
        assert bad.status_code == 422

    def test_the_quoted_author_is_notified(self, home: Instance, alice: SeededAccount) -> None:
        """A `quote` notification reaches the quoted author, with the quoting status."""
        carol = home.create_account("carol")
        original = home.post(carol, "words")
        quoting = home.quote(alice, "see", original)
        notes = requests.get(
            f"{home.url}/api/v1/notifications", headers={"Authorization": f"Bearer {carol.token}"}, timeout=5
        ).json()
        assert [(n["type"], n["status"]["id"]) for n in notes] == [("quote", quoting)]

    def test_a_remote_quote_is_pending_then_decided(
        self, home: Instance, remote: Instance, alice: SeededAccount, tap: Callable[..., StreamTap]
    ) -> None:
        """A quote of a remote post is created pending; the remote's answer comes as a status.update:
        accepted for "public", rejected for "followers" when the quoter does not follow."""
        bob = remote.create_account("quoted")
        stream = tap(home, "/api/v1/streaming/hashtag?tag=hoot", alice.token)
        wait_until(lambda: home.open_streams() == 1)
        open_id = home.status_id(remote.status_uri(remote.post(bob, "open words")))
        remote.set_quote_policy(bob, "followers")
        closed_id = home.status_id(remote.status_uri(remote.post(bob, "closed words")))
        assert open_id
        assert closed_id
        home.quote(alice, "yes #hoot", open_id)
        home.quote(alice, "no #hoot", closed_id)
        stream.wait_for(lambda t: len(updates(t)) == 2)
        created = [json.loads(e.data)["quote"]["state"] for e in stream.events() if e.name == "update"]
        assert created == ["pending", "pending"]
        assert [u["quote"]["state"] for u in updates(stream)] == ["accepted", "rejected"]
        assert updates(stream)[1]["quote"]["quoted_status"] is None


class TestAfterwards:
    def test_revoking_updates_the_quoting_post_everywhere(
        self, home: Instance, remote: Instance, alice: SeededAccount, tap: Callable[..., StreamTap]
    ) -> None:
        """The quoted author revokes: each instance's copy turns `revoked`, without its quoted status,
        with a status.update on its streams (the quoting post keeps its `edited_at`)."""
        bob = remote.create_account("quoted")
        remote_original = remote.post(bob, "mine")
        original = home.status_id(remote.status_uri(remote_original))
        assert original
        quoting = home.quote(alice, "pile on #hoot", original)
        stream = tap(home, "/api/v1/streaming/hashtag?tag=hoot", alice.token)
        wait_until(lambda: home.open_streams() == 1)
        remote_quoting = remote.status_id(home.status_uri(quoting))
        assert remote_quoting
        answer = requests.post(
            f"{remote.url}/api/v1/statuses/{remote_original}/quotes/{remote_quoting}/revoke",
            headers={"Authorization": f"Bearer {bob.token}"},
            timeout=5,
        )
        assert answer.status_code == 200
        assert answer.json()["quote"] == {"state": "revoked", "quoted_status": None}
        stream.wait_for(lambda t: len(updates(t)) == 1)
        (update,) = updates(stream)
        assert update["id"] == quoting
        assert update["quote"] == {"state": "revoked", "quoted_status": None}
        assert update["edited_at"] is None

    def test_deleting_the_quoted_post_makes_the_quote_deleted(
        self, home: Instance, alice: SeededAccount, tap: Callable[..., StreamTap]
    ) -> None:
        """The quoted post deleted: the quote's state is `deleted`, announced as a status.update."""
        carol = home.create_account("carol")
        original = home.post(carol, "soon gone")
        quoting = home.quote(alice, "quote #hoot", original)
        stream = tap(home, "/api/v1/streaming/hashtag?tag=hoot", alice.token)
        wait_until(lambda: home.open_streams() == 1)
        home.delete(carol, original)
        stream.wait_for(lambda t: len(updates(t)) == 1)
        assert updates(stream)[0]["quote"] == {"state": "deleted", "quoted_status": None}
        assert show(home, quoting, alice)["quote"]["state"] == "deleted"

    def test_editing_the_quoted_post_notifies_the_quoter(self, home: Instance, alice: SeededAccount) -> None:
        """`quoted_update` goes to the quoter, carrying their quote, not the edited post."""
        carol = home.create_account("carol")
        original = home.post(carol, "first words")
        quoting = home.quote(alice, "see", original)
        requests.put(
            f"{home.url}/api/v1/statuses/{original}",
            data={"status": "other words"},
            headers={"Authorization": f"Bearer {carol.token}"},
            timeout=5,
        )
        notes = requests.get(
            f"{home.url}/api/v1/notifications", headers={"Authorization": f"Bearer {alice.token}"}, timeout=5
        ).json()
        assert [(n["type"], n["status"]["id"]) for n in notes] == [("quoted_update", quoting)]
        assert notes[0]["status"]["quote"]["quoted_status"]["content"] == "<p>other words</p>"
