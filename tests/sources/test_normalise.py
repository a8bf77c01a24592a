"""The one normalise step (`relay.sources.normalise`): recorded Mastodon 4.6.4 JSON into queue items."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from paths import FIXTURES
from statusgen import HOME, hoot
from structlog.testing import capture_logs

from relay.core.items import Deleted, Delivered, Mention, Sighting
from relay.core.seen import SeenCache
from relay.sources import normalise
from relay.sources.sse import StreamEvent, parse_stream


def notifications() -> list[dict[str, Any]]:
    """The notifications of the recorded user stream (mentions of the bot)."""
    data = yaml.safe_load((FIXTURES / "stream_user_direct.yaml").read_text(encoding="utf-8"))
    body = next(
        str(i["response"]["body"]["string"])
        for i in data["interactions"]
        if urlsplit(i["request"]["uri"]).path == "/api/v1/streaming/user"
    )
    events = [e for e in parse_stream([body.encode("utf-8")]) if isinstance(e, StreamEvent)]
    return [e.data for e in events if e.name == "notification"]


class TestStatus:
    def test_a_new_status_becomes_a_post(self) -> None:
        """A status the store does not have is parsed into a `Delivered` with its path and hashtag."""
        data = hoot()
        item = normalise.status(data, source="a.example", via="catch-up", hashtag="hoot", seen=SeenCache())
        assert isinstance(item, Delivered)
        assert (item.post.uri, item.post.source, item.via, item.hashtag) == (
            data["uri"],
            "a.example",
            "catch-up",
            "hoot",
        )

    def test_a_known_status_is_a_light_sighting(self) -> None:
        """A status the seen-cache knows at this version becomes a `Sighting`, with the source's id."""
        data = hoot()
        seen = SeenCache()
        seen.remember(data["uri"], None)
        item = normalise.status(
            dict(data, id="999"), source="a.example", via="poll", hashtag="hoot", seen=seen
        )
        assert item == Sighting("a.example", data["uri"], "999", "poll", "hoot")

    def test_a_newer_version_of_a_known_status_is_parsed(self) -> None:
        """An edit is not a duplicate: it takes the full path."""
        data = hoot()
        seen = SeenCache()
        seen.remember(data["uri"], None)
        edited = dict(data, edited_at="2026-08-01T13:00:00.000Z")
        assert isinstance(normalise.status(edited, source=HOME, via="stream", seen=seen), Delivered)

    @pytest.mark.parametrize(
        ("via", "event"),
        [
            ("stream", "stream.malformed_status"),
            ("catch-up", "fetch.malformed_status"),
            ("poll", "fetch.malformed_status"),
            ("recheck", "recheck.malformed_status"),
            ("rss", "rss.item_skipped"),
        ],
    )
    def test_a_malformed_status_is_logged_and_skipped(self, via: str, event: str) -> None:
        """A status without its uri is skipped, logged under the event name of the path it came by."""
        data = copy.deepcopy(hoot())
        del data["uri"]
        with capture_logs() as logs:
            assert normalise.status(data, source="a.example", via=via) is None
        [line] = logs
        assert (line["event"], line["log_level"], line["source"]) == (event, "warning", "a.example")


class TestStreamEvent:
    def test_update_and_status_update_are_statuses(self) -> None:
        """Both status events become posts; a `delete` carries the source's bare id."""
        data = hoot()
        for name in ("update", "status.update"):
            item = normalise.stream_event(name, data, source=HOME)
            assert isinstance(item, Delivered)
            assert item.via == "stream"
            assert item.hashtag is None  # a stream moves no cursor
        assert normalise.stream_event("delete", 117024236408130890, source=HOME) == Deleted(
            HOME, "117024236408130890"
        )

    def test_other_events_are_not_taken(self) -> None:
        """Events the relay does not take (announcements, notifications on a tag stream) give nothing."""
        assert normalise.stream_event("announcement", {"id": "1"}, source=HOME) is None

    def test_a_malformed_update_names_its_event(self) -> None:
        """A malformed stream status is logged as such, saying which event brought it (it used to
        raise inside the stream's handler: `event` is structlog's own key)."""
        with capture_logs() as logs:
            assert normalise.stream_event("status.update", {"id": "1"}, source=HOME) is None
        assert [(e["event"], e["event_name"], e["source"]) for e in logs] == [
            ("stream.malformed_status", "status.update", HOME)
        ]


class TestMention:
    def test_a_mention_notification_becomes_a_mention(self) -> None:
        """The recorded DM to the bot becomes a `Mention` carrying its parsed message."""
        note = next(n for n in notifications() if n["status"]["visibility"] == "direct")
        item = normalise.notification_event("notification", note, home=HOME)
        assert isinstance(item, Mention)
        assert (item.via, item.dm.acct, item.dm.visibility) == (
            "stream",
            "mastodonpy_test_2@localhost:3000",
            "direct",
        )

    def test_other_notifications_are_not_taken(self) -> None:
        """A favourite, or a user stream event that is no notification, gives nothing and logs nothing."""
        note = {**notifications()[0], "type": "favourite"}
        with capture_logs() as logs:
            assert normalise.notification_event("notification", note, home=HOME) is None
            assert normalise.notification_event("update", hoot(), home=HOME) is None
        assert logs == []

    @pytest.mark.parametrize(
        ("via", "event"), [("stream", "stream.malformed_mention"), ("catch-up", "mentions.malformed")]
    )
    def test_a_malformed_mention_is_logged_and_skipped(self, via: str, event: str) -> None:
        """A mention without its status is skipped, logged under its path's event name."""
        note = {**notifications()[0], "status": None}
        with capture_logs() as logs:
            assert normalise.mention(note, home=HOME, via=via) is None
        assert [e["event"] for e in logs] == [event]


class TestAnchorMention:
    ANCHORS = normalise.OwnAnchors(host=HOME, by_id={"100": f"http://{HOME}/@relaybot/100"})

    def note(self, visibility: str, in_reply_to_id: str | None) -> dict[str, Any]:
        note = copy.deepcopy(notifications()[0])
        note["status"].update(visibility=visibility, in_reply_to_id=in_reply_to_id)
        return note

    def test_a_public_reply_to_the_bots_anchor_is_also_a_post(self) -> None:
        """A public reply to the bot's own anchor comes as a mention that also carries the reply as
        a post for the pipeline, with its anchor, seen on the home instance."""
        item = normalise.notification_event(
            "notification", self.note("public", "100"), home=HOME, anchors=self.ANCHORS
        )
        assert isinstance(item, Mention)
        assert item.anchor_reply is not None
        assert (item.anchor_reply.via, item.anchor_reply.anchor) == ("mention", self.ANCHORS.by_id["100"])
        assert item.anchor_reply.post.source == HOME

    @pytest.mark.parametrize(
        ("visibility", "parent"), [("direct", "100"), ("public", "99"), ("public", None)]
    )
    def test_a_dm_or_a_reply_elsewhere_is_only_a_mention(self, visibility: str, parent: str | None) -> None:
        """A DM (even one answering the anchor) and a mention that answers another post are not posts."""
        item = normalise.mention(
            self.note(visibility, parent), home=HOME, via="catch-up", anchors=self.ANCHORS
        )
        assert isinstance(item, Mention)
        assert item.anchor_reply is None
