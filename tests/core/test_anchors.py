"""Anchor posts on plain data: the id an anchor's URL names, which descendants are its replies,
which replies are gone, and how screening treats a reply to an anchor."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from statusgen import hoot

from relay.config.rules import parse_rules
from relay.core.anchors import (
    Descendant,
    anchor_detail,
    gone,
    names_anchor,
    select_replies,
    status_id_candidate,
)
from relay.core.history import History
from relay.core.post import Post
from relay.core.rules import Rules
from relay.core.screen import screen
from relay.core.verdict import Decision, Reason

NOW = datetime(2026, 8, 2, 12, 0, tzinfo=UTC)
ANCHOR = "https://therapists.example/@founder/100"


class TestStatusId:
    @pytest.mark.parametrize(
        ("url", "status_id"),
        [
            ("https://therapists.example/@founder/109876543210", "109876543210"),  # Mastodon
            ("https://therapists.example/users/founder/statuses/109876543210", "109876543210"),
            ("https://gts.example/@founder/statuses/01HQ2W3E4R5T6Y7U8I9O0P", "01HQ2W3E4R5T6Y7U8I9O0P"),
            ("https://akkoma.example/notice/AbC123xYz", "AbC123xYz"),  # Pleroma, Akkoma
            ("https://misskey.example/notes/9x7y6z5a4b/", "9x7y6z5a4b"),
            ("https://therapists.example/@founder", None),  # a profile
            ("https://therapists.example/about", None),
            ("https://pleroma.example/objects/0c5e2a1f-1a2b-4c3d-9e8f-abcdefabcdef", None),  # not an id
        ],
    )
    def test_last_segment_is_the_id(self, url: str, status_id: str | None) -> None:
        """The id is the last path segment of a post link, for every server kind's link form."""
        assert status_id_candidate(url) == status_id

    def test_names_anchor(self) -> None:
        """A status names the anchor when its uri or url is the anchor's URL (host case, trailing /)."""
        assert names_anchor({"url": "https://Therapists.example/@founder/100/"}, ANCHOR)
        assert names_anchor({"uri": ANCHOR, "url": None}, ANCHOR)
        assert not names_anchor({"url": "https://other.example/@founder@therapists.example/7"}, ANCHOR)


# The anchor 100 with replies 101 and 102, 103 answering 101, and 104 answering 103.
CONTEXT = [
    Descendant("101", "100"),
    Descendant("103", "101"),
    Descendant("104", "103"),
    Descendant("102", "100"),
]


class TestSelectReplies:
    def test_direct_takes_replies_to_the_anchor_only(self) -> None:
        """`direct`: only the descendants that answer the anchor itself."""
        assert [d.id for d in select_replies("100", CONTEXT, "direct")] == ["101", "102"]

    def test_thread_takes_every_descendant(self) -> None:
        """`thread`: a reply to a reply (and deeper) too."""
        assert [d.id for d in select_replies("100", CONTEXT, "thread")] == ["101", "103", "104", "102"]

    def test_unknown_scope(self) -> None:
        """A scope the config could not have given is a programming error."""
        with pytest.raises(ValueError, match="unknown reply scope"):
            select_replies("100", CONTEXT, "all")

    def test_gone(self) -> None:
        """Replies read before and missing now, in the order read before."""
        assert gone(["101", "102", "103"], ["103", "105"]) == ["101", "102"]
        assert gone([], ["1"]) == []


def rules(mode: str = "open", **table: Any) -> Rules:
    """Rules watching #hoot (the real fixture's tag) with `table` as the [rules] table."""
    return parse_rules(
        table, hashtags=["hoot"], mode=mode, self_acct=None, base_dir=Path("."), source="relay.toml"
    )


def reply(**changes: Any) -> Post:
    """The real #hoot status without its hashtag, as a reply."""
    post = Post.from_status(hoot(), source="localhost:3000")
    return dataclasses.replace(post, tags=frozenset(), in_reply_to_id="100", **changes)


class TestScreeningAnAnchorReply:
    def test_no_hashtag_needed_and_replies_rule_does_not_refuse(self) -> None:
        """A reply to an anchor passes without the hashtag and with replies = "skip"; the reason
        says which anchor."""
        result = screen(reply(), rules(), History(anchor=ANCHOR), NOW)
        assert result.decision is Decision.ACCEPT
        assert result.reasons == (Reason("anchor", Decision.ACCEPT, anchor_detail(ANCHOR)),)
        assert anchor_detail(ANCHOR) == f"reply to anchor {ANCHOR}"

    def test_the_same_reply_not_known_as_an_anchor_reply_is_refused(self) -> None:
        """Without the link to an anchor, the same post fails the hashtag and reply rules."""
        result = screen(reply(), rules(), History(), NOW)
        assert {r.rule for r in result.reasons} == {"hashtags", "replies"}
        assert result.decision is Decision.REJECT

    @pytest.mark.parametrize("visibility", ["unlisted", "private", "direct"])
    def test_public_only(self, visibility: str) -> None:
        """Only a public reply to an anchor is boosted, even where unlisted hashtag posts are."""
        the_rules = rules(visibility=["public", "unlisted"])
        result = screen(reply(visibility=visibility), the_rules, History(anchor=ANCHOR), NOW)
        assert result.decision is Decision.REJECT
        assert [r.rule for r in result.reasons if r.decision is Decision.REJECT] == ["visibility"]

    def test_consent_and_rules_still_apply(self) -> None:
        """An opted-out author, or a keyword, refuses an anchor reply as it does a hashtag post."""
        assert (
            screen(reply(), rules(), History(anchor=ANCHOR, opted_out=True), NOW).decision is Decision.REJECT
        )
        keyword = rules(keywords={"reject": ["hoot"]})
        post = reply()
        assert "hoot" in post.folded_text
        assert screen(post, keyword, History(anchor=ANCHOR), NOW).decision is Decision.REJECT

    def test_review_mode_holds_it(self) -> None:
        """In review mode an anchor reply waits for a moderator like any post."""
        result = screen(reply(), rules(mode="review"), History(anchor=ANCHOR), NOW)
        assert result.decision is Decision.HOLD
        assert [r.rule for r in result.reasons] == ["anchor", "mode"]
