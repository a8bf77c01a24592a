"""End to end: the real `relay run` process against a sandbox fediverse, over HTTP and SSE."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, connected_relay, wait_for

from relay.sandbox import Fediverse, SeededAccount
from relay.store import Store


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    """Home, remote and third instances with quick heartbeats."""
    with Fediverse(["home", "remote", "third"], heartbeat=0.5) as fediverse:
        yield fediverse


@pytest.fixture
def bot(fed: Fediverse) -> SeededAccount:
    """The booster account on the home instance."""
    return fed["home"].create_account("relaybot", bot=True, display_name="TherapistsConnect relay")


@pytest.fixture
def bob(fed: Fediverse) -> SeededAccount:
    """An author on the remote instance."""
    return fed["remote"].create_account("bob")


def client(fed: Fediverse, instance: str, account: SeededAccount) -> Mastodon:
    return Mastodon(access_token=account.token, api_base_url=fed[instance].url)


def post(fed: Fediverse, instance: str, account: SeededAccount, text: str, **options: object) -> dict:
    return dict(client(fed, instance, account).status_post(text, **options))


class TestBoosting:
    def test_remote_post_is_boosted_on_home(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """A public #TherapistsConnect post on a remote instance is boosted once by the home bot."""
        with connected_relay(tmp_path, fed, bot) as relay:
            started = time.monotonic()
            status = post(fed, "remote", bob, f"Hello, I am Bob, a therapist in Leeds #{HASHTAG}")
            relay.wait_boosted(status["uri"])
            took = time.monotonic() - started
            assert relay.boosted_uris() == [status["uri"]]
            assert relay.reblog_calls() == 1
            print(f"post to boost: {took:.3f} s")

    def test_a_home_stream_post_costs_the_home_token_one_request(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount
    ) -> None:
        """Each post from the home instance's own stream is boosted with its reblog alone: the home
        instance sees one request per boost, and never a fetch of the status first."""
        authors = [fed["home"].create_account(f"local{i}") for i in range(3)]
        with connected_relay(tmp_path, fed, bot) as relay:
            before = len(fed["home"].requests)
            statuses = [post(fed, "home", a, f"Local intro {i} #{HASHTAG}") for i, a in enumerate(authors)]
            for status in statuses:
                relay.wait_boosted(status["uri"])
            for_statuses = sorted(
                f"{r.method} {r.path}"
                for r in fed["home"].requests[before:]
                if r.token == bot.token and r.path.startswith(("/api/v1/statuses", "/api/v2/search"))
            )
        assert for_statuses == sorted(f"POST /api/v1/statuses/{s['id']}/reblog" for s in statuses)

    def test_private_reply_and_untagged_posts_are_not_boosted(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """Only public, tagged, non-reply posts are boosted; the rest is screened and recorded."""
        with connected_relay(tmp_path, fed, bot, streamed=(("remote", bob),)) as relay:
            first = post(fed, "remote", bob, f"Intro #{HASHTAG}")
            post(fed, "remote", bob, f"A reply #{HASHTAG}", in_reply_to_id=first["id"])
            post(fed, "remote", bob, f"Unlisted #{HASHTAG}", visibility="unlisted")
            post(fed, "remote", bob, "No tag at all")
            last = post(fed, "remote", bob, f"Second intro #{HASHTAG}")
            relay.wait_boosted(last["uri"])
            relay.wait_log("post.screened", decision="reject", via="stream")
            assert sorted(relay.boosted_uris()) == sorted([first["uri"], last["uri"]])

    def test_one_post_from_three_sources_is_boosted_once(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """A post seen on home's stream, remote's stream and third's poll is screened and boosted once."""
        watcher = fed["remote"].create_account("watcher")
        with RelayProcess(tmp_path, fed, bot, streamed=(("remote", watcher),), polled=("third",)) as relay:
            relay.wait_log("fetch.done", via="poll")
            status = post(fed, "remote", bob, f"Everyone sees this #{HASHTAG}")
            relay.wait_boosted(status["uri"])
            with Store.open(relay.state, readonly=True) as store:
                wait_for(lambda: len(store.sightings(status["uri"])) == 3, what="three sightings")
                assert store.screened_count(status["uri"]) == 1
            assert relay.boosted_uris() == [status["uri"]]
            assert relay.reblog_calls() == 1


class TestNothingLost:
    def test_posts_made_while_stopped_are_boosted_after_restart(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """Catch-up from the stored cursor boosts what was posted while the relay was down."""
        with connected_relay(tmp_path, fed, bot, streamed=(("remote", bob),)) as relay:
            before = post(fed, "remote", bob, f"Before #{HASHTAG}")
            relay.wait_boosted(before["uri"])
            assert relay.stop() == 0
        during = [post(fed, "remote", bob, f"While stopped {i} #{HASHTAG}") for i in range(3)]
        with RelayProcess(tmp_path, fed, bot, streamed=(("remote", bob),)) as again:
            for status in during:
                again.wait_boosted(status["uri"])
            assert sorted(again.boosted_uris()) == sorted([before["uri"], *(s["uri"] for s in during)])
            assert again.reblog_calls() == 4

    def test_dropped_and_stalled_streams_recover(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """A dropped stream reconnects; a stalled one is detected by silence and reconnected."""
        with connected_relay(tmp_path, fed, bot, read_timeout=1.5) as relay:
            fed["home"].drop_streams()
            relay.wait_log("stream.disconnected")
            dropped = post(fed, "remote", bob, f"After a drop #{HASHTAG}")
            relay.wait_boosted(dropped["uri"])
            fed["home"].stall_streams(True)
            stalled = post(fed, "remote", bob, f"During a stall #{HASHTAG}")
            home_stream = f"{fed['home'].domain}#{HASHTAG}"  # not the bot's notification stream
            relay.wait_log("stream.disconnected", reason="read_timeout", stream=home_stream)
            fed["home"].stall_streams(False)
            relay.wait_boosted(stalled["uri"], timeout=20)

    def test_kill_9_during_a_burst_boosts_everything_exactly_once(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount
    ) -> None:
        """SIGKILL in the middle of a burst, then restart: each accepted post boosted exactly once."""
        fed["home"].set_latency(0.05)  # slow the home instance so that the kill lands mid-burst
        # One author each, so that the per-author cap never decides which posts are accepted, however
        # far the screening has come when the kill lands.
        authors = [fed["remote"].create_account(f"author{i}") for i in range(20)]
        with connected_relay(tmp_path, fed, bot) as relay:
            statuses = [
                post(fed, "remote", author, f"Burst {i} #{HASHTAG}") for i, author in enumerate(authors)
            ]
            wait_for(lambda: len(relay.boosted_uris()) >= 3, what="the burst to start boosting")
            relay.kill()
        fed["home"].set_latency(0.0)
        assert len(relay.boosted_uris()) < 20
        with RelayProcess(tmp_path, fed, bot) as again:
            for status in statuses:
                again.wait_boosted(status["uri"])
            boosted = again.boosted_uris()
            assert sorted(boosted) == sorted(s["uri"] for s in statuses)
        calls = relay.reblog_calls()
        assert calls <= 21, f"{calls} reblog calls for 20 posts"  # at most one in flight at the kill


class TestFaults:
    def test_rate_limits_and_server_errors_delay_but_lose_nothing(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """429s and 5xx from the home instance delay boosts; every post is boosted in the end."""
        with connected_relay(tmp_path, fed, bot) as relay:
            fed["home"].fail_next(3, status=503, path_prefix="/api/v1/statuses")
            first = post(fed, "remote", bob, f"Through 5xx #{HASHTAG}")
            relay.wait_log("boost.retry")
            fed["home"].fail_next(3, status=429, path_prefix="/api/v1/statuses")
            second = post(fed, "remote", bob, f"Through 429 #{HASHTAG}")
            relay.wait_boosted(first["uri"], timeout=60)
            relay.wait_boosted(second["uri"], timeout=60)
            assert sorted(relay.boosted_uris()) == sorted([first["uri"], second["uri"]])

    def test_revoked_home_token_ends_the_relay_with_exit_2(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount
    ) -> None:
        """A revoked home token stops `relay run` with a clear message and exit code 2."""
        with connected_relay(tmp_path, fed, bot) as relay:
            fed["home"].revoke_token(bot.token)
            assert relay.wait_exit(timeout=20) == 2
        assert "relay login" in relay.log_text()
        assert bot.token not in relay.log_text()

    def test_sigterm_stops_cleanly_with_exit_0(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount
    ) -> None:
        """SIGTERM ends the relay within 5 seconds, exit code 0, journal consistent."""
        with connected_relay(tmp_path, fed, bot) as relay:
            started = time.monotonic()
            assert relay.stop(signal.SIGTERM, timeout=5) == 0
        print(f"stopped in {time.monotonic() - started:.3f} s")
        with Store.open(relay.state, readonly=True) as store:
            assert store.unfinished_intents() == []


class TestRetraction:
    def test_deleted_boosted_post_is_retracted_and_never_boosted_again(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """Deleting a boosted post records a retraction; a stale copy later is not boosted."""
        with connected_relay(tmp_path, fed, bot) as relay:
            status = post(fed, "remote", bob, f"Soon gone #{HASHTAG}")
            relay.wait_boosted(status["uri"])
            client(fed, "remote", bob).status_delete(status["id"])
            relay.wait_log("post.retracted", uri=status["uri"])
            assert relay.boosted_uris() == []
            with Store.open(relay.state, readonly=True) as store:
                assert store.is_retracted(status["uri"])
                assert not store.is_boosted(status["uri"])

    def test_edit_adding_a_blocked_word_unboosts(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """A boosted post edited so that it no longer passes is unboosted."""
        extra = '[rules.keywords]\nreject = ["casino"]\n'
        with connected_relay(tmp_path, fed, bot, extra=extra) as relay:
            status = post(fed, "remote", bob, f"Fine post #{HASHTAG}")
            relay.wait_boosted(status["uri"])
            client(fed, "remote", bob).status_update(status["id"], f"Visit my casino #{HASHTAG}")
            relay.wait_log("post.edit_unboost", uri=status["uri"])
            wait_for(lambda: relay.boosted_uris() == [], what="the unboost")
