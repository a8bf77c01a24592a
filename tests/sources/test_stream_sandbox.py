"""StreamReader against the relay's own Mastodon-compatible sandbox, with posts made by Mastodon.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from mastodon import Mastodon
from streamhelp import Recorder, Running
from structlog.testing import capture_logs

from relay.core.backoff import Backoff
from relay.errors import CredentialsError
from relay.sandbox import Fediverse, SeededAccount
from relay.sources.stream import StreamReader

TAG = "therapistsconnect"


@pytest.fixture
def fed() -> Iterator[Fediverse]:
    with Fediverse(["home", "remote"], heartbeat=0.2) as federation:
        yield federation


@pytest.fixture
def relay_account(fed: Fediverse) -> SeededAccount:
    """The relay's account on the home instance, whose token reads the stream."""
    return fed["home"].create_account("relaybot")


@pytest.fixture
def author(fed: Fediverse) -> Mastodon:
    """A Mastodon.py client for an author on the remote instance."""
    account = fed["remote"].create_account("newcomer")
    return Mastodon(access_token=account.token, api_base_url=fed["remote"].url)


@pytest.fixture
def reading(fed: Fediverse, relay_account: SeededAccount) -> Iterator[tuple[Running, Recorder]]:
    """A reader on home's hashtag stream, connected, stopped at teardown."""
    stop = threading.Event()
    recorder = Recorder()
    reader = StreamReader(
        name="home:hashtag",
        url=fed["home"].url + "/api/v1/streaming/hashtag",
        params={"tag": TAG},
        token=relay_account.token,
        on_event=recorder.on_event,
        on_connect=recorder.on_connect,
        stop=stop,
        read_timeout=1.0,
        backoff=Backoff(initial=0.01, maximum=0.05),
    )
    with capture_logs():
        running = Running.start(reader)
        recorder.wait(lambda r: r.connects == 1)
        yield running, recorder
        stop.set()
        reader.close()
        assert running.join(2)


def uri(event: Any) -> str:
    return str(event.data["uri"])


def test_remote_post_arrives_on_home_hashtag_stream(
    reading: tuple[Running, Recorder], author: Mastodon
) -> None:
    """A post made with Mastodon.py on another instance arrives on home's hashtag stream."""
    _, recorder = reading
    posted = author.status_post("Hello from a newcomer #TherapistsConnect")
    recorder.wait(lambda r: len(r.events) == 1)
    assert recorder.events[0].name == "update"
    assert uri(recorder.events[0]) == posted["uri"]


def test_dropped_sandbox_stream_reconnects_and_goes_on(
    fed: Fediverse, reading: tuple[Running, Recorder], author: Mastodon
) -> None:
    """After the sandbox cuts every stream, the reader reconnects (on_connect again) and reads on."""
    _, recorder = reading
    fed["home"].drop_streams()
    recorder.wait(lambda r: r.connects == 2)
    posted = author.status_post("After the outage #TherapistsConnect")
    recorder.wait(lambda r: len(r.events) == 1)
    assert uri(recorder.events[0]) == posted["uri"]


def test_revoked_token_stops_the_reader_with_credentials_error(
    fed: Fediverse, relay_account: SeededAccount, reading: tuple[Running, Recorder]
) -> None:
    """Revoking the token closes the stream; the reconnect gets 401 and run() raises at once."""
    running, _ = reading
    fed["home"].revoke_token(relay_account.token)
    assert running.join(3)
    [error] = running.error
    assert isinstance(error, CredentialsError)
    assert relay_account.token not in str(error)
