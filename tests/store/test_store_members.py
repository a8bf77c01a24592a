"""The store's directory: joining, leaving and removal (each audited), introductions, Collection items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storehelp import arrive

from relay.store.records import MemberAccount
from relay.store.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MOD = "mod@home.example"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary file, whose clock stands at T0."""
    with Store.open(tmp_path / "state.db", now=lambda: T0) as opened:
        yield opened


def account(acct: str, account_id: str | None = "1", note: str = "<p>bio</p>") -> MemberAccount:
    """A profile as a server gives it."""
    user, _, domain = acct.partition("@")
    return MemberAccount(
        acct=acct,
        uri=f"https://{domain}/users/{user}",
        url=f"https://{domain}/@{user}",
        display_name=user.title(),
        note=note,
        account_id=account_id,
    )


def boosted(store: Store, uri: str, acct: str, local_id: str, now: datetime) -> None:
    """Observe and boost a post (home-instance status `local_id`), done at `now`."""
    arrive(
        store, uri, source="home", acct=acct, url=uri + "/page", edited_at=None, text_fingerprint=uri, now=now
    )
    store.boosts.boost_intent(uri, local_id, now)
    store.boosts.boost_done(uri, "r" + local_id, now)


class TestJoinAndLeave:
    def test_join_lists_and_audits_once(self, store: Store) -> None:
        """A join lists the member with their profile; joining again changes nothing but the profile."""
        assert store.members.join(account("Ann@One.example"), actor="ann@one.example")
        assert not store.members.join(
            account("ann@one.example", note="<p>new</p>"), actor="ann@one.example", now=T0 + timedelta(1)
        )
        [member] = store.members.listed()
        assert (member.acct, member.display_name, member.note) == ("ann@one.example", "Ann", "<p>new</p>")
        assert member.joined_at == T0
        actions = [(r.action, r.target) for r in store.audit_log.audit_rows()]
        assert actions == [("directory.join", "ann@one.example")]

    def test_leave_unlists_and_keeps_the_row(self, store: Store) -> None:
        """A member who leaves is no longer listed; the row stays with the reason; audited."""
        store.members.join(account("ann@one.example"), actor="ann@one.example")
        assert store.members.leave("ann@one.example", "leave", actor="ann@one.example") == ["ann@one.example"]
        assert store.members.listed() == []
        member = store.members.get("ann@one.example")
        assert member is not None
        assert member.left_reason == "leave"
        assert member.left_at == T0
        assert store.audit_log.audit_rows()[-1].action == "directory.leave"

    def test_leave_of_nobody_writes_nothing(self, store: Store) -> None:
        """Removing someone not listed returns nobody and audits nothing."""
        assert store.members.leave("ann@one.example", "unlist", actor=MOD) == []
        assert store.audit_log.audit_rows() == []

    def test_domain_block_removes_the_domain_and_subdomains(self, store: Store) -> None:
        """A domain removes each listed member on it or below it, and nobody else."""
        for acct in ("a@bad.example", "b@sub.bad.example", "c@notbad.example"):
            store.members.join(account(acct), actor=acct)
        assert sorted(store.members.leave("bad.example", "block", actor=MOD)) == [
            "a@bad.example",
            "b@sub.bad.example",
        ]
        assert [m.acct for m in store.members.listed()] == ["c@notbad.example"]

    def test_rejoin_lists_again_from_the_new_date(self, store: Store) -> None:
        """A member who left and joins again is new again: `joined_since` names them."""
        store.members.join(account("ann@one.example"), actor="ann@one.example")
        store.members.leave("ann@one.example", "optout", actor="ann@one.example")
        later = T0 + timedelta(days=3)
        assert store.members.join(account("ann@one.example"), actor="ann@one.example", now=later)
        assert [m.joined_at for m in store.members.listed()] == [later]
        assert [m.acct for m in store.members.joined_since(T0 + timedelta(days=1))] == ["ann@one.example"]

    def test_joined_since_window(self, store: Store) -> None:
        """`joined_since` takes members who joined in [since, until) and are still listed."""
        for n, acct in enumerate(("a@x.example", "b@x.example", "c@x.example")):
            store.members.join(account(acct), actor=acct, now=T0 + timedelta(days=n))
        store.members.leave("c@x.example", "leave", actor="c@x.example")
        window = store.members.joined_since(T0 + timedelta(days=1), until=T0 + timedelta(days=5))
        assert [m.acct for m in window] == ["b@x.example"]

    def test_unknown_reason_refused(self, store: Store) -> None:
        """A removal reason outside the set is a programming error."""
        with pytest.raises(ValueError, match="unknown reason"):
            store.members.leave("a@x.example", "gone", actor=MOD)


class TestIntroductions:
    def test_first_boost_is_offered_until_an_intro_is_set(self, store: Store) -> None:
        """The member's earliest done boost, not unboosted since, is their introduction's candidate."""
        store.members.join(account("ann@one.example"), actor="ann@one.example")
        boosted(store, "https://one.example/s/1", "ann@one.example", "11", T0)
        boosted(store, "https://one.example/s/2", "ann@one.example", "12", T0 + timedelta(1))
        [first] = store.members.first_boosts()
        assert (first.acct, first.uri, first.local_id) == ("ann@one.example", "https://one.example/s/1", "11")
        store.boosts.unboost_intent("https://one.example/s/1", "11", T0 + timedelta(2))
        store.boosts.unboost_done("https://one.example/s/1", T0 + timedelta(2))
        assert [f.uri for f in store.members.first_boosts()] == ["https://one.example/s/2"]
        store.members.set_intro(
            "ann@one.example", first.uri, first.url, "<p>hi</p>", chosen=False, actor="relay"
        )
        assert store.members.first_boosts() == []

    def test_chosen_intro_is_audited(self, store: Store) -> None:
        """An introduction the member chose is audited; the relay's pick is not."""
        store.members.join(account("ann@one.example"), actor="ann@one.example")
        store.members.set_intro("ann@one.example", "u1", None, "<p>a</p>", chosen=False, actor="relay")
        assert store.members.set_intro(
            "ann@one.example", "u2", None, "<p>b</p>", chosen=True, actor="ann@one.example"
        )
        assert [r.action for r in store.audit_log.audit_rows()] == ["directory.join", "directory.intro"]
        member = store.members.get("ann@one.example")
        assert member is not None
        assert (member.intro_uri, member.intro_chosen) == ("u2", True)

    def test_intro_for_someone_not_listed_is_refused(self, store: Store) -> None:
        """Nobody gets an introduction without being listed."""
        assert not store.members.set_intro(
            "ann@one.example", "u", None, "x", chosen=True, actor="ann@one.example"
        )

    def test_dropping_a_deleted_intro(self, store: Store) -> None:
        """A deleted introduction post is forgotten for whoever had it."""
        store.members.join(account("ann@one.example"), actor="ann@one.example")
        store.members.set_intro(
            "ann@one.example", "u1", None, "<p>a</p>", chosen=True, actor="ann@one.example"
        )
        assert store.members.drop_intro_of("u1") == ["ann@one.example"]
        member = store.members.get("ann@one.example")
        assert member is not None
        assert member.intro_uri is None
        assert not member.intro_chosen


class TestCollections:
    def test_items_and_collections(self, store: Store) -> None:
        """Items are recorded per member; a removed member with an item is still to be unfeatured."""
        store.members.add_collection("c1", "https://home.example/collections/c1")
        store.members.join(account("ann@one.example"), actor="ann@one.example")
        store.members.set_item("ann@one.example", "c1", "i1", "pending")
        assert store.members.collections() == [("c1", "https://home.example/collections/c1", 1)]
        store.members.leave("ann@one.example", "leave", actor="ann@one.example")
        assert [m.item_id for m in store.members.unlisted_with_items()] == ["i1"]
        store.members.set_item("ann@one.example", None, None, None)
        assert store.members.unlisted_with_items() == []
        assert store.members.collections() == [("c1", "https://home.example/collections/c1", 0)]

    def test_drop_collection_forgets_its_items(self, store: Store) -> None:
        """A Collection gone from the server takes its item records with it."""
        store.members.add_collection("c1", None)
        store.members.join(account("ann@one.example"), actor="ann@one.example")
        store.members.set_item("ann@one.example", "c1", "i1", "accepted")
        store.members.drop_collection("c1")
        member = store.members.get("ann@one.example")
        assert store.members.collections() == []
        assert member is not None
        assert member.item_id is None
