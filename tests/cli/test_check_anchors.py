"""`relay check` and anchor posts: the checklist line for each anchor (pure), and the real read
of an anchor against a sandbox instance."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from relay.cli.check import _Http, gather_anchor
from relay.cli.checklist import AnchorFacts, Status, anchor_item
from relay.config.load import AnchorConfig
from relay.sandbox import Fediverse, Instance

URL = "https://therapists.example/@founder/100"


def facts(**changes: Any) -> AnchorFacts:
    """A readable direct anchor with 12 replies, read without a token, with `changes`."""
    base = AnchorFacts(URL, "direct", 60.0, False, status_id="100", replies=12, descendants=15)
    return dataclasses.replace(base, **changes)


class TestAnchorItem:
    def test_a_readable_anchor_says_how_many_and_how(self) -> None:
        """✓ with the replies counted and how the relay reads them."""
        item = anchor_item(facts())
        assert item.status is Status.OK
        assert item.key == f"anchor:{URL}"
        assert item.detail == (
            f"{URL}: 12 direct replies (of 15 in its context); read without a token, every 60 s"
        )

    def test_thread_with_a_token(self) -> None:
        """A thread anchor read with a token says so."""
        item = anchor_item(facts(scope="thread", token=True))
        assert "12 replies in its thread" in item.detail
        assert "with a token" in item.detail

    def test_the_tokenless_limit_warns_with_the_fix(self) -> None:
        """A tokenless read at Mastodon's limit is a warning naming the server to add with a token."""
        item = anchor_item(facts(limited=True, descendants=60))
        assert item.status is Status.WARN
        assert item.fix == "add a [[sources]] entry with a token for therapists.example"

    def test_a_copy_warns_with_the_original(self) -> None:
        """A link that shows a copy of a post on another server warns, naming the original."""
        item = anchor_item(facts(original="https://elsewhere.example/@founder/7"))
        assert item.status is Status.WARN
        assert "https://elsewhere.example/@founder/7" in (item.fix or "")

    def test_unreadable_fails_with_the_fix(self) -> None:
        """An anchor that cannot be read fails (exit 1: not the configuration's fault) with the fix."""
        item = anchor_item(facts(error="no post at ...", fix="copy the post's own link"))
        assert item.status is Status.FAIL
        assert item.exit_code == 1
        assert item.fix == "copy the post's own link"


@pytest.fixture
def inst() -> Iterator[Instance]:
    with Fediverse(["anchor"], heartbeat=0.5) as fed:
        yield fed["anchor"]


class TestGatherAnchor:
    def test_reads_the_anchor_as_the_relay_does(self, inst: Instance) -> None:
        """The anchor is found by its URL's id and its direct replies counted."""
        founder = inst.create_account("founder")
        anchor_id = inst.post(founder, "Who are you?")
        with inst.lock:
            parent = inst.state.statuses[anchor_id]
        inst.post(inst.create_account("carol"), "Carol here", in_reply_to=parent)
        anchor = AnchorConfig(f"{inst.url}/@founder/{anchor_id}")
        found = gather_anchor(_Http(5.0), anchor, None)
        assert (found.status_id, found.replies, found.error) == (anchor_id, 1, None)

    def test_unreachable_server_fails_with_the_fix(self) -> None:
        """A server that does not answer is named, with what to do."""
        anchor = AnchorConfig("http://127.0.0.1:9/@founder/1")
        found = gather_anchor(_Http(2.0), anchor, None)
        assert found.error
        assert "127.0.0.1:9" in (found.fix or "")
