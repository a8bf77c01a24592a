"""The catch-up of mentions (relay.moderation.mentions): where it reads on from, in its own thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from relayproc import wait_for
from statusgen import cassette_bodies

from relay.core.items import Mention, MentionsSeen
from relay.moderation.mentions import MentionFetcher, sent_since


class RecordingNotifications:
    """The home instance as the catch-up reads it: records where each read starts, finds nothing new."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []
        self.ratelimit_reset = None

    def notifications(self, *, types: list[str], limit: int, min_id: str | None = None) -> list[Any]:
        assert types == ["mention"]
        self.asked.append(min_id)
        return []


@pytest.fixture
def home() -> RecordingNotifications:
    """A home instance with no new mentions, recording each read."""
    return RecordingNotifications()


@contextmanager
def running(
    home: RecordingNotifications, cursor: str | None, emitted: list[Mention | MentionsSeen] | None = None
) -> Iterator[MentionFetcher]:
    """A fetcher given `cursor`, running in its own thread until the block ends (emitting to `emitted`)."""
    stop = threading.Event()
    emitted = [] if emitted is None else emitted
    fetcher = MentionFetcher(
        make_api=lambda: home,  # type: ignore[arg-type,return-value]
        cursor=cursor,
        emit=emitted.append,
        stop=stop,
        home="home.example",
    )
    thread = threading.Thread(target=fetcher.run, name="mentions")
    thread.start()
    try:
        yield fetcher
    finally:
        stop.set()
        thread.join(5)


class TestCursorHandOff:
    def test_reads_on_from_what_the_main_thread_handled(self, home: RecordingNotifications) -> None:
        """The first catch-up starts at the cursor it was given; after `handled(id)`, at that id."""
        with running(home, "100") as fetcher:
            fetcher.request()
            wait_for(lambda: home.asked == ["100"], what="a catch-up from the stored cursor")
            fetcher.handled("117")
            fetcher.request()
            wait_for(lambda: home.asked == ["100", "117"], what="a catch-up from the handed-over cursor")

    def test_without_a_cursor_only_the_latest_page_is_read(self, home: RecordingNotifications) -> None:
        """The very first start (no cursor) reads the newest page, not from an id."""
        with running(home, None) as fetcher:
            fetcher.request()
            wait_for(lambda: home.asked == [None], what="a first catch-up")


def recorded_mention() -> dict[str, Any]:
    """The first mention notification the recorded Mastodon 4.6 answered `GET /api/v1/notifications` with."""
    return next(
        body[0]
        for body in cassette_bodies("notifications_mentions_only.yaml")
        if isinstance(body, list) and body
    )


class TestFirstStartWindow:
    def test_sent_since_reads_times_by_the_one_rule(self) -> None:
        """A time naming no zone is UTC, an offset counts, an unreadable or missing one is left out."""
        since = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        page = [
            {"id": "1", "created_at": "2026-12-01T12:05:00"},  # no zone: UTC, recent
            {"id": "2", "created_at": "2026-12-01T13:01:00+01:00"},  # 12:01 UTC, recent
            {"id": "3", "created_at": "2026-12-01T11:59:00Z"},  # too old
            {"id": "4", "created_at": "not a time"},
            {"id": "5"},
        ]
        assert [n["id"] for n in sent_since(page, since)] == ["1", "2"]

    def test_a_recent_mention_written_without_a_zone_is_handled(self) -> None:
        """A server that writes `created_at` without a zone: the first start still queues the mention
        (the bare `fromisoformat` compared a naive time with an aware one: TypeError, thread gone)."""
        note = recorded_mention()
        note["created_at"] = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None).isoformat()

        class OnePage(RecordingNotifications):
            def notifications(self, *, types: list[str], limit: int, min_id: str | None = None) -> list[Any]:
                super().notifications(types=types, limit=limit, min_id=min_id)
                return [note]

        emitted: list[Mention | MentionsSeen] = []
        with running(OnePage(), None, emitted) as fetcher:
            fetcher.request()
            wait_for(lambda: len(emitted) == 2, what="the mention and the cursor move")
        mention, seen = emitted
        assert isinstance(mention, Mention)
        assert mention.via == "catch-up"
        assert seen == MentionsSeen(str(note["id"]))
