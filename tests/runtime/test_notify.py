"""relay.runtime.notify: the sd_notify datagrams systemd receives, and silence without `$NOTIFY_SOCKET`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.runtime import notify


class Listener:
    """A bound unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, address: str) -> None:
        self.name = address  # as $NOTIFY_SOCKET spells it
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(10.0)  # a deadline for every receive, never a sleep

    def receive(self) -> list[str]:
        """The lines of the next datagram."""
        return self.sock.recv(4096).decode("utf-8").split("\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    """A socket file in a short temporary folder (unix socket paths are limited to 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="relay-n") as folder:
        sock = Listener(str(Path(folder) / "notify"))
        monkeypatch.setenv("NOTIFY_SOCKET", sock.name)
        yield sock
        sock.close()


class TestMessages:
    def test_ready_with_status(self, listener: Listener) -> None:
        """ready() sends READY=1 and the status line in one datagram."""
        assert notify.ready("streaming 3 sources")
        assert listener.receive() == ["READY=1", "STATUS=streaming 3 sources"]

    def test_watchdog_stopping_and_status(self, listener: Listener) -> None:
        """watchdog(), stopping() and status() send WATCHDOG=1, STOPPING=1 and STATUS=..."""
        notify.watchdog()
        notify.stopping()
        notify.status("queue 2")
        assert [listener.receive() for _ in range(3)] == [["WATCHDOG=1"], ["STOPPING=1"], ["STATUS=queue 2"]]

    def test_status_is_kept_on_one_line(self, listener: Listener) -> None:
        """A newline inside a status cannot inject another KEY=VALUE line."""
        notify.status("two\nREADY=1")
        assert listener.receive() == ["STATUS=two READY=1"]

    def test_abstract_namespace_socket(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A NOTIFY_SOCKET starting with '@' is an abstract-namespace address."""
        abstract = Listener(f"@relay-test-{uuid.uuid4().hex}")
        try:
            monkeypatch.setenv("NOTIFY_SOCKET", abstract.name)
            assert notify.ready()
            assert abstract.receive() == ["READY=1"]
        finally:
            abstract.close()

    def test_from_a_child_process(self, listener: Listener) -> None:
        """A separate process (as under systemd) reaches the socket through its environment."""
        code = "from relay.runtime import notify; import sys; sys.exit(0 if notify.ready('up') else 3)"
        env = {**os.environ, "NOTIFY_SOCKET": listener.name}
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=30)
        assert listener.receive() == ["READY=1", "STATUS=up"]


class TestWithoutSystemd:
    def test_everything_is_a_no_op_without_notify_socket(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without $NOTIFY_SOCKET nothing is sent and every call returns False."""
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
        assert not any([notify.ready("x"), notify.watchdog(), notify.stopping(), notify.status("x")])

    def test_a_missing_socket_is_reported_not_raised(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A NOTIFY_SOCKET that nobody listens on makes the call return False, not raise."""
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
        assert notify.watchdog() is False

    def test_a_listener_that_does_not_read_never_blocks_the_caller(self, listener: Listener) -> None:
        """When the listener's queue is full the ping is dropped (False) instead of blocking the loop."""
        results = [notify.watchdog() for _ in range(200)]  # far more than a datagram queue holds
        assert results[0] is True
        assert results[-1] is False
        assert listener.receive() == ["WATCHDOG=1"]


class TestWatchdogInterval:
    def test_half_of_watchdog_usec(self) -> None:
        """WatchdogSec=60 (WATCHDOG_USEC=60000000) means a ping every 30 seconds."""
        assert notify.watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 30.0

    def test_none_without_watchdog_or_with_garbage(self) -> None:
        """No variable, zero or a non-number: no watchdog."""
        for env in ({}, {"WATCHDOG_USEC": "0"}, {"WATCHDOG_USEC": "soon"}):
            assert notify.watchdog_interval(env) is None

    def test_watchdog_meant_for_another_process(self) -> None:
        """WATCHDOG_PID naming another process means this one must not ping."""
        env = {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}
        assert notify.watchdog_interval(env) is None
        assert notify.watchdog_interval({**env, "WATCHDOG_PID": str(os.getpid())}) == 30.0
