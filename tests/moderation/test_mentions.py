"""The catch-up of mentions (relay.moderation.mentions): where it reads on from, in its own thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from relayproc import wait_for

from relay.moderation.guards import Mention, MentionsSeen
from relay.moderation.mentions import MentionFetcher


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
def running(home: RecordingNotifications, cursor: str | None) -> Iterator[MentionFetcher]:
    """A fetcher given `cursor`, running in its own thread until the block ends."""
    stop = threading.Event()
    emitted: list[Mention | MentionsSeen] = []
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
