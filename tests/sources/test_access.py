"""How a tokenless source is read, from its instance JSON (`relay.sources.access`), on plain data."""

from __future__ import annotations

import pytest

from relay.sources.access import Access, access


def instance(local: str, remote: str) -> dict:
    """`/api/v2/instance` JSON as Mastodon 4.5+ announces its hashtag feeds."""
    return {"configuration": {"timelines_access": {"hashtag_feeds": {"local": local, "remote": remote}}}}


class TestAccess:
    def test_public_feeds_are_polled(self) -> None:
        """Both feeds public: the REST tag timeline is polled, remote posts included."""
        assert access(instance("public", "public")) == Access(poll=True)

    @pytest.mark.parametrize("remote", ["authenticated", "disabled"])
    def test_only_local_posts_public_polls_those(self, remote: str) -> None:
        """Only the local feed public: poll it, local posts only."""
        assert access(instance("public", remote)) == Access(poll=True, local_only=True)

    def test_only_remote_posts_public_polls_everything_it_shows(self) -> None:
        """The remote feed public (the local one not): poll without the local-only filter."""
        assert access(instance("authenticated", "public")) == Access(poll=True)

    def test_authenticated_feeds_fall_back_to_rss(self) -> None:
        """No public feed: read the RSS feed (not disabled: a token would open the timeline)."""
        assert access(instance("authenticated", "authenticated")) == Access(poll=False)
        assert access(instance("authenticated", "disabled")) == Access(poll=False)

    def test_disabled_feeds_are_reported(self) -> None:
        """Both feeds disabled: RSS is all that is left, and it is said so."""
        assert access(instance("disabled", "disabled")) == Access(poll=False, disabled=True)

    @pytest.mark.parametrize(
        ("json", "why"),
        [({"configuration": {}}, "KeyError"), ({"configuration": None}, "TypeError"), ([], "TypeError")],
    )
    def test_a_server_that_does_not_say_is_taken_as_public(self, json: object, why: str) -> None:
        """Before Mastodon 4.5 (or other software) the feeds are taken as public, and why is kept."""
        assert access(json) == Access(poll=True, unknown=why)

    def test_an_unreadable_instance_is_taken_as_public_with_its_error(self) -> None:
        """When the instance JSON could not be read, the read's error is what is logged."""
        assert access(None, error="MastodonNetworkError") == Access(poll=True, unknown="MastodonNetworkError")
