"""relay.core.transport: which method reads an instance, in which shape, and what comes after a failure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from relay.core.servers import AKKOMA, GOTOSOCIAL, ICESHRIMP, MASTODON, PLEROMA, REST_ONLY, UNKNOWN
from relay.core.transport import (
    Plan,
    choose,
    failure_of,
    rest_interval,
    subscriptions,
)

TAGS = ("TherapistsConnect", "therapy")


def methods(kind, **options) -> list[tuple[str, str]]:
    return [(p.method, p.shape) for p in choose(kind, **options).plans]


def test_mastodon_with_a_token_tries_sse_then_websocket_then_rest() -> None:
    assert methods(MASTODON, token=True) == [
        ("sse", "per-tag"),
        ("websocket", "multiplexed"),
        ("rest", "poll"),
    ]


def test_unknown_server_is_taken_as_mastodon() -> None:
    assert methods(UNKNOWN, token=True) == methods(MASTODON, token=True)


@pytest.mark.parametrize(
    ("kind", "shape"),
    [(GOTOSOCIAL, "follow"), (AKKOMA, "per-tag"), (PLEROMA, "multiplexed"), (ICESHRIMP, "multiplexed")],
)
def test_websocket_only_servers_start_on_websocket_in_their_shape(kind, shape) -> None:
    assert methods(kind, token=True) == [("websocket", shape), ("rest", "poll")]


def test_iceshrimp_passes_the_token_in_the_query() -> None:
    assert choose(ICESHRIMP, token=True).first.ws_auth == "query"
    assert choose(MASTODON, token=True).plans[1].ws_auth == "header"


def test_rest_only_server_is_polled_and_says_why_once_degraded() -> None:
    plan = choose(replace(REST_ONLY, software="friendica", version="2024.08"), token=True).first
    assert (plan.method, plan.degraded) == ("rest", True)
    assert "friendica 2024.08 has no Mastodon streaming" in plan.reason


def test_without_a_token_every_kind_is_polled_and_the_fix_is_a_token() -> None:
    for kind in (MASTODON, GOTOSOCIAL, AKKOMA):
        choice = choose(kind, token=False)
        assert [p.method for p in choice.plans] == ["rest"]
        assert choice.first.degraded
        assert "token" in choice.first.fix


def test_the_override_picks_the_method_and_keeps_rest_behind_it() -> None:
    assert methods(MASTODON, override="websocket", token=True) == [
        ("websocket", "multiplexed"),
        ("rest", "poll"),
    ]
    assert methods(MASTODON, override="sse", token=True) == [("sse", "per-tag"), ("rest", "poll")]
    assert methods(MASTODON, override="rest", token=True) == [("rest", "poll")]
    rest = choose(MASTODON, override="rest", token=True).first
    assert not rest.degraded
    assert "relay.toml" in rest.reason


def test_the_override_is_obeyed_even_where_the_kind_says_otherwise() -> None:
    # The admin knows their server (a reverse proxy in front of GoToSocial serving SSE, say).
    assert methods(GOTOSOCIAL, override="sse", token=True)[0] == ("sse", "per-tag")
    assert methods(REST_ONLY, override="websocket", token=True)[0] == ("websocket", "multiplexed")


def test_an_unknown_override_is_refused() -> None:
    with pytest.raises(ValueError, match="transport must be one of"):
        choose(MASTODON, override="grpc", token=True)


def test_fallback_walks_the_chain_to_rest_and_stays_there() -> None:
    choice = choose(MASTODON, token=True)
    sse = choice.first
    ws = choice.after(sse, "not_found")
    assert (ws.method, ws.degraded) == ("websocket", False)
    assert ws.reason.startswith("sse failed: the streaming endpoint is not there")
    rest = choice.after(ws, "upgrade_refused")
    assert (rest.method, rest.degraded) == ("rest", True)
    assert "refused the WebSocket upgrade" in rest.reason
    assert "reverse proxy" in rest.fix
    assert choice.after(rest, "unreachable") is rest


def test_a_streaming_401_falls_back_with_the_scope_as_the_fix() -> None:
    choice = choose(GOTOSOCIAL, token=True)
    rest = choice.after(choice.first, "unauthorized")
    assert rest.method == "rest"
    assert "read" in rest.fix
    assert "401/403" in rest.reason


def test_a_plan_not_in_the_choice_falls_to_rest() -> None:
    choice = choose(GOTOSOCIAL, token=True)
    stray = Plan("sse", "per-tag", "tried by hand")
    assert choice.after(stray, "not_found").method == "rest"


def test_subscriptions_multiplex_every_tag_and_the_notifications_on_one_socket() -> None:
    plan = choose(MASTODON, override="websocket", token=True).first
    (one,) = subscriptions(plan, TAGS, notifications=True)
    assert one.streams == (
        ("hashtag", "TherapistsConnect"),
        ("hashtag", "therapy"),
        ("user:notification", None),
    )


def test_subscriptions_one_per_tag_for_akkoma_and_for_sse() -> None:
    for plan in (choose(AKKOMA, token=True).first, choose(MASTODON, token=True).first):
        subs = subscriptions(plan, TAGS, notifications=True)
        assert [s.streams for s in subs] == [
            (("hashtag", "TherapistsConnect"),),
            (("hashtag", "therapy"),),
            (("user:notification", None),),
        ]
        assert subscriptions(plan, TAGS, notifications=False)[-1].name == "#therapy"


def test_subscriptions_gotosocial_reads_the_user_stream_only() -> None:
    plan = choose(GOTOSOCIAL, token=True).first
    assert [s.streams for s in subscriptions(plan, TAGS, notifications=True)] == [(("user", None),)]


def test_rest_opens_no_stream() -> None:
    assert subscriptions(choose(REST_ONLY, token=True).first, TAGS, notifications=True) == ()


def test_rest_interval_keeps_within_the_budget() -> None:
    # Mastodon: 300 paging requests per 15 min, a quarter of it: one read every 12 s.
    assert rest_interval(MASTODON, configured=60.0, requests_per_poll=2) == 60.0
    assert rest_interval(MASTODON, configured=1.0, requests_per_poll=2) == 24.0
    assert rest_interval(MASTODON, configured=1.0, requests_per_poll=10) == 120.0
    # A server without rate headers is assumed to allow half as much.
    assert rest_interval(AKKOMA, configured=1.0, requests_per_poll=2) == 48.0
    # A server that announces a bigger budget may be read more often.
    assert rest_interval(MASTODON, configured=0.5, requests_per_poll=2, announced_limit=100_000) == 0.5


@pytest.mark.parametrize(
    ("status", "websocket", "error", "failure"),
    [
        (404, False, "", "not_found"),
        (400, False, "Unknown channel requested", "not_found"),
        (400, False, "Missing tag name parameter", "not_found"),
        (401, True, "", "unauthorized"),
        (403, False, "", "unauthorized"),
        (200, True, "", "upgrade_refused"),
        (426, True, "", "upgrade_refused"),
        (500, True, "", None),
        (502, False, "", None),
        (429, True, "", None),
        (None, True, "", None),
    ],
)
def test_failure_of(status, websocket, error, failure) -> None:
    assert failure_of(status, websocket=websocket, error=error) == failure
