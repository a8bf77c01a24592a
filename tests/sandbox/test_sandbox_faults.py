"""Every fault switch has the effect it claims, seen through a real client over loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from mastodon import Mastodon, MastodonAPIError

from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sandbox.testing import StreamTap, wait_until

Client = Callable[[Instance, SeededAccount | str], Mastodon]
HASHTAG = "/api/v1/streaming/hashtag?tag=relay"


class TestStreamFaults:
    def test_drop_cuts_open_streams(
        self, home: Instance, alice: SeededAccount, tap: Callable[..., StreamTap]
    ) -> None:
        """drop_streams ends every open stream at once, without a clean chunked terminator."""
        streams = [tap(home, HASHTAG, alice.token) for _ in range(2)]
        wait_until(lambda: home.open_streams() == 2)
        home.drop_streams()
        for stream in streams:
            assert stream.ended.wait(5)
            assert stream.error is not None  # cut mid-body, not a clean end of stream
        wait_until(lambda: home.open_streams() == 0)

    def test_stall_silences_heartbeats_until_cleared(
        self,
        home: Instance,
        alice: SeededAccount,
        client: Client,
        tap: Callable[..., StreamTap],
    ) -> None:
        """A stalled stream stays open but sends nothing; clearing the stall resumes heartbeats."""
        stream = tap(home, HASHTAG, alice.token)
        stream.wait_for(lambda t: ":thump" in t.text())
        home.stall_streams()
        time.sleep(0.05)  # let a heartbeat already being written finish
        before = len(stream.raw)
        client(home, alice).status_post("unseen #relay")
        deadline = time.monotonic() + 0.7  # more than three heartbeats
        while time.monotonic() < deadline:
            assert len(stream.raw) == before
            time.sleep(0.05)
        assert not stream.ended.is_set()
        home.stall_streams(False)
        stream.wait_for(lambda t: len(t.raw) > before and ":thump" in t.text()[before:])

    def test_malformed_event_is_written_raw(self, home: Instance, listen: Callable[[str], StreamTap]) -> None:
        """send_malformed writes the default broken frame, or the exact bytes given."""
        stream = listen(HASHTAG)
        home.send_malformed()
        home.send_malformed(b"garbage without newline")
        stream.wait_for(lambda t: "garbage without newline" in t.text())
        event = stream.events()[0]
        with pytest.raises(json.JSONDecodeError):
            json.loads(event.data)

    def test_revoked_token_closes_its_streams_and_fails_rest(
        self,
        home: Instance,
        alice: SeededAccount,
        client: Client,
        tap: Callable[..., StreamTap],
    ) -> None:
        """Revoking a token ends its open streams and makes REST answer 401 revoked."""
        other_token = home.create_token(alice, ("read",))
        doomed = tap(home, HASHTAG, alice.token)
        kept = tap(home, HASHTAG, other_token)
        wait_until(lambda: home.open_streams() == 2)
        home.revoke_token(alice.token)
        assert doomed.ended.wait(5)
        assert not kept.ended.is_set()
        with pytest.raises(MastodonAPIError) as caught:
            client(home, alice).account_verify_credentials()
        assert caught.value.args[1] == 401
        assert caught.value.args[3] == "The access token was revoked"
        again = requests.get(
            home.url + HASHTAG, timeout=5, headers={"Authorization": f"Bearer {alice.token}"}
        )
        assert again.status_code == 401

    def test_stop_closes_streams_promptly(
        self, fediverse: Fediverse, listen: Callable[[str], StreamTap]
    ) -> None:
        """Stopping the fediverse ends open streams cleanly (it does not wait for a heartbeat or a
        read timeout: the deadline is far above either, and nothing here is timed)."""
        stream = listen(HASHTAG)
        fediverse.stop()
        assert stream.ended.wait(30)
        assert stream.error is None  # a clean end of the chunked body


class TestRequestFaults:
    def test_fail_next_answers_with_the_status_then_recovers(
        self, home: Instance, alice: SeededAccount
    ) -> None:
        """fail_next(2, status=503) fails exactly two matching requests."""
        home.fail_next(2, status=503, path_prefix="/api/v1/timelines")
        url = f"{home.url}/api/v1/timelines/tag/relay"
        assert requests.get(f"{home.url}/api/v1/instance", timeout=5).status_code == 200
        codes = [requests.get(url, timeout=5).status_code for _ in range(3)]
        assert codes == [503, 503, 200]

    def test_fail_next_with_429(self, home: Instance, alice: SeededAccount, client: Client) -> None:
        """An injected 429 reaches Mastodon.py as a rate-limit error."""
        home.fail_next(1, status=429, reset_in=30)
        response = requests.get(f"{home.url}/api/v1/instance", timeout=5)
        assert (response.status_code, response.json()) == (429, {"error": "Too many requests"})
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert response.headers["X-RateLimit-Limit"] == "300"
        reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
        assert 25 < (reset - datetime.now(UTC)).total_seconds() <= 30

    def test_latency_delays_every_response(self, home: Instance) -> None:
        """set_latency adds the given delay to each response until cleared."""
        home.set_latency(0.3)
        started = time.monotonic()
        requests.get(f"{home.url}/api/v1/instance", timeout=5)
        assert time.monotonic() - started >= 0.3
        home.set_latency(0)
        started = time.monotonic()
        requests.get(f"{home.url}/api/v1/instance", timeout=5)
        assert time.monotonic() - started < 0.3

    def test_requests_are_recorded(self, home: Instance, alice: SeededAccount, client: Client) -> None:
        """The recorder keeps method, path and token of what the client did."""
        client(home, alice).status_post("recorded")
        posts = [r for r in home.requests if r.method == "POST"]
        assert [(r.path, r.token) for r in posts] == [("/api/v1/statuses", alice.token)]


def post_in_background(
    home: Instance, account: SeededAccount, text: str
) -> tuple[threading.Thread, list[object]]:
    """POST a status from a thread; the list gets the request's error, if it fails."""
    outcome: list[object] = []
    url, headers = f"{home.url}/api/v1/statuses", {"Authorization": f"Bearer {account.token}"}

    def post() -> None:
        try:
            requests.post(url, data={"status": text}, headers=headers, timeout=10)
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    return thread, outcome


class TestGates:
    def test_a_request_held_before_is_never_processed(self, home: Instance, alice: SeededAccount) -> None:
        """stage "before": the request waits at the server, then is dropped unprocessed."""
        gate = home.gate("POST", "/api/v1/statuses", stage="before")
        thread, outcome = post_in_background(home, alice, "lost")
        assert gate.arrived.wait(5)
        gate.release()
        thread.join(10)
        assert len(outcome) == 1  # the connection was cut, no answer
        assert not any(s.text == "lost" for s in home.state.statuses.values())
        thread, outcome = post_in_background(home, alice, "kept")
        thread.join(10)
        assert outcome == []  # a gate holds one request
        assert any(s.text == "kept" for s in home.state.statuses.values())

    def test_a_request_held_after_is_processed_and_its_answer_lost(
        self, home: Instance, alice: SeededAccount
    ) -> None:
        """stage "after": the status is made while the client still waits, then gets no answer."""
        gate = home.gate("POST", "/api/v1/statuses", stage="after")
        thread, outcome = post_in_background(home, alice, "made")
        assert gate.arrived.wait(5)
        assert any(s.text == "made" for s in home.state.statuses.values())
        gate.release()
        thread.join(10)
        assert len(outcome) == 1
