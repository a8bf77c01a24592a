"""The per-author cap (`limits.max_boosts_per_author_24h`) through the pipeline and a real store.

The cap counts an author's posts accepted for boosting in the last 24 hours, whatever became of
their boosts, never the post being screened: so the same posts, in the same order, are decided
the same whatever the batches they come in, how far the booster got in between, restarts, deletes
and edits, and which source delivered each first.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statusgen import HOME, hoot

from relay.config.rules import default_rules
from relay.core.items import Deleted, Delivered, Item
from relay.core.lifecycle import Event
from relay.core.post import Post
from relay.core.verdict import Decision
from relay.runtime.pipeline import Pipeline
from relay.store.store import Store

T0 = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)
CAP_RULE = "limits.max_boosts_per_author_24h"
OTHER = "b.example"  # a second source: its copies carry its own ids and the author's full handle


def status(author: int, n: int, *, source: str = HOME, edit: int = 0, text: str = "") -> dict[str, Any]:
    """The recorded public #hoot status as post `n` of author `author`, seen from `source`,
    in its `edit`-th version (0: as first posted)."""
    data = copy.deepcopy(hoot())
    name, account_id = f"author{author}", str(900 + author)
    number = f"{author + 1}{n:04d}"
    data["account"].update(
        id=account_id,
        username=name,
        acct=name if source == HOME else f"{name}@{HOME}",
        uri=f"http://{HOME}/ap/users/{account_id}",
        url=f"http://{HOME}/@{name}",
    )
    data["id"] = number if source == HOME else f"9{number}"  # each instance has its own ids
    data["uri"] = f"http://{HOME}/ap/users/{account_id}/statuses/{number}"
    data["url"] = f"http://{HOME}/@{name}/{number}"
    words = text or f"Post {n} of {name}: hello, colleagues"
    data["content"] = f"<p>{words}{' (edited)' * edit} #hoot</p>"
    data["edited_at"] = None if edit == 0 else (T0 + timedelta(minutes=edit)).isoformat()
    return data


def seen(author: int, n: int, *, source: str = HOME, edit: int = 0, text: str = "") -> Delivered:
    return Delivered(
        Post.from_status(status(author, n, source=source, edit=edit, text=text), source=source), "stream"
    )


def uri(author: int, n: int) -> str:
    return str(status(author, n)["uri"])


class Relay:
    """A pipeline over a state file, with a clock that moves a second for each batch."""

    def __init__(self, path: Path, *, cap: int, mode: str = "open") -> None:
        base = default_rules(["hoot"], mode=mode)
        self.rules = dataclasses.replace(
            base, limits=dataclasses.replace(base.limits, max_boosts_per_author_24h=cap)
        )
        self.path = path
        self.now = T0
        self.store = Store.open(path, now=lambda: self.now)
        self.pipeline = self._pipeline()

    def _pipeline(self) -> Pipeline:
        return Pipeline(self.store, self.rules, home_host=HOME, clock=lambda: self.now)

    def take(self, items: Sequence[Item]) -> None:
        self.now += timedelta(seconds=1)
        self.pipeline.handle_batch(items)

    def restart(self) -> None:
        """As after a kill: the same file, a new store connection and a new pipeline."""
        self.store.close()
        self.store = Store.open(self.path, now=lambda: self.now)
        self.pipeline = self._pipeline()

    def boost_all(self, outcome: str = "done") -> None:
        """What the booster does to every open boost intent: reblogs it, or (a dry run) not."""
        for intent in self.store.boosts.unfinished_intents("boost"):
            if outcome == "done":
                self.store.boosts.boost_done(intent.uri, f"r-{intent.id}")
            else:
                self.store.boosts.boost_failed(intent.uri, "dry run")

    def decision(self, author: int, n: int) -> Decision | None:
        verdict = self.store.posts.verdict_for(uri(author, n))
        return None if verdict is None else verdict.decision

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    """A pipeline in open mode with the cap at 4."""
    opened = Relay(tmp_path / "relay.sqlite3", cap=4)
    yield opened
    opened.close()


BURST = [(0, n) for n in range(8)]  # eight posts from one author, as the issue saw them


class TestBurst:
    @pytest.mark.parametrize("how", ["one batch", "one by one, boosted in between", "with a restart"])
    def test_eight_posts_of_one_author_with_the_cap_at_4_give_4_boosts(self, relay: Relay, how: str) -> None:
        """Eight posts from one author: the first four accepted, the other four rejected by the cap,
        whether they come in one batch or one at a time with every boost done before the next."""
        items = [seen(*post) for post in BURST] + [seen(1, 0), seen(1, 1)]  # another author's too
        if how == "one batch":
            relay.take(items)
        else:
            for index, item in enumerate(items):
                relay.take([item])
                relay.boost_all()
                if how == "with a restart" and index == 2:
                    relay.restart()
        decisions = [relay.decision(*post) for post in BURST]
        assert decisions == [Decision.ACCEPT] * 4 + [Decision.REJECT] * 4
        for post in BURST[4:]:
            verdict = relay.store.posts.verdict_for(uri(*post))
            assert verdict is not None
            assert [r.rule for r in verdict.reasons if r.decision is Decision.REJECT] == [CAP_RULE]
        assert relay.decision(1, 0) is relay.decision(1, 1) is Decision.ACCEPT
        assert len(relay.store.boosts.unfinished_intents()) == (6 if how == "one batch" else 0)

    def test_approved_posts_count_as_soon_as_they_are_approved(self, tmp_path: Path) -> None:
        """In review mode a post counts once a moderator approves it, before its boost is done."""
        relay = Relay(tmp_path / "relay.sqlite3", cap=2, mode="review")
        try:
            relay.take([seen(0, 0), seen(0, 1)])
            for n in (0, 1):  # what `approve` does
                item = relay.store.queue.queue_by_uri(uri(0, n))
                assert item is not None
                relay.store.queue.move(item.short_id, Event.APPROVE, "mod@home.example")
                relay.store.boosts.boost_intent(uri(0, n), None)
            relay.take([seen(0, 2)])
            assert relay.decision(0, 2) is Decision.REJECT
            assert relay.store.queue.queue_by_uri(uri(0, 2)) is None  # not put before a moderator
        finally:
            relay.close()


class TestDeletesAndEdits:
    @pytest.mark.parametrize("boosted", [True, False], ids=["deleted after its boost", "before it"])
    def test_deleting_and_posting_again_gains_nothing(self, tmp_path: Path, boosted: bool) -> None:
        """A post deleted by its author still counts: the next post over the cap is rejected."""
        relay = Relay(tmp_path / "relay.sqlite3", cap=2)
        try:
            relay.take([seen(0, 0), seen(0, 1)])
            if boosted:
                relay.boost_all()
            relay.take([Deleted(HOME, str(status(0, 0)["id"]))])
            assert relay.store.posts.is_retracted(uri(0, 0))
            relay.take([seen(0, 2)])
            assert relay.decision(0, 2) is Decision.REJECT
        finally:
            relay.close()

    def test_a_harmless_edit_of_a_boosted_post_at_the_cap_keeps_it_boosted(self, tmp_path: Path) -> None:
        """An author with 5 boosts that day (the default cap) edits one ("consultation" to
        "consultations"): screened again, it does not count against itself and stays boosted."""
        relay = Relay(tmp_path / "relay.sqlite3", cap=5)
        try:
            text = "Offering a free consultation this week"
            relay.take([seen(0, n, text=f"{text} ({n})") for n in range(5)])
            relay.boost_all()
            relay.take([seen(0, 2, edit=1, text=f"{text}s (2)")])
            assert relay.store.posts.screened_count(uri(0, 2)) == 2
            assert relay.decision(0, 2) is Decision.ACCEPT
            assert relay.store.boosts.is_boosted(uri(0, 2))
            assert relay.store.boosts.unfinished_intents() == []
        finally:
            relay.close()


# -- the property: any arrival order, batch split, booster progress and restarts ----------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, int, str]], list[int]]:
    """A cap, the events of a day in arrival order, and where the batches end.

    Each event is (what, author, post, source): an arrival of a post from a source (each post
    from one to three of them, in any order), a harmless edit of it, or its deletion (both only
    after its first arrival: a delete that comes before its post is another question)."""
    cap = draw(st.integers(1, 4))
    counts = draw(st.lists(st.integers(0, 7), min_size=1, max_size=3))
    posts = [(author, n) for author, count in enumerate(counts) for n in range(count)]
    arrivals = [
        ("seen", author, n, source)
        for author, n in posts
        for source in draw(st.lists(st.sampled_from([HOME, OTHER]), min_size=1, max_size=3))
    ]
    events: list[tuple[str, int, int, str]] = draw(st.permutations(arrivals))
    for author, n in posts:
        for what in draw(st.lists(st.sampled_from(["edit", "delete"]), max_size=2)):
            first = next(i for i, e in enumerate(events) if e[1:3] == (author, n))
            at = draw(st.integers(first + 1, len(events)))
            events.insert(at, (what, author, n, draw(st.sampled_from([HOME, OTHER]))))
    cuts = draw(st.lists(st.integers(1, max(len(events), 1)), max_size=6).map(lambda c: sorted(set(c))))
    return cap, events, cuts


def item(what: str, author: int, n: int, source: str) -> Item:
    if what == "delete":
        return Deleted(source, str(status(author, n, source=source)["id"]))
    return seen(author, n, source=source, edit=1 if what == "edit" else 0)


def expected_accepted(cap: int, events: list[tuple[str, int, int, str]]) -> set[tuple[int, int]]:
    """The posts the cap lets through: each author's first `cap` posts in order of first arrival."""
    order: dict[tuple[int, int], None] = {}
    for what, author, n, _ in events:
        if what == "seen":
            order.setdefault((author, n), None)
    accepted: set[tuple[int, int]] = set()
    for post in order:
        if sum(1 for a, _ in accepted if a == post[0]) < cap:
            accepted.add(post)
    return accepted


@settings(max_examples=120, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_decisions_depend_on_the_order_of_arrival_only(
    scenario: tuple[int, list[tuple[str, int, int, str]], list[int]], data: st.DataObject
) -> None:
    """Any arrival order from any sources, split into batches anywhere, with the booster finishing
    some boosts (or failing them, as a dry run does) between batches and restarts between them: each
    author gets exactly min(cap, posts) posts accepted, the first ones to arrive, and every other
    post is rejected by the cap; edits change nothing, and only deleted posts are undone."""
    cap, events, cuts = scenario
    with tempfile.TemporaryDirectory() as tmp:
        relay = Relay(Path(tmp) / "relay.sqlite3", cap=cap)
        try:
            for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
                relay.take([item(*event) for event in events[start:end]])
                between = data.draw(st.sampled_from(["nothing", "boost", "dry run", "restart"]))
                if between == "restart":
                    relay.restart()
                elif between != "nothing":
                    relay.boost_all("done" if between == "boost" else "failed")
            check(relay, cap, events)
        finally:
            relay.close()


def check(relay: Relay, cap: int, events: list[tuple[str, int, int, str]]) -> None:
    accepted = expected_accepted(cap, events)
    deleted = {(author, n) for what, author, n, _ in events if what == "delete"}
    posts = {(author, n) for _, author, n, _ in events}
    for author in {a for a, _ in posts}:
        mine = sum(1 for a, _ in posts if a == author)
        assert sum(1 for a, _ in accepted if a == author) == min(cap, mine)
    store = relay.store
    for post in posts:
        verdict = store.posts.verdict_for(uri(*post))
        assert verdict is not None
        journal = store.boosts.journal(uri(*post))
        if post in accepted:
            assert verdict.decision is Decision.ACCEPT, post
            assert [e.kind for e in journal][:1] == ["boost"]
            if post not in deleted:  # an edit never undoes nor cancels a boost (after a dry run's
                # failed boost, an edit asks for the boost again)
                assert {e.kind for e in journal} == {"boost"}
                assert all(e.state != "failed" or e.error == "dry run" for e in journal)
        else:
            assert verdict.decision is Decision.REJECT, post
            assert [r.rule for r in verdict.reasons if r.decision is Decision.REJECT] == [CAP_RULE]
            assert journal == []
