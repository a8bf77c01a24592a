"""End to end: the real `relay run` process against a sandbox fediverse, over HTTP and SSE."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, connected_relay, run_relay, wait_for

from relay.core.verdict import Decision
from relay.sandbox import Fediverse, SeededAccount
from relay.store.store import Store

CAP_RULE = "limits.max_boosts_per_author_24h"


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
            relay.wait_log("recheck.done")  # the start's recheck of recent boosts, which reads statuses
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
            relay.wait_boosted(first["uri"])  # two boosts: nothing says in which order they finish
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
                wait_for(lambda: len(store.posts.sightings(status["uri"])) == 3, what="three sightings")
                assert store.posts.screened_count(status["uri"]) == 1
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

    def test_a_reconnects_catch_up_reads_on_from_the_cursor_taken_in_this_run(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount
    ) -> None:
        """The first start's catch-up takes a post and moves the feed's cursor; after a dropped
        stream, the catch-up asks the home instance for what came after that post (the move is
        handed from the main thread to the catch-up thread), not the first start's page again."""
        alice = fed["home"].create_account("alice")
        status = post(fed, "home", alice, f"Posted before the start #{HASHTAG}")
        with connected_relay(tmp_path, fed, bot) as relay:
            relay.wait_boosted(status["uri"])  # the boost follows the catch-up batch's hand-over
            assert home_cursor(relay) == str(status["id"])
            home = fed["home"]
            seen = len(home.requests)
            home.drop_streams()
            feed = f"/api/v1/timelines/tag/{HASHTAG}"
            wait_for(
                lambda: any(
                    r.path == feed and f"min_id={status['id']}" in r.query for r in home.requests[seen:]
                ),
                what="a catch-up from the cursor",
            )

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
        fed["home"].set_latency(0.05)  # slow the home instance so that the kill likely lands mid-burst
        # One author each, so that the per-author cap never decides which posts are accepted (see
        # TestAuthorCap for the cap across a kill).
        authors = [fed["remote"].create_account(f"author{i}") for i in range(20)]
        statuses = []
        with connected_relay(tmp_path, fed, bot) as relay:
            for i, author in enumerate(authors[:12]):
                statuses.append(post(fed, "remote", author, f"Burst {i} #{HASHTAG}"))
            wait_for(lambda: len(relay.boosted_uris()) >= 3, what="the burst to start boosting")
            relay.kill()
        fed["home"].set_latency(0.0)
        # The rest of the burst is posted while the relay is down (catch-up brings it): some of it
        # is boosted after the restart however far the first run got, on any machine.
        for i, author in enumerate(authors[12:], start=12):
            statuses.append(post(fed, "remote", author, f"Burst {i} #{HASHTAG}"))
        with RelayProcess(tmp_path, fed, bot) as again:
            for status in statuses:
                again.wait_boosted(status["uri"])
            boosted = again.boosted_uris()
            assert sorted(boosted) == sorted(s["uri"] for s in statuses)
        calls = relay.reblog_calls()
        assert calls <= 21, f"{calls} reblog calls for 20 posts"  # at most one in flight at the kill


def wait_screened(relay: RelayProcess, statuses: list[dict], cap: int = 5) -> list[str]:
    """Wait until every status is screened; return the uris accepted, after checking in the state
    file that they are each author's first `cap` posts in the order the relay screened them (by
    its audit log, written with each verdict, so that a kill loses none) and that every other post
    was rejected by the cap alone."""
    uris = {s["uri"]: s["account"]["acct"] for s in statuses}
    with Store.open(relay.state, readonly=True) as store:
        wait_for(
            lambda: all(store.posts.verdict_for(uri) for uri in uris), timeout=30, what="every post screened"
        )
        order = list(dict.fromkeys(r.uri for r in store.audit_log.audit_rows(actor="relay") if r.uri in uris))
        expected = [uri for i, uri in enumerate(order) if [uris[u] for u in order[:i]].count(uris[uri]) < cap]
        verdicts = {uri: store.posts.verdict_for(uri) for uri in order}
    accepted = [uri for uri, verdict in verdicts.items() if verdict and verdict.decision is Decision.ACCEPT]
    assert accepted == expected
    for uri in set(order) - set(accepted):
        verdict = verdicts[uri]
        assert verdict is not None
        assert [r.rule for r in verdict.reasons if r.decision is not Decision.ACCEPT] == [CAP_RULE]
    return accepted


def wait_settled(relay: RelayProcess) -> None:
    """Wait until the relay has recorded every boost it intended: no more are to come."""
    with Store.open(relay.state, readonly=True) as store:
        wait_for(lambda: store.boosts.unfinished_intents() == [], what="no open intents")


class TestAuthorCap:
    def test_a_burst_of_eight_posts_from_one_author_gives_four_boosts(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """With the cap at 4, eight posts from one author give four boosts and four rejections with
        the cap's reason: in a burst screened while boosting is paused (no boost can finish before
        the last post is screened), and in a burst screened while the boosts go out."""
        carol = fed["remote"].create_account("carol")
        limits = "[rules.limits]\nmax_boosts_per_author_24h = 4\n"
        relay = RelayProcess(tmp_path, fed, bot, extra=limits)
        with Store.open(relay.state) as store:
            store.settings.set_paused(True, "mod@example.org")  # as a moderator's `pause` leaves it
        with relay:
            relay.wait_log("stream.connected")
            paused = [post(fed, "remote", bob, f"Paused burst {i} #{HASHTAG}") for i in range(8)]
            accepted = wait_screened(relay, paused, cap=4)
            assert len(accepted) == 4
            with Store.open(relay.state) as store:
                store.settings.set_paused(False, "mod@example.org")
            live = [post(fed, "remote", carol, f"Live burst {i} #{HASHTAG}") for i in range(8)]
            accepted += wait_screened(relay, live, cap=4)
            assert len(accepted) == 8
            for uri in accepted:
                relay.wait_boosted(uri)
            wait_settled(relay)
            assert sorted(relay.boosted_uris()) == sorted(accepted)

    def test_a_kill_9_mid_burst_changes_nothing_the_cap_decides(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """SIGKILL in the middle of a burst of four authors' posts, then restart: the cap lets
        through each author's first five (the default cap) in the order the relay screened them,
        before or after the restart alike, and rejects bob's two over it; each boosted once."""
        authors = [bob, *(fed["remote"].create_account(name) for name in ("carol", "dave", "erin"))]
        fed["home"].set_latency(0.05)  # slow the home instance so that the kill likely lands mid-burst
        with connected_relay(tmp_path, fed, bot) as relay:
            statuses = [post(fed, "remote", a, f"Burst {i} #{HASHTAG}") for i in range(3) for a in authors]
            statuses += [post(fed, "remote", bob, f"Burst {i} #{HASHTAG}") for i in range(3, 7)]  # 2 too many
            wait_for(lambda: len(relay.boosted_uris()) >= 3, what="the burst to start boosting")
            relay.kill()
        fed["home"].set_latency(0.0)
        # the rest of the burst comes while the relay is down (catch-up brings it), so that what
        # follows holds however far the first run got
        statuses += [post(fed, "remote", a, f"Burst {i} #{HASHTAG}") for i in (3, 4) for a in authors[1:]]
        with RelayProcess(tmp_path, fed, bot) as again:
            accepted = wait_screened(again, statuses)
            assert len(accepted) == 20
            for uri in accepted:
                again.wait_boosted(uri)
            wait_settled(again)
            assert sorted(again.boosted_uris()) == sorted(accepted)
        calls = relay.reblog_calls()
        assert calls <= 21, f"{calls} reblog calls for 20 posts"  # at most one in flight at the kill

    def test_a_harmless_edit_of_a_boosted_post_at_the_cap_keeps_it_boosted(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """An author with five boosts that day (the default cap) edits one of them harmlessly:
        it is screened again, accepted, and stays boosted."""
        with connected_relay(tmp_path, fed, bot) as relay:
            text = "Offering a free consultation this week"
            statuses = [post(fed, "remote", bob, f"{text} ({i}) #{HASHTAG}") for i in range(5)]
            for status in statuses:
                relay.wait_boosted(status["uri"])
            edited = statuses[2]
            client(fed, "remote", bob).status_update(
                edited["id"], f"Offering free consultations (2) #{HASHTAG}"
            )
            screened = relay.wait_log("post.screened", uri=edited["uri"], edit=True)
            assert (screened["decision"], screened["reasons"]) == ("accept", [])
            with Store.open(relay.state, readonly=True) as store:
                assert store.boosts.is_boosted(edited["uri"])
                assert [e.kind for e in store.boosts.journal(edited["uri"])] == ["boost"]
            assert sorted(relay.boosted_uris()) == sorted(s["uri"] for s in statuses)


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
            assert store.boosts.unfinished_intents() == []


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
                assert store.posts.is_retracted(status["uri"])
                assert not store.boosts.is_boosted(status["uri"])

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


def home_cursor(relay: RelayProcess) -> str | None:
    """The stored catch-up cursor of the home instance's hashtag feed."""
    with Store.open(relay.state, readonly=True) as store:
        return store.posts.get_cursor(relay.home.url.removeprefix("http://"), HASHTAG)


class TestEditsNotHeardLive:
    """An edit made while no stream listened is read back by the recheck of recent boosts."""

    EXTRA = '[rules.keywords]\nreject = ["casino"]\n'

    def test_a_boosted_post_edited_to_fail_while_stopped_is_unboosted_after_the_restart(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """The relay is stopped, a boosted post is edited to fail: the restart unboosts it
        (catch-up alone never brings it: the post is older than the cursor)."""
        with connected_relay(tmp_path, fed, bot, extra=self.EXTRA) as relay:
            status = post(fed, "remote", bob, f"Fine post #{HASHTAG}")
            relay.wait_boosted(status["uri"])
            assert relay.stop() == 0
        with RelayProcess(tmp_path, fed, bot, extra=self.EXTRA) as middle:
            # Its own relay.ready (the log file is shared with the first run, whose lines are
            # there already): its signal handlers are installed, so a stop is clean.
            wait_for(
                lambda: [e["event"] for e in middle.logs()].count("relay.ready") == 2, what="relay.ready"
            )
            wait_for(lambda: home_cursor(middle) is not None, what="the cursor past the post")
            assert middle.stop() == 0
        client(fed, "remote", bob).status_update(status["id"], f"Visit my casino #{HASHTAG}")
        with RelayProcess(tmp_path, fed, bot, extra=self.EXTRA) as again:
            again.wait_log("post.edit_unboost", uri=status["uri"])
            wait_for(lambda: again.boosted_uris() == [], what="the unboost")
            again.wait_log("recheck.done", edited=1)

    def test_an_edit_while_the_home_stream_reconnects_is_not_lost(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """The home stream drops and its reconnects are refused; a boosted post is edited to fail
        while no stream listens; once the stream is back, the post is unboosted."""
        with connected_relay(tmp_path, fed, bot, extra=self.EXTRA) as relay:
            status = post(fed, "remote", bob, f"Fine post #{HASHTAG}")
            relay.wait_boosted(status["uri"])
            home = fed["home"]
            home.drop_streams()  # a first reconnect's catch-up moves the cursor past the post
            wait_for(lambda: home_cursor(relay) is not None, what="the cursor past the post")
            home.fail_next(1_000_000, status=503, path_prefix="/api/v1/streaming")
            home.drop_streams()
            wait_for(lambda: home.open_streams() == 0, what="no open stream on home")
            client(fed, "remote", bob).status_update(status["id"], f"Visit my casino #{HASHTAG}")
            home.faults.clear()
            relay.wait_log("post.edit_unboost", uri=status["uri"], timeout=30)
            wait_for(lambda: relay.boosted_uris() == [], what="the unboost")


HOLD = 1.0  # seconds each update is held: long next to the few ms between publishing and deleting


def caught_up(relay: RelayProcess, sources: int) -> None:
    """Wait until each streamed source's catch-up on connect has run (so that it cannot bring a
    post of the test's before its delete)."""
    wait_for(
        lambda: (
            sum(1 for e in relay.logs() if e.get("event") == "fetch.done" and e.get("via") == "catch-up")
            >= sources
        ),
        what=f"{sources} catch-ups",
    )


def audit_actions(relay: RelayProcess, uri: str) -> list[str]:
    """What `relay audit --post URI --json` lists for a post, oldest first."""
    done = run_relay("audit", "-c", str(relay.config), "--post", uri, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["action"] for line in done.stdout.splitlines()]


class TestOutOfOrder:
    """Mastodon's streaming server sends a delete at once and holds its post: the sandbox's
    `reorder_streams` does the same, per subscriber."""

    def test_a_post_whose_delete_overtook_it_is_never_boosted(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """A post deleted right after it was published reaches the relay as its delete first: when
        the post comes, it is recorded as retracted and never reblogged; a later post still is."""
        fed["home"].reorder_streams(HOLD)
        with connected_relay(tmp_path, fed, bot) as relay:
            caught_up(relay, 1)
            gone = post(fed, "remote", bob, f"Posted in haste #{HASHTAG}")
            client(fed, "remote", bob).status_delete(gone["id"])
            kept = post(fed, "remote", bob, f"Posted with care #{HASHTAG}")
            with Store.open(relay.state, readonly=True) as store:
                wait_for(lambda: store.posts.sightings(gone["uri"]), what="the deleted post to come")
                assert store.posts.is_retracted(gone["uri"])
                assert store.posts.screened_count(gone["uri"]) == 0
                assert store.boosts.journal(gone["uri"]) == []
            relay.wait_boosted(kept["uri"])
            assert relay.boosted_uris() == [kept["uri"]]
            assert relay.reblog_calls() == 1
            assert audit_actions(relay, gone["uri"]) == ["post.retracted"]
            relay.wait_log("post.retracted", uri=gone["uri"], early=True)

    def test_a_burst_with_deletes_boosts_exactly_the_posts_kept(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """A burst of posts by five authors, every other one deleted at once, on two reordered
        streams: none of the deleted posts is boosted, each of the others exactly once."""
        watcher = fed["remote"].create_account("watcher")
        authors = [bob, *(fed["remote"].create_account(f"author{n}") for n in range(4))]
        for name in ("home", "remote"):
            fed[name].reorder_streams(HOLD)
        with connected_relay(tmp_path, fed, bot, streamed=(("remote", watcher),)) as relay:
            caught_up(relay, 2)
            kept, gone = [], []
            for n in range(20):
                author = authors[n % len(authors)]
                status = post(fed, "remote", author, f"Burst {n} #{HASHTAG}")
                if n % 2:
                    client(fed, "remote", author).status_delete(status["id"])
                    gone.append(status["uri"])
                else:
                    kept.append(status["uri"])
            with Store.open(relay.state, readonly=True) as store:
                wait_for(
                    lambda: all(len(store.posts.sightings(uri)) == 2 for uri in kept + gone),
                    what="every post from both streams",
                )
                assert [uri for uri in gone if not store.posts.is_retracted(uri)] == []
                assert [uri for uri in kept if store.posts.is_retracted(uri)] == []
                assert store.posts.remembered_deletes(datetime.now(UTC) - timedelta(days=1)) == set()
            for uri in kept:
                relay.wait_boosted(uri)
            assert sorted(relay.boosted_uris()) == sorted(kept)
            assert relay.reblog_calls() == len(kept)

    def test_an_older_version_after_a_newer_one_changes_nothing(
        self, tmp_path: Path, fed: Fediverse, bot: SeededAccount, bob: SeededAccount
    ) -> None:
        """An edit that fails the rules arrives first, the original that would pass comes late:
        the post stays rejected and is never boosted."""
        extra = '[rules.keywords]\nreject = ["casino"]\n'
        with connected_relay(tmp_path, fed, bot, extra=extra) as relay:
            caught_up(relay, 1)
            fed["home"].reorder_streams(HOLD)  # the original is held back ...
            status = post(fed, "remote", bob, f"Fine post #{HASHTAG}")
            fed["home"].reorder_streams(None)  # ... and the edit goes at once
            client(fed, "remote", bob).status_update(status["id"], f"Visit my casino #{HASHTAG}")
            relay.wait_log("post.screened", uri=status["uri"], decision="reject")
            with Store.open(relay.state, readonly=True) as store:
                wait_for(lambda: sum(store.posts.sightings(status["uri"]).values()) == 2, what="the original")
                assert store.posts.screened_count(status["uri"]) == 1
            later = post(fed, "remote", bob, f"Another fine post #{HASHTAG}")
            relay.wait_boosted(later["uri"])
            assert relay.boosted_uris() == [later["uri"]]
            assert relay.reblog_calls() == 1
