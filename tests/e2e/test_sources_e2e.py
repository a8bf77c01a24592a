"""End to end: sources without a token (REST poll, RSS), closed feeds and refused source tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, wait_for

from relay.sandbox import Fediverse, SeededAccount
from relay.store.store import Store


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    """Home and remote instances that do not federate with each other: only the relay links them."""
    with Fediverse(["home", "remote"], heartbeat=0.5) as fediverse:
        fediverse.partition("home", "remote")
        yield fediverse


@pytest.fixture
def bot(fed: Fediverse) -> SeededAccount:
    return fed["home"].create_account("relaybot", bot=True)


def post(fed: Fediverse, account: SeededAccount, text: str) -> dict:
    return dict(Mastodon(access_token=account.token, api_base_url=fed["remote"].url).status_post(text))


def test_public_tag_timeline_is_polled_and_resolved_on_home(
    tmp_path: Path, fed: Fediverse, bot: SeededAccount
) -> None:
    """A source without a token and with a public tag feed is polled; its post is boosted on home."""
    bob = fed["remote"].create_account("bob")
    with RelayProcess(tmp_path, fed, bot, polled=("remote",)) as relay:
        relay.wait_log("source.polling", source=fed["remote"].domain)
        status = post(fed, bob, f"Only the relay brings this home #{HASHTAG}")
        relay.wait_boosted(status["uri"])
        relay.wait_log("post.screened", via="poll", uri=status["uri"])


def test_rss_is_read_where_the_tag_feed_needs_a_token(
    tmp_path: Path, fed: Fediverse, bot: SeededAccount
) -> None:
    """With hashtag feeds for signed-in users only, the RSS feed is read and each item resolved on home."""
    fed["remote"].set_hashtag_feeds(local="authenticated", remote="authenticated")
    bob = fed["remote"].create_account("bob")
    with RelayProcess(tmp_path, fed, bot, polled=("remote",)) as relay:
        relay.wait_log("source.feed_authenticated", source=fed["remote"].domain)
        status = post(fed, bob, f"Seen through RSS #{HASHTAG}")
        relay.wait_log("rss.done", new=1)  # the item, resolved on home (whose stream then shows it too)
        relay.wait_boosted(status["uri"])


def test_disabled_feed_is_reported_not_silently_empty(
    tmp_path: Path, fed: Fediverse, bot: SeededAccount
) -> None:
    """A source whose hashtag feeds are disabled is named in an error with the fix."""
    fed["remote"].set_hashtag_feeds(local="disabled", remote="disabled")
    with RelayProcess(tmp_path, fed, bot, polled=("remote",)) as relay:
        entry = relay.wait_log("source.feed_disabled", source=fed["remote"].domain)
        assert entry["level"] == "error"
        assert "ask its admins" in entry["fix"]


def test_refused_source_token_is_reported_and_the_relay_goes_on(
    tmp_path: Path, fed: Fediverse, bot: SeededAccount
) -> None:
    """A revoked token of another source is logged as an error; the home stream keeps working."""
    watcher = fed["remote"].create_account("watcher")
    fed["remote"].revoke_token(watcher.token)
    carol = fed["home"].create_account("carol")
    with RelayProcess(tmp_path, fed, bot, streamed=(("remote", watcher),)) as relay:
        entry = relay.wait_log("stream.auth_failed")
        assert fed["remote"].domain in entry["stream"]
        assert watcher.token not in relay.log_text()
        status = dict(
            Mastodon(access_token=carol.token, api_base_url=fed["home"].url).status_post(
                f"Home still works #{HASHTAG}"
            )
        )
        relay.wait_boosted(status["uri"])
        assert relay.process is not None
        assert relay.process.poll() is None
        with Store.open(relay.state, readonly=True) as store:
            wait_for(lambda: store.boosts.is_boosted(status["uri"]), what="the boost journalled")
