"""The pipeline and anchor replies, over a real SQLite store: linked once, screened without the
hashtag, screened again when a reply refused from a hashtag feed turns out to be an anchor's."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from statusgen import HOME, hoot

from relay.config.rules import default_rules
from relay.core.items import Deleted, Delivered
from relay.core.post import Post
from relay.core.verdict import Decision
from relay.runtime.pipeline import Pipeline
from relay.sources import normalise
from relay.store.store import Store

NOW = datetime(2026, 8, 1, 14, 0, tzinfo=UTC)
ANCHOR = "https://anchor.example/@founder/100"
SOURCE = "anchor.example"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "relay.sqlite3", now=lambda: NOW) as opened:
        yield opened


def pipeline(store: Store, mode: str = "open") -> Pipeline:
    return Pipeline(store, default_rules(["hoot"], mode=mode), home_host=HOME, clock=lambda: NOW)


def reply(text: str = "<p>I am Ana, a counsellor</p>", **changes: Any) -> dict[str, Any]:
    """The recorded status without a hashtag, as a reply to the anchor (id 100 on its server)."""
    data = copy.deepcopy(hoot())
    data.update(content=text, tags=[], in_reply_to_id="100", **changes)
    return data


def from_anchor(data: dict[str, Any]) -> Delivered:
    item = normalise.status(data, source=SOURCE, via="anchor", anchor=ANCHOR)
    assert isinstance(item, Delivered)
    return item


class TestAnchorReplies:
    def test_reply_from_the_anchor_is_accepted_with_its_reason(self, store: Store) -> None:
        """A reply without the hashtag from an anchor's context is accepted for boosting, its link
        to the anchor and the reason ("reply to anchor <url>") stored and audited."""
        data = reply()
        pipeline(store).handle(from_anchor(data))
        assert store.anchors.anchor_of(data["uri"]) == ANCHOR
        verdict = store.posts.verdict_for(data["uri"])
        assert verdict is not None
        assert verdict.decision is Decision.ACCEPT
        [intent] = store.boosts.unfinished_intents()
        assert intent.uri == data["uri"]
        [row] = [r for r in store.audit_log.audit_rows(uri=data["uri"]) if r.action.startswith("screen")]
        assert row.detail == f"anchor: reply to anchor {ANCHOR}"

    def test_refused_from_a_hashtag_feed_then_taken_from_the_anchor(self, store: Store) -> None:
        """The same reply, first refused from a feed (a reply, no hashtag), is screened again when
        the anchor's context brings it, and accepted."""
        data = reply()
        p = pipeline(store)
        p.handle(Delivered(Post.from_status(data, source=SOURCE), via="poll"))
        first = store.posts.verdict_for(data["uri"])
        assert first is not None
        assert first.decision is Decision.REJECT
        p.handle(from_anchor(data))
        again = store.posts.verdict_for(data["uri"])
        assert again is not None
        assert again.decision is Decision.ACCEPT
        assert [i.uri for i in store.boosts.unfinished_intents()] == [data["uri"]]

    def test_seen_again_from_the_anchor_is_a_duplicate(self, store: Store) -> None:
        """Read again (after a restart), an anchor reply is neither screened nor boosted twice."""
        data = reply()
        p = pipeline(store)
        p.handle(from_anchor(data))
        p.handle(from_anchor(data))
        assert store.posts.screened_count(data["uri"]) == 1
        assert len(store.boosts.unfinished_intents()) == 1

    def test_an_edit_from_any_source_still_knows_the_anchor(self, store: Store) -> None:
        """A later version from a feed (not the anchor) is screened as the anchor reply it is; one
        that no longer passes (a keyword) cancels the boost like any edit."""
        data = reply()
        p = pipeline(store)
        p.handle(from_anchor(data))
        edited = reply(edited_at="2026-08-01T14:05:00.000Z")
        p.handle(Delivered(Post.from_status(edited, source=SOURCE), via="stream"))
        verdict = store.posts.verdict_for(data["uri"])
        assert verdict is not None
        assert verdict.decision is Decision.ACCEPT
        assert [r.rule for r in verdict.reasons] == ["anchor"]
        unlisted = reply(edited_at="2026-08-01T14:06:00.000Z", visibility="unlisted")
        p.handle(from_anchor(unlisted))
        assert store.boosts.unfinished_intents() == []

    def test_delete_from_the_anchor_server_retracts(self, store: Store) -> None:
        """A delete of the reply's id on the anchor's server retracts it (never boosted again)."""
        data = reply()
        p = pipeline(store)
        p.handle(from_anchor(data))
        p.handle(Deleted(SOURCE, data["id"]))
        assert store.posts.is_retracted(data["uri"])
