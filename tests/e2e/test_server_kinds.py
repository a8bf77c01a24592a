"""End to end: the real `relay run` reads each kind of server the way it allows (issue 15).

Each sandbox instance plays a server (`relay.sandbox.flavours`): Mastodon (SSE and WebSocket),
GoToSocial (WebSocket only, tags followed and read on the `user` stream), Akkoma (a socket per
tag), a REST-only server, and Mastodons with a part of their streaming switched off. For a home
instance of each: a tagged public post is boosted, what was posted while the relay was stopped is
boosted after the restart, and a deleted post is retracted. A Mastodon home with one source of each
other kind boosts each source's post once. Every wait has a deadline; nothing is timed here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mastodon import Mastodon
from relayproc import HASHTAG, RelayProcess, free_port, run_relay, scrape, wait_for

from relay.sandbox import Budget, Fediverse, RateLimits, SeededAccount
from relay.sandbox.flavours import MASTODON, Flavour
from relay.store.store import Store

# Budgets big enough that the REST pollers' pace (a quarter of the paging budget) is the
# configured poll interval, not the 12 s per request of Mastodon's real budget.
ROOMY = RateLimits(api=Budget(100_000, 300.0), paging=Budget(100_000, 900.0))

NO_SSE = replace(MASTODON, name="mastodon-without-sse", sse=False)
NO_STREAMING = replace(MASTODON, name="mastodon-without-streaming", sse=False, websocket=False)


def sandbox(home: str | Flavour, **sources: str | Flavour) -> Fediverse:
    names = ["home", "remote", *sources]
    return Fediverse(
        names,
        heartbeat=0.5,
        flavours={"home": home, **sources},
        instance_rate_limits=dict.fromkeys(names, ROOMY),
    )


def post(fed: Fediverse, instance: str, account: SeededAccount, text: str) -> dict[str, Any]:
    return dict(Mastodon(access_token=account.token, api_base_url=fed[instance].url).status_post(text))


def methods(relay: RelayProcess) -> dict[str, str]:
    """source → the method its last `source.method` line named."""
    return {e["source"]: e["method"] for e in relay.logs() if e.get("event") == "source.method"}


def warnings(relay: RelayProcess, event: str) -> list[dict[str, Any]]:
    return [e for e in relay.logs() if e.get("event") == event and e.get("level") == "warning"]


def status_text(relay: RelayProcess) -> str:
    return run_relay("status", "-c", str(relay.config)).stdout


def home_lifecycle(tmp_path: Path, fed: Fediverse, method: str, **options: Any) -> RelayProcess:
    """Boost a post, stop, boost what came while stopped, retract a deleted post. The last relay
    (stopped) is returned for the caller's own checks of its log."""
    bot = fed["home"].create_account("relaybot", bot=True)
    bob = fed["remote"].create_account("bob")
    home = fed["home"].domain
    with RelayProcess(tmp_path, fed, bot, **options) as relay:
        relay.wait_log("relay.ready")
        first = post(fed, "remote", bob, f"Hello from Leeds #{HASHTAG}")
        relay.wait_boosted(first["uri"])
        assert methods(relay)[home] == method
        assert relay.stop() == 0
    during = post(fed, "remote", bob, f"Posted while the relay was stopped #{HASHTAG}")
    with RelayProcess(tmp_path, fed, bot, **options) as again:
        again.wait_boosted(during["uri"])
        Mastodon(access_token=bob.token, api_base_url=fed["remote"].url).status_delete(during["id"])
        again.wait_log("post.retracted", uri=during["uri"], timeout=20)
        with Store.open(again.state, readonly=True) as store:
            assert store.posts.is_retracted(during["uri"])
        assert sorted(again.boosted_uris()) == [first["uri"]]
        assert again.stop() == 0
    return again


class TestHomeOfEachKind:
    @pytest.mark.parametrize(
        ("flavour", "method", "shape"),
        [
            ("mastodon", "sse", "per-tag"),
            ("gotosocial", "websocket", "follow"),
            ("akkoma", "websocket", "per-tag"),
            ("rest-only", "rest", "poll"),
        ],
    )
    def test_each_flavour_as_home(self, tmp_path: Path, flavour: str, method: str, shape: str) -> None:
        """The server's NodeInfo picks the method; a post is boosted, one made while stopped is
        boosted after the restart, a deleted one is retracted."""
        with sandbox(flavour) as fed:
            relay = home_lifecycle(tmp_path, fed, method)
            chosen = [e for e in relay.logs() if e.get("event") == "source.method"]
            assert {(e["method"], e["shape"]) for e in chosen} == {(method, shape)}
            assert [e for e in relay.logs() if e.get("event") == "source.fallback"] == []

    def test_a_mastodon_home_without_sse_moves_to_websocket_and_says_so_at_info(self, tmp_path: Path) -> None:
        """SSE answers 404: the home instance is read over one WebSocket, no warning (posts stream)."""
        with sandbox(NO_SSE) as fed:
            relay = home_lifecycle(tmp_path, fed, "websocket")
            fallback = [e for e in relay.logs() if e.get("event") == "source.fallback"]
            assert {(e["failed"], e["method"], e["level"]) for e in fallback} == {
                ("sse", "websocket", "info")
            }

    def test_a_home_without_streaming_is_polled_said_once_with_the_fix(self, tmp_path: Path) -> None:
        """SSE and WebSocket both 404: REST polling, home included (mentions and the recheck of
        boosts each poll, so a deletion is retracted), said once at warning with the fix."""
        with sandbox(NO_STREAMING) as fed:
            relay = home_lifecycle(tmp_path, fed, "rest")
            said = warnings(relay, "source.fallback")  # the log holds both runs
            runs = [e for e in relay.logs() if e.get("event") == "relay.started"]
            assert len(said) == len(runs) == 2, said  # once per run
            assert said[0]["method"] == "rest"
            assert said[0]["fix"]
            assert "REST polling" in said[0]["reason"]

    def test_a_gotosocial_token_without_top_level_read_streams_nothing_but_posts_flow(
        self, tmp_path: Path
    ) -> None:
        """GoToSocial refuses streaming (403) to a token with granular read scopes only; REST
        takes it: the home instance is polled, said once at warning with the scope as the fix."""
        with sandbox("gotosocial") as fed:
            seeded = fed["home"].create_account("relaybot", bot=True)
            granular = ("read:accounts", "read:notifications", "read:search", "read:statuses", "write")
            bot = replace(seeded, token=fed["home"].create_token(seeded, granular))
            bob = fed["remote"].create_account("bob")
            with RelayProcess(tmp_path, fed, bot) as relay:
                relay.wait_log("relay.ready")
                status = post(fed, "remote", bob, f"Hello #{HASHTAG}")
                relay.wait_boosted(status["uri"])
                (said,) = warnings(relay, "source.fallback")
                assert (said["failure"], said["method"]) == ("unauthorized", "rest")
                assert "read" in said["fix"]
                assert relay.stop() == 0

    def test_transport_rest_in_relay_toml_polls_without_a_warning(self, tmp_path: Path) -> None:
        with sandbox(MASTODON) as fed:
            relay = home_lifecycle(tmp_path, fed, "rest", transports={"home": "rest"})
            assert warnings(relay, "source.fallback") == []
            assert warnings(relay, "source.rest_polling") == []

    def test_transport_websocket_in_relay_toml(self, tmp_path: Path) -> None:
        with sandbox(MASTODON) as fed:
            home_lifecycle(tmp_path, fed, "websocket", transports={"home": "websocket"})


def test_a_mastodon_home_boosts_once_the_post_of_a_source_of_each_other_kind(tmp_path: Path) -> None:
    """Sources: GoToSocial, Akkoma and a REST-only server, each with a token; each one's post is
    boosted once, each source read its own way."""
    kinds = {"gts": "gotosocial", "akk": "akkoma", "rest": "rest-only"}
    with sandbox("mastodon", **kinds) as fed:
        bot = fed["home"].create_account("relaybot", bot=True)
        readers = {name: fed[name].create_account("reader") for name in kinds}
        authors = {name: fed[name].create_account("author") for name in kinds}
        streamed = tuple(readers.items())
        with RelayProcess(tmp_path, fed, bot, streamed=streamed) as relay:
            ready = relay.wait_log("relay.ready")
            assert ready["methods"] == {
                fed["home"].domain: "sse",
                fed["gts"].domain: "websocket",
                fed["akk"].domain: "websocket",
                fed["rest"].domain: "rest",
            }
            posts = {name: post(fed, name, authors[name], f"Hello from {name} #{HASHTAG}") for name in kinds}
            for status in posts.values():
                relay.wait_boosted(status["uri"])
            assert sorted(relay.boosted_uris()) == sorted(s["uri"] for s in posts.values())
            assert relay.reblog_calls() == len(kinds)
            assert relay.stop() == 0


def test_status_and_metrics_show_each_sources_method(tmp_path: Path) -> None:
    """`relay status` names the method and why; READY came with every source able to deliver."""
    with sandbox(NO_STREAMING, third=NO_SSE) as fed:
        bot = fed["home"].create_account("relaybot", bot=True)
        carol = fed["third"].create_account("carol")
        port = free_port()
        metrics = f'[metrics]\naddress = "127.0.0.1:{port}"\n'
        with RelayProcess(tmp_path, fed, bot, streamed=(("third", carol),), extra=metrics) as relay:
            ready = relay.wait_log("relay.ready")
            scraped = scrape(port)
            for source, method in ready["methods"].items():
                for name in ("sse", "websocket", "rest"):
                    assert scraped[f"relay_source_method{{method={name},source={source}}}"] == (
                        name == method
                    )
            assert ready["methods"] == {fed["home"].domain: "rest", fed["third"].domain: "websocket"}

            home = f"{fed['home'].domain}  rest (poll) every"
            third = f"{fed['third'].domain}  websocket (multiplexed): sse failed"

            def shows() -> str | None:  # the report is rewritten every few seconds
                text = status_text(relay)
                return text if home in text and third in text else None

            wait_for(shows, what="relay status to show how each source is read now")
            report = json.loads(_streams_setting(relay))
            assert {s["source"]: s["method"] for s in report["sources"]} == ready["methods"]


def _streams_setting(relay: RelayProcess) -> str:
    with Store.open(relay.state, readonly=True) as store:
        value = store.settings.get_setting("relay.streams")
    assert value is not None
    return value


def moderated(tmp_path: Path, fed: Fediverse) -> tuple[RelayProcess, SeededAccount, SeededAccount]:
    """A relay in review mode whose moderator, mira on the home instance, follows the bot."""
    bot = fed["home"].create_account("relaybot", bot=True)
    mira = fed["home"].create_account("mira")
    fed["home"].follow(mira, f"{bot.username}@{fed['home'].domain}")
    relay = RelayProcess(
        tmp_path,
        fed,
        bot,
        mode="review",
        moderators=(mira.acct,),
        moderation='dm_policy = "accept"\ndigest_interval = 0.5',
    )
    return relay, bot, mira


@pytest.fixture
def dm_world(tmp_path: Path) -> Iterator[tuple[Fediverse, RelayProcess, SeededAccount, SeededAccount]]:
    with sandbox(NO_SSE) as fed:
        relay, bot, mira = moderated(tmp_path, fed)
        with relay:
            relay.wait_log("relay.ready")
            yield fed, relay, bot, mira


def test_a_moderators_approve_comes_over_the_websocket(
    dm_world: tuple[Fediverse, RelayProcess, SeededAccount, SeededAccount],
) -> None:
    """On one multiplexed socket the bot's notifications come with the hashtag: a held post is
    approved by DM and boosted."""
    fed, relay, bot, mira = dm_world
    bob = fed["remote"].create_account("bob")
    status = post(fed, "remote", bob, f"Hello, a therapist in Leeds #{HASHTAG}")
    with Store.open(relay.state, readonly=True) as store:
        item = wait_for(lambda: store.queue.queue_by_uri(status["uri"]), what="the post held")
    api = Mastodon(access_token=mira.token, api_base_url=fed["home"].url)
    api.status_post(f"@{bot.username} approve {item.short_id}", visibility="direct")
    relay.wait_boosted(status["uri"])
    sockets = {e["stream"] for e in relay.logs() if e.get("event") == "stream.connected"}
    assert sockets == {f"{fed['home'].domain} ws #{HASHTAG},user:notification"}


@pytest.mark.parametrize("flavour", ["mastodon", "gotosocial", "akkoma", "rest-only"])
def test_on_each_home_a_moderators_approve_is_obeyed_and_a_namesakes_refused(
    tmp_path: Path, flavour: str
) -> None:
    """Whatever the home runs (no account `uri` on GoToSocial and Akkoma, no stream on a REST-only
    server), the moderator's DM `approve` boosts the held post, and the same words from a namesake
    on another instance are refused and boost nothing."""
    with sandbox(flavour) as fed:
        relay, bot, mira = moderated(tmp_path, fed)
        namesake = fed["remote"].create_account("mira")
        handle = f"{bot.username}@{fed['home'].domain}"
        with relay:
            relay.wait_log("relay.ready")
            bob = fed["remote"].create_account("bob")
            status = post(fed, "remote", bob, f"Hello, a therapist in Leeds #{HASHTAG}")
            with Store.open(relay.state, readonly=True) as store:
                item = wait_for(lambda: store.queue.queue_by_uri(status["uri"]), what="the post held")
            spoof = Mastodon(access_token=namesake.token, api_base_url=fed["remote"].url)
            spoof.status_post(f"@{handle} approve {item.short_id}", visibility="direct")
            received = relay.wait_log("dm.received", acct=namesake.acct, timeout=20)
            assert (received["moderator"], received["commands"]) == (False, [])
            assert "approve" in received["refused"]
            with Store.open(relay.state, readonly=True) as store:
                held = store.queue.queue_by_uri(status["uri"])
                assert held is not None
                assert held.state.value == "held"
            assert status["uri"] not in relay.boosted_uris()
            moderator = Mastodon(access_token=mira.token, api_base_url=fed["home"].url)
            moderator.status_post(f"@{bot.username} approve {item.short_id}", visibility="direct")
            relay.wait_boosted(status["uri"], timeout=20)
