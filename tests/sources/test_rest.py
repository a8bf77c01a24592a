"""The REST catch-up's very first look, over HTTP against the sandbox through Mastodon.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from mastodon import Mastodon

from relay.sandbox import Fediverse
from relay.sources.rest import FirstStart, catch_up


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    with Fediverse(["home"]) as federation:
        yield federation


@pytest.fixture
def posted(fed: Fediverse) -> list[str]:
    """Three posts on #hoot (ids in posting order) and one on another tag."""
    author = fed["home"].create_account("newcomer")
    ids = [fed["home"].post(author, f"hello {n} #hoot") for n in range(3)]
    fed["home"].post(author, "elsewhere #other")
    return ids


def first_look(fed: Fediverse, now: datetime, first_start: FirstStart) -> list[str]:
    api = Mastodon(api_base_url=fed["home"].url, ratelimit_method="throw")
    return [str(s["id"]) for s in catch_up(api, "hoot", None, now=now, first_start=first_start)]


def test_first_look_takes_recent_posts_oldest_first(fed: Fediverse, posted: list[str]) -> None:
    """Without a cursor, the posts on the tag from the last day come, oldest first."""
    assert first_look(fed, datetime.now(UTC), FirstStart()) == posted


def test_first_look_leaves_posts_older_than_max_age(fed: Fediverse, posted: list[str]) -> None:
    """A post created longer ago than `max_age` (times compared as instants) is not taken."""
    later = datetime.now(UTC) + timedelta(days=2)
    assert first_look(fed, later, FirstStart(max_age=timedelta(days=1))) == []
    assert first_look(fed, later, FirstStart(max_age=timedelta(days=3))) == posted


def test_first_look_keeps_the_newest_max_posts(fed: Fediverse, posted: list[str]) -> None:
    """At most `max_posts` come: the newest ones."""
    assert first_look(fed, datetime.now(UTC), FirstStart(max_posts=2)) == posted[1:]


def test_a_max_id_only_server_is_read_backwards_to_the_cursor() -> None:
    """On a server that ignores min_id (the rest-only flavour, as Mitra), everything newer than the
    cursor comes oldest first, across pages, and nothing at or before it; min_id paging would get
    the newest page over and over."""
    with Fediverse(["home"], flavours={"home": "rest-only"}) as fed:
        author = fed["home"].create_account("newcomer")
        ids = [fed["home"].post(author, f"hello {n} #hoot") for n in range(95)]
        api = Mastodon(api_base_url=fed["home"].url, ratelimit_method="throw", version_check_mode="none")
        cursor = ids[4]
        got = [str(s["id"]) for s in catch_up(api, "hoot", cursor, now=datetime.now(UTC), paging="max_id")]
        assert got == ids[5:]
        forwards = [str(s["id"]) for s in catch_up(api, "hoot", cursor, now=datetime.now(UTC), max_pages=3)]
        assert forwards != ids[5:]  # the flavour really ignores min_id
