"""Shared fixtures: a running sandbox fediverse and a tap that reads SSE streams byte for byte."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings
from mastodon import Mastodon

from relay.sandbox import Fediverse, Instance, SeededAccount
from relay.sandbox.testing import SocketTap, StreamTap, wait_until

HEARTBEAT = 0.2  # seconds; short so heartbeat tests stay fast

# No test may depend on the machine's speed: Hypothesis's 200 ms deadline per example fails
# property tests when the machine is busy (seen on tests/core/test_post.py), so it is off.
settings.register_profile("relay", deadline=None)
settings.load_profile("relay")


@pytest.fixture
def fediverse() -> Iterator[Fediverse]:
    """Three federating instances (home, remote, third) with short heartbeats."""
    with Fediverse(["home", "remote", "third"], heartbeat=HEARTBEAT) as fed:
        yield fed


@pytest.fixture
def home(fediverse: Fediverse) -> Instance:
    return fediverse["home"]


@pytest.fixture
def remote(fediverse: Fediverse) -> Instance:
    return fediverse["remote"]


@pytest.fixture
def alice(home: Instance) -> SeededAccount:
    """A local account on home (the relay's side in most tests)."""
    return home.create_account("alice", display_name="Alice")


@pytest.fixture
def bob(remote: Instance) -> SeededAccount:
    """A local account on remote."""
    return remote.create_account("bob", display_name="Bob")


@pytest.fixture
def client() -> Callable[[Instance, SeededAccount | str], Mastodon]:
    """Make a Mastodon.py client for an instance and an account (or a raw token)."""

    def make(instance: Instance, who: SeededAccount | str) -> Mastodon:
        token = who if isinstance(who, str) else who.token
        return Mastodon(access_token=token, api_base_url=instance.url)

    return make


@pytest.fixture
def tap() -> Iterator[Callable[..., StreamTap]]:
    """Open SSE streams that are closed when the test ends."""
    taps: list[StreamTap] = []

    def open_tap(instance: Instance, path: str, token: str | None = None) -> StreamTap:
        stream = StreamTap(instance.url + path, token)
        taps.append(stream)
        return stream

    yield open_tap
    for stream in taps:
        stream.close()


@pytest.fixture
def socket_tap() -> Iterator[Callable[..., SocketTap]]:
    """Open WebSockets (``SocketTap(instance.url, token, auth=..., stream=..., tag=...)``) that are
    closed when the test ends."""
    taps: list[SocketTap] = []

    def open_tap(instance: Instance, token: str | None = None, **options: str) -> SocketTap:
        socket = SocketTap(instance.url, token, **options)  # type: ignore[arg-type]
        taps.append(socket)
        return socket

    yield open_tap
    for socket in taps:
        socket.close()


@pytest.fixture
def listen(home: Instance, alice: SeededAccount, tap: Callable[..., StreamTap]) -> Callable[[str], StreamTap]:
    """Tap a stream `path` on home with alice's token, and wait until home counts it open."""

    def open_stream(path: str) -> StreamTap:
        opened = home.open_streams() + 1
        stream = tap(home, path, alice.token)
        wait_until(lambda: home.open_streams() == opened)
        return stream

    return open_stream
