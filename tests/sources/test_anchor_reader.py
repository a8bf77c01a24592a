"""The anchor reader (`relay.sources.anchors`) against a sandbox instance over HTTP: finding the
anchor, reading its replies with and without a token, Mastodon's tokenless limit, deletes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from mastodon import Mastodon
from relayproc import wait_for
from structlog.testing import capture_logs

from relay.config.load import AnchorConfig
from relay.core.budget import ServerBudget
from relay.core.items import Deleted, Delivered, Item
from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sources.anchors import AnchorReader, AnchorUnreadable, read_context, resolve_anchor


@pytest.fixture
def inst() -> Iterator[Instance]:
    with Fediverse(["anchor"], heartbeat=0.5) as fed:
        yield fed["anchor"]


@pytest.fixture
def founder(inst: Instance) -> SeededAccount:
    return inst.create_account("founder")


def answer(inst: Instance, author: SeededAccount, to: str, text: str) -> str:
    """A reply by `author` to the status `to`; its id."""
    with inst.lock:
        parent = inst.state.statuses[to]
    return inst.post(author, text, in_reply_to=parent)


def one_reply(inst: Instance, founder: SeededAccount) -> tuple[AnchorConfig, str]:
    """An anchor by `founder` with one reply by Carol: the anchor, and the reply's id."""
    anchor_id = inst.post(founder, "Who are you?")
    reply_id = answer(inst, inst.create_account("carol"), anchor_id, "Carol, counsellor")
    return anchor_for(inst, anchor_id), reply_id


def anchor_for(inst: Instance, status_id: str, replies: str = "direct") -> AnchorConfig:
    return AnchorConfig(url=f"{inst.url}/@founder/{status_id}", replies=replies, interval=0.05)


def api(inst: Instance, token: str | None = None) -> Mastodon:
    return Mastodon(api_base_url=inst.url, access_token=token, ratelimit_method="throw")


class TestResolveAndRead:
    def test_the_url_id_is_confirmed_and_the_replies_read_without_a_token(
        self, inst: Instance, founder: SeededAccount
    ) -> None:
        """The id in the anchor's URL is confirmed on its server; a tokenless read gives its replies."""
        anchor_id = inst.post(founder, "Who are you?")
        carol = inst.create_account("carol")
        first = answer(inst, carol, anchor_id, "Carol, counsellor")
        answer(inst, founder, first, "Welcome, Carol")
        anchor = anchor_for(inst, anchor_id)
        assert resolve_anchor(api(inst), anchor, token=False) == (anchor_id, None)
        read = read_context(api(inst), anchor, anchor_id, token=False)
        assert [r["id"] for r in read.replies] == [first]
        assert (read.descendants, read.limited) == (2, False)

    def test_a_link_without_a_post_is_unreadable_with_the_fix(self, inst: Instance) -> None:
        """A URL whose id is no post on that server says so, with what to do."""
        with pytest.raises(AnchorUnreadable) as info:
            resolve_anchor(api(inst), anchor_for(inst, "123456"), token=False)
        assert "no post at" in str(info.value)
        assert "Copy link to post" in info.value.fix

    def test_tokenless_reads_stop_at_mastodons_limit(self, inst: Instance, founder: SeededAccount) -> None:
        """Without a token the context holds 60 replies and says it may be cut; a token shows all."""
        anchor_id = inst.post(founder, "Who are you?")
        for i in range(61):
            answer(inst, inst.create_account(f"t{i}"), anchor_id, f"Therapist {i}")
        anchor = anchor_for(inst, anchor_id)
        tokenless = read_context(api(inst), anchor, anchor_id, token=False)
        assert (len(tokenless.replies), tokenless.limited) == (60, True)
        with_token = read_context(api(inst, founder.token), anchor, anchor_id, token=True)
        assert (len(with_token.replies), with_token.limited) == (61, False)


class TestReader:
    def run_reader(
        self, inst: Instance, anchors: list[AnchorConfig], until: Any, token: str | None = None
    ) -> tuple[list[Item], list[dict[str, Any]]]:
        """Run an `AnchorReader` until `until(reader, items)` holds; the items and log lines."""
        items: list[Item] = []
        stop = threading.Event()
        reader = AnchorReader(
            anchors=anchors,
            make_api=lambda a: (api(inst, token), token is not None),
            budgets=lambda host: ServerBudget(),
            emit=items.append,
            stop=stop,
        )
        thread = threading.Thread(target=reader.run)
        with capture_logs() as logs:
            thread.start()
            try:
                wait_for(lambda: until(reader, items), what="the reader's reads")
            finally:
                stop.set()
                thread.join(5)
        return items, logs

    def test_each_reply_is_handed_on_once(self, inst: Instance, founder: SeededAccount) -> None:
        """Read three times, a reply is handed on once, as a `Delivered` with its anchor; an edit
        of it is handed on again."""
        anchor, reply_id = one_reply(inst, founder)

        def edit_after_three_reads(reader: AnchorReader, items: list[Item]) -> bool:
            with inst.lock:
                st = inst.state.statuses[reply_id]
                if reader.reads >= 3 and st.edited_at is None:
                    inst.state.edit_status(st, "Carol, counsellor in Cork")
            return len(items) >= 2

        items, _ = self.run_reader(inst, [anchor], edit_after_three_reads)
        delivered = [i for i in items if isinstance(i, Delivered)]
        assert [(d.post.id, d.anchor, d.via) for d in delivered] == [(reply_id, anchor.url, "anchor")] * 2
        assert delivered[0].post.edited_at is None
        assert delivered[1].post.edited_at is not None

    def test_a_delete_between_reads(self, inst: Instance, founder: SeededAccount) -> None:
        """A reply read once and then deleted is a `Deleted` from the anchor's server."""
        anchor, reply_id = one_reply(inst, founder)

        def delete_after_first_read(reader: AnchorReader, items: list[Item]) -> bool:
            with inst.lock:
                st = inst.state.statuses.get(reply_id)
                if reader.reads >= 1 and st is not None:
                    inst.state.delete_status(st)
            return any(isinstance(i, Deleted) for i in items)

        items, _ = self.run_reader(inst, [anchor], delete_after_first_read)
        assert Deleted(inst.domain, reply_id) in items

    def test_limit_and_missing_anchor_are_said_once(self, inst: Instance, founder: SeededAccount) -> None:
        """A context at the tokenless limit and an anchor that does not exist are each warned about
        once, with the fix, however many reads."""
        anchor_id = inst.post(founder, "Who are you?")
        for i in range(60):
            answer(inst, inst.create_account(f"t{i}"), anchor_id, f"Therapist {i}")
        anchors = [anchor_for(inst, anchor_id), anchor_for(inst, "999999")]
        _, logs = self.run_reader(inst, anchors, lambda r, _: r.reads >= 3)
        limited = [e for e in logs if e["event"] == "anchor.context_limited"]
        missing = [e for e in logs if e["event"] == "anchor.unreadable"]
        assert len(limited) == 1
        assert "with a token" in limited[0]["fix"]
        assert len(missing) == 1
        assert missing[0]["log_level"] == "warning"

    def test_a_reply_cut_off_its_thread_is_asked_for_once(
        self, inst: Instance, founder: SeededAccount
    ) -> None:
        """Under a `thread` anchor, deleting a reply takes its own replies out of the context: the
        deleted one is a `Deleted`; the one still there is not, and is asked for once, not at every read."""
        anchor_id = inst.post(founder, "Who are you?")
        parent = answer(inst, inst.create_account("carol"), anchor_id, "Carol")
        child = answer(inst, inst.create_account("dave"), parent, "Dave answering Carol")
        anchor = anchor_for(inst, anchor_id, replies="thread")
        reads_at_delete: list[int] = []

        def delete_parent_then_read_more(reader: AnchorReader, items: list[Item]) -> bool:
            with inst.lock:
                st = inst.state.statuses.get(parent)
                if reader.reads >= 1 and st is not None:
                    inst.state.delete_status(st)
                    reads_at_delete.append(reader.reads)
            return bool(reads_at_delete) and reader.reads >= reads_at_delete[0] + 4

        items, _ = self.run_reader(inst, [anchor], delete_parent_then_read_more)
        assert [i for i in items if isinstance(i, Deleted)] == [Deleted(inst.domain, parent)]
        asked = [r for r in inst.requests if r.method == "GET" and r.path == f"/api/v1/statuses/{child}"]
        assert len(asked) == 1
